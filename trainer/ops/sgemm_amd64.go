//go:build amd64 && !purego

package ops

// useAsmKernel is set when the CPU and OS support AVX2 and FMA.
var useAsmKernel = hasAVX2FMA()

// useAVX512 is set when they also support AVX-512F (ZMM state enabled);
// the GEMM then runs kernel6x16AVX512.
var useAVX512 = useAsmKernel && hasAVX512()

// kernel6x16 sets, or with add adds to, the 6×16 block of C at c (rows ldc
// floats apart) Σₖ a[k·6+r]·b[k·16+j] (AVX2, FMA); k ≥ 1.
//
//go:noescape
func kernel6x16(k int, a, b, c *float32, ldc int, add bool)

// kernel6x16AVX512 is kernel6x16 on AVX-512F.
//
//go:noescape
func kernel6x16AVX512(k int, a, b, c *float32, ldc int, add bool)

// hasAVX2FMA reports CPUID AVX2 and FMA support with YMM state enabled by
// the OS (XGETBV).
func hasAVX2FMA() bool

// hasAVX512 reports CPUID AVX-512F with opmask and ZMM state enabled.
func hasAVX512() bool

// asmKernel runs the fastest micro-kernel the CPU has.
func asmKernel(k int, a, b, c *float32, ldc int, add bool) {
	if useAVX512 {
		kernel6x16AVX512(k, a, b, c, ldc, add)
		return
	}
	kernel6x16(k, a, b, c, ldc, add)
}
