package ops

import "math"

// bf16 (bfloat16) on the host, bit for bit the CUDA backend's kernels'
// conversion: the top 16 bits of the float32, rounded to nearest even, a
// NaN kept a quiet NaN.

// ToBF16 returns f rounded to the nearest bf16, as its 16 bits.
func ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// FromBF16 returns the float32 value of bf16 bits h (exact).
func FromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// RoundBF16 is f rounded to the nearest bf16.
func RoundBF16(f float32) float32 { return FromBF16(ToBF16(f)) }

// roundedBF16 returns a copy of x with every value rounded to bf16.
func roundedBF16[T Float](x []T) []T {
	r := make([]T, len(x))
	for i, v := range x {
		r[i] = T(RoundBF16(float32(v)))
	}
	return r
}
