package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/clipstream/clipstream/fixtures"
	"github.com/clipstream/clipstream/loader"
	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
	"github.com/clipstream/clipstream/trainer"
	"github.com/clipstream/clipstream/trainer/ops"
	"github.com/clipstream/clipstream/trainer/tokenizer"
)

// demoOptions are the flags of 'clipstream demo'.
type demoOptions struct {
	Out   string // store URL everything is written under
	Quick bool   // a version that finishes in about a minute
	Model string
	Steps int64
	Batch int
	LR    float64
}

func (o *demoOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Out, "out", "./clipstream-demo", "store `URL` the demo writes under (a directory, file:///dir or s3://bucket/prefix)")
	fs.BoolVar(&o.Quick, "quick", false, "train briefly: the whole demo takes about a minute")
	fs.StringVar(&o.Model, "model", "tiny", "model `CONFIG` to train (tiny, small, ViT-B-32)")
	fs.Int64Var(&o.Steps, "steps", 0, "training `STEPS` (default 500, or 120 with --quick)")
	fs.IntVar(&o.Batch, "batch", 64, "training batch `SIZE`")
	fs.Float64Var(&o.LR, "lr", 2e-3, "peak learning `RATE`")
}

func newDemoCmd(e *env) *cobra.Command {
	var opts demoOptions
	cmd := &cobra.Command{
		Use:   "demo [flags]",
		Short: "Run the whole pipeline on the embedded defaults: crawl, dedup, shard, train, resume, evaluate",
		Long: `demo shows the three jobs of clipstream on a machine with nothing set up:

  1. it starts the fixture web site on loopback: real emoji images (Google Noto and
     Twemoji drawings of the same concepts) on paginated category pages;
  2. it builds a held-out evaluation set: the Twemoji drawing of every 4th concept,
     crawled from a URL list with its category;
  3. it crawls the site's pages into a deduplicated, sharded corpus, dropping every
     image within the near-duplicate radius of a held-out one (decontamination), so
     no evaluation image is trained on;
  4. it trains CLIP on the CPU, stops half-way, and resumes from the checkpoint in
     the store, as a killed run would;
  5. it evaluates zero-shot classification by category and image↔text retrieval on
     the held-out set, and writes a report: the loss curve as a PNG and an HTML
     page showing held-out images with the captions the model ranks first.

Everything goes under --out (corpus/, heldout/, run/, report/; the dedup indexes
beside it on local disk); rerunning reuses what is there. The numbers are printed
with their chance level beside them.`,
		Example: `  clipstream demo --quick
  clipstream demo --out ./clipstream-demo --steps 1000
  clipstream demo --out s3://my-bucket/demo`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), opts, e.stdout, e.log)
		},
	}
	opts.addFlags(cmd.Flags())
	return cmd
}

// demoHeldEvery: of every 4th emoji concept the Twemoji drawing is held out.
const demoHeldEvery = 4

