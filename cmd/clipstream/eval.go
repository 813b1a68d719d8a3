package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/clipstream/clipstream/storage"
	"github.com/clipstream/clipstream/trainer"
	"github.com/clipstream/clipstream/trainer/tokenizer"
)

// evalOptions are the flags of 'clipstream eval'.
type evalOptions struct {
	Run        string   // store URL of a run: evaluate its latest checkpoint
	Checkpoint string   // store URL of one checkpoint
	Data       []string // store URLs of the evaluation datasets
	LabelField string
	Device     string
	JSON       bool
	Workers    int
}

func (o *evalOptions) addFlags(fs *pflag.FlagSet) {
	o.Device = "auto"
	fs.StringVar(&o.Run, "run", "", "store `URL` of a training run; its latest checkpoint is evaluated")
	fs.StringVar(&o.Checkpoint, "checkpoint", "", "store `URL` of one checkpoint directory to evaluate (instead of --run)")
	fs.StringArrayVar(&o.Data, "data", nil, "store `URL` of a dataset to evaluate on (held-out shards); repeatable")
	fs.StringVar(&o.LabelField, "label-field", "category", "metadata `field` holding the class for zero-shot classification")
	fs.Var(newEnumValue(&o.Device, "auto", "cpu", "cuda"), "device", "where to compute: auto, cpu or cuda")
	fs.BoolVar(&o.JSON, "json", false, "print the result as one JSON object")
	fs.IntVar(&o.Workers, "workers", 0, "image decode goroutines (0: one per CPU)")
}

func newEvalCmd(e *env) *cobra.Command {
	var opts evalOptions
	cmd := &cobra.Command{
		Use:   "eval [flags]",
		Short: "Evaluate a CLIP checkpoint: zero-shot classification and retrieval",
		Long: `eval loads a checkpoint (the latest of --run, or --checkpoint) from file:// or s3://
and evaluates it on every committed sample of the datasets at --data:
  - image-to-text and text-to-image retrieval recall@1, @5 and @10 among all the
    evaluated pairs (a hit at K when fewer than K candidates score above the true pair);
  - zero-shot classification of the samples whose metadata has --label-field (for
    example the category): each class is embedded through prompt templates ("{}",
    "a photo of {}.", "an emoji of {}.", "an image of {}."), averaged; top-1 and top-5
    accuracy, with chance and majority-class baselines.
Images are resized and centre-cropped. 'clipstream train --eval-data URL --eval-every N'
runs the same evaluation during training.`,
		Example: `  clipstream eval --run s3://my-bucket/runs/r1 --data s3://my-bucket/heldout
  clipstream eval --checkpoint ./runs/r1/checkpoints/step-000010000 --data ./heldout --json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEval(cmd.Context(), opts, e)
		},
	}
	opts.addFlags(cmd.Flags())
	return cmd
}

func runEval(ctx context.Context, o evalOptions, e *env) error {
	if (o.Run == "") == (o.Checkpoint == "") {
		return usageErrorf("give one of --run and --checkpoint")
	}
	if len(o.Data) == 0 {
		return usageErrorf("--data is required")
	}
	be, closeBackend, err := backend(o.Device, "fp32", e.log)
	if err != nil {
		return err
	}
	defer closeBackend()
	url := o.Run
	if url == "" {
		url = o.Checkpoint
	}
	m, st, err := trainer.LoadModel(ctx, url, storage.Options{}, be)
	if err != nil {
		return err
	}
	tok, err := tokenizer.New()
	if err != nil {
		return err
	}
	ev, err := trainer.Evaluate(ctx, m, tok, trainer.EvalConfig{Data: o.Data, LabelField: o.LabelField, Workers: o.Workers})
	if err != nil {
		return err
	}
	if o.JSON {
		b, err := json.Marshal(struct {
			Model string              `json:"model"`
			Step  int64               `json:"step"`
			Eval  *trainer.EvalResult `json:"eval"`
		}{st.Config.Model, st.Step, ev})
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, string(b))
		return nil
	}
	fmt.Fprintf(e.stdout, "%s step %d | %s\n", st.Config.Model, st.Step, trainer.FormatEval(ev))
	return nil
}
