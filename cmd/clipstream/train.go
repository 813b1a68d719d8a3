package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/clipstream/clipstream/gpu"
	"github.com/clipstream/clipstream/loader"
	"github.com/clipstream/clipstream/trainer"
	"github.com/clipstream/clipstream/trainer/model"
	"github.com/clipstream/clipstream/trainer/ops"
)

// trainOptions are the flags of 'clipstream train'.
type trainOptions struct {
	Data            []string // dataset URLs, each optionally URL:weight
	Run             string   // store URL of the run: checkpoints, metrics
	Model           string   // model configuration name
	Batch           int      // global batch size
	MicroBatch      int      // rows per forward/backward; 0 = Batch
	Steps           int      // steps to train; 0 = use Epochs
	Epochs          int      // epochs to train; 0 = use Steps
	Device          string   // auto|cpu|cuda
	Precision       string   // fp32|bf16 (cuda's GEMMs)
	Resume          string   // auto|none|checkpoint URL
	Force           bool     // resume against a changed dataset
	LR              float64
	Warmup          int64
	WeightDecay     float64
	GradClip        float64
	Seed            uint64
	CheckpointEvery int64
	Keep            int
	EvalEvery       int64
	EvalData        []string
	LabelField      string
	Workers         int
}

func (o *trainOptions) addFlags(fs *pflag.FlagSet) {
	o.Device = "auto"
	o.Resume = "auto"
	o.Precision = "fp32"
	fs.StringArrayVar(&o.Data, "data", nil, "dataset store `URL`, optionally URL:weight; repeat to mix datasets")
	fs.StringVar(&o.Run, "run", "", "store `URL` of the run: checkpoints/, metrics.jsonl")
	fs.StringVar(&o.Model, "model", "", "model configuration `name`: "+strings.Join(model.ConfigNames(), ", "))
	fs.IntVar(&o.Batch, "batch", 0, "global batch size in samples (per optimizer step)")
	fs.IntVar(&o.MicroBatch, "micro-batch", 0, "samples per forward/backward; gradients of batch/micro-batch of them are averaged (0: the whole batch)")
	fs.IntVar(&o.Steps, "steps", 0, "number of optimizer steps to train")
	fs.IntVar(&o.Epochs, "epochs", 0, "number of epochs to train (instead of --steps): epochs × ⌊samples/batch⌋ steps")
	fs.Var(newEnumValue(&o.Device, "auto", "cpu", "cuda"), "device",
		"where to compute: auto (CUDA when a device answers, else CPU), cpu or cuda")
	addPrecisionFlag(fs, &o.Precision)
	fs.StringVar(&o.Resume, "resume", o.Resume, "`auto|none|URL`: auto continues from the run's latest checkpoint if there is one, none starts afresh, a URL names a checkpoint (or a run)")
	fs.BoolVar(&o.Force, "force", false, "resume even though the dataset's fingerprint differs from the checkpoint's")
	fs.Float64Var(&o.LR, "lr", 5e-4, "peak learning rate")
	fs.Int64Var(&o.Warmup, "warmup", -1, "linear warmup `steps` before the cosine decay (-1: min(10000, steps/10))")
	fs.Float64Var(&o.WeightDecay, "wd", 0.2, "AdamW weight decay (on matrices and embeddings only)")
	fs.Float64Var(&o.GradClip, "grad-clip", 0, "clip the global gradient norm to this (0: off)")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of the model init and the data order and crops")
	fs.Int64Var(&o.CheckpointEvery, "checkpoint-every", 1000, "write a checkpoint every `N` steps (and always at the end; 0: only at the end)")
	fs.IntVar(&o.Keep, "keep", 3, "keep the newest `K` checkpoints (0: all)")
	fs.Int64Var(&o.EvalEvery, "eval-every", 0, "evaluate on --eval-data every `N` steps (0: only at the end, when --eval-data is set)")
	fs.StringArrayVar(&o.EvalData, "eval-data", nil, "held-out dataset store `URL` for evaluation; repeatable")
	fs.StringVar(&o.LabelField, "label-field", "category", "metadata `field` holding the class for zero-shot evaluation")
	fs.IntVar(&o.Workers, "workers", 0, "image decode goroutines (0: one per CPU)")
}

