package trainer

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/clipstream/clipstream/internal/s3test"
	"github.com/clipstream/clipstream/loader"
	"github.com/clipstream/clipstream/storage"
	"github.com/clipstream/clipstream/trainer/model"
)

// TestCheckpointFault trains with the run directory on MinIO behind a
// toxiproxy. When the step that writes a checkpoint completes, a timeout
// toxic (no byte passes either way, connections stay open) is added, so
// that checkpoint's writes stall, time out and give up; two steps later it
// is removed. The run must train on through the failed checkpoint, write
// the later ones and the final one, keep latest.json naming a complete
// checkpoint whenever it is looked at (through a direct, unproxied store),
// and lose exactly as a run without faults does.
func TestCheckpointFault(t *testing.T) {
	upstream := strings.TrimPrefix(s3test.Require(t), "http://")
	bucket := s3test.NewBucket(t)
	train, _ := fixtureData(t)

	// Under the race detector (~10× slower kernels) a shorter run of
	// smaller batches, still with a good checkpoint before the fault and
	// one after it before the final one.
	steps, every, batch := int64(12), int64(3), 16
	if raceEnabled {
		steps, every, batch = 7, 2, 8
	}
	faultAt := 2 * every  // the toxic goes on after this step, before its checkpoint
	healAt := faultAt + 2 // and off after this one
	cfg := func(run string) Config {
		return Config{
			Data: []loader.Source{{URL: train}}, Run: run, Model: "tiny",
			Batch: batch, MicroBatch: batch / 2, Steps: steps, LR: 2e-3, Warmup: 3, GradClip: 1, Seed: 11,
			CheckpointEvery: every, Keep: 2, LoaderWorkers: 2,
		}
	}

	// The reference: the same run on the local disk, no faults.
	t0 := time.Now()
	ref, err := Run(t.Context(), cfg("file://"+t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	refTime := time.Since(t0)

	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	proxy := toxiproxy.NewProxy(srv, "minio", "127.0.0.1:0", upstream)
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Stop)
	toxics := []string{"stall-up", "stall-down"}
	addStall := func() error {
		for i, stream := range []string{"upstream", "downstream"} {
			js := fmt.Sprintf(`{"name":%q,"type":"timeout","stream":%q,"toxicity":1,"attributes":{"timeout":0}}`, toxics[i], stream)
			if _, err := proxy.Toxics.AddToxicJson(strings.NewReader(js)); err != nil {
				return fmt.Errorf("add toxic %s: %w", toxics[i], err)
			}
		}
		return nil
	}
	removeStall := func() error {
		for _, name := range toxics {
			if err := proxy.Toxics.RemoveToxic(context.Background(), name); err != nil {
				return fmt.Errorf("remove toxic %s: %w", name, err)
			}
		}
		return nil
	}

	runURL := "s3://" + bucket + "/run"
	direct, err := storage.Open(t.Context(), runURL, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	layout, n := tinyLayout(t)

	// checkLatest loads the checkpoint latest.json names through the
	// direct store; it returns the step named (-1: no latest.json yet).
	checkLatest := func(when string) (int64, error) {
		l, ok, err := ReadLatest(t.Context(), direct)
		if err != nil {
			return 0, fmt.Errorf("%s: latest.json: %w", when, err)
		}
		if !ok {
			return -1, nil
		}
		ck, err := LoadCheckpoint(t.Context(), direct, l.Dir, layout, n)
		if err != nil {
			return 0, fmt.Errorf("%s: latest.json names step %d, which does not load: %w", when, l.Step, err)
		}
		if ck.State.Step != l.Step {
			return 0, fmt.Errorf("%s: latest.json names step %d, its state.json says step %d", when, l.Step, ck.State.Step)
		}
		return l.Step, nil
	}

	c := cfg(runURL)
	// The trainer's and the store's messages, to see the checkpoint fail
	// (slog's handler serialises writes).
	var logBuf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c.Logger = logger
	c.Store = storage.Options{Endpoint: "http://" + proxy.Listen, IdleTimeout: time.Second, MaxRetries: 2, Logger: logger}
	// OnStep runs on Run's goroutine, between steps: these are read after
	// Run returns.
	var (
		errs     []error
		observed []string
		stalled  bool
		faultT   time.Time
		outage   time.Duration
		ckptTime time.Duration // from faultAt's OnStep to the next step's: the failed checkpoint
	)
	fail := func(err error) { errs = append(errs, err) }
	c.OnStep = func(s StepMetrics) {
		switch {
		case s.Step == faultAt:
			if err := addStall(); err != nil {
				fail(err)
				return
			}
			stalled, faultT = true, time.Now()
		case s.Step == healAt:
			if err := removeStall(); err != nil {
				fail(err)
				return
			}
			stalled, outage = false, time.Since(faultT)
		}
		if s.Step == faultAt+1 {
			ckptTime = time.Since(faultT)
		}
		if s.Step < healAt {
			return
		}
		got, err := checkLatest(fmt.Sprintf("after step %d", s.Step))
		if err != nil {
			fail(err)
			return
		}
		// OnStep runs before the step's own checkpoint, so latest.json
		// names the last checkpoint step before this one; faultAt's
		// failed, so while it is the last, the one before it.
		want := (s.Step - 1) / every * every
		if want == faultAt {
			want -= every
		}
		if got != want {
			fail(fmt.Errorf("after step %d: latest.json names step %d, want %d", s.Step, got, want))
		}
		observed = append(observed, fmt.Sprintf("%d→%d", s.Step, got))
	}
	t.Cleanup(func() {
		if stalled {
			_ = removeStall()
		}
	})

	t0 = time.Now()
	res, err := Run(t.Context(), c)
	faultTime := time.Since(t0)
	if err != nil {
		t.Fatalf("run with a checkpoint fault: %v", err)
	}
	for _, err := range errs {
		t.Error(err)
	}
	if res.Step != steps || len(res.Losses) != int(steps) {
		t.Fatalf("run ended at step %d with %d losses, want %d", res.Step, len(res.Losses), steps)
	}
	got, err := checkLatest("at the end")
	if err != nil {
		t.Fatal(err)
	}
	if got != steps {
		t.Errorf("latest.json names step %d at the end, want the last step %d", got, steps)
	}
	if want := runURL + "/" + StepDir(steps); res.Checkpoint != want {
		t.Errorf("result's checkpoint %q, want %q", res.Checkpoint, want)
	}
	for i, l := range res.Losses {
		if math.Float64bits(l) != math.Float64bits(ref.Losses[i]) {
			t.Errorf("step %d: loss %v, the run without faults %v", i+1, l, ref.Losses[i])
		}
	}
	logs := logBuf.String()
	failed := fmt.Sprintf("step=%d", faultAt)
	var failLines []string
	for line := range strings.Lines(logs) {
		if strings.Contains(line, "checkpoint failed") {
			failLines = append(failLines, strings.TrimSpace(line))
		}
	}
	if len(failLines) != 1 || !strings.Contains(failLines[0], failed) {
		t.Errorf("want exactly one failed checkpoint, at step %d; logged: %q", faultAt, failLines)
	}
	// MaxRetries 2 is two attempts, each failing after IdleTimeout (1 s)
	// without a byte: the failed checkpoint must have retried.
	if ckptTime < 2*time.Second {
		t.Errorf("the failed checkpoint took %v: fewer than two 1 s attempts, so it was not retried", ckptTime)
	}
	complete, err := ListCheckpoints(t.Context(), direct)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range complete {
		if s == faultAt {
			t.Errorf("step %d's checkpoint was written in full although MinIO stalled through it", faultAt)
		}
	}
	t.Logf("checkpoint failure: %s", failLines)
	t.Logf("%d steps; MinIO stalled for %v from step %d (its checkpoint failed after %v); latest.json after each step (step→named) %v; complete checkpoints left %v; reference run %v, faulty run %v",
		steps, outage.Round(time.Millisecond), faultAt, ckptTime.Round(time.Millisecond), observed, complete, refTime.Round(time.Millisecond), faultTime.Round(time.Millisecond))
}

func tinyLayout(t *testing.T) ([]model.Param, int) {
	t.Helper()
	mc, err := model.LookupConfig("tiny")
	if err != nil {
		t.Fatal(err)
	}
	return model.Layout(mc)
}
