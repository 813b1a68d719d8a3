package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipstream/clipstream/fixtures"
	"github.com/clipstream/clipstream/internal/datasettest"
	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/trainer"
	"github.com/clipstream/clipstream/trainer/ops"
)

// emojiDataset writes n fixture samples, spread over the corpus, (PNG, category metadata) as a
// dataset in a temp dir.
func emojiDataset(t *testing.T, n int) string {
	t.Helper()
	items, err := fixtures.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	var samples []shardwriter.Sample
	for i := range n { // spread over the corpus, so several categories appear
		it := items[i*len(items)/n]
		meta, _ := json.Marshal(map[string]string{"category": it.Category})
		samples = append(samples, shardwriter.Sample{Image: it.Image, ImageExt: "png", Caption: it.Caption, Meta: meta})
	}
	dir := t.TempDir()
	datasettest.Write(t, dir, samples, 16)
	return dir
}

// TestTrainEval trains a tiny model end to end through run, resumes it,
// and evaluates it.
func TestTrainEval(t *testing.T) {
	data := emojiDataset(t, 40)
	run := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "--data", data, "--run", run, "--model", "tiny", "--batch", "8", "--steps", "3",
		"--checkpoint-every", "2", "--keep", "1", "--lr", "1e-3", "--warmup", "1", "--workers", "2", "--eval-data", data}
	code, stdout, stderr := runCLI(t, t.Context(), args...)
	if code != exitOK {
		t.Fatalf("train: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"| model", "tiny", "step 3/3 | loss", "logit scale", "samples/s", "checkpoint file://", "eval step 3", "image→text R@1"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("train output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "device auto: using the CPU") {
		t.Errorf("auto did not say it took the CPU:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(run, trainer.LatestKey)); err != nil {
		t.Fatal(err)
	}
	// Continue to 5 steps: resumes at 3.
	args[len(args)-13] = "5" // --steps
	code, stdout, stderr = runCLI(t, t.Context(), args...)
	if code != exitOK || !strings.Contains(stdout, "resumed from") || !strings.Contains(stdout, "step 5/5") || strings.Contains(stdout, "step 3/5") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, t.Context(), "eval", "--run", run, "--data", data, "--json")
	if code != exitOK {
		t.Fatalf("eval: exit %d\n%s", code, stderr)
	}
	var got struct {
		Model string
		Step  int64
		Eval  trainer.EvalResult
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || got.Step != 5 || got.Model != "tiny" || got.Eval.Samples != 40 || got.Eval.ZeroShot == nil {
		t.Fatalf("eval json %v: %s", err, stdout)
	}
	code, stdout, _ = runCLI(t, t.Context(), "eval", "--checkpoint", filepath.Join(run, trainer.StepDir(5)), "--data", data)
	if code != exitOK || !strings.Contains(stdout, "tiny step 5 |") || !strings.Contains(stdout, "R@5") {
		t.Fatalf("eval --checkpoint: exit %d: %s", code, stdout)
	}
}

func TestTrainErrors(t *testing.T) {
	data := emojiDataset(t, 12)
	base := []string{"--run", t.TempDir(), "--batch", "4", "--steps", "1"}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"cuda", []string{"train", "--data", data, "--model", "tiny", "--device", "cuda"}, exitFailure, "CUDA driver library not available"},
		{"unknown model", []string{"train", "--data", data, "--model", "huge"}, exitUsage, `--model "huge": unknown`},
		{"no data", []string{"train", "--model", "tiny"}, exitUsage, "--data is required"},
		{"bad weight", []string{"train", "--data", data + ":-1", "--model", "tiny"}, exitUsage, "weight must be positive"},
		{"empty prefix", []string{"train", "--data", t.TempDir(), "--model", "tiny"}, exitFailure, "no shards under shards/"},
		{"batch too large", []string{"train", "--data", data, "--model", "tiny", "--batch", "13"}, exitFailure, "batch 13 is larger than the training data (12 samples"},
		{"corrupt resume", []string{"train", "--data", data, "--model", "tiny", "--resume", t.TempDir()}, exitFailure, "holds neither state.json"},
		{"eval without checkpoint", []string{"eval", "--run", t.TempDir(), "--data", data}, exitFailure, "bad checkpoint"},
		{"eval both", []string{"eval", "--run", "a", "--checkpoint", "b", "--data", data}, exitUsage, "give one of --run and --checkpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if args[0] == "train" {
				args = append(append([]string{}, base...), args...)
				args = append([]string{"train"}, append(args[:len(base)], args[len(base)+1:]...)...)
			}
			code, stdout, stderr := runCLI(t, t.Context(), args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d (want %d), stderr lacks %q:\n%s\n%s", code, tt.code, tt.want, stderr, stdout)
			}
		})
	}
}

func TestParseSource(t *testing.T) {
	for in, want := range map[string]struct {
		url string
		w   float64
	}{
		"./corpus": {"./corpus", 0}, "s3://b/p": {"s3://b/p", 0}, "s3://b/p:2.5": {"s3://b/p", 2.5},
		"file:///x/y:3": {"file:///x/y", 3}, "/a:b/c": {"/a:b/c", 0},
	} {
		got, err := parseSource(in)
		if err != nil || got.URL != want.url || got.Weight != want.w {
			t.Errorf("parseSource(%q) = %+v, %v", in, got, err)
		}
	}
}

// TestCPUPrecision: --precision on the CPU picks float32 or the bf16
// reference (ops.CPU.BF16GEMM), which rounds the GEMM operands as cuda's
// bf16 mode does.
func TestCPUPrecision(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		precision string
		bf16      bool
	}{{"fp32", false}, {"bf16", true}} {
		be, closeBackend, err := backend("cpu", c.precision, log)
		if err != nil {
			t.Fatal(err)
		}
		cpu, ok := be.(*ops.CPU)
		if !ok {
			t.Fatalf("--device cpu --precision %s: backend %T", c.precision, be)
		}
		if cpu.BF16GEMM != c.bf16 {
			t.Errorf("--precision %s: BF16GEMM %v, want %v", c.precision, cpu.BF16GEMM, c.bf16)
		}
		closeBackend()
	}
}
