package ops

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRoundBF16(t *testing.T) {
	for _, c := range []struct{ in, want float32 }{
		{1, 1}, {0, 0}, {-2.5, -2.5},
		{1 + 1.0/256, 1},                      // a tie rounds to even (down)
		{1 + 3.0/256, 1 + 4.0/256},            // a tie rounds to even (up)
		{1 + 1.0/256 + 1.0/4096, 1 + 1.0/128}, // above the tie rounds up
		{float32(math.Inf(1)), float32(math.Inf(1))},
	} {
		if got := RoundBF16(c.in); got != c.want {
			t.Errorf("RoundBF16(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if nan := RoundBF16(float32(math.NaN())); !math.IsNaN(float64(nan)) {
		t.Errorf("RoundBF16(NaN) = %v", nan)
	}
}

// TestBF16GEMM: the CPU's bf16 reference rounds the GEMM operands (so a
// matmul equals the float32 one on rounded inputs, bit for bit), leaves
// its inputs as they were, and keeps the bias gradient in float32.
func TestBF16GEMM(t *testing.T) {
	const N, C, OC = 7, 19, 5
	r := rand.New(rand.NewPCG(3, 4))
	vals := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	round := func(v []float32) []float32 { return roundedBF16(v) }
	x, w, b, dy := vals(N*C), vals(OC*C), vals(OC), vals(N*OC)
	xs, ws := slices.Clone(x), slices.Clone(w)
	run := func(c *CPU, x, w, dy []float32) (out, dx, dw, db []float32) {
		ten := func(v []float32) Tensor {
			buf, _ := c.Alloc(len(v))
			tt := Tensor{Buf: buf, Len: len(v)}
			c.Upload(tt, v)
			return tt
		}
		o, dxt, dwt, dbt := ten(make([]float32, N*OC)), ten(make([]float32, N*C)), ten(make([]float32, OC*C)), ten(make([]float32, OC))
		xt, wt, bt, dyt := ten(x), ten(w), ten(b), ten(dy)
		c.MatmulForward(o, xt, wt, bt, N, C, OC)
		c.MatmulBackward(dxt, dwt, dbt, dyt, xt, wt, N, C, OC)
		if err := c.Err(); err != nil {
			t.Fatal(err)
		}
		down := func(tt Tensor) []float32 { v := make([]float32, tt.Len); c.Download(v, tt); return v }
		return down(o), down(dxt), down(dwt), down(dbt)
	}
	sim := NewCPU()
	sim.BF16GEMM = true
	o1, dx1, dw1, db1 := run(sim, x, w, dy)
	o2, dx2, dw2, _ := run(NewCPU(), round(x), round(w), round(dy))
	_, _, _, db3 := run(NewCPU(), x, w, dy)
	if !slices.Equal(o1, o2) || !slices.Equal(dx1, dx2) || !slices.Equal(dw1, dw2) {
		t.Error("the bf16 reference differs from float32 on rounded operands")
	}
	if !slices.Equal(db1, db3) {
		t.Error("the bias gradient is not the float32 one")
	}
	if !slices.Equal(x, xs) || !slices.Equal(w, ws) {
		t.Error("the bf16 reference rounded its inputs in place")
	}
	if o3, _, _, _ := run(NewCPU(), x, w, dy); slices.Equal(o1, o3) {
		t.Error("the bf16 reference equals float32: nothing was rounded")
	}
}
