package ops

import (
	"math"
	"math/rand/v2"
	"testing"
)

// gradCase is one op under the finite-difference check. forward returns
// the op's output for inputs x; backward adds the gradients of Σ dout∘out
// into grads (one per input, same lengths as x).
type gradCase struct {
	name     string
	inputs   []int // lengths of the inputs
	forward  func(x [][]float64) []float64
	backward func(x [][]float64, dout []float64, grads [][]float64)
	// prepare may adjust the random inputs (e.g. keep a scale small).
	prepare func(x [][]float64)
}

// checkGradient compares the backward against central differences of
// L = Σ r∘forward(x) in float64, for every element of every input. The
// gradient buffers start random, so the test also checks that the backward
// adds rather than overwrites.
func checkGradient(t *testing.T, c gradCase, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	x := make([][]float64, len(c.inputs))
	for i, n := range c.inputs {
		x[i] = randSlice(rng, n)
	}
	if c.prepare != nil {
		c.prepare(x)
	}
	out := c.forward(x)
	r := randSlice(rng, len(out))
	loss := func() float64 {
		var s float64
		for i, v := range c.forward(x) {
			s += r[i] * v
		}
		return s
	}
	grads := make([][]float64, len(x))
	base := make([][]float64, len(x))
	for i := range x {
		grads[i] = randSlice(rng, len(x[i]))
		base[i] = append([]float64(nil), grads[i]...)
	}
	c.backward(x, r, grads)
	const h = 1e-5
	for i := range x {
		for j := range x[i] {
			orig := x[i][j]
			x[i][j] = orig + h
			lp := loss()
			x[i][j] = orig - h
			lm := loss()
			x[i][j] = orig
			num := (lp - lm) / (2 * h)
			got := grads[i][j] - base[i][j]
			if math.Abs(got-num) > 1e-6+1e-5*math.Abs(num) {
				t.Fatalf("seed %d: input %d element %d: backward %.9g, finite difference %.9g", seed, i, j, got, num)
			}
		}
	}
}

func TestGradients(t *testing.T) {
	const N, C, OC = 5, 6, 7
	const B, T, AC, NH = 2, 4, 6, 2 // attention
	const V = 9
	ids := []int32{3, 0, 8, 3, 5}
	cases := []gradCase{
		{
			name:   "matmul",
			inputs: []int{N * C, OC * C, OC},
			forward: func(x [][]float64) []float64 {
				out := make([]float64, N*OC)
				matmulForward(out, x[0], x[1], x[2], N, C, OC, 2)
				return out
			},
			backward: func(x [][]float64, dout []float64, g [][]float64) {
				matmulBackward(g[0], g[1], g[2], dout, x[0], x[1], N, C, OC, 2)
			},
		},
		{
			name:   "project",
			inputs: []int{N * C, C * OC},
			forward: func(x [][]float64) []float64 {
				out := make([]float64, N*OC)
				projectForward(out, x[0], x[1], N, C, OC, 2)
				return out
			},
			backward: func(x [][]float64, dout []float64, g [][]float64) {
				projectBackward(g[0], g[1], dout, x[0], x[1], N, C, OC, 2)
			},
		},
		{
			name:   "layernorm",
			inputs: []int{N * C, C, C},
			forward: func(x [][]float64) []float64 {
				out := make([]float64, N*C)
				layerNormForward(out, make([]float64, N), make([]float64, N), x[0], x[1], x[2], N, C, 2)
				return out
			},
			backward: func(x [][]float64, dout []float64, g [][]float64) {
				mean, rstd := make([]float64, N), make([]float64, N)
				layerNormForward(make([]float64, N*C), mean, rstd, x[0], x[1], x[2], N, C, 2)
				layerNormBackward(g[0], g[1], g[2], dout, x[0], x[1], mean, rstd, N, C, 2)
			},
		},
		activationCase("gelu", GELU),
		activationCase("quickgelu", QuickGELU),
		attentionCase("attention", B, T, AC, NH, false),
		attentionCase("attention-causal", B, T, AC, NH, true),
		{
			name:   "residual",
			inputs: []int{N * C, N * C},
			forward: func(x [][]float64) []float64 {
				out := make([]float64, N*C)
				residualForward(out, x[0], x[1])
				return out
			},
			backward: func(x [][]float64, dout []float64, g [][]float64) { residualBackward(g[0], g[1], dout) },
		},
		{
			name:   "embedding",
			inputs: []int{V * C},
			forward: func(x [][]float64) []float64 {
				out := make([]float64, len(ids)*C)
				embeddingForward(out, x[0], ids, C)
				return out
			},
			backward: func(x [][]float64, dout []float64, g [][]float64) { embeddingBackward(g[0], dout, ids, C) },
		},
		{
			name:   "normalize",
			inputs: []int{N * C},
			forward: func(x [][]float64) []float64 {
				out := make([]float64, N*C)
				normalizeForward(out, make([]float64, N), x[0], N, C)
				return out
			},
			backward: func(x [][]float64, dout []float64, g [][]float64) {
				out, norm := make([]float64, N*C), make([]float64, N)
				normalizeForward(out, norm, x[0], N, C)
				normalizeBackward(g[0], dout, out, norm, N, C)
			},
		},
		contrastiveCase(4, 3),
		contrastiveCase(1, 5),
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkGradient(t, c, uint64(1000+i)) })
	}
}

func activationCase(name string, act Activation) gradCase {
	const n = 40
	return gradCase{
		name:   name,
		inputs: []int{n},
		prepare: func(x [][]float64) {
			for i := range x[0] {
				x[0][i] *= 3 // cover the tails
			}
		},
		forward: func(x [][]float64) []float64 {
			out := make([]float64, n)
			activationForward(out, x[0], act, 2)
			return out
		},
		backward: func(x [][]float64, dout []float64, g [][]float64) { activationBackward(g[0], x[0], dout, act, 2) },
	}
}

func attentionCase(name string, B, T, C, NH int, causal bool) gradCase {
	att := func() []float64 { return make([]float64, B*NH*T*T) }
	return gradCase{
		name:   name,
		inputs: []int{B * T * 3 * C},
		forward: func(x [][]float64) []float64 {
			out := make([]float64, B*T*C)
			attentionForward(out, att(), att(), x[0], B, T, C, NH, causal, false, 2)
			return out
		},
		backward: func(x [][]float64, dout []float64, g [][]float64) {
			a := att()
			attentionForward(make([]float64, B*T*C), att(), a, x[0], B, T, C, NH, causal, false, 2)
			attentionBackward(g[0], att(), att(), dout, x[0], a, B, T, C, NH, causal, false, 2)
		},
	}
}

func contrastiveCase(B, D int) gradCase {
	return gradCase{
		name:   "contrastive-B" + string(rune('0'+B)),
		inputs: []int{B * D, B * D, 1},
		prepare: func(x [][]float64) {
			x[2][0] = math.Log(1/0.07) * (0.5 + 0.1*x[2][0]) // near open_clip's init
		},
		forward: func(x [][]float64) []float64 {
			bb := func() []float64 { return make([]float64, B*B) }
			return []float64{contrastiveForward(bb(), bb(), bb(), x[0], x[1], x[2], B, D, 2)}
		},
		backward: func(x [][]float64, dout []float64, g [][]float64) {
			lg, pr, pc := make([]float64, B*B), make([]float64, B*B), make([]float64, B*B)
			contrastiveForward(lg, pr, pc, x[0], x[1], x[2], B, D, 2)
			contrastiveBackward(g[0], g[1], g[2], x[0], x[1], x[2], lg, pr, pc, dout[0], B, D, 2)
		},
	}
}
