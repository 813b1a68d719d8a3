package gpu

import "github.com/clipstream/clipstream/trainer/ops"

// Host-side bf16, bit-identical to the kernels' f32_to_bf16 and
// bf16_to_f32 (kernels/common.cuh): ops's conversion, which the CPU's
// bf16 reference mode (ops.CPU.BF16GEMM) uses too.

func toBF16(f float32) uint16 { return ops.ToBF16(f) }

func fromBF16(h uint16) float32 { return ops.FromBF16(h) }

// roundBF16 is f rounded to the nearest bf16.
func roundBF16(f float32) float32 { return ops.RoundBF16(f) }
