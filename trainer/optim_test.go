package trainer

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/clipstream/clipstream/trainer/model"
)

type adamwGolden struct {
	Names       []string    `json:"names"`
	Shapes      [][]int     `json:"shapes"`
	Decay       []bool      `json:"decay"`
	BaseLR      float64     `json:"base_lr"`
	Warmup      int64       `json:"warmup"`
	Steps       int64       `json:"steps"`
	WeightDecay float64     `json:"weight_decay"`
	Clip        float64     `json:"clip"`
	Init        []float32   `json:"init"`
	Grads       [][]float32 `json:"grads"`
	LRs         []float64   `json:"lrs"`
	Norms       []float64   `json:"norms"`
	After       [][]float32 `json:"after"`
}

// TestAdamWGolden replays testdata/adamw_golden.json (made by
// make_adamw_golden.py with torch.optim.AdamW, open_clip's parameter groups
// and cosine_lr, clip_grad_norm_ and the logit_scale clamp).
func TestAdamWGolden(t *testing.T) {
	b, err := os.ReadFile("testdata/adamw_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g adamwGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	var layout []model.Param
	off := 0
	for i, name := range g.Names {
		n := 1
		for _, d := range g.Shapes[i] {
			n *= d
		}
		layout = append(layout, model.Param{Name: name, Shape: g.Shapes[i], Off: off, Len: n})
		if got := Decays(name, g.Shapes[i]); got != g.Decay[i] {
			t.Errorf("Decays(%s, %v) = %v, open_clip says %v", name, g.Shapes[i], got, g.Decay[i])
		}
		off += n
	}
	cfg := DefaultAdamW()
	cfg.WeightDecay = g.WeightDecay
	opt, err := NewAdamW(layout, off, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sched := Schedule{BaseLR: g.BaseLR, Warmup: g.Warmup, Steps: g.Steps}
	p := append([]float32(nil), g.Init...)
	ls := layout[2]
	if ls.Name != "logit_scale" {
		t.Fatal("golden layout changed")
	}
	for step := range g.Steps {
		lr := sched.LR(step)
		if math.Abs(lr-g.LRs[step]) > 1e-15 {
			t.Errorf("step %d: lr %g, open_clip %g", step, lr, g.LRs[step])
		}
		grad := append([]float32(nil), g.Grads[step]...)
		norm := GradNorm(grad)
		if math.Abs(norm-g.Norms[step]) > 1e-5*g.Norms[step] {
			t.Errorf("step %d: grad norm %g, torch %g", step, norm, g.Norms[step])
		}
		ClipGrads(grad, norm, g.Clip)
		if err := opt.Update(p, grad, lr); err != nil {
			t.Fatal(err)
		}
		p[ls.Off] = ClampLogitScale(p[ls.Off])
		worst := 0.0
		for i := range p {
			want := float64(g.After[step][i])
			d := math.Abs(float64(p[i])-want) / math.Max(0.1, math.Abs(want))
			worst = math.Max(worst, d)
		}
		// float32 rounding only: torch's vectorised lerp uses a fused
		// multiply-add, this loop does not.
		if worst > 1e-6 {
			t.Errorf("step %d: worst relative difference from torch %.3g", step, worst)
		}
		t.Logf("step %d: lr %.5f norm %.4f worst rel diff %.2g", step, lr, norm, worst)
	}
	if got := float64(p[ls.Off]); got != float64(float32(math.Log(100))) {
		t.Errorf("logit_scale %v, want clamped to ln 100", got)
	}
}

// TestDecaysModel: on the real layout, exactly the matrices and
// embeddings decay.
func TestDecaysModel(t *testing.T) {
	cfg, _ := model.LookupConfig("ViT-B-32")
	layout, _ := model.Layout(cfg)
	want := map[string]bool{
		"positional_embedding": true, "text_projection": true, "logit_scale": false,
		"visual.class_embedding": false, "visual.positional_embedding": true, "visual.proj": true,
		"visual.conv1.weight": true, "visual.ln_pre.weight": false, "visual.ln_pre.bias": false,
		"visual.transformer.resblocks.0.attn.in_proj_weight":  true,
		"visual.transformer.resblocks.0.attn.in_proj_bias":    false,
		"visual.transformer.resblocks.0.attn.out_proj.weight": true,
		"transformer.resblocks.11.mlp.c_proj.weight":          true,
		"transformer.resblocks.11.mlp.c_proj.bias":            false,
		"transformer.resblocks.11.ln_2.weight":                false,
		"token_embedding.weight":                              true, "ln_final.weight": false,
	}
	seen := 0
	for _, p := range layout {
		if w, ok := want[p.Name]; ok {
			seen++
			if got := Decays(p.Name, p.Shape); got != w {
				t.Errorf("Decays(%s) = %v, want %v", p.Name, got, w)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("found %d of %d names", seen, len(want))
	}
}

func TestSchedule(t *testing.T) {
	s := Schedule{BaseLR: 1, Warmup: 4, Steps: 12}
	for _, c := range []struct {
		step int64
		want float64
	}{{0, 0.25}, {3, 1}, {4, 1}, {8, 0.5}, {12, 0}, {20, 0}} {
		if got := s.LR(c.step); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("LR(%d) = %g, want %g", c.step, got, c.want)
		}
	}
	if got := (Schedule{BaseLR: 2, Steps: 0}).LR(5); got != 2 {
		t.Errorf("no decay span: %g", got)
	}
}

func TestClipGrads(t *testing.T) {
	g := []float32{3, 4}
	n := GradNorm(g)
	if n != 5 {
		t.Fatalf("norm %g", n)
	}
	ClipGrads(g, n, 1)
	if math.Abs(GradNorm(g)-1) > 1e-6 {
		t.Errorf("clipped norm %g", GradNorm(g))
	}
	h := []float32{0.3, 0.4}
	ClipGrads(h, GradNorm(h), 1)
	if h[0] != 0.3 || h[1] != 0.4 {
		t.Errorf("below the bound changed: %v", h)
	}
}
