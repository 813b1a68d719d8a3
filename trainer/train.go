package trainer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/clipstream/clipstream/loader"
	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
	"github.com/clipstream/clipstream/trainer/model"
	"github.com/clipstream/clipstream/trainer/ops"
	"github.com/clipstream/clipstream/trainer/tokenizer"
)

// Resume modes of Config.Resume besides a checkpoint URL.
const (
	ResumeAuto = "auto" // from RUN/checkpoints/latest.json when it exists, else afresh
	ResumeNone = "none" // afresh; an error when the run already has a checkpoint
)

// Config is one training run. Zero fields take the defaults noted.
type Config struct {
	Data  []loader.Source // training datasets (URL, weight)
	Store storage.Options // for every store: data, run, eval, checkpoint URL
	Run   string          // store URL of the run: checkpoints/, metrics.jsonl

	Model string // model.LookupConfig name
	// Batch is the global batch: samples per optimizer step. MicroBatch
	// (0: Batch) is the rows of one forward/backward; Batch must be a
	// multiple of it. Micro-batch gradients are averaged, each computed
	// with the contrastive loss over its own rows; see the package doc.
	Batch, MicroBatch int
	Steps             int64 // optimizer steps; 0: Epochs
	Epochs            int   // Epochs·⌊samples/Batch⌋ steps when Steps is 0

	LR     float64 // peak learning rate (default 5e-4)
	Warmup int64   // linear warmup steps; negative: min(10000, steps/10)
	AdamW  AdamWConfig
	// GradClip clips the global gradient norm (≤ 0: off).
	GradClip float64
	Seed     uint64 // model init and loader order/crops

	CheckpointEvery int64 // steps between checkpoints (0: only at the end)
	Keep            int   // newest checkpoints kept (≤ 0: all)
	// Resume is ResumeAuto (""), ResumeNone or a store URL of a checkpoint
	// directory or of a run. Force allows resuming against a dataset whose
	// fingerprint differs from the checkpoint's.
	Resume string
	Force  bool

	EvalEvery int64      // steps between evaluations (0: never)
	Eval      EvalConfig // held-out data etc.; evaluated at the end too when set

	Backend       ops.Backend // nil: the CPU
	LoaderWorkers int         // decode goroutines (0: GOMAXPROCS)
	Out           io.Writer   // config table and step lines (nil: discard)
	Logger        *slog.Logger
	// OnStep, when set, is called after every step (for tests and
	// progress displays).
	OnStep func(StepMetrics)
}

// RunConfig is the part of Config a checkpoint records.
type RunConfig struct {
	Model      string          `json:"model"`
	Data       []loader.Source `json:"data"`
	Batch      int             `json:"batch"`
	MicroBatch int             `json:"micro_batch"`
	Steps      int64           `json:"steps"`
	LR         float64         `json:"lr"`
	Warmup     int64           `json:"warmup"`
	AdamW      AdamWConfig     `json:"adamw"`
	GradClip   float64         `json:"grad_clip"`
	Seed       uint64          `json:"seed"`
	Backend    string          `json:"backend"`
}

// Result is what Run did.
type Result struct {
	StartStep   int64 // the step resumed from (0: a fresh start)
	Step        int64 // steps taken in all, after this run
	Losses      []float64
	Checkpoint  string // the last checkpoint written
	Interrupted bool
	Eval        *EvalResult // the final evaluation, when Eval.Data is set
}

// ErrInterrupted is wrapped by Run's error when ctx was cancelled; the
// checkpoint of the last completed step has been written by then.
var ErrInterrupted = errors.New("trainer: interrupted")