// runDemo runs the pipeline end to end; see newDemoCmd.
func runDemo(ctx context.Context, opts demoOptions, stdout io.Writer, log *slog.Logger) error {
	start := time.Now()
	if opts.Steps == 0 {
		opts.Steps = 500
		if opts.Quick {
			opts.Steps = 120
		}
	}
	if opts.Steps < 2 || opts.Batch < 2 {
		return usageErrorf("--steps and --batch must be at least 2")
	}
	out := strings.TrimSuffix(opts.Out, "/")
	if scheme, _, ok := strings.Cut(out, "://"); ok && scheme != "file" && scheme != "s3" {
		return usageErrorf("--out: %q: want a directory, file:///dir or s3://bucket/prefix", opts.Out)
	}
	local := !strings.Contains(out, "://") || strings.HasPrefix(out, "file://")
	localDir := strings.TrimPrefix(out, "file://")
	if !local {
		localDir = "clipstream-demo-local"
	}
	if err := os.MkdirAll(localDir, 0o755); err != nil {
		return err
	}
	abs, err := filepath.Abs(localDir)
	if err != nil {
		return err
	}
	localDir = abs
	if local {
		out = localDir
	}
	corpusURL, heldURL, runURL := out+"/corpus", out+"/heldout", out+"/run"
	reportDir := filepath.Join(localDir, "report")
	step := func(n int, what string) { fmt.Fprintf(stdout, "\n[%d/5] %s\n", n, what) }

	// 1. The fixture site.
	step(1, "starting the fixture web site on loopback")
	site, err := fixtures.StartSite(ctx, fixtures.Options{})
	if err != nil {
		return err
	}
	defer site.Close()
	items := site.Samples()
	fmt.Fprintf(stdout, "  %s serves %d captioned images on %d pages\n", site.URL, len(items), len(site.Pages()))

	// 2. The held-out set, from a URL list.
	step(2, "crawling the held-out evaluation set (a URL list with categories)")
	held, err := demoHeldOut(items)
	if err != nil {
		return err
	}
	listPath := filepath.Join(localDir, "heldout.csv")
	evalImages := filepath.Join(localDir, "heldout-images")
	if err := writeHeldOut(listPath, site.URL, held); err != nil {
		return err
	}
	crawlQuiet := func(o crawlOptions) error {
		o.AllowPrivate = true
		o.Workers = 64
		o.MaxDepth, o.MaxPages = 3, 200
		d := defaultCrawlOptions()
		o.ResizeMode, o.ImageSize, o.JPEGQuality = d.ResizeMode, d.ImageSize, d.JPEGQuality
		o.MinSide, o.MaxAspect, o.MinCaption, o.Radius = d.MinSide, d.MaxAspect, d.MinCaption, d.Radius
		o.ShardSamples = 200
		var buf bytes.Buffer
		err := runCrawl(ctx, o, &buf, log)
		for line := range strings.Lines(buf.String()) {
			fmt.Fprint(stdout, "  "+line)
		}
		return err
	}
	if err := crawlQuiet(crawlOptions{Out: heldURL, Index: filepath.Join(localDir, "heldout.index"), Lists: []string{listPath}}); err != nil {
		return fmt.Errorf("crawl the held-out set: %w", err)
	}
	// The evaluation images as stored: the corpus must not hold them.
	n, err := extractImages(ctx, heldURL, evalImages)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  %d held-out images extracted to %s for decontamination\n", n, evalImages)

	// 3. The corpus, from the site's pages, decontaminated.
	step(3, "crawling the site's pages into the corpus (dedup, decontamination against the held-out images)")
	if err := crawlQuiet(crawlOptions{Out: corpusURL, Index: filepath.Join(localDir, "corpus.index"),
		Seeds: []string{site.URL + "/"}, Decontam: evalImages}); err != nil {
		return fmt.Errorf("crawl the corpus: %w", err)
	}

	// 4. Train, stop half-way, resume from the store.
	step(4, fmt.Sprintf("training %s on the CPU for %d steps, stopping half-way and resuming from the store", opts.Model, opts.Steps))
	half := opts.Steps / 2
	cfg := trainer.Config{
		Data: []loader.Source{{URL: corpusURL}}, Run: runURL, Model: opts.Model,
		Batch: opts.Batch, Steps: opts.Steps, LR: opts.LR, Warmup: opts.Steps / 10, Seed: 1,
		CheckpointEvery: max(half/2, 1), Keep: 2, Resume: trainer.ResumeAuto,
		Logger: log,
	}
	firstCtx, stop := context.WithCancel(ctx)
	defer stop()
	cfg.OnStep = func(m trainer.StepMetrics) {
		if m.Step%20 == 0 {
			fmt.Fprintf(stdout, "  step %4d  loss %.4f  lr %.2e  %.0f samples/s\n", m.Step, m.Loss, m.LR, m.SamplesPerSec)
		}
		if m.Step >= half {
			stop()
		}
	}
	res, err := trainer.Run(firstCtx, cfg)
	switch {
	case errors.Is(err, trainer.ErrInterrupted) && ctx.Err() == nil:
		fmt.Fprintf(stdout, "  stopped at step %d (the checkpoint is in %s); resuming with --resume auto\n", res.Step, runURL)
	case err != nil:
		return fmt.Errorf("train: %w", err)
	default:
		fmt.Fprintf(stdout, "  the run was already at step %d\n", res.Step)
	}
	cfg.OnStep = func(m trainer.StepMetrics) {
		if m.Step%20 == 0 || m.Step == opts.Steps {
			fmt.Fprintf(stdout, "  step %4d  loss %.4f  lr %.2e  %.0f samples/s\n", m.Step, m.Loss, m.LR, m.SamplesPerSec)
		}
	}
	cfg.Eval = trainer.EvalConfig{Data: []string{heldURL}}
	res, err = trainer.Run(ctx, cfg)
	if err != nil {
		return fmt.Errorf("resume training: %w", err)
	}
	fmt.Fprintf(stdout, "  resumed at step %d, finished at step %d\n", res.StartStep, res.Step)

	// 5. Evaluate and report.
	step(5, "evaluating on the held-out set and writing the report")
	ev := res.Eval
	if ev == nil {
		return errors.New("train: no evaluation result")
	}
	r := ev.Retrieval
	fmt.Fprintf(stdout, "  held-out samples: %d\n", ev.Samples)
	fmt.Fprintf(stdout, "  image→text recall@1 %.3f  @5 %.3f  @10 %.3f   (chance @5: %.3f)\n", r.ImageR1, r.ImageR5, r.ImageR10, r.ChanceR5)
	fmt.Fprintf(stdout, "  text→image recall@1 %.3f  @5 %.3f  @10 %.3f   (chance @5: %.3f)\n", r.TextR1, r.TextR5, r.TextR10, r.ChanceR5)
	if zs := ev.ZeroShot; zs != nil {
		fmt.Fprintf(stdout, "  zero-shot by category: top-1 %.3f  top-5 %.3f   (chance top-1 %.3f, majority class %.3f, %d classes)\n",
			zs.Top1, zs.Top5, zs.Chance1, zs.Majority, zs.Classes)
	}
	if err := writeDemoReport(ctx, reportDir, runURL, heldURL, ev, opts); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Fprintf(stdout, "\nreport: %s (loss.png, index.html)\nall done in %v; rerun to reuse the corpus and the run under %s\n",
		reportDir, time.Since(start).Round(time.Second), out)
	return nil
}

