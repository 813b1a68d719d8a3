package main

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// evalOptions are the flags of 'clipstream eval'.
type evalOptions struct {
	Run        string // store URL of a run: evaluate its latest checkpoint
	Checkpoint string // store URL of one checkpoint
	Data       string // store URL of the evaluation dataset
}

func (o *evalOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Run, "run", "", "store `URL` of a training run; its latest checkpoint is evaluated")
	fs.StringVar(&o.Checkpoint, "checkpoint", "", "store `URL` of one checkpoint to evaluate (instead of --run)")
	fs.StringVar(&o.Data, "data", "", "store `URL` of the dataset to evaluate on (held-out shards)")
}

func newEvalCmd(e *env) *cobra.Command {
	var opts evalOptions
	cmd := &cobra.Command{
		Use:   "eval [flags]",
		Short: "Evaluate a CLIP checkpoint: zero-shot classification and retrieval (not yet implemented)",
		Long: `NOT YET IMPLEMENTED: running it exits with code 3.

eval will load a checkpoint (the latest of --run, or --checkpoint) from file:// or
s3:// and evaluate it on the shards at --data:
  - zero-shot classification with prompt templates over labelled samples, the label
    read from a metadata field (for example a category);
  - image-to-text and text-to-image retrieval recall@1, @5 and @10 on held-out shards.
The same evaluation will be available every N steps during 'clipstream train'.`,
		Example: `  clipstream eval --run s3://my-bucket/runs/r1 --data s3://my-bucket/heldout
  clipstream eval --checkpoint ./runs/r1/checkpoints/step-000010000 --data ./heldout`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEval(cmd.Context(), opts, e.log)
		},
	}
	opts.addFlags(cmd.Flags())
	return cmd
}

// runEval will evaluate a checkpoint. It is not implemented yet.
func runEval(_ context.Context, opts evalOptions, log *slog.Logger) error {
	log.Debug("eval", "run", opts.Run, "checkpoint", opts.Checkpoint, "data", opts.Data)
	return errNotImplemented
}