func (c *Config) defaults() error {
	if c.MicroBatch == 0 {
		c.MicroBatch = c.Batch
	}
	if c.Batch <= 0 || c.MicroBatch <= 0 || c.Batch%c.MicroBatch != 0 {
		return fmt.Errorf("trainer: batch %d, micro-batch %d: want positive, batch a multiple of micro-batch", c.Batch, c.MicroBatch)
	}
	if len(c.Data) == 0 {
		return errors.New("trainer: no training data")
	}
	if c.Run == "" {
		return errors.New("trainer: no run URL")
	}
	if c.Steps < 0 || c.Epochs < 0 || (c.Steps == 0 && c.Epochs == 0) {
		return fmt.Errorf("trainer: steps %d, epochs %d: want one of them positive", c.Steps, c.Epochs)
	}
	if c.LR == 0 {
		c.LR = 5e-4
	}
	if c.AdamW == (AdamWConfig{}) {
		c.AdamW = DefaultAdamW()
	}
	if c.Resume == "" {
		c.Resume = ResumeAuto
	}
	if c.Backend == nil {
		c.Backend = ops.NewCPU()
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// sharedTokenizer loads the BPE vocabulary once per process (it is safe
// for concurrent use).
var sharedTokenizer = sync.OnceValues(tokenizer.New)

// trainer is the state of one Run.
type trainer struct {
	cfg     Config
	log     *slog.Logger
	mcfg    model.Config
	run     storage.Store
	m       *model.Model
	opt     *AdamW
	st      *stepper
	tok     *tokenizer.Tokenizer
	ld      *loader.Loader
	ds      []DatasetFingerprint
	sched   Schedule
	total   int64
	accum   int
	step    int64
	seen    int64
	ls      loader.State
	metrics metricsLog
}

// Run trains as cfg says: it resumes (Config.Resume), then runs
// loader → forward/backward → AdamW until the step count, printing a
// config table and one line per step to cfg.Out, checkpointing every
// CheckpointEvery steps and at the end, and rewriting RUN/metrics.jsonl
// with each checkpoint. When ctx is cancelled it writes a checkpoint of
// the last completed step and returns an error wrapping ErrInterrupted.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	t := &trainer{cfg: cfg, log: cfg.Logger}
	var err error
	if t.mcfg, err = model.LookupConfig(cfg.Model); err != nil {
		return nil, err
	}
	if t.tok, err = sharedTokenizer(); err != nil {
		return nil, err
	}
	if t.ds, err = fingerprints(ctx, cfg.Data, cfg.Store); err != nil {
		return nil, err
	}
	if t.run, err = storage.Open(ctx, cfg.Run, cfg.Store); err != nil {
		return nil, fmt.Errorf("trainer: run: %w", err)
	}
	defer t.run.Close()
	t.ld, err = loader.New(ctx, loader.Config{
		Sources: cfg.Data, Store: cfg.Store, BatchSize: cfg.MicroBatch, Tail: loader.TailDrop,
		ImageSize: t.mcfg.Vision.ImageSize, ContextLength: t.mcfg.Text.Context,
		Tokenizer: t.tok, Workers: cfg.LoaderWorkers, Logger: cfg.Logger,
		Uint8: pixelsToBackend(cfg.Backend),
	})
	if err != nil {
		return nil, fmt.Errorf("trainer: %w", err)
	}
	defer t.ld.Close()
	order, err := t.ld.Order(cfg.Seed, 0)
	if err != nil {
		return nil, err
	}
	if n := order.Len(); n < int64(cfg.Batch) {
		return nil, fmt.Errorf("trainer: batch %d is larger than the training data (%d samples in %s); lower --batch", cfg.Batch, n, dataURLs(cfg.Data))
	}
	t.accum = cfg.Batch / cfg.MicroBatch
	t.total = cfg.Steps
	if t.total == 0 {
		t.total = int64(cfg.Epochs) * (order.Len() / int64(cfg.Batch))
	}
	warm := cfg.Warmup
	if warm < 0 {
		warm = min(10000, t.total/10)
	}
	t.sched = Schedule{BaseLR: cfg.LR, Warmup: warm, Steps: t.total}
	t.cfg.Warmup = warm
	if t.m, err = model.New(t.mcfg, cfg.Backend, cfg.Seed); err != nil {
		return nil, err
	}
	if t.st, err = newStepper(cfg.Backend, t.m, cfg.AdamW, cfg.GradClip); err != nil {
		return nil, err
	}
	t.opt = t.st.opt
	t.ls = loader.State{Seed: cfg.Seed}
	res := &Result{}
	if err := t.resume(ctx); err != nil {
		return nil, err
	}
	res.StartStep = t.step
	t.printConfig()
	return t.loop(ctx, res)
}

// pixelsToBackend reports whether batches should reach the backend as
// uint8 pixels (a quarter of the bytes of float32 images), normalised and
// cut into patches there: when it is a model.PatchUploader (the CUDA
// backend). The CPU normalises in the loader's workers instead.
func pixelsToBackend(be ops.Backend) bool {
	_, ok := be.(model.PatchUploader)
	return ok
}

func dataURLs(src []loader.Source) string {
	var s []string
	for _, d := range src {
		s = append(s, d.URL)
	}
	return strings.Join(s, ", ")
}

// fingerprints summarises each source and refuses one without committed
// shards, saying whether orphans are there.
func fingerprints(ctx context.Context, data []loader.Source, opts storage.Options) ([]DatasetFingerprint, error) {
	var out []DatasetFingerprint
	for _, d := range data {
		store, err := storage.Open(ctx, d.URL, opts)
		if err != nil {
			return nil, fmt.Errorf("trainer: data %s: %w", d.URL, err)
		}
		sum, _, err := shardwriter.Summarize(ctx, store, "")
		if err == nil && sum.Samples == 0 {
			orphans := 0
			for info, lerr := range store.List(ctx, shardwriter.ShardsDir) {
				if lerr != nil {
					break
				}
				if strings.HasSuffix(info.Key, shardwriter.DataSuffix) {
					orphans++
				}
			}
			switch {
			case orphans > 0:
				err = fmt.Errorf("no committed shards, only %d data object(s) without a sidecar (orphans of interrupted writes; 'clipstream shards gc' removes them)", orphans)
			case sum.Shards > 0:
				err = fmt.Errorf("%d committed shards hold no samples", sum.Shards)
			default:
				err = fmt.Errorf("no shards under %s (is this the dataset's prefix?)", shardwriter.ShardsDir)
			}
		}
		store.Close()
		if err != nil {
			return nil, fmt.Errorf("trainer: data %s: %w", d.URL, err)
		}
		w := d.Weight
		if w == 0 {
			w = 1
		}
		out = append(out, DatasetFingerprint{URL: d.URL, Weight: w, Fingerprint: sum.Fingerprint, Shards: sum.Shards, Samples: sum.Samples})
	}
	return out, nil
}

// resume applies Config.Resume.
func (t *trainer) resume(ctx context.Context) error {
	cfg := &t.cfg
	var ck *Checkpoint
	switch cfg.Resume {
	case ResumeNone:
		if l, ok, err := ReadLatest(ctx, t.run); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("trainer: --resume none, but run %s already has a checkpoint (step %d); use --resume auto to continue it, or a new --run", t.run.URL(), l.Step)
		}
		return nil
	case ResumeAuto:
		l, ok, err := ReadLatest(ctx, t.run)
		if err != nil {
			return err
		}
		if !ok {
			if steps, _ := ListCheckpoints(ctx, t.run); len(steps) > 0 {
				t.log.Warn("run has step directories but no latest.json (a crash before the first checkpoint completed); starting afresh", "run", t.run.URL())
			}
			return nil
		}
		if ck, err = LoadCheckpoint(ctx, t.run, l.Dir, t.m.Layout(), t.m.NumParams()); err != nil {
			return fmt.Errorf("%w (named by %s/%s)", err, t.run.URL(), LatestKey)
		}
	default:
		store, dir, err := OpenCheckpoint(ctx, cfg.Resume, cfg.Store)
		if err != nil {
			return fmt.Errorf("trainer: --resume %s: %w", cfg.Resume, err)
		}
		ck, err = LoadCheckpoint(ctx, store, dir, t.m.Layout(), t.m.NumParams())
		store.Close()
		if err != nil {
			return err
		}
	}
	st := ck.State
	if st.Config.Model != "" && st.Config.Model != t.mcfg.Name {
		return fmt.Errorf("%w: %s is of model %q, not %q", ErrCheckpoint, ck.Where, st.Config.Model, t.mcfg.Name)
	}
	if !sameData(st.Datasets, t.ds) {
		if !cfg.Force {
			return fmt.Errorf("%w: checkpoint %s was trained on %s, the data now is %s; resume with force to continue anyway",
				ErrDatasetChanged, ck.Where, describe(st.Datasets), describe(t.ds))
		}
		t.log.Warn("resuming against a different dataset (forced): the loader restarts the saved epoch's order on the new data", "checkpoint", ck.Where)
		st.Loader.Order = ""
		if o, err := t.ld.Order(st.Loader.Seed, st.Loader.Epoch); err == nil && st.Loader.Position > o.Len() {
			st.Loader.Epoch, st.Loader.Position = st.Loader.Epoch+1, 0
		}
	}
	if err := t.m.SetParams(ck.Params); err != nil {
		return err
	}
	copy(t.opt.M, ck.M)
	copy(t.opt.V, ck.V)
	t.opt.Step = st.AdamStep
	if err := t.st.syncDevice(); err != nil {
		return err
	}
	t.step, t.seen, t.ls = st.Step, st.SamplesSeen, st.Loader
	if st.Loader.Order != "" && st.Loader.Order != t.ld.Fingerprint() && !cfg.Force {
		return fmt.Errorf("%w: checkpoint %s: the loader's order inputs (weights or block size) differ from the checkpoint's", ErrDatasetChanged, ck.Where)
	} else if cfg.Force {
		t.ls.Order = ""
	}
	if err := t.metrics.load(ctx, t.run, t.step); err != nil {
		t.log.Warn("could not read the run's metrics; starting a new metrics.jsonl", "err", err)
		t.metrics = metricsLog{}
	}
	if st.Config.Batch != cfg.Batch || st.Config.LR != cfg.LR || st.Config.Steps != t.total || st.Config.Seed != cfg.Seed {
		t.log.Warn("resuming with a config that differs from the checkpoint's; the run will not match an uninterrupted one",
			"checkpoint_batch", st.Config.Batch, "checkpoint_lr", st.Config.LR, "checkpoint_steps", st.Config.Steps, "checkpoint_seed", st.Config.Seed)
	}
	fmt.Fprintf(t.cfg.Out, "resumed from %s at step %d (epoch %d, position %d)\n", ck.Where, t.step, t.ls.Epoch, t.ls.Position)
	return nil
}

