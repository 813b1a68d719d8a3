package trainer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipstream/clipstream/fixtures"
	"github.com/clipstream/clipstream/loader"
	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
)

// smallData writes the first n fixture items as a dataset in a temp dir.
func smallData(t *testing.T, n int, caption func(fixtures.Item) string) string {
	t.Helper()
	items, err := corpus()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeDataset(t, dir, items[:n], 16, caption)
	return dir
}

func quick(data, run string) Config {
	return Config{Data: []loader.Source{{URL: data}}, Run: run, Model: "tiny", Batch: 8, Steps: 2, LR: 1e-3, Keep: 1, LoaderWorkers: 2}
}

func TestBadInput(t *testing.T) {
	data := smallData(t, 24, nil)
	orphans := t.TempDir()
	writeDataset(t, orphans, mustCorpus(t)[:10], 4, nil)
	side, _ := filepath.Glob(filepath.Join(orphans, shardwriter.ShardsDir, "*"+shardwriter.SidecarSuffix))
	for _, f := range side {
		os.Remove(f)
	}
	empty := smallData(t, 24, func(fixtures.Item) string { return "" })
	tests := []struct {
		name string
		cfg  func(c *Config)
		want string
	}{
		{"empty prefix", func(c *Config) { c.Data[0].URL = t.TempDir() }, "no shards under shards/"},
		{"orphans only", func(c *Config) { c.Data[0].URL = orphans }, "only 3 data object(s) without a sidecar"},
		{"empty captions", func(c *Config) { c.Data[0].URL = empty }, "is empty: CLIP cannot learn from empty text"},
		{"unknown model", func(c *Config) { c.Model = "ViT-Z-99" }, `unknown config "ViT-Z-99"`},
		{"batch larger than data", func(c *Config) { c.Batch = 25 }, "batch 25 is larger than the training data (24 samples"},
		{"micro-batch not dividing", func(c *Config) { c.MicroBatch = 3 }, "batch a multiple of micro-batch"},
		{"no steps", func(c *Config) { c.Steps = 0 }, "want one of them positive"},
		{"resume URL not a checkpoint", func(c *Config) { c.Resume = t.TempDir() }, "holds neither state.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := quick(data, t.TempDir())
			tt.cfg(&c)
			_, err := Run(t.Context(), c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			t.Log(err)
		})
	}
}

func mustCorpus(t *testing.T) []fixtures.Item {
	items, err := corpus()
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// TestCorruptCheckpoint: every kind of damage to the checkpoint that
// latest.json names is a clear error, never a fresh start.
func TestCorruptCheckpoint(t *testing.T) {
	data := smallData(t, 24, nil)
	base := t.TempDir()
	if _, err := Run(t.Context(), quick(data, base)); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "checkpoints", "step-000000002")
	tests := []struct {
		name   string
		damage func(run string)
		want   string
	}{
		{"model missing", func(run string) { os.Remove(filepath.Join(run, StepDir(2), ModelFile)) }, "model.safetensors is missing"},
		{"optimizer truncated", func(run string) {
			p := filepath.Join(run, StepDir(2), OptimizerFile)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o644)
		}, "optimizer.safetensors has"},
		{"model altered", func(run string) {
			p := filepath.Join(run, StepDir(2), ModelFile)
			b, _ := os.ReadFile(p)
			b[len(b)-1] ^= 1
			os.WriteFile(p, b, 0o644)
		}, "truncated or altered"},
		{"state missing", func(run string) { os.Remove(filepath.Join(run, StepDir(2), StateFile)) }, "no state.json (a partial checkpoint"},
		{"state garbage", func(run string) { os.WriteFile(filepath.Join(run, StepDir(2), StateFile), []byte("{"), 0o644) }, "state.json does not parse"},
		{"latest names a missing step", func(run string) {
			os.WriteFile(filepath.Join(run, LatestKey), []byte(`{"format":"clipstream.latest/v1","step":99,"dir":"checkpoints/step-000000099/"}`), 0o644)
		}, "step-000000099/: no state.json"},
		{"latest garbage", func(run string) { os.WriteFile(filepath.Join(run, LatestKey), []byte("nope"), 0o644) }, "latest.json does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := t.TempDir()
			copyDir(t, base, run)
			tt.damage(run)
			c := quick(data, run)
			c.Steps = 4
			_, err := Run(t.Context(), c)
			if err == nil || !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrCheckpoint containing %q", err, tt.want)
			}
			t.Log(err)
			// The explicit URL of the damaged directory fails the same way.
			if !strings.Contains(tt.name, "latest") {
				c.Resume = filepath.Join(run, StepDir(2))
				if _, err := Run(t.Context(), c); !errors.Is(err, ErrCheckpoint) {
					t.Fatalf("--resume URL: err = %v, want ErrCheckpoint", err)
				}
			}
		})
	}
	_ = dir
	t.Run("none with a checkpoint", func(t *testing.T) {
		c := quick(data, base)
		c.Resume = ResumeNone
		_, err := Run(t.Context(), c)
		if err == nil || !strings.Contains(err.Error(), "already has a checkpoint (step 2)") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("other dataset", func(t *testing.T) {
		other := smallData(t, 20, nil)
		run := t.TempDir()
		copyDir(t, base, run)
		c := quick(other, run)
		c.Steps = 3
		if _, err := Run(t.Context(), c); !errors.Is(err, ErrDatasetChanged) {
			t.Fatalf("err = %v, want ErrDatasetChanged", err)
		}
		c.Force = true
		res, err := Run(t.Context(), c)
		if err != nil || res.StartStep != 2 || res.Step != 3 {
			t.Fatalf("forced: %+v %v", res, err)
		}
	})
	t.Run("resume from a run URL and a step URL", func(t *testing.T) {
		for _, u := range []string{base, "file://" + dir} {
			c := quick(data, t.TempDir())
			c.Resume = u
			c.Steps = 3
			res, err := Run(t.Context(), c)
			if err != nil || res.StartStep != 2 || res.Step != 3 {
				t.Fatalf("resume %s: %+v %v", u, res, err)
			}
		}
	})
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestInterruptAndMetrics: cancelling the context writes a checkpoint of
// the last whole step and returns ErrInterrupted; resuming finishes the
// run; metrics.jsonl then holds each step once, in order; only Keep
// checkpoints remain.
func TestInterruptAndMetrics(t *testing.T) {
	data := smallData(t, 24, nil)
	run := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	c := quick(data, run)
	c.Steps, c.CheckpointEvery, c.Keep = 6, 4, 2
	c.OnStep = func(s StepMetrics) {
		if s.Step == 3 {
			cancel()
		}
	}
	var out bytes.Buffer
	c.Out = &out
	res, err := Run(ctx, c)
	if !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) || res.Step != 3 {
		t.Fatalf("interrupted run: %+v %v", res, err)
	}
	t.Log(err)
	c.OnStep = nil
	res, err = Run(t.Context(), c)
	if err != nil || res.StartStep != 3 || res.Step != 6 {
		t.Fatalf("resumed: %+v %v", res, err)
	}
	store, err := storage.Open(t.Context(), run, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	steps, _, err := ReadMetrics(t.Context(), store)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 6 {
		t.Fatalf("%d step records, want 6", len(steps))
	}
	for i, s := range steps {
		if s.Step != int64(i+1) {
			t.Errorf("record %d is step %d", i, s.Step)
		}
	}
	if got := listSteps(t, run); len(got) != 2 || got[1] != 6 {
		t.Errorf("checkpoints %v, want the last 2 ending at 6", got)
	}
}
