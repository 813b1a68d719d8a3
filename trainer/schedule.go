package trainer

import "math"

// Schedule is open_clip's cosine_lr: a linear warmup to BaseLR over Warmup
// steps, lr = BaseLR·(step+1)/Warmup, then a cosine decay to 0 at Steps,
// lr = ½(1 + cos(π·e/es))·BaseLR with e = step − Warmup and
// es = Steps − Warmup. Steps count from 0, as open_clip's.
type Schedule struct {
	BaseLR float64
	Warmup int64
	Steps  int64
}

// LR returns the learning rate of step.
func (s Schedule) LR(step int64) float64 {
	if step < s.Warmup {
		return s.BaseLR * float64(step+1) / float64(s.Warmup)
	}
	es := s.Steps - s.Warmup
	if es <= 0 {
		return s.BaseLR
	}
	e := min(step-s.Warmup, es)
	return 0.5 * (1 + math.Cos(math.Pi*float64(e)/float64(es))) * s.BaseLR
}
