//go:build !amd64 || purego

package ops

const (
	useAsmKernel = false
	useAVX512    = false
)

func asmKernel(k int, a, b, c *float32, ldc int, add bool) {
	panic("unreachable")
}
