// Command model times one CLIP training step (ZeroGrad + Forward +
// Backward) of trainer/model on the CPU backend, for bench/model/run.sh,
// which runs PyTorch/open_clip (torch_step.py) on the same config, batch
// and thread count beside it.
//
//	go run ./bench/model -config small -batch 32 -threads 2 -warmup 2 -steps 7
//	go run ./bench/model -config small -print-config   # open_clip config JSON
//
// It prints one JSON line: the median seconds per step over -steps timed
// steps (after -warmup untimed ones), samples/s = batch / median, every
// step's time, and the process's peak resident memory.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clipstream/clipstream/trainer/model"
	"github.com/clipstream/clipstream/trainer/ops"
	"github.com/clipstream/clipstream/trainer/tokenizer"
)

// Captions is the text batch, cycled; torch_step.py tokenises the same list
// with open_clip's tokenizer.
var captions = []string{
	"a photo of a cat sitting on a red sofa",
	"Vintage bicycle leaning against a brick wall, 1970s",
	"diagram: the water cycle (evaporation → condensation → precipitation)",
	"two dogs",
	"Sunset over the harbour in Marseille with fishing boats and gulls, long exposure, golden hour",
	"",
}

// openCLIPConfig is cfg as an open_clip model config (model_configs/*.json
// plus quick_gelu), what torch_step.py passes to open_clip.model.CLIP.
func openCLIPConfig(cfg model.Config) map[string]any {
	v, t := cfg.Vision, cfg.Text
	return map[string]any{
		"embed_dim":  cfg.EmbedDim,
		"quick_gelu": cfg.Activation == ops.QuickGELU,
		"vision_cfg": map[string]any{
			"image_size": v.ImageSize, "patch_size": v.PatchSize, "width": v.Width, "layers": v.Layers,
			"head_width": v.Width / v.Heads, "mlp_ratio": v.MLPRatio,
		},
		"text_cfg": map[string]any{
			"context_length": t.Context, "vocab_size": t.Vocab, "width": t.Width, "heads": t.Heads,
			"layers": t.Layers, "mlp_ratio": t.MLPRatio,
		},
	}
}

func main() {
	name := flag.String("config", "small", "model config ("+strings.Join(model.ConfigNames(), ", ")+")")
	batch := flag.Int("batch", 32, "batch size")
	threads := flag.Int("threads", runtime.NumCPU(), "GOMAXPROCS and CPU backend workers")
	warmup := flag.Int("warmup", 2, "untimed steps first")
	steps := flag.Int("steps", 5, "timed steps")
	printConfig := flag.Bool("print-config", false, "print the open_clip config JSON and exit")
	flag.Parse()
	if err := run(*name, *batch, *threads, *warmup, *steps, *printConfig); err != nil {
		fmt.Fprintln(os.Stderr, "bench/model:", err)
		os.Exit(1)
	}
}

func run(name string, B, threads, warmup, steps int, printConfig bool) error {
	cfg, err := model.LookupConfig(name)
	if err != nil {
		return err
	}
	if printConfig {
		return json.NewEncoder(os.Stdout).Encode(openCLIPConfig(cfg))
	}
	if B < 1 || threads < 1 || steps < 1 || warmup < 0 {
		return fmt.Errorf("need batch, threads, steps ≥ 1 and warmup ≥ 0")
	}
	runtime.GOMAXPROCS(threads)
	be := ops.NewCPU()
	be.Workers = threads
	m, err := model.New(cfg, be, 1)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 1))
	S := cfg.Vision.ImageSize
	images := make([]float32, B*3*S*S)
	for i := range images {
		images[i] = float32(rng.NormFloat64())
	}
	tok, err := tokenizer.New()
	if err != nil {
		return err
	}
	T := cfg.Text.Context
	tokens := make([]int32, B*T)
	for b := range B {
		if err := tok.TokenizeTo(tokens[b*T:(b+1)*T], captions[b%len(captions)]); err != nil {
			return err
		}
	}
	step := func() (float32, error) {
		m.ZeroGrad()
		loss, err := m.Forward(images, tokens, B)
		if err != nil {
			return 0, err
		}
		return loss, m.Backward()
	}
	var loss float32
	for range warmup {
		if loss, err = step(); err != nil {
			return err
		}
	}
	times := make([]float64, steps)
	for i := range times {
		start := time.Now()
		if loss, err = step(); err != nil {
			return err
		}
		times[i] = time.Since(start).Seconds()
	}
	sorted := slices.Clone(times)
	slices.Sort(sorted)
	med := sorted[len(sorted)/2]
	if len(sorted)%2 == 0 {
		med = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"impl": "clipstream", "config": name, "batch": B, "threads": threads,
		"params": m.NumParams(), "loss": loss,
		"s_per_step": med, "samples_per_s": float64(B) / med, "steps": times,
		"peak_rss_mb": peakRSSMB(),
	})
}

// peakRSSMB returns VmHWM from /proc/self/status in MiB, or 0.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
