package model

import (
	"fmt"
	"slices"

	"github.com/clipstream/clipstream/trainer/ops"
)

// VisionConfig is the ViT image tower.
type VisionConfig struct {
	ImageSize int // square input, pixels
	PatchSize int
	Width     int
	Layers    int
	Heads     int // open_clip: Width / head_width (64)
	MLPRatio  int
}

// TextConfig is the causal text transformer.
type TextConfig struct {
	Context  int // tokens per caption (77)
	Vocab    int
	Width    int
	Heads    int
	Layers   int
	MLPRatio int
}

// Config is one CLIP model, as open_clip's model config JSON (embed_dim,
// vision_cfg, text_cfg).
type Config struct {
	Name       string
	EmbedDim   int
	Vision     VisionConfig
	Text       TextConfig
	Activation ops.Activation
}

// Grid returns the patches per image side.
func (v VisionConfig) Grid() int { return v.ImageSize / v.PatchSize }

// Tokens returns the image sequence length: patches plus the class token.
func (v VisionConfig) Tokens() int { return v.Grid()*v.Grid() + 1 }

// PatchDim returns the values in one flattened patch (3·p·p).
func (v VisionConfig) PatchDim() int { return 3 * v.PatchSize * v.PatchSize }

// configs is the one table of named models. ViT-B-32 is open_clip's
// model_configs/ViT-B-32.json with its defaults spelled out (head_width 64,
// mlp_ratio 4, GELU); ViT-B-32-quickgelu is the variant for OpenAI and
// laion400m_e32 weights. small and tiny are for the CPU: small is a
// 64 px, patch-8, width-128, 4-layer pair; tiny is for tests (finite
// differences, open_clip parity). All keep CLIP's vocabulary (49408) and
// context (77), so the same tokenizer feeds every config.
var configs = []Config{
	{
		Name: "ViT-B-32", EmbedDim: 512,
		Vision: VisionConfig{ImageSize: 224, PatchSize: 32, Width: 768, Layers: 12, Heads: 12, MLPRatio: 4},
		Text:   TextConfig{Context: 77, Vocab: 49408, Width: 512, Heads: 8, Layers: 12, MLPRatio: 4},
	},
	{
		Name: "ViT-B-32-quickgelu", EmbedDim: 512, Activation: ops.QuickGELU,
		Vision: VisionConfig{ImageSize: 224, PatchSize: 32, Width: 768, Layers: 12, Heads: 12, MLPRatio: 4},
		Text:   TextConfig{Context: 77, Vocab: 49408, Width: 512, Heads: 8, Layers: 12, MLPRatio: 4},
	},
	{
		Name: "small", EmbedDim: 128,
		Vision: VisionConfig{ImageSize: 64, PatchSize: 8, Width: 128, Layers: 4, Heads: 2, MLPRatio: 4},
		Text:   TextConfig{Context: 77, Vocab: 49408, Width: 128, Heads: 2, Layers: 4, MLPRatio: 4},
	},
	{
		Name: "tiny", EmbedDim: 32,
		Vision: VisionConfig{ImageSize: 32, PatchSize: 8, Width: 32, Layers: 2, Heads: 2, MLPRatio: 4},
		Text:   TextConfig{Context: 77, Vocab: 49408, Width: 32, Heads: 2, Layers: 2, MLPRatio: 4},
	},
}

// ConfigNames lists the named configs.
func ConfigNames() []string {
	var names []string
	for _, c := range configs {
		names = append(names, c.Name)
	}
	return names
}

// LookupConfig returns the config called name.
func LookupConfig(name string) (Config, error) {
	for _, c := range configs {
		if c.Name == name {
			return c, nil
		}
	}
	return Config{}, fmt.Errorf("model: unknown config %q (have %v)", name, ConfigNames())
}

// Validate checks that the sizes fit together.
func (c Config) Validate() error {
	v, t := c.Vision, c.Text
	pos := []int{c.EmbedDim, v.ImageSize, v.PatchSize, v.Width, v.Layers, v.Heads, v.MLPRatio,
		t.Context, t.Vocab, t.Width, t.Heads, t.Layers, t.MLPRatio}
	if slices.Min(pos) <= 0 {
		return fmt.Errorf("model: config %q: every size must be positive", c.Name)
	}
	if v.ImageSize%v.PatchSize != 0 {
		return fmt.Errorf("model: config %q: image size %d is not a multiple of patch size %d", c.Name, v.ImageSize, v.PatchSize)
	}
	if v.Width%v.Heads != 0 || t.Width%t.Heads != 0 {
		return fmt.Errorf("model: config %q: widths %d/%d not multiples of heads %d/%d", c.Name, v.Width, t.Width, v.Heads, t.Heads)
	}
	if c.Activation != ops.GELU && c.Activation != ops.QuickGELU {
		return fmt.Errorf("model: config %q: unknown activation %d", c.Name, c.Activation)
	}
	return nil
}

// ForwardFLOPs returns the multiply-add FLOPs (2 per multiply-add) of one
// sample's forward pass through each tower's matrix products: the patch
// embedding, per block the qkv, attention (scores and weighted sum),
// output and MLP products, and the projection. Norms, activations and the
// loss are left out, as in the usual MFU accounting. ViT-B-32: 8.82 GFLOP
// for the image tower, 5.96 for the text tower.
func (c Config) ForwardFLOPs() (image, text float64) {
	block := func(T, W, mlp int) float64 {
		t, w := float64(T), float64(W)
		return 2*t*w*3*w + 2*2*t*t*w + 2*t*w*w + 2*2*t*w*float64(mlp)*w
	}
	v, x := c.Vision, c.Text
	image = 2*float64(v.Grid()*v.Grid())*float64(v.PatchDim())*float64(v.Width) +
		float64(v.Layers)*block(v.Tokens(), v.Width, v.MLPRatio) + 2*float64(v.Width)*float64(c.EmbedDim)
	text = float64(x.Layers)*block(x.Context, x.Width, x.MLPRatio) + 2*float64(x.Width)*float64(c.EmbedDim)
	return image, text
}

// TrainFLOPsPerSample is three times the forward FLOPs (the backward pass
// costs two forwards): about 44.3 GFLOP for ViT-B-32.
func (c Config) TrainFLOPsPerSample() float64 {
	i, t := c.ForwardFLOPs()
	return 3 * (i + t)
}