// defaultCrawlOptions are the crawl verb's flag defaults.
func defaultCrawlOptions() crawlOptions {
	var o crawlOptions
	fs := pflag.NewFlagSet("crawl", pflag.ContinueOnError)
	o.addFlags(fs)
	return o
}

// demoHeldOut picks the Twemoji drawing of every demoHeldEvery-th concept.
func demoHeldOut(items []fixtures.PageSample) ([]fixtures.PageSample, error) {
	concepts := map[string]int{}
	var held []fixtures.PageSample
	for _, s := range items {
		if s.Item == nil {
			continue
		}
		c, ok := concepts[s.Item.Unified]
		if !ok {
			c = len(concepts)
			concepts[s.Item.Unified] = c
		}
		if c%demoHeldEvery == demoHeldEvery-1 && s.Item.Vendor == "twitter" {
			held = append(held, s)
		}
	}
	if len(held) == 0 {
		return nil, errors.New("demo: the fixture site shows no Twemoji images to hold out")
	}
	return held, nil
}

// writeHeldOut writes the held-out URL list: url, caption, category.
func writeHeldOut(listPath, siteURL string, held []fixtures.PageSample) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"url", "caption", "category"})
	for _, s := range held {
		w.Write([]string{siteURL + s.Image, s.Item.Caption, s.Item.Category})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return os.WriteFile(listPath, buf.Bytes(), 0o644)
}

