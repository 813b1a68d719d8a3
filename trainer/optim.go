package trainer

import (
	"fmt"
	"math"
	"strings"

	"github.com/clipstream/clipstream/trainer/model"
	"github.com/clipstream/clipstream/trainer/ops"
)

// AdamWConfig holds AdamW's constants. The learning rate is not here: the
// schedule gives it per step.
type AdamWConfig struct {
	Beta1, Beta2 float64
	Eps          float64
	WeightDecay  float64 // on the parameters Decays picks; the rest get 0
}

// DefaultAdamW is open_clip's setting for ViT models (its params.py:
// β=(0.9, 0.98), ε=1e-6, weight decay 0.2).
func DefaultAdamW() AdamWConfig {
	return AdamWConfig{Beta1: 0.9, Beta2: 0.98, Eps: 1e-6, WeightDecay: 0.2}
}

// Decays reports whether open_clip puts a parameter in its weight-decay
// group. open_clip_train/main.py excludes
//
//	p.ndim < 2 or "bn" in n or "ln" in n or "bias" in n or "logit_scale" in n
//
// so matrices and embeddings decay (positional and token embeddings,
// projections, conv1, attention and MLP weights), while gains, biases,
// logit_scale and the 1-D class embedding do not.
func Decays(name string, shape []int) bool {
	if len(shape) < 2 {
		return false
	}
	for _, s := range []string{"bn", "ln", "bias", "logit_scale"} {
		if strings.Contains(name, s) {
			return false
		}
	}
	return true
}

// span is a run [lo, hi) of the flat buffer with one weight-decay setting.
type span struct {
	lo, hi int
	decay  bool
}

// AdamW is torch.optim.AdamW as open_clip configures it (two parameter
// groups: weight decay on what Decays picks, none on the rest), over the
// model's flat parameter and gradient buffers: one pass per step. The
// moments M and V have the parameters' layout. Step counts the updates
// taken (torch's state["step"]), which the bias correction uses.
//
// The arithmetic follows torch's single-tensor AdamW in float32, in its
// order of operations (decoupled decay p·(1−lr·wd) first, then
// m.lerp_(g, 1−β1), v = β2·v + (1−β2)·g², p −= lr/(1−β1ᵗ) · m /
// (√v/√(1−β2ᵗ) + ε)); optim_test.go checks it against PyTorch.
type AdamW struct {
	Cfg   AdamWConfig
	M, V  []float32
	Step  int64
	spans []span
}

// NewAdamW returns an optimizer for the parameters of layout (n values in
// all), with zero moments.
func NewAdamW(layout []model.Param, n int, cfg AdamWConfig) (*AdamW, error) {
	o := &AdamW{Cfg: cfg, M: make([]float32, n), V: make([]float32, n)}
	for _, p := range layout {
		if p.Off < 0 || p.Off+p.Len > n {
			return nil, fmt.Errorf("trainer: adamw: %s [%d:+%d] outside %d parameters", p.Name, p.Off, p.Len, n)
		}
		d := Decays(p.Name, p.Shape)
		if k := len(o.spans) - 1; k >= 0 && o.spans[k].hi == p.Off && o.spans[k].decay == d {
			o.spans[k].hi = p.Off + p.Len
			continue
		}
		o.spans = append(o.spans, span{lo: p.Off, hi: p.Off + p.Len, decay: d})
	}
	return o, nil
}

// Update takes one step at learning rate lr: params -= AdamW(grads).
func (o *AdamW) Update(params, grads []float32, lr float64) error {
	if len(params) != len(o.M) || len(grads) != len(o.M) {
		return fmt.Errorf("trainer: adamw: %d parameters and %d gradients, want %d", len(params), len(grads), len(o.M))
	}
	o.Step++
	c := o.Cfg
	t := float64(o.Step)
	bc1 := 1 - math.Pow(c.Beta1, t)
	bc2 := 1 - math.Pow(c.Beta2, t)
	stepSize := float32(-lr / bc1)
	bc2Sqrt := float32(math.Sqrt(bc2))
	w1 := float32(1 - c.Beta1) // lerp weight (< 0.5: m + w·(g − m))
	b2, omb2 := float32(c.Beta2), float32(1-c.Beta2)
	eps := float32(c.Eps)
	for _, s := range o.spans {
		wd := c.WeightDecay
		if !s.decay {
			wd = 0
		}
		keep := float32(1 - lr*wd)
		p, g, m, v := params[s.lo:s.hi], grads[s.lo:s.hi], o.M[s.lo:s.hi], o.V[s.lo:s.hi]
		for i := range p {
			gi := g[i]
			pi := p[i]
			if wd != 0 {
				pi *= keep
			}
			mi := m[i] + w1*(gi-m[i])
			vi := v[i]*b2 + omb2*gi*gi
			m[i], v[i] = mi, vi
			denom := float32(math.Sqrt(float64(vi)))/bc2Sqrt + eps
			p[i] = pi + stepSize*mi/denom // torch addcdiv: (value·t1)/t2
		}
	}
	return nil
}

// GradNorm returns the L2 norm of g, summed in float64.
func GradNorm(g []float32) float64 {
	var s float64
	for _, x := range g {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// ClipGrads scales g so that its norm (norm, from GradNorm) is at most
// maxNorm, as torch.nn.utils.clip_grad_norm_: by maxNorm/(norm+1e-6) when
// that is below 1. maxNorm ≤ 0 leaves g alone.
func ClipGrads(g []float32, norm, maxNorm float64) {
	if maxNorm <= 0 {
		return
	}
	c := float32(maxNorm) / (float32(norm) + 1e-6) // in float32, as torch
	if c >= 1 {
		return
	}
	for i := range g {
		g[i] *= c
	}
}

// MaxLogitScale is open_clip's clamp: logit_scale stays in [0, ln 100]
// after every optimizer step.
var MaxLogitScale = math.Log(100)

// ClampLogitScale clamps v to [0, ln 100] as open_clip does after each step.
func ClampLogitScale(v float32) float32 {
	return float32(math.Min(math.Max(float64(v), 0), MaxLogitScale))
}

// hostSlice gives the host values of t: the buffer itself for the CPU
// backend (no copy), else a downloaded copy, with a function that uploads
// it back (a no-op for the CPU).
func hostSlice(be ops.Backend, t ops.Tensor) ([]float32, func()) {
	if h, ok := t.Buf.(*ops.HostBuffer); ok && t.Off >= 0 && t.Off+t.Len <= len(h.Data) {
		return h.Data[t.Off : t.Off+t.Len], func() {}
	}
	v := make([]float32, t.Len)
	be.Download(v, t)
	return v, func() { be.Upload(t, v) }
}
