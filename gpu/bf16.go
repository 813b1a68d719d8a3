package gpu

import "math"

// Host-side bf16, bit-identical to the kernels' f32_to_bf16 and
// bf16_to_f32 (kernels/common.cuh): the top 16 bits of the float32,
// rounded to nearest even, NaN kept a quiet NaN.

func toBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

func fromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// roundBF16 is f rounded to the nearest bf16.
func roundBF16(f float32) float32 { return fromBF16(toBF16(f)) }
