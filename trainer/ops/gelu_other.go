//go:build !amd64 || purego

package ops

func geluForward32(out, inp []float32)         { geluForwardGo(out, inp) }
func geluBackward32(dinp, inp, dout []float32) { geluBackwardGo(dinp, inp, dout) }
