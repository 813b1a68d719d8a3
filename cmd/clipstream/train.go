package main

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// trainOptions are the flags of 'clipstream train'.
type trainOptions struct {
	Data   []string // dataset URLs, each optionally URL:weight
	Run    string   // store URL of the run: checkpoints, metrics
	Model  string   // model configuration name
	Batch  int      // global batch size
	Steps  int      // steps to train; 0 = use Epochs
	Epochs int      // epochs to train; 0 = use Steps
	Device string   // auto|cpu|cuda
	Resume string   // auto|none|checkpoint URL
}

func (o *trainOptions) addFlags(fs *pflag.FlagSet) {
	o.Device = "auto"
	o.Resume = "auto"
	fs.StringArrayVar(&o.Data, "data", nil, "dataset store `URL`, optionally URL:weight; repeat to mix datasets")
	fs.StringVar(&o.Run, "run", "", "store `URL` of the run: checkpoints, metrics.jsonl")
	fs.StringVar(&o.Model, "model", "", "model configuration `name`")
	fs.IntVar(&o.Batch, "batch", 0, "global batch size in samples")
	fs.IntVar(&o.Steps, "steps", 0, "number of optimizer steps to train")
	fs.IntVar(&o.Epochs, "epochs", 0, "number of epochs to train (instead of --steps)")
	fs.Var(newEnumValue(&o.Device, "auto", "cpu", "cuda"), "device",
		"where to compute: auto (CUDA when a device answers, else CPU), cpu or cuda")
	fs.StringVar(&o.Resume, "resume", o.Resume, "`auto|none|URL`: auto continues from the run's latest checkpoint if there is one, none starts afresh, a URL names a checkpoint")
}

func newTrainCmd(e *env) *cobra.Command {
	var opts trainOptions
	cmd := &cobra.Command{
		Use:   "train [flags]",
		Short: "Train CLIP on shards streamed from storage, checkpointing to storage (not yet implemented)",
		Long: `NOT YET IMPLEMENTED: running it exits with code 3.

train will train a CLIP model on the committed shards of one or more datasets (--data,
mixed by weight), streamed from file:// or s3:// with prefetching, on the CPU or on a
CUDA GPU (--device). It prints a configuration table at start and one line per step
(step, loss, learning rate, logit scale, gradient norm, ms, samples/s), shows a
progress bar on a terminal, and appends metrics to RUN/metrics.jsonl.

Optimisation follows open_clip: AdamW (beta 0.9/0.98, eps 1e-6, weight decay on
matrices only), linear warmup then cosine decay, optional gradient clipping and
gradient accumulation.

Checkpoints (weights, optimizer moments, step, loader position, RNG states, config,
dataset fingerprint) are written under RUN/checkpoints/ every N steps and at the end,
with RUN/checkpoints/latest.json written last. SIGINT or SIGTERM writes a checkpoint
and exits. --resume auto continues exactly where the latest checkpoint left off, so a
killed run resumed this way matches an uninterrupted one step for step.`,
		Example: `  # train on a local corpus, checkpointing to S3, resuming if the run exists
  clipstream train --data ./corpus --run s3://my-bucket/runs/r1 --model small \
    --batch 256 --steps 10000 --device auto --resume auto`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTrain(cmd.Context(), opts, e.log)
		},
	}
	opts.addFlags(cmd.Flags())
	return cmd
}

// runTrain will run training. It is not implemented yet.
func runTrain(_ context.Context, opts trainOptions, log *slog.Logger) error {
	log.Debug("train", "data", opts.Data, "run", opts.Run, "device", opts.Device, "resume", opts.Resume)
	return errNotImplemented
}
