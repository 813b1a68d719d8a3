package gpu

import (
	"io"
	"math"
	"testing"

	"github.com/clipstream/clipstream/fixtures"
	"github.com/clipstream/clipstream/internal/datasettest"
	"github.com/clipstream/clipstream/loader"
	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/trainer"
)

// TestDeviceResume trains the tiny model through trainer.Run on the device
// (the loader's uint8 batches, the next batch's pixels prefetched during
// each backward, the device's AdamW with its moments on the device) and
// checks that a run checkpointed at step 3 and resumed from there follows
// the uninterrupted run: the moments went to the host and back and the
// bf16 weight copy was recast. On the emulator the two agree bit for bit;
// a GPU's atomics (the embedding gradients) allow a last-bit difference,
// so the check is 1e-5.
func TestDeviceResume(t *testing.T) {
	data := "file://" + t.TempDir() + "/data"
	writeFixtureDataset(t, data, 48)
	for _, p := range []Precision{FP32, BF16} {
		t.Run(p.String(), func(t *testing.T) {
			be := gpuBackend(t, p)
			cfg := func(run string) trainer.Config {
				return trainer.Config{
					Data: []loader.Source{{URL: data}}, Run: run, Model: "tiny", Batch: 8, MicroBatch: 4, Steps: 6,
					LR: 1e-3, Warmup: 2, GradClip: 1, Seed: 11, LoaderWorkers: 2, Backend: be, Out: io.Discard,
				}
			}
			ref, err := trainer.Run(t.Context(), cfg("file://"+t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			run := "file://" + t.TempDir()
			first := cfg(run)
			first.CheckpointEvery = 3
			if _, err := trainer.Run(t.Context(), first); err != nil {
				t.Fatal(err)
			}
			again := cfg("file://" + t.TempDir())
			again.Resume = run + "/" + trainer.StepDir(3)
			res, err := trainer.Run(t.Context(), again)
			if err != nil {
				t.Fatal(err)
			}
			if res.StartStep != 3 || len(res.Losses) != 3 {
				t.Fatalf("resumed at %d with %d losses, want 3 and 3", res.StartStep, len(res.Losses))
			}
			worst := 0.0
			for i, l := range res.Losses {
				worst = max(worst, math.Abs(l-ref.Losses[3+i])/math.Abs(ref.Losses[3+i]))
			}
			t.Logf("uninterrupted %v\nresumed at 3 %v", ref.Losses, res.Losses)
			record(t, "resume at step 3 of 6", p.String(), "loss", worst, 1e-5)
		})
	}
}

// writeFixtureDataset writes n samples of the fixture corpus as a
// committed dataset at url.
func writeFixtureDataset(t *testing.T, url string, n int) {
	t.Helper()
	items, err := fixtures.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	var samples []shardwriter.Sample
	for _, it := range items[:n] {
		samples = append(samples, shardwriter.Sample{Image: it.Image, ImageExt: "png", Caption: it.Caption})
	}
	datasettest.Write(t, url, samples, 16)
}
