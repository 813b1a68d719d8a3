package model

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
)

// TestViTB32Layout compares our ViT-B-32 layout with the state dict of
// open_clip.create_model('ViT-B-32'), names, shapes and order, as dumped by
// testdata/make_parity.py into testdata/vit_b_32_state_dict.txt.
func TestViTB32Layout(t *testing.T) {
	cfg, err := LookupConfig("ViT-B-32")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/vit_b_32_state_dict.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		want = append(want, sc.Text())
	}
	layout, n := Layout(cfg)
	if len(layout) != len(want) {
		t.Fatalf("%d tensors, open_clip has %d", len(layout), len(want))
	}
	for i, p := range layout {
		got := p.Name + " " + strings.Trim(strings.ReplaceAll(fmt.Sprint(p.Shape), " ", ","), "[]")
		if got != want[i] {
			t.Fatalf("tensor %d: %q, open_clip %q", i, got, want[i])
		}
	}
	// open_clip docs/model_profile.csv: 151.28 M parameters
	if n != 151277313 {
		t.Errorf("%d parameters, want 151277313", n)
	}
}

func TestConfigs(t *testing.T) {
	for _, name := range ConfigNames() {
		cfg, err := LookupConfig(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Error(err)
		}
	}
	if _, err := LookupConfig("ViT-H-14"); err == nil {
		t.Error("unknown config: no error")
	}
	bad := configs[3]
	bad.Vision.PatchSize = 7
	if err := bad.Validate(); err == nil {
		t.Error("patch 7 of 32 px: no error")
	}
}

// TestInitStatistics checks each tensor's empirical mean and spread against
// the distribution Layout documents for it (small config: tensors big
// enough for the statistics to be tight).
func TestInitStatistics(t *testing.T) {
	const seed = 5
	m := newTestModel(t, "small", seed)
	v := m.GetParams()
	for _, p := range m.Layout() {
		x := v[p.Off : p.Off+p.Len]
		var mean, sq float64
		for _, f := range x {
			mean += float64(f)
			sq += float64(f) * float64(f)
		}
		mean /= float64(len(x))
		rms := math.Sqrt(sq / float64(len(x)))
		var wantRMS float64
		switch p.init.kind {
		case initZeros:
			wantRMS = 0
		case initOnes, initConst:
			wantRMS = p.init.v
		case initNormal:
			wantRMS = p.init.v
		case initUniform:
			wantRMS = p.init.v / math.Sqrt(3)
		}
		tol := 4 * wantRMS / math.Sqrt(float64(len(x)))
		if p.init.kind == initOnes || p.init.kind == initConst || p.init.kind == initZeros {
			tol = 0
		}
		if math.Abs(rms-wantRMS) > tol+1e-7 {
			t.Errorf("seed %d: %s: rms %.5g, want %.5g ± %.2g", seed, p.Name, rms, wantRMS, tol)
		}
		if p.init.kind == initNormal || p.init.kind == initUniform {
			if math.Abs(mean) > 5*wantRMS/math.Sqrt(float64(len(x))) {
				t.Errorf("seed %d: %s: mean %.3g, want 0", seed, p.Name, mean)
			}
		}
	}
	if p, _ := m.Lookup("logit_scale"); math.Abs(float64(v[p.Off])-math.Log(1/0.07)) > 1e-6 {
		t.Errorf("logit_scale %v", v[p.Off])
	}
	cfg := m.Cfg
	if p, _ := m.Lookup("transformer.resblocks.0.attn.out_proj.weight"); math.Abs(p.init.v-math.Pow(float64(cfg.Text.Width), -0.5)/math.Sqrt(2*float64(cfg.Text.Layers))) > 1e-12 {
		t.Errorf("text out_proj std %v", p.init.v)
	}
}

// TestTrainFLOPs: ViT-B-32's count matches the published accounting
// (8.82 + 5.96 GFLOP forward, 44.3 per training sample).
func TestTrainFLOPs(t *testing.T) {
	c, err := LookupConfig("ViT-B-32")
	if err != nil {
		t.Fatal(err)
	}
	img, txt := c.ForwardFLOPs()
	for _, x := range []struct {
		name      string
		got, want float64
	}{{"image forward", img / 1e9, 8.82}, {"text forward", txt / 1e9, 5.96}, {"per training sample", c.TrainFLOPsPerSample() / 1e9, 44.3}} {
		if math.Abs(x.got-x.want) > 0.002*x.want { // the published figures are rounded
			t.Errorf("%s: %.3f GFLOP, want %.2f", x.name, x.got, x.want)
		}
	}
}
