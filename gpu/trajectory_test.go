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
// weights and batches. With fp32 GEMMs the losses agree within 1e-4. With
// bf16 GEMM operands they agree within 3e-2: bf16 rounding alone moves the
// tiny model's loss by up to ~1e-2 within a few steps (AdamW's first
// updates are ±lr whatever a gradient's size, so rounding that flips small
// gradients' signs shows at once), the same with the shadows, the
// prefetch and asynchronous submission each turned off; a broken bf16
// path is off by far more. On the emulator (TestEmulatedDevice) this
// checks the whole training path's device code without a GPU.
func TestDeviceTrajectory(t *testing.T) {
	cfg := trainer.BenchConfig{Model: "tiny", Batch: 8, Steps: 4, Seed: 3, LR: 5e-4, Clip: 1, Batches: 3}
	cpu := cfg
	cpu.Backend = ops.NewCPU()
	want, err := trainer.Bench(t.Context(), cpu)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p   Precision
		tol float64
	}{{FP32, 1e-4}, {BF16, 3e-2}} {
		t.Run(c.p.String(), func(t *testing.T) {
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
