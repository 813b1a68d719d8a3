package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/clipstream/clipstream/trainer"
)

func TestStepProgress(t *testing.T) {
	p := newStepProgress(&bytes.Buffer{}, 100)
	p.first = 0
	for _, tc := range []struct {
		step    int64
		elapsed time.Duration
		want    []string
	}{
		{10, 10 * time.Second, []string{"[###...........................] 10/100", "eta 1m30s", "loss 2.5000"}},
		{100, 50 * time.Second, []string{"[##############################] 100/100", "eta 0s"}},
	} {
		got := p.line(trainer.StepMetrics{Step: tc.step, Loss: 2.5, SamplesPerSec: 64}, tc.elapsed)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("step %d: %q lacks %q", tc.step, got, w)
			}
		}
	}
	if got := newStepProgress(&bytes.Buffer{}, 0).line(trainer.StepMetrics{Step: 7, Loss: 1}, time.Second); !strings.HasPrefix(got, "step 7") {
		t.Errorf("no total: %q", got)
	}
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is not a terminal")
	}
}
