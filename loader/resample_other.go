//go:build !amd64 || purego

package loader

const useAVX2 = false

func u8ToF32AVX2(dst *float32, src *uint8, n8 int) { panic("unreachable") }

func hpassAVX2(dst *float32, chunks int, src *float32, idx *int32, w *float32, taps int) {
	panic("unreachable")
}

func vpassAVX2(out *float32, n8 int, rows *float32, stride int, ws *float32, taps int) {
	panic("unreachable")
}

func ycbcrAVX2(rd, gd, bd, y, cb, cr *float32, n8 int, k *[16]float32) { panic("unreachable") }
