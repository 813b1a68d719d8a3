package gpu

import (
	"math"
	"testing"

	"github.com/clipstream/clipstream/trainer"
	"github.com/clipstream/clipstream/trainer/ops"
)

// TestDeviceTrajectory trains the tiny model for four steps (trainer.Bench:
// uint8 pixels uploaded and patched on the device, the forward, the
// backward with the next batch's pixels prefetched, the device's own AdamW
// step with gradient clipping) on the device and on the CPU from the same
// weights and batches, in bf16 against the CPU's bf16 reference
// (ops.CPU.BF16GEMM). The losses agree within 1e-4 in fp32 and within 1e-2
// (the bound) in bf16, where an operand that rounds the other way
// on each side (a softmax value computed with another exp, say) is
// amplified by AdamW's first steps, whose updates are ±lr whatever a
// gradient's size. On the emulator (TestEmulatedDevice) this checks the
// whole training path's device code without a GPU.
func TestDeviceTrajectory(t *testing.T) {
	cfg := trainer.BenchConfig{Model: "tiny", Batch: 8, Steps: 4, Seed: 3, LR: 5e-4, Clip: 1, Batches: 3}
	for _, c := range []struct {
		p   Precision
		tol float64
	}{{FP32, 1e-4}, {BF16, 1e-2}} {
		t.Run(c.p.String(), func(t *testing.T) {
			ref := cfg
			cpu := ops.NewCPU()
			cpu.BF16GEMM = c.p == BF16
			ref.Backend = cpu
			want, err := trainer.Bench(t.Context(), ref)
			if err != nil {
				t.Fatal(err)
			}
			run := cfg
			run.Backend = gpuBackend(t, c.p)
			got, err := trainer.Bench(t.Context(), run)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Losses) != len(want.Losses) {
				t.Fatalf("%d losses, want %d", len(got.Losses), len(want.Losses))
			}
			worst := 0.0
			for i := range want.Losses {
				d := math.Abs(got.Losses[i] - want.Losses[i])
				if math.IsNaN(d) {
					d = math.Inf(1)
				}
				worst = max(worst, d)
			}
			t.Logf("losses on the CPU %v\non the device %v", want.Losses, got.Losses)
			record(t, "trajectory tiny, 4 steps", c.p.String(), "max |Δloss|", worst, c.tol)
		})
	}
}
