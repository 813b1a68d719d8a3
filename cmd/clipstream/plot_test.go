package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPlot(t *testing.T) {
	data := emojiDataset(t, 24)
	run := t.TempDir()
	code, _, stderr := runCLI(t, t.Context(), "train", "--data", data, "--run", run, "--model", "tiny", "--batch", "8",
		"--steps", "4", "--checkpoint-every", "2", "--eval-every", "2", "--eval-data", data, "--warmup", "1", "--workers", "2")
	if code != 0 {
		t.Fatalf("train exit %d: %s", code, stderr)
	}
	out := filepath.Join(t.TempDir(), "run.png")
	code, stdout, stderr := runCLI(t, t.Context(), "plot", "--run", run, "--out", out)
	if code != 0 {
		t.Fatalf("plot exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "4 steps") {
		t.Errorf("stdout = %q", stdout)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() < 500 || r.Dy() < 500 {
		t.Errorf("image is %v", r)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"no-run", []string{"plot"}, exitUsage},
		{"empty-run", []string{"plot", "--run", t.TempDir()}, exitFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, stderr := runCLI(t, t.Context(), tc.args...); code != tc.code {
				t.Errorf("exit %d, want %d: %s", code, tc.code, stderr)
			}
		})
	}
}