func sameData(a, b []DatasetFingerprint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Fingerprint != b[i].Fingerprint || a[i].Weight != b[i].Weight {
			return false
		}
	}
	return true
}

func describe(ds []DatasetFingerprint) string {
	var s []string
	for _, d := range ds {
		s = append(s, fmt.Sprintf("%s (%d shards, %d samples, fingerprint %.12s)", d.URL, d.Shards, d.Samples, d.Fingerprint))
	}
	return strings.Join(s, ", ")
}

func (t *trainer) runConfig() RunConfig {
	c := &t.cfg
	return RunConfig{Model: t.mcfg.Name, Data: c.Data, Batch: c.Batch, MicroBatch: c.MicroBatch, Steps: t.total,
		LR: c.LR, Warmup: t.sched.Warmup, AdamW: c.AdamW, GradClip: c.GradClip, Seed: c.Seed, Backend: c.Backend.Name()}
}

func (t *trainer) printConfig() {
	c := &t.cfg
	tw := tabwriter.NewWriter(c.Out, 0, 0, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "| %s\t%v\t|\n", k, v) }
	fmt.Fprintln(tw, "| setting\tvalue\t|")
	row("model", fmt.Sprintf("%s (%.2fM parameters)", t.mcfg.Name, float64(t.m.NumParams())/1e6))
	row("device", c.Backend.Name())
	for i, d := range t.ds {
		row(fmt.Sprintf("data[%d]", i), fmt.Sprintf("%s ×%g: %d shards, %d samples", d.URL, d.Weight, d.Shards, d.Samples))
	}
	row("run", t.run.URL())
	row("batch", fmt.Sprintf("%d (%d micro-batch(es) of %d)", c.Batch, t.accum, c.MicroBatch))
	row("steps", t.total)
	row("lr", fmt.Sprintf("%g, warmup %d, cosine to 0", c.LR, t.sched.Warmup))
	row("adamw", fmt.Sprintf("beta %g/%g, eps %g, weight decay %g (matrices only)", c.AdamW.Beta1, c.AdamW.Beta2, c.AdamW.Eps, c.AdamW.WeightDecay))
	row("grad clip", orOff(c.GradClip))
	row("seed", c.Seed)
	row("checkpoints", fmt.Sprintf("every %s, keep %s", orOff(float64(c.CheckpointEvery)), keepStr(c.Keep)))
	row("eval", fmt.Sprintf("every %s on %v", orOff(float64(c.EvalEvery)), c.Eval.Data))
	row("start step", t.step)
	tw.Flush()
}

