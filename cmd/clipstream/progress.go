package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/clipstream/clipstream/trainer"
)

// isTerminal reports whether w is a character device (a terminal): only
// then do long jobs draw a progress bar; logs and pipes get none.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// stepProgress draws a one-line training progress bar on w: step of
// total (when known), loss, samples/s and the time left. It redraws in
// place with a carriage return and draws at most every 200 ms.
type stepProgress struct {
	w     io.Writer
	total int64
	last  time.Time
	start time.Time
	first int64
}

func newStepProgress(w io.Writer, total int64) *stepProgress {
	return &stepProgress{w: w, total: total, start: time.Now(), first: -1}
}

// Step is a trainer.Config.OnStep.
func (p *stepProgress) Step(m trainer.StepMetrics) {
	if p.first < 0 {
		p.first = m.Step - 1
	}
	if time.Since(p.last) < 200*time.Millisecond && m.Step != p.total {
		return
	}
	p.last = time.Now()
	fmt.Fprint(p.w, "\r"+p.line(m, time.Since(p.start)))
	if m.Step == p.total {
		fmt.Fprintln(p.w)
	}
}

// line renders the bar for step m after elapsed time in this process.
func (p *stepProgress) line(m trainer.StepMetrics, elapsed time.Duration) string {
	if p.total <= 0 {
		return fmt.Sprintf("step %d  loss %.4f  %.0f samples/s", m.Step, m.Loss, m.SamplesPerSec)
	}
	const width = 30
	done := min(max(int(int64(width)*m.Step/p.total), 0), width)
	eta := "?"
	if n := m.Step - p.first; n > 0 {
		eta = (time.Duration(float64(elapsed) / float64(n) * float64(p.total-m.Step))).Round(time.Second).String()
	}
	return fmt.Sprintf("[%s%s] %d/%d  loss %.4f  %.0f samples/s  eta %s  ",
		strings.Repeat("#", done), strings.Repeat(".", width-done), m.Step, p.total, m.Loss, m.SamplesPerSec, eta)
}
