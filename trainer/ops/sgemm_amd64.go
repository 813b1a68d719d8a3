//go:build amd64 && !purego

package ops

// useAsmKernel is set when the CPU and OS support AVX2 and FMA.
var useAsmKernel = hasAVX2FMA()

// kernel6x16 sets c[6·16] to Σₖ a[k·6+r]·b[k·16+j] (AVX2, FMA); k ≥ 1.
//
//go:noescape
func kernel6x16(k int, a, b *float32, c *[gemmMR * gemmNR]float32)

// hasAVX2FMA reports CPUID AVX2 and FMA support with YMM state enabled by
// the OS (XGETBV).
func hasAVX2FMA() bool
