package model

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Param is one named tensor of the flat parameter buffer: open_clip's
// state-dict name and shape, and where it lies (Off, Len in float32s).
type Param struct {
	Name  string
	Shape []int
	Off   int
	Len   int
	init  initSpec
}

// initKind says how Init fills a tensor, following open_clip (CLIP,
// VisionTransformer, TextTransformer) and PyTorch's module defaults.
type initKind int

const (
	initZeros   initKind = iota
	initOnes             // LayerNorm weight
	initNormal           // N(0, v²)
	initUniform          // U(−v, v)
	initConst            // v
)

type initSpec struct {
	kind initKind
	v    float64
}

// LogitScaleInit is open_clip's initial logit_scale, ln(1/0.07).
var LogitScaleInit = math.Log(1 / 0.07)

// Layout returns the parameters of cfg in open_clip's state-dict order
// (CLIP.state_dict(): the module's own parameters first, then its
// submodules', recursively), with offsets into one flat buffer, and the
// buffer's length.
//
// Initialisation, per tensor (W a tower's width, L its layers, E the embed
// dim, p the patch size):
//
//   - visual: class_embedding, positional_embedding and proj N(0, W^-½);
//     conv1 U(±1/√(3p²)) (nn.Conv2d default); blocks keep PyTorch's module
//     defaults, since open_clip's VisionTransformer.init_parameters is a
//     no-op: in_proj_weight Xavier-uniform U(±√(6/4W)), in_proj_bias and
//     out_proj.bias 0, out_proj.weight U(±1/√W), c_fc weight and bias
//     U(±1/√W), c_proj weight and bias U(±1/√(4W)) (nn.Linear default).
//   - text: token_embedding N(0, 0.02), positional_embedding N(0, 0.01);
//     in_proj_weight N(0, W^-½), out_proj.weight and c_proj.weight
//     N(0, W^-½·(2L)^-½), c_fc.weight N(0, (2W)^-½); biases as above;
//     text_projection N(0, W^-½).
//   - LayerNorm weights 1, biases 0; logit_scale ln(1/0.07).
func Layout(cfg Config) ([]Param, int) {
	var ps []Param
	off := 0
	add := func(name string, spec initSpec, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		ps = append(ps, Param{Name: name, Shape: shape, Off: off, Len: n, init: spec})
		off += n
	}
	normal := func(std float64) initSpec { return initSpec{initNormal, std} }
	uniform := func(b float64) initSpec { return initSpec{initUniform, b} }
	zeros, ones := initSpec{initZeros, 0}, initSpec{initOnes, 1}
	ln := func(prefix string, w int) {
		add(prefix+".weight", ones, w)
		add(prefix+".bias", zeros, w)
	}
	block := func(prefix string, w, layers, mlp int, text bool) {
		inW, outW := uniform(math.Sqrt(6/float64(4*w))), uniform(1/math.Sqrt(float64(w)))
		fcW, projW := uniform(1/math.Sqrt(float64(w))), uniform(1/math.Sqrt(float64(mlp)))
		if text {
			projStd := math.Pow(float64(w), -0.5) * math.Pow(float64(2*layers), -0.5)
			inW, outW = normal(math.Pow(float64(w), -0.5)), normal(projStd)
			fcW, projW = normal(math.Pow(float64(2*w), -0.5)), normal(projStd)
		}
		ln(prefix+".ln_1", w)
		add(prefix+".attn.in_proj_weight", inW, 3*w, w)
		add(prefix+".attn.in_proj_bias", zeros, 3*w)
		add(prefix+".attn.out_proj.weight", outW, w, w)
		add(prefix+".attn.out_proj.bias", zeros, w)
		ln(prefix+".ln_2", w)
		add(prefix+".mlp.c_fc.weight", fcW, mlp, w)
		add(prefix+".mlp.c_fc.bias", uniform(1/math.Sqrt(float64(w))), mlp)
		add(prefix+".mlp.c_proj.weight", projW, w, mlp)
		add(prefix+".mlp.c_proj.bias", uniform(1/math.Sqrt(float64(mlp))), w)
	}
	v, t, E := cfg.Vision, cfg.Text, cfg.EmbedDim
	vScale := math.Pow(float64(v.Width), -0.5)
	tScale := math.Pow(float64(t.Width), -0.5)

	add("positional_embedding", normal(0.01), t.Context, t.Width)
	add("text_projection", normal(tScale), t.Width, E)
	add("logit_scale", initSpec{initConst, LogitScaleInit}) // a 0-dim tensor, as open_clip's
	add("visual.class_embedding", normal(vScale), v.Width)
	add("visual.positional_embedding", normal(vScale), v.Tokens(), v.Width)
	add("visual.proj", normal(vScale), v.Width, E)
	add("visual.conv1.weight", uniform(1/math.Sqrt(float64(v.PatchDim()))), v.Width, 3, v.PatchSize, v.PatchSize)
	ln("visual.ln_pre", v.Width)
	for l := range v.Layers {
		block(fmt.Sprintf("visual.transformer.resblocks.%d", l), v.Width, v.Layers, v.Width*v.MLPRatio, false)
	}
	ln("visual.ln_post", v.Width)
	for l := range t.Layers {
		block(fmt.Sprintf("transformer.resblocks.%d", l), t.Width, t.Layers, t.Width*t.MLPRatio, true)
	}
	add("token_embedding.weight", normal(0.02), t.Vocab, t.Width)
	ln("ln_final", t.Width)
	return ps, off
}

// initValues fills a host copy of the parameter buffer from seed.
func initValues(layout []Param, n int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 0x636c6970)) // "clip"
	out := make([]float32, n)
	for _, p := range layout {
		dst := out[p.Off : p.Off+p.Len]
		switch p.init.kind {
		case initZeros:
		case initOnes, initConst:
			for i := range dst {
				dst[i] = float32(p.init.v)
			}
		case initNormal:
			for i := range dst {
				dst[i] = float32(rng.NormFloat64() * p.init.v)
			}
		case initUniform:
			for i := range dst {
				dst[i] = float32((2*rng.Float64() - 1) * p.init.v)
			}
		}
	}
	return out
}
