//go:build amd64 && !purego

package ops

// geluForwardAVX2 sets out[i] = GELU(inp[i]) for i < n (n a multiple of 4).
//
//go:noescape
func geluForwardAVX2(n int, out, inp *float32)

// geluBackwardAVX2 adds dinp[i] += GELU'(inp[i])·dout[i] for i < n (n a
// multiple of 4).
//
//go:noescape
func geluBackwardAVX2(n int, dinp, inp, dout *float32)

func geluForward32(out, inp []float32) {
	out = out[:len(inp)]
	n := 0
	if useAsmKernel {
		if n = len(inp) &^ 3; n > 0 {
			geluForwardAVX2(n, &out[0], &inp[0])
		}
	}
	geluForwardGo(out[n:], inp[n:])
}

func geluBackward32(dinp, inp, dout []float32) {
	dinp, dout = dinp[:len(inp)], dout[:len(inp)]
	n := 0
	if useAsmKernel {
		if n = len(inp) &^ 3; n > 0 {
			geluBackwardAVX2(n, &dinp[0], &inp[0], &dout[0])
		}
	}
	geluBackwardGo(dinp[n:], inp[n:], dout[n:])
}
