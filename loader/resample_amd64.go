//go:build amd64 && !purego

package loader

// useAVX2 selects the AVX2+FMA kernels of the resampler (resample_amd64.s)
// when the CPU and the OS support them; the portable Go kernels are used
// otherwise, and with the purego build tag. The two agree to within
// float32 rounding (the assembly fuses multiply-adds).
var useAVX2 = hasAVX2FMA()

// hasAVX2FMA reports CPUID AVX2 and FMA with YMM state enabled (XGETBV).
func hasAVX2FMA() bool

// u8ToF32AVX2 converts n8·8 bytes at src to float32 at dst.
//
//go:noescape
func u8ToF32AVX2(dst *float32, src *uint8, n8 int)

// hpassAVX2 computes chunks·8 outputs at dst: output i of chunk c is
// Σ_k w[(c·taps+k)·8+i] · src[idx[c·8+i]+k] (gathers).
//
//go:noescape
func hpassAVX2(dst *float32, chunks int, src *float32, idx *int32, w *float32, taps int)

// vpassAVX2 computes n8·8 outputs at out: out[x] = Σ_k ws[k] · rows[k·stride+x]
// for taps ≥ 1 rows stride floats apart.
//
//go:noescape
func vpassAVX2(out *float32, n8 int, rows *float32, stride int, ws *float32, taps int)

// ycbcrAVX2 converts n8·8 resampled Y, Cb, Cr values to normalised R, G,
// B (ycbcrRow) with the constants k.
//
//go:noescape
func ycbcrAVX2(rd, gd, bd, y, cb, cr *float32, n8 int, k *[16]float32)
