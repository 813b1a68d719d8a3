package trainer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/clipstream/clipstream/trainer/model"
	"github.com/clipstream/clipstream/trainer/ops"
)

// BenchConfig says how to time training steps on synthetic batches.
type BenchConfig struct {
	Model   string
	Batch   int
	Warmup  int // untimed steps first (kernel compilation, allocation, caches)
	Steps   int // timed steps
	LR      float64
	AdamW   AdamWConfig
	Clip    float64 // gradient clipping; 0: none
	Seed    uint64  // the weights and the batches
	Batches int     // distinct synthetic batches cycled through; 0 means 4
	Backend ops.Backend
	Out     io.Writer // one line per step; nil: none
}

// BenchResult is what Bench measured.
type BenchResult struct {
	Model, Backend string
	Batch          int
	Losses         []float64       // every step's, warm-up included
	StepTimes      []time.Duration // the timed steps'
	Median         time.Duration   // median timed step
	// Medians of the timed steps' phases: forward (with the batch's
	// upload and the loss read back), backward (waited for), and the
	// optimizer step.
	Forward, Backward, Optimizer time.Duration
	SamplesPerSec                float64 // Batch / Median
	FLOPsPerSample               float64 // model.Config.TrainFLOPsPerSample
	TFLOPS                       float64 // achieved: FLOPsPerSample · SamplesPerSec / 1e12
}

// MFU returns the model FLOPs utilisation against a peak of peakTFLOPS.
func (r *BenchResult) MFU(peakTFLOPS float64) float64 {
	if peakTFLOPS <= 0 {
		return 0
	}
	return r.TFLOPS / peakTFLOPS
}

// Bench times whole training steps — forward, backward and the optimizer
// step exactly as Run takes them (the same stepper: on the device when the
// backend has its own step) — on synthetic batches: uint8 images of
// uniformly random pixels, normalised and cut into patches as training
// batches are (by the backend when it is a model.PatchUploader), and
// captions of random tokens and lengths between start and end markers. No loader and no storage are
// involved, so it measures the compute path alone. Every step ends with
// the loss and the logit scale read back, so the host clock times work
// the device has finished. The learning rate is constant. The losses are
// a deterministic function of (Model, Batch, Seed, LR) on one backend,
// which lets two backends' trajectories be compared.
func Bench(ctx context.Context, cfg BenchConfig) (*BenchResult, error) {
	mcfg, err := model.LookupConfig(cfg.Model)
	if err != nil {
		return nil, err
	}
	if cfg.Batch < 1 || cfg.Steps < 1 || cfg.Warmup < 0 {
		return nil, fmt.Errorf("trainer: bench: batch %d, steps %d, warm-up %d: want batch and steps ≥ 1, warm-up ≥ 0", cfg.Batch, cfg.Steps, cfg.Warmup)
	}
	if cfg.Backend == nil {
		cfg.Backend = ops.NewCPU()
	}
	if cfg.LR == 0 {
		cfg.LR = 5e-4
	}
	if cfg.AdamW == (AdamWConfig{}) {
		cfg.AdamW = DefaultAdamW()
	}
	nb := cfg.Batches
	if nb <= 0 {
		nb = 4
	}
	out := cfg.Out
	if out == nil {
		out = io.Discard
	}
	m, err := model.New(mcfg, cfg.Backend, cfg.Seed)
	if err != nil {
		return nil, err
	}
	st, err := newStepper(cfg.Backend, m, cfg.AdamW, cfg.Clip)
	if err != nil {
		return nil, err
	}
	images, tokens := syntheticBatches(mcfg, cfg.Batch, nb, cfg.Seed)
	res := &BenchResult{Model: mcfg.Name, Backend: cfg.Backend.Name(), Batch: cfg.Batch, FLOPsPerSample: mcfg.TrainFLOPsPerSample()}
	total := cfg.Warmup + cfg.Steps
	var fwd, bwd, opt []time.Duration
	for i := range total {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("trainer: bench: %w", errors.Join(ErrInterrupted, err))
		}
		t0 := time.Now()
		m.ZeroGrad()
		loss, err := m.ForwardPixels(images[i%nb], tokens[i%nb], cfg.Batch)
		t1 := time.Now()
		if err == nil {
			err = m.BackwardWhile(func() {
				if i+1 < total { // the next step's pixels cross during this backward
					m.PrefetchPixels(images[(i+1)%nb])
				}
			})
		}
		if err == nil {
			err = cfg.Backend.Err() // wait for the backward
		}
		if err != nil {
			return nil, fmt.Errorf("trainer: bench: step %d: %w", i+1, err)
		}
		t2 := time.Now()
		_, scale, err := st.apply(1, cfg.LR)
		if err != nil {
			return nil, fmt.Errorf("trainer: bench: step %d: %w", i+1, err)
		}
		t3 := time.Now()
		d := t3.Sub(t0)
		res.Losses = append(res.Losses, float64(loss))
		tag := "warm-up"
		if i >= cfg.Warmup {
			res.StepTimes = append(res.StepTimes, d)
			fwd, bwd, opt = append(fwd, t1.Sub(t0)), append(bwd, t2.Sub(t1)), append(opt, t3.Sub(t2))
			tag = "timed"
		}
		fmt.Fprintf(out, "step %d/%d | loss %.6f | logit scale %.3f | %.1f ms (fwd %.1f, bwd %.1f, opt %.1f) | %.0f samples/s | %s\n",
			i+1, total, loss, scale, ms(d), ms(t1.Sub(t0)), ms(t2.Sub(t1)), ms(t3.Sub(t2)), float64(cfg.Batch)/d.Seconds(), tag)
	}
	res.Median = median(res.StepTimes)
	res.Forward, res.Backward, res.Optimizer = median(fwd), median(bwd), median(opt)
	res.SamplesPerSec = float64(cfg.Batch) / res.Median.Seconds()
	res.TFLOPS = res.FLOPsPerSample * res.SamplesPerSec / 1e12
	return res, nil
}

// syntheticBatches draws n batches of B uint8 images (uniform pixels) and
// captions (start marker, 3 to Context−2 random tokens, end marker, zero
// padding; the end marker is the largest id, as the model's pooling
// expects).
func syntheticBatches(c model.Config, B, n int, seed uint64) ([][]uint8, [][]int32) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed_ba7c))
	S, L, V := c.Vision.ImageSize, c.Text.Context, c.Text.Vocab
	eot, sot := int32(V-1), int32(V-2)
	images := make([][]uint8, n)
	tokens := make([][]int32, n)
	for k := range n {
		img := make([]uint8, B*3*S*S)
		for i := range img {
			img[i] = uint8(rng.Uint32())
		}
		tok := make([]int32, B*L)
		for b := range B {
			row := tok[b*L : (b+1)*L]
			row[0] = sot
			words := 3 + rng.IntN(L-4)
			for i := 1; i <= words; i++ {
				row[i] = 1 + rng.Int32N(sot-1)
			}
			row[words+1] = eot
		}
		images[k], tokens[k] = img, tok
	}
	return images, tokens
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// median of a non-empty list.
func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}