func newTrainCmd(e *env) *cobra.Command {
	var opts trainOptions
	cmd := &cobra.Command{
		Use:   "train [flags]",
		Short: "Train CLIP on shards streamed from storage, checkpointing to storage",
		Long: `train trains a CLIP model on the committed shards of one or more datasets (--data,
mixed by weight), streamed from file:// or s3:// with prefetching. It prints a
configuration table at start and one line per step (step, loss, learning rate, logit
scale, gradient norm, ms, samples/s) to stdout, and keeps RUN/metrics.jsonl (rewritten
at every checkpoint).

Optimisation follows open_clip: AdamW (beta 0.9/0.98, eps 1e-6, weight decay on
matrices and embeddings only), linear warmup then cosine decay, the logit scale clamped
to [0, ln 100], optional gradient clipping (--grad-clip) and accumulation over
micro-batches (--micro-batch).

Checkpoints (weights, optimizer moments, step, loader position, RNG seeds, config,
dataset fingerprint) are written under RUN/checkpoints/step-NNNNNNNNN/ every
--checkpoint-every steps and at the end, RUN/checkpoints/latest.json last; the newest
--keep are kept. SIGINT or SIGTERM writes a checkpoint of the last whole step and exits
with code 130. --resume auto continues exactly where latest.json says, so a killed run
resumed this way matches an uninterrupted one bit for bit. A missing or damaged
checkpoint is an error, never a silent fresh start; resuming on a dataset whose
fingerprint changed needs --force.

--device cuda uses the CUDA backend, loaded at run time; it is not yet verified on a
GPU, so auto uses the CPU and says why. A
batch larger than the dataset is an error; the last partial batch of each epoch is
dropped.`,
		Example: `  # train on a local corpus, checkpointing to S3, resuming if the run exists
  clipstream train --data ./corpus --run s3://my-bucket/runs/r1 --model small \
    --batch 256 --steps 10000 --device auto --resume auto

  # two datasets mixed 3:1, evaluating on held-out shards every 500 steps
  clipstream train --data s3://b/web:3 --data ./emoji:1 --run ./runs/r2 --model tiny \
    --batch 64 --epochs 5 --eval-data ./heldout --eval-every 500`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTrain(cmd.Context(), opts, e)
		},
	}
	opts.addFlags(cmd.Flags())
	return cmd
}

// parseSource splits "URL:weight"; a URL without a numeric suffix has
// weight 1 (":" inside the URL, as in s3://, is left alone).
func parseSource(s string) (loader.Source, error) {
	if i := strings.LastIndexByte(s, ':'); i > 0 && !strings.Contains(s[i+1:], "/") {
		if w, err := strconv.ParseFloat(s[i+1:], 64); err == nil {
			if w <= 0 {
				return loader.Source{}, fmt.Errorf("--data %s: weight must be positive", s)
			}
			return loader.Source{URL: s[:i], Weight: w}, nil
		}
	}
	return loader.Source{URL: s}, nil
}

// The CUDA backend offers the trainer and the model what they look for
// beyond the op interface (checked here, where the two are wired, since
// neither side imports the other).
var (
	_ ops.Optimizer       = (*gpu.Backend)(nil)
	_ ops.BF16Copier      = (*gpu.Backend)(nil)
	_ model.PatchUploader = (*gpu.Backend)(nil)
)

// addPrecisionFlag adds --precision, shared by train and bench.
func addPrecisionFlag(fs *pflag.FlagSet, p *string) {
	fs.Var(newEnumValue(p, "fp32", "bf16"), "precision",
		"GEMM precision: fp32, or bf16 operands with fp32 accumulation and fp32 master weights (on cpu, a slower reference of cuda's bf16 numerics)")
}

