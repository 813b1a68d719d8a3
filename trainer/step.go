package trainer

import (
	"fmt"
	"math"

	"github.com/clipstream/clipstream/trainer/model"
	"github.com/clipstream/clipstream/trainer/ops"
)

// stepper takes the optimizer step on a model's accumulated gradients:
// the 1/k scale of k accumulated micro-batches, gradient clipping, AdamW
// and open_clip's logit-scale clamp.
//
// On the CPU it works in place on the host buffers with AdamW.Update (the
// reference, checked against PyTorch). On a backend that implements
// ops.Optimizer (the CUDA backend) the step runs where the parameters live:
// the moments stay on the device, one fused AdamW pass over the whole
// buffer (weight decay skipped in the no-decay spans), and only the squared gradient norm and the logit scale cross to
// the host. The host moments (opt.M, opt.V) are then a staging copy, made
// current by syncHost before a checkpoint and sent back by syncDevice
// after a resume.
type stepper struct {
	be      ops.Backend
	m       *model.Model
	opt     *AdamW
	clip    float64
	logitIx int

	dev     ops.Optimizer  // nil: the host path
	dm, dv  ops.Tensor     // the device moments
	noDecay [][2]int       // the spans without weight decay, for dev
	bf16    ops.BF16Copier // non-nil when the parameters have a bf16 copy
}

func newStepper(be ops.Backend, m *model.Model, cfg AdamWConfig, clip float64) (*stepper, error) {
	opt, err := NewAdamW(m.Layout(), m.NumParams(), cfg)
	if err != nil {
		return nil, err
	}
	p, ok := m.Lookup("logit_scale")
	if !ok {
		return nil, fmt.Errorf("trainer: model %s has no logit_scale", m.Cfg.Name)
	}
	s := &stepper{be: be, m: m, opt: opt, clip: clip, logitIx: p.Off}
	dev, ok := be.(ops.Optimizer)
	if !ok {
		return s, nil // the CPU, or a backend without its own step (through copies)
	}
	n := m.NumParams()
	for _, t := range []*ops.Tensor{&s.dm, &s.dv} {
		buf, err := be.Alloc(n)
		if err != nil {
			return nil, fmt.Errorf("trainer: optimizer moments on %s: %w", be.Name(), err)
		}
		*t = ops.Tensor{Buf: buf, Len: n}
	}
	s.dev = dev
	if c, ok := be.(ops.BF16Copier); ok && c.BF16() {
		if err := c.EnableBF16Copy(m.Params().Buf); err != nil {
			return nil, fmt.Errorf("trainer: bf16 weight copy: %w", err)
		}
		s.bf16 = c
	}
	return s, nil
}

// apply takes one step at learning rate lr on the gradients of k
// accumulated micro-batches, returning the gradient norm (before
// clipping, of the averaged gradient) and the logit scale exp(t) after
// the step.
func (s *stepper) apply(k int, lr float64) (norm, scale float64, err error) {
	if s.dev == nil {
		return s.applyHost(k, lr)
	}
	be, params, grads := s.be, s.m.Params(), s.m.Grads()
	norm = math.Sqrt(float64(s.dev.SumSquares(grads))) / float64(k)
	gs := float32(1 / float64(k))
	if s.clip > 0 {
		if c := float32(s.clip) / (float32(norm) + 1e-6); c < 1 {
			gs *= c
		}
	}
	s.opt.Step++
	c := s.opt.Cfg
	if s.noDecay == nil {
		s.noDecay = [][2]int{}
		for _, sp := range s.opt.spans {
			if !sp.decay {
				s.noDecay = append(s.noDecay, [2]int{sp.lo, sp.hi})
			}
		}
	}
	// One pass over the whole buffer (a ViT-B-32 has ~190 decay spans:
	// as many launches of mostly tiny tensors before).
	s.dev.AdamWStep(params, grads, s.dm, s.dv, ops.AdamWArgs{
		LR: float32(lr), Beta1: float32(c.Beta1), Beta2: float32(c.Beta2), Eps: float32(c.Eps),
		WeightDecay: float32(c.WeightDecay), Step: int(s.opt.Step), GradScale: gs, NoDecay: s.noDecay,
	})
	var ls [1]float32
	at := params.View(s.logitIx, 1)
	be.Download(ls[:], at)
	if cl := ClampLogitScale(ls[0]); cl != ls[0] {
		ls[0] = cl
		be.Upload(at, ls[:])
		if s.bf16 != nil {
			if err := s.bf16.SyncBF16(params.Buf); err != nil {
				return 0, 0, fmt.Errorf("trainer: optimizer: %w", err)
			}
		}
	}
	if err := be.Err(); err != nil {
		return 0, 0, fmt.Errorf("trainer: optimizer: %w", err)
	}
	return norm, math.Exp(float64(ls[0])), nil
}

func (s *stepper) applyHost(k int, lr float64) (norm, scale float64, err error) {
	grads, putG := hostSlice(s.be, s.m.Grads())
	if k > 1 {
		f := float32(1 / float64(k))
		for i := range grads {
			grads[i] *= f
		}
	}
	norm = GradNorm(grads)
	ClipGrads(grads, norm, s.clip)
	params, putP := hostSlice(s.be, s.m.Params())
	if err := s.opt.Update(params, grads, lr); err != nil {
		return 0, 0, err
	}
	params[s.logitIx] = ClampLogitScale(params[s.logitIx])
	scale = math.Exp(float64(params[s.logitIx]))
	putG()
	putP()
	if err := s.be.Err(); err != nil {
		return 0, 0, fmt.Errorf("trainer: optimizer: %w", err)
	}
	return norm, scale, nil
}

// syncHost makes the host moments current (before a checkpoint).
func (s *stepper) syncHost() error {
	if s.dev == nil {
		return nil
	}
	s.be.Download(s.opt.M, s.dm)
	s.be.Download(s.opt.V, s.dv)
	if err := s.be.Err(); err != nil {
		return fmt.Errorf("trainer: optimizer moments: %w", err)
	}
	return nil
}

// syncDevice sends the host moments and the parameters' bf16 copy to the
// backend (after a resume has set them).
func (s *stepper) syncDevice() error {
	if s.dev == nil {
		return nil
	}
	s.be.Upload(s.dm, s.opt.M)
	s.be.Upload(s.dv, s.opt.V)
	if err := s.be.Err(); err != nil {
		return fmt.Errorf("trainer: optimizer moments: %w", err)
	}
	if s.bf16 != nil {
		if err := s.bf16.SyncBF16(s.m.Params().Buf); err != nil {
			return fmt.Errorf("trainer: bf16 weight copy: %w", err)
		}
	}
	return nil
}
