package trainer

import (
	"math"
	"strings"
	"testing"

	"github.com/clipstream/clipstream/trainer/ops"
)

// TestBench: Bench trains on synthetic batches and the loss falls; the
// same seed gives bit-identical losses; a backend with its own optimizer
// step follows the CPU's trajectory (the comparison gpu-check runs between
// the CPU and the GPU).
func TestBench(t *testing.T) {
	cfg := BenchConfig{Model: "tiny", Batch: 16, Warmup: 2, Steps: 8, LR: 3e-3, Seed: 3, Batches: 1}
	var out strings.Builder
	cfg.Out = &out
	a, err := Bench(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Losses) != 10 || len(a.StepTimes) != 8 || a.SamplesPerSec <= 0 || a.Median <= 0 || a.Forward <= 0 || a.Backward <= 0 || a.Optimizer <= 0 {
		t.Fatalf("result %+v", a)
	}
	if n := strings.Count(out.String(), "\n"); n != 10 {
		t.Errorf("%d step lines, want 10:\n%s", n, out.String())
	}
	if !(a.Losses[9] < a.Losses[0]) {
		t.Errorf("one batch repeated 10 times: loss went from %v to %v", a.Losses[0], a.Losses[9])
	}
	if l := a.Losses[0]; !(l > 1 && l < 10) {
		t.Errorf("first loss %v for 16 random pairs", l)
	}
	cfg.Out = nil
	b, err := Bench(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Backend = ownStep{ops.NewCPU()}
	d, err := Bench(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Losses {
		if a.Losses[i] != b.Losses[i] {
			t.Errorf("step %d: loss %v, then %v with the same seed", i+1, a.Losses[i], b.Losses[i])
		}
		if rel := math.Abs(d.Losses[i]-a.Losses[i]) / a.Losses[i]; !(rel < 1e-4) {
			t.Errorf("step %d: device-path loss %v, host %v", i+1, d.Losses[i], a.Losses[i])
		}
	}
	if _, err := Bench(t.Context(), BenchConfig{Model: "tiny", Batch: 0, Steps: 1}); err == nil {
		t.Error("batch 0 accepted")
	}
}
