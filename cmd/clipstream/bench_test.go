package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestBench: the bench verb trains the tiny model on synthetic batches,
// one line per step and a JSON summary, and the same seed gives the same
// losses.
func TestBench(t *testing.T) {
	run := func() benchSummary {
		code, stdout, stderr := runCLI(t, t.Context(), "bench", "--device", "cpu", "--model", "tiny", "--batch", "8",
			"--warmup", "1", "--steps", "3", "--seed", "5", "--peak-tflops", "1", "--json")
		if code != 0 {
			t.Fatalf("exit %d:\n%s\n%s", code, stderr, stdout)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if len(lines) != 5 {
			t.Fatalf("want 4 step lines and the summary, got:\n%s", stdout)
		}
		if !strings.HasPrefix(lines[0], "step 1/4 | loss ") || !strings.HasSuffix(lines[0], "| warm-up") || !strings.HasSuffix(lines[3], "| timed") {
			t.Errorf("step lines:\n%s", stdout)
		}
		var s benchSummary
		if err := json.Unmarshal([]byte(lines[4]), &s); err != nil {
			t.Fatalf("summary %q: %v", lines[4], err)
		}
		return s
	}
	a, b := run(), run()
	if a.Model != "tiny" || a.Device != "cpu" || a.Precision != "fp32" || a.Steps != 3 || len(a.Losses) != 4 ||
		a.SamplesPerSec <= 0 || a.TFLOPS <= 0 || a.MFU != a.TFLOPS/1 || a.GFLOPPerSample <= 0 {
		t.Errorf("summary %+v", a)
	}
	for i := range a.Losses {
		if a.Losses[i] != b.Losses[i] {
			t.Errorf("step %d: loss %v, then %v with the same seed", i+1, a.Losses[i], b.Losses[i])
		}
	}
}

func TestBenchErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown model", []string{"--model", "huge"}, exitUsage, `--model "huge": unknown`},
		{"no steps", []string{"--model", "tiny", "--steps", "0"}, exitUsage, "--batch and --steps must be positive"},
		{"bad precision", []string{"--precision", "fp8"}, exitUsage, `invalid argument "fp8" for "--precision"`},
		{"cuda", []string{"--model", "tiny", "--device", "cuda"}, exitFailure, "CUDA driver library not available"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, t.Context(), append([]string{"bench"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d (want %d), stderr lacks %q:\n%s\n%s", code, tt.code, tt.want, stderr, stdout)
			}
		})
	}
}