func orOff(v float64) string {
	if v <= 0 {
		return "off"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func keepStr(k int) string {
	if k <= 0 {
		return "all"
	}
	return strconv.Itoa(k)
}

// checkpoint writes the current step's checkpoint, prunes, rewrites the
// metrics.
func (t *trainer) checkpoint(ctx context.Context) (string, error) {
	st := State{Step: t.step, SamplesSeen: t.seen, Loader: t.ls,
		RNG: RNGState{InitSeed: t.cfg.Seed, LoaderSeed: t.ls.Seed}, Config: t.runConfig(), Datasets: t.ds}
	if err := t.st.syncHost(); err != nil {
		return "", err
	}
	if err := SaveCheckpoint(ctx, t.run, t.m, t.opt, st); err != nil {
		return "", err
	}
	if err := PruneCheckpoints(ctx, t.run, t.cfg.Keep, t.step); err != nil {
		t.log.Warn("pruning old checkpoints failed", "err", err)
	}
	if err := t.metrics.flush(ctx, t.run); err != nil {
		t.log.Warn("writing metrics.jsonl failed", "err", err)
	}
	return t.run.URL() + "/" + StepDir(t.step), nil
}

// emptyCaptions counts rows of tokens whose caption is empty (start, end).
func emptyCaptions(tokens []int32, n, ctxLen int) int {
	e := 0
	for r := range n {
		if tokens[r*ctxLen+1] == tokenizer.EndOfText {
			e++
		}
	}
	return e
}

func (t *trainer) loop(ctx context.Context, res *Result) (*Result, error) {
	cfg := &t.cfg
	it, err := t.ld.Iter(ctx, t.ls)
	if err != nil {
		return nil, fmt.Errorf("trainer: %w", err)
	}
	defer func() { it.Close() }()
	// ahead is the batch after the current one, taken from the iterator
	// while the backward runs so that its pixels' upload overlaps it
	// (model.PixelPrefetcher); an error waits for its turn.
	var ahead *lookahead
	defer func() { ahead.release() }()
	nextBatch := func() (*loader.Batch, error) {
		if a := ahead; a != nil {
			ahead = nil
			return a.b, a.err
		}
		return it.Next()
	}
	saved := int64(-1)
	interrupted := false
	ctxLen := t.mcfg.Text.Context
	for t.step < t.total && !interrupted {
		t0 := time.Now()
		t.m.ZeroGrad()
		next := t.ls
		var lossSum float64
		rows, k, eofs := 0, 0, 0
		for k < t.accum {
			b, err := nextBatch()
			if err == io.EOF {
				if eofs++; eofs > 1 {
					return nil, fmt.Errorf("trainer: epoch %d of %s yields no batch (every sample skipped as corrupt?)", next.Epoch, dataURLs(cfg.Data))
				}
				it.Close()
				if next.Epoch == t.ls.Epoch && eofs == 1 && k == 0 && next.Position == t.ls.Position {
					// The epoch had no whole batch left (e.g. a forced resume
					// onto a smaller dataset): go on with the next.
					next = loader.State{Seed: next.Seed, Epoch: next.Epoch + 1, Order: next.Order}
				}
				if it, err = t.ld.Iter(ctx, next); err != nil {
					return nil, fmt.Errorf("trainer: %w", err)
				}
				continue
			}
			if err != nil {
				if ctx.Err() != nil {
					interrupted = true
					break
				}
				return nil, fmt.Errorf("trainer: load: %w", err)
			}
			next, eofs = b.State, 0
			if b.N == 0 {
				b.Release()
				continue
			}
			if e := emptyCaptions(b.Tokens, b.N, ctxLen); e == b.N {
				b.Release()
				return nil, fmt.Errorf("trainer: every caption of a batch of %d samples (epoch %d, up to position %d of %s) is empty: CLIP cannot learn from empty text; check the dataset's KEY.txt members",
					b.N, next.Epoch, next.Position, dataURLs(cfg.Data))
			}
			var loss float32
			if b.ImagesU8 != nil {
				loss, err = t.m.ForwardPixels(b.ImagesU8, b.Tokens, b.N)
			} else {
				loss, err = t.m.Forward(b.Images, b.Tokens, b.N)
			}
			if err == nil {
				last := k+1 == t.accum && t.step+1 >= t.total
				err = t.m.BackwardWhile(func() {
					if !last {
						ahead = t.peek(it)
					}
				})
			}
			rows += b.N
			b.Release()
			if err != nil {
				return nil, fmt.Errorf("trainer: step %d: %w", t.step, err)
			}
			lossSum += float64(loss)
			k++
		}
		if interrupted {
			break // the partial step is dropped: the checkpoint is of the last whole one
		}
		lr := t.sched.LR(t.step)
		norm, scale, err := t.st.apply(k, lr)
		if err != nil {
			return nil, err
		}
		t.step++
		t.seen += int64(rows)
		t.ls = next
		loss := lossSum / float64(k)
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return nil, fmt.Errorf("trainer: step %d: loss is %v", t.step, loss)
		}
		el := time.Since(t0)
		sm := StepMetrics{Kind: "step", Step: t.step, Epoch: t.ls.Epoch, Loss: loss, LR: lr, LogitScale: scale, GradNorm: norm,
			Samples: rows, Ms: float64(el.Microseconds()) / 1000, SamplesPerSec: float64(rows) / el.Seconds(), Time: time.Now().UTC()}
		t.metrics.add(t.step, sm)
		res.Losses = append(res.Losses, loss)
		fmt.Fprintf(cfg.Out, "step %*d/%d | loss %.6f | lr %.2e | logit scale %.3f | grad norm %.4f | %.1f ms | %.0f samples/s\n",
			len(strconv.FormatInt(t.total, 10)), t.step, t.total, loss, lr, scale, norm, sm.Ms, sm.SamplesPerSec)
		if cfg.OnStep != nil {
			cfg.OnStep(sm)
		}
		if cfg.EvalEvery > 0 && len(cfg.Eval.Data) > 0 && t.step%cfg.EvalEvery == 0 && t.step < t.total {
			if _, err := t.evaluate(ctx); err != nil {
				return nil, err
			}
		}
		if cfg.CheckpointEvery > 0 && t.step%cfg.CheckpointEvery == 0 && t.step < t.total {
			where, err := t.checkpoint(ctx)
			if err != nil {
				if ctx.Err() != nil {
					interrupted = true
					break
				}
				// Keep training: latest.json still names the previous
				// checkpoint, and the next one is tried on schedule.
				t.log.Error("checkpoint failed; training on", "step", t.step, "err", err)
				continue
			}
			saved, res.Checkpoint = t.step, where
			fmt.Fprintf(cfg.Out, "checkpoint %s\n", where)
		}
	}
	interrupted = interrupted || ctx.Err() != nil
	res.Step, res.Interrupted = t.step, interrupted
	cause := context.Cause(ctx)
	if interrupted {
		ctx = context.WithoutCancel(ctx)
	} else if len(cfg.Eval.Data) > 0 {
		ev, err := t.evaluate(ctx)
		if err != nil {
			return nil, err
		}
		res.Eval = ev
	}
	if saved != t.step && (t.step > res.StartStep || res.StartStep == 0) {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		where, err := t.checkpoint(sctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("trainer: final checkpoint at step %d: %w", t.step, err)
		}
		res.Checkpoint = where
		fmt.Fprintf(cfg.Out, "checkpoint %s\n", where)
	}
	if interrupted {
		return res, fmt.Errorf("%w at step %d; checkpoint %s written: %w", ErrInterrupted, t.step, res.Checkpoint, cause)
	}
	return res, nil
}

// lookahead is one result of Iter.Next taken early.
type lookahead struct {
	b   *loader.Batch
	err error
}

// release returns a batch taken early and not used.
func (a *lookahead) release() {
	if a != nil && a.b != nil {
		a.b.Release()
	}
}

// peek takes the next batch from it and starts its pixels' upload.
func (t *trainer) peek(it *loader.Iter) *lookahead {
	b, err := it.Next()
	if err == nil && b.N > 0 && b.ImagesU8 != nil {
		t.m.PrefetchPixels(b.ImagesU8)
	}
	return &lookahead{b: b, err: err}
}

func (t *trainer) evaluate(ctx context.Context) (*EvalResult, error) {
	ec := t.cfg.Eval
	ec.Store = t.cfg.Store
	if ec.Workers == 0 {
		ec.Workers = t.cfg.LoaderWorkers
	}
	ev, err := Evaluate(ctx, t.m, t.tok, ec)
	if err != nil {
		return nil, err
	}
	t.metrics.add(t.step, EvalRecord{Kind: "eval", Step: t.step, Eval: ev})
	fmt.Fprintf(t.cfg.Out, "eval step %d | %s\n", t.step, FormatEval(ev))
	return ev, nil
}

// FormatEval is one line of an evaluation's numbers.
func FormatEval(ev *EvalResult) string {
	r := ev.Retrieval
	s := fmt.Sprintf("%d samples | loss %.4f | image→text R@1 %.3f R@5 %.3f R@10 %.3f | text→image R@1 %.3f R@5 %.3f R@10 %.3f | chance R@5 %.3f",
		ev.Samples, ev.Loss, r.ImageR1, r.ImageR5, r.ImageR10, r.TextR1, r.TextR5, r.TextR10, r.ChanceR5)
	if z := ev.ZeroShot; z != nil {
		s += fmt.Sprintf(" | zero-shot %d classes top-1 %.3f top-5 %.3f (chance %.3f, majority %.3f)", z.Classes, z.Top1, z.Top5, z.Chance1, z.Majority)
	}
	return s
}