// backend picks the compute backend for --device and --precision; close
// releases it.
//
// cuda opens the CUDA backend (package gpu): the driver, cuBLAS and NVRTC
// loaded at run time. Its kernels compile and its host side is tested, but
// its numerics have not yet been checked on a GPU against the CPU
// reference, so auto keeps the CPU until they have (scripts/gpu-check.sh).
func backend(device, precision string, log *slog.Logger) (be ops.Backend, close func() error, err error) {
	nop := func() error { return nil }
	switch device {
	case "cuda":
		p := gpu.FP32
		if precision == "bf16" {
			p = gpu.BF16
		}
		g, err := gpu.New(gpu.Options{Precision: p}.WithEnv(os.Getenv))
		if err != nil {
			return nil, nop, fmt.Errorf("--device cuda: %w", err)
		}
		log.Warn("device cuda: the CUDA backend has not yet passed its checks on a GPU; compare with --device cpu")
		return g, g.Close, nil
	case "auto":
		if info, err := gpu.Probe(0); err == nil {
			log.Info("device auto: using the CPU; a CUDA device answers but the CUDA backend is not yet verified on a GPU (use --device cuda to try it)", "gpu", info.Name)
		} else {
			log.Info("device auto: using the CPU", "cuda", err)
		}
	}
	cpu := ops.NewCPU()
	if precision == "bf16" {
		cpu.BF16GEMM = true
		log.Info("--precision bf16 on the CPU: GEMM operands rounded to bf16 as on cuda, a reference for comparing with it (slower than fp32)")
	}
	return cpu, nop, nil
}

func runTrain(ctx context.Context, o trainOptions, e *env) error {
	if len(o.Data) == 0 {
		return usageErrorf("--data is required")
	}
	if o.Run == "" {
		return usageErrorf("--run is required")
	}
	if _, err := model.LookupConfig(o.Model); err != nil {
		return usageErrorf("--model %q: unknown (have %s)", o.Model, strings.Join(model.ConfigNames(), ", "))
	}
	if o.Batch <= 0 {
		return usageErrorf("--batch must be positive")
	}
	if (o.Steps > 0) == (o.Epochs > 0) {
		return usageErrorf("give one of --steps and --epochs")
	}
	var srcs []loader.Source
	for _, d := range o.Data {
		s, err := parseSource(d)
		if err != nil {
			return usageErrorf("%v", err)
		}
		srcs = append(srcs, s)
	}
	be, closeBackend, err := backend(o.Device, o.Precision, e.log)
	if err != nil {
		return err
	}
	defer closeBackend()
	adam := trainer.DefaultAdamW()
	adam.WeightDecay = o.WeightDecay
	var onStep func(trainer.StepMetrics)
	if isTerminal(e.stderr) {
		onStep = newStepProgress(e.stderr, int64(o.Steps)).Step
	}
	res, err := trainer.Run(ctx, trainer.Config{
		Data: srcs, Run: o.Run, Model: o.Model, Batch: o.Batch, MicroBatch: o.MicroBatch,
		Steps: int64(o.Steps), Epochs: o.Epochs, LR: o.LR, Warmup: o.Warmup, AdamW: adam, GradClip: o.GradClip,
		Seed: o.Seed, CheckpointEvery: o.CheckpointEvery, Keep: o.Keep, Resume: o.Resume, Force: o.Force,
		EvalEvery: o.EvalEvery, Eval: trainer.EvalConfig{Data: o.EvalData, LabelField: o.LabelField},
		Backend: be, LoaderWorkers: o.Workers, Out: e.stdout, Logger: e.log, OnStep: onStep,
	})
	if err != nil {
		return err
	}
	e.log.Info("train: done", "steps", res.Step, "from", res.StartStep, "checkpoint", res.Checkpoint)
	return nil
}
