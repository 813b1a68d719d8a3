//go:build !amd64 || purego

package ops

const useAsmKernel = false

func kernel6x16(k int, a, b *float32, c *[gemmMR * gemmNR]float32) {
	panic("unreachable")
}
