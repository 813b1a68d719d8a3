package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/clipstream/clipstream/trainer"
	"github.com/clipstream/clipstream/trainer/model"
)

// benchOptions are the flags of 'clipstream bench'.
type benchOptions struct {
	Model      string
	Batch      int
	Steps      int
	Warmup     int
	Device     string
	Precision  string
	LR         float64
	Seed       uint64
	PeakTFLOPS float64
	JSON       bool
}

func (o *benchOptions) addFlags(fs *pflag.FlagSet) {
	o.Device = "auto"
	o.Precision = "fp32"
	fs.StringVar(&o.Model, "model", "ViT-B-32", "model configuration `name`: "+strings.Join(model.ConfigNames(), ", "))
	fs.IntVar(&o.Batch, "batch", 256, "samples per step")
	fs.IntVar(&o.Steps, "steps", 20, "timed steps")
	fs.IntVar(&o.Warmup, "warmup", 3, "untimed steps first")
	fs.Var(newEnumValue(&o.Device, "auto", "cpu", "cuda"), "device", "where to compute: auto, cpu or cuda")
	addPrecisionFlag(fs, &o.Precision)
	fs.Float64Var(&o.LR, "lr", 5e-4, "constant learning rate")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of the weights and the synthetic batches")
	fs.Float64Var(&o.PeakTFLOPS, "peak-tflops", 0, "the device's peak `TFLOP/s`, to report model FLOPs utilisation (0: not reported)")
	fs.BoolVar(&o.JSON, "json", false, "print the result as one JSON object (after the step lines)")
}

func newBenchCmd(e *env) *cobra.Command {
	var opts benchOptions
	cmd := &cobra.Command{
		Use:   "bench [flags]",
		Short: "Time training steps on synthetic batches: samples/s, TFLOP/s, MFU",
		Long: `bench times whole training steps of a model (forward, backward, AdamW with the
logit-scale clamp, exactly as train takes them) on synthetic batches held in memory:
uint8 images of random pixels (normalised and cut into patches on the GPU with
--device cuda, as in training), captions of random tokens. No data, loader or
storage is involved, so it measures the compute path alone. It prints one line per step
(loss, ms, samples/s; warm-up steps marked) and a summary: the median timed step,
samples/s, achieved TFLOP/s (from the model's matrix-product FLOPs, 3× the forward
pass: 44.3 GFLOP per sample for ViT-B-32) and, with --peak-tflops, the model FLOPs
utilisation. The losses are deterministic for a seed on one backend, so two devices'
trajectories can be compared line by line.`,
		Example: `  # ViT-B-32 on a GPU in bf16, MFU against the measured bf16 GEMM rate
  clipstream bench --device cuda --precision bf16 --model ViT-B-32 --batch 256 --peak-tflops 790

  # the small model's first ten steps on the CPU (compare with --device cuda)
  clipstream bench --device cpu --model small --batch 32 --warmup 0 --steps 10`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd.Context(), opts, e)
		},
	}
	opts.addFlags(cmd.Flags())
	return cmd
}

// benchSummary is the --json result.
type benchSummary struct {
	Model          string    `json:"model"`
	Device         string    `json:"device"`
	Precision      string    `json:"precision"`
	Batch          int       `json:"batch"`
	Steps          int       `json:"steps"`
	MedianMs       float64   `json:"median_step_ms"`
	ForwardMs      float64   `json:"forward_ms"`
	BackwardMs     float64   `json:"backward_ms"`
	OptimizerMs    float64   `json:"optimizer_ms"`
	SamplesPerSec  float64   `json:"samples_per_s"`
	GFLOPPerSample float64   `json:"gflop_per_sample"`
	TFLOPS         float64   `json:"tflops"`
	PeakTFLOPS     float64   `json:"peak_tflops,omitempty"`
	MFU            float64   `json:"mfu,omitempty"`
	Losses         []float64 `json:"losses"`
}

func runBench(ctx context.Context, o benchOptions, e *env) error {
	if _, err := model.LookupConfig(o.Model); err != nil {
		return usageErrorf("--model %q: unknown (have %s)", o.Model, strings.Join(model.ConfigNames(), ", "))
	}
	if o.Batch < 1 || o.Steps < 1 || o.Warmup < 0 {
		return usageErrorf("--batch and --steps must be positive, --warmup at least 0")
	}
	be, closeBackend, err := backend(o.Device, o.Precision, e.log)
	if err != nil {
		return err
	}
	defer closeBackend()
	prec := o.Precision
	if be.Name() != "cuda" {
		prec = "fp32"
	}
	res, err := trainer.Bench(ctx, trainer.BenchConfig{
		Model: o.Model, Batch: o.Batch, Warmup: o.Warmup, Steps: o.Steps, LR: o.LR, Seed: o.Seed,
		Backend: be, Out: e.stdout,
	})
	if err != nil {
		return err
	}
	s := benchSummary{Model: res.Model, Device: res.Backend, Precision: prec, Batch: res.Batch, Steps: len(res.StepTimes),
		MedianMs: ms(res.Median), ForwardMs: ms(res.Forward), BackwardMs: ms(res.Backward), OptimizerMs: ms(res.Optimizer),
		SamplesPerSec:  res.SamplesPerSec,
		GFLOPPerSample: res.FLOPsPerSample / 1e9, TFLOPS: res.TFLOPS, PeakTFLOPS: o.PeakTFLOPS,
		MFU: res.MFU(o.PeakTFLOPS), Losses: res.Losses}
	if o.JSON {
		return json.NewEncoder(e.stdout).Encode(s)
	}
	fmt.Fprintf(e.stdout, "bench: %s on %s (%s), batch %d: median step %.1f ms (forward %.1f, backward %.1f, optimizer %.1f) over %d steps, %.1f samples/s, %.2f GFLOP/sample, %.2f TFLOP/s",
		s.Model, s.Device, s.Precision, s.Batch, s.MedianMs, s.ForwardMs, s.BackwardMs, s.OptimizerMs, s.Steps, s.SamplesPerSec, s.GFLOPPerSample, s.TFLOPS)
	if o.PeakTFLOPS > 0 {
		fmt.Fprintf(e.stdout, ", MFU %.1f%% of %.0f TFLOP/s", 100*s.MFU, o.PeakTFLOPS)
	}
	fmt.Fprintln(e.stdout)
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