// extractImages writes the images of every committed shard of the dataset
// at url into dir as KEY.EXT, and counts them.
func extractImages(ctx context.Context, url, dir string) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	store, err := storage.Open(ctx, url, storage.Options{})
	if err != nil {
		return 0, err
	}
	defer store.Close()
	n := 0
	for sc, err := range shardwriter.Committed(ctx, store, "") {
		if err != nil {
			return n, err
		}
		err = shardwriter.ReadShard(ctx, store, "", sc, shardwriter.ReaderOptions{}, func(rec *shardwriter.Record) error {
			for ext, b := range rec.Members {
				if ext == "txt" || ext == "json" {
					continue
				}
				n++
				if err := os.WriteFile(filepath.Join(dir, rec.Key+"."+ext), b, 0o644); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// writeDemoReport draws the loss curve and an HTML page of held-out images
// with the captions the model ranks first among all held-out captions.
func writeDemoReport(ctx context.Context, dir, runURL, heldURL string, ev *trainer.EvalResult, opts demoOptions) error {
	if err := os.MkdirAll(filepath.Join(dir, "img"), 0o755); err != nil {
		return err
	}
	runStore, err := storage.Open(ctx, runURL, storage.Options{})
	if err != nil {
		return err
	}
	defer runStore.Close()
	steps, _, err := trainer.ReadMetrics(ctx, runStore)
	if err != nil {
		return err
	}
	if err := plotLoss(filepath.Join(dir, "loss.png"), steps); err != nil {
		return err
	}

	m, _, err := trainer.LoadModel(ctx, runURL, storage.Options{}, ops.NewCPU())
	if err != nil {
		return err
	}
	tok, err := tokenizer.New()
	if err != nil {
		return err
	}
	// Captions and images of the held-out set.
	heldStore, err := storage.Open(ctx, heldURL, storage.Options{})
	if err != nil {
		return err
	}
	defer heldStore.Close()
	captions := map[string]string{}
	images := map[string][]byte{}
	for sc, err := range shardwriter.Committed(ctx, heldStore, "") {
		if err != nil {
			return err
		}
		err = shardwriter.ReadShard(ctx, heldStore, "", sc, shardwriter.ReaderOptions{}, func(rec *shardwriter.Record) error {
			captions[rec.Key] = string(rec.Members["txt"])
			images[rec.Key] = rec.Members["jpg"]
			return nil
		})
		if err != nil {
			return err
		}
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range captions {
			if !yield(k) {
				return
			}
		}
	})
	texts := make([]string, len(keys))
	for i, k := range keys {
		texts[i] = captions[k]
	}
	temb, err := trainer.TextEmbeddings(m, tok, texts)
	if err != nil {
		return err
	}
	// Image embeddings of the first batch of held-out images.
	const shown = 12
	ld, err := loader.New(ctx, loader.Config{Sources: []loader.Source{{URL: heldURL}}, BatchSize: shown,
		ImageSize: m.Cfg.Vision.ImageSize, ContextLength: m.Cfg.Text.Context, Eval: true, Tokenizer: tok})
	if err != nil {
		return err
	}
	defer ld.Close()
	it, err := ld.Iter(ctx, loader.State{})
	if err != nil {
		return err
	}
	defer it.Close()
	b, err := it.Next()
	if err != nil {
		return err
	}
	defer b.Release()
	if _, err := m.Forward(b.Images, b.Tokens, b.N); err != nil {
		return err
	}
	iemb := m.ImageEmbeddings()
	D := len(iemb) / b.N

	var page strings.Builder
	fmt.Fprintf(&page, "<!doctype html><meta charset=utf-8><title>clipstream demo</title>\n<h1>clipstream demo</h1>\n")
	fmt.Fprintf(&page, "<p>%s trained %d steps at batch %d on the crawled corpus; evaluated on %d held-out images never trained on.</p>\n",
		html.EscapeString(opts.Model), opts.Steps, opts.Batch, ev.Samples)
	r := ev.Retrieval
	fmt.Fprintf(&page, "<p>Image→text recall@5 <b>%.3f</b>, text→image recall@5 <b>%.3f</b> (chance %.3f).", r.ImageR5, r.TextR5, r.ChanceR5)
	if zs := ev.ZeroShot; zs != nil {
		fmt.Fprintf(&page, " Zero-shot top-1 by category <b>%.3f</b> (chance %.3f, majority class %.3f).", zs.Top1, zs.Chance1, zs.Majority)
	}
	fmt.Fprintf(&page, "</p>\n<img src=loss.png width=720>\n<h2>Held-out images and the captions the model ranks first</h2>\n<table border=1 cellpadding=6>\n")
	for row := 0; row < b.N; row++ {
		key := b.Keys[row]
		v := iemb[row*D : (row+1)*D]
		order := make([]int, len(keys))
		score := make([]float64, len(keys))
		for j := range keys {
			order[j] = j
			for d := range D {
				score[j] += float64(v[d]) * float64(temb[j*D+d])
			}
		}
		slices.SortFunc(order, func(a, b int) int { return -cmpFloat(score[a], score[b]) })
		name := key + ".jpg"
		if err := os.WriteFile(filepath.Join(dir, "img", name), images[key], 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&page, "<tr><td><img src=\"img/%s\" width=96></td><td>true: %s<ol>", html.EscapeString(name), html.EscapeString(captions[key]))
		for _, j := range order[:3] {
			mark := ""
			if keys[j] == key {
				mark = " ✔"
			}
			fmt.Fprintf(&page, "<li>%s%s</li>", html.EscapeString(texts[j]), mark)
		}
		fmt.Fprintf(&page, "</ol></td></tr>\n")
	}
	fmt.Fprintf(&page, "</table>\n")
	return os.WriteFile(filepath.Join(dir, "index.html"), []byte(page.String()), 0o644)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// plotLoss draws the training loss per step as a PNG.
func plotLoss(path string, steps []trainer.StepMetrics) error {
	if len(steps) == 0 {
		return errors.New("no step metrics to plot")
	}
	p := plot.New()
	p.Title.Text = "clipstream demo: training loss"
	p.X.Label.Text = "step"
	p.Y.Label.Text = "contrastive loss"
	pts := make(plotter.XYs, 0, len(steps))
	for _, s := range steps {
		if !math.IsNaN(s.Loss) && !math.IsInf(s.Loss, 0) {
			pts = append(pts, plotter.XY{X: float64(s.Step), Y: s.Loss})
		}
	}
	line, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	p.Add(line, plotter.NewGrid())
	return p.Save(9*vg.Inch, 4.5*vg.Inch, path)
}
