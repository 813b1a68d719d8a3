package main

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/clipstream/clipstream/storage"
	"github.com/clipstream/clipstream/trainer"
)

// plotOptions are the flags of 'clipstream plot'.
type plotOptions struct {
	Run string // store URL of the run
	Out string // PNG path
}

func (o *plotOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Run, "run", "", "store `URL` of the run (the prefix holding metrics.jsonl and checkpoints/)")
	fs.StringVar(&o.Out, "out", "training.png", "write the PNG to `FILE`")
}

func newPlotCmd(e *env) *cobra.Command {
	var o plotOptions
	cmd := &cobra.Command{
		Use:   "plot --run URL [flags]",
		Short: "Draw a run's loss, learning rate and evaluation curves as a PNG",
		Long: `plot reads RUN/metrics.jsonl (rewritten at every checkpoint) and draws three panels into
one PNG: the training loss per step, the learning rate per step, and the held-out
retrieval recall@5 (both directions) at every evaluation, when the run evaluated.`,
		Example: `  clipstream plot --run s3://my-bucket/runs/r1 --out r1.png`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Run == "" {
				return usageErrorf("--run is required")
			}
			return runPlot(cmd.Context(), o, e.stdout)
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

func runPlot(ctx context.Context, o plotOptions, stdout io.Writer) error {
	store, err := storage.Open(ctx, o.Run, storage.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	steps, evals, err := trainer.ReadMetrics(ctx, store)
	if err != nil {
		return err
	}
	if len(steps) == 0 {
		return fmt.Errorf("run %s has no step metrics yet", o.Run)
	}
	var loss, lr, r5i, r5t plotter.XYs
	for _, s := range steps {
		if !math.IsNaN(s.Loss) && !math.IsInf(s.Loss, 0) {
			loss = append(loss, plotter.XY{X: float64(s.Step), Y: s.Loss})
		}
		lr = append(lr, plotter.XY{X: float64(s.Step), Y: s.LR})
	}
	for _, e := range evals {
		if e.Eval != nil {
			r5i = append(r5i, plotter.XY{X: float64(e.Step), Y: e.Eval.Retrieval.ImageR5})
			r5t = append(r5t, plotter.XY{X: float64(e.Step), Y: e.Eval.Retrieval.TextR5})
		}
	}
	panel := func(title, ylabel string, series ...plotter.XYs) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "step"
		p.Y.Label.Text = ylabel
		p.Add(plotter.NewGrid())
		for i, s := range series {
			if len(s) == 0 {
				continue
			}
			l, err := plotter.NewLine(s)
			if err != nil {
				return nil, err
			}
			l.Color = plotColors[i%len(plotColors)]
			p.Add(l)
		}
		return p, nil
	}
	pLoss, err := panel("training loss", "contrastive loss", loss)
	if err != nil {
		return err
	}
	pLR, err := panel("learning rate", "lr", lr)
	if err != nil {
		return err
	}
	pEval, err := panel("held-out recall@5 (image→text, text→image)", "recall@5", r5i, r5t)
	if err != nil {
		return err
	}
	const w, h = 9 * vg.Inch, 10 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 3, Cols: 1, PadY: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	for i, p := range []*plot.Plot{pLoss, pLR, pEval} {
		p.Draw(tiles.At(dc, 0, i))
	}
	if err := savePNG(img, o.Out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d steps, %d evaluations\n", o.Out, len(steps), len(evals))
	if len(evals) == 0 {
		fmt.Fprintln(stdout, "(the run has no evaluations: train with --eval-data and --eval-every to get the third panel)")
	}
	return nil
}

var plotColors = []color.Color{color.RGBA{R: 31, G: 119, B: 180, A: 255}, color.RGBA{R: 214, G: 39, B: 40, A: 255}}

// savePNG writes the canvas as a PNG file.
func savePNG(c *vgimg.Canvas, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(f); err != nil {
		f.Close()
		return errors.Join(err, os.Remove(path))
	}
	return f.Close()
}
