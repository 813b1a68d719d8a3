package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestGradientFiniteDifference checks the whole backward (every tensor of
// the tiny config) against central differences of the float32 loss:
//
//   - per tensor, the directional derivative along the tensor's own
//     normalised gradient (which must equal ‖g‖) and along a random unit
//     direction;
//   - per tensor, the three elements with the largest gradient.
//
// The parameters are moved off their init (LayerNorm gains ≠ 1, biases ≠ 0)
// so that no term vanishes by symmetry.
func TestGradientFiniteDifference(t *testing.T) {
	const seed = 20240607
	const B = 3
	m := newTestModel(t, "tiny", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	params := m.GetParams()
	for i := range params {
		params[i] += float32(0.05 * rng.NormFloat64())
	}
	if err := m.SetParams(params); err != nil {
		t.Fatal(err)
	}
	images := randomImages(rng, m.Cfg, B)
	tokens := tokenize(t, m.Cfg, B)

	m.ZeroGrad()
	if _, err := m.Forward(images, tokens, B); err != nil {
		t.Fatal(err)
	}
	if err := m.Backward(); err != nil {
		t.Fatal(err)
	}
	grads := m.GetGrads()

	work := slices.Clone(params)
	lossAt := func() float64 {
		if err := m.SetParams(work); err != nil {
			t.Fatal(err)
		}
		l, err := m.Forward(images, tokens, B)
		if err != nil {
			t.Fatal(err)
		}
		return float64(l)
	}
	// fd returns the central difference of the loss along dir (a unit
	// vector over p's elements) with step h.
	fd := func(p Param, dir []float64, h float64) float64 {
		seg := work[p.Off : p.Off+p.Len]
		orig := params[p.Off : p.Off+p.Len]
		for i := range seg {
			seg[i] = orig[i] + float32(h*dir[i])
		}
		lp := lossAt()
		for i := range seg {
			seg[i] = orig[i] - float32(h*dir[i])
		}
		lm := lossAt()
		copy(seg, orig)
		return (lp - lm) / (2 * h)
	}
	const h = 1e-2
	// The loss is float32: its rounding (~1e-7) over 2h bounds how small a
	// derivative can be resolved.
	const floor = 2e-5
	check := func(what string, p Param, num, ana float64) {
		t.Helper()
		if math.Abs(num-ana) > 1e-2*math.Abs(ana)+floor {
			t.Errorf("seed %d: %s %s: backward %.6g, finite difference %.6g", seed, p.Name, what, ana, num)
		}
	}
	for _, p := range m.Layout() {
		g := grads[p.Off : p.Off+p.Len]
		gn := norm(g)
		if gn == 0 {
			t.Errorf("seed %d: %s: gradient is all zero", seed, p.Name)
			continue
		}
		dir := make([]float64, p.Len)
		for i := range dir {
			dir[i] = float64(g[i]) / gn
		}
		// a step that moves the loss by ~1e-3, so the curvature stays small
		check("along its gradient", p, fd(p, dir, min(h, max(1e-4, 1e-3/gn))), gn)

		var dot, rn float64
		for i := range dir {
			dir[i] = rng.NormFloat64()
			rn += dir[i] * dir[i]
		}
		rn = math.Sqrt(rn)
		for i := range dir {
			dir[i] /= rn
			dot += dir[i] * float64(g[i])
		}
		check("along a random direction", p, fd(p, dir, h), dot)

		order := make([]int, p.Len)
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return cmpAbs(g[b], g[a]) })
		for _, i := range order[:min(3, len(order))] {
			clear(dir)
			dir[i] = 1
			check("element", p, fd(p, dir, h), float64(g[i]))
		}
	}
}

func cmpAbs(a, b float32) int {
	x, y := math.Abs(float64(a)), math.Abs(float64(b))
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}
