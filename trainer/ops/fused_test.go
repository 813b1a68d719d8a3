package ops

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFusedOpsMatchComposition: each fused op gives exactly (bit for bit)
// what the ops it fuses give in sequence, on fresh random inputs with the
// outputs poisoned first.
func TestFusedOpsMatchComposition(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 2))
	c := NewCPU()
	fresh := func(n int) Tensor { return hostTensor(t, c, randSlice(rng, n)) }
	copyOf := func(src Tensor) Tensor { return hostTensor(t, c, toF64(download(c, src))) }
	poison := func(n int) Tensor {
		v := make([]float64, n)
		for i := range v {
			v[i] = math.NaN()
		}
		return hostTensor(t, c, v)
	}
	same := func(name string, got, want Tensor) {
		t.Helper()
		g, w := download(c, got), download(c, want)
		for i := range w {
			if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
				t.Fatalf("%s[%d] = %v, want %v (seed %d)", name, i, g[i], w[i], seed)
			}
		}
	}

	const N, C, OC = 37, 96, 130 // crosses gemm's block edges
	for _, tc := range []struct {
		name string
		act  Activation
		bias bool
	}{{"GELU", GELU, true}, {"QuickGELU", QuickGELU, true}, {"GELU/nobias", GELU, false}} {
		t.Run("MatmulActivationForward/"+tc.name, func(t *testing.T) {
			x, w := fresh(N*C), fresh(OC*C)
			var b Tensor
			if tc.bias {
				b = fresh(OC)
			}
			pre, out := poison(N*OC), poison(N*OC)
			c.MatmulActivationForward(pre, out, x, w, b, N, C, OC, tc.act)
			wantPre, wantOut := poison(N*OC), poison(N*OC)
			c.MatmulForward(wantPre, x, w, b, N, C, OC)
			c.ActivationForward(wantOut, wantPre, tc.act)
			if err := c.Err(); err != nil {
				t.Fatal(err)
			}
			same("pre", pre, wantPre)
			same("out", out, wantOut)
		})
	}
	for _, withBias := range []bool{false, true} {
		name := "ResidualLayerNormForward"
		if withBias {
			name += "/b-bias"
		}
		t.Run(name, func(t *testing.T) {
			const N, C = 41, 200
			a, b, w, bias := fresh(N*C), fresh(N*C), fresh(C), fresh(C)
			var bBias Tensor
			if withBias {
				bBias = fresh(C)
			}
			aIn, bIn := copyOf(a), copyOf(b)
			res, out, mean, rstd := poison(N*C), poison(N*C), poison(N), poison(N)
			c.ResidualLayerNormForward(res, out, mean, rstd, a, b, bBias, w, bias, N, C)
			// the composition: the bias added to b (as MatmulForward adds its
			// bias after the product), the residual, the LayerNorm
			wantRes, wantOut, wantMean, wantRstd := poison(N*C), poison(N*C), poison(N), poison(N)
			bb := copyOf(b)
			if withBias {
				bv, bias := download(c, b), download(c, bBias)
				for i := range bv {
					bv[i] += bias[i%C] // float32, as MatmulForward's bias pass
				}
				bb = hostTensor(t, c, toF64(bv))
			}
			c.ResidualForward(wantRes, a, bb)
			c.LayerNormForward(wantOut, wantMean, wantRstd, wantRes, w, bias, N, C)
			if err := c.Err(); err != nil {
				t.Fatal(err)
			}
			same("res", res, wantRes)
			same("out", out, wantOut)
			same("mean", mean, wantMean)
			same("rstd", rstd, wantRstd)
			same("a (an input)", a, aIn)
			same("b (an input)", b, bIn)
		})
	}
	t.Run("Attention/qkv-bias", func(t *testing.T) {
		// the in-projection's bias added by the attention equals the bias
		// pass of MatmulForward before it, forward and backward
		const B, T, C, NH = 2, 9, 16, 2
		qkv, qb, dout := fresh(B*T*3*C), fresh(3*C), fresh(B*T*C)
		v, b := download(c, qkv), download(c, qb)
		for i := range v {
			v[i] += b[i%(3*C)] // float32, as MatmulForward's bias pass
		}
		biased := hostTensor(t, c, toF64(v))
		qkvIn := copyOf(qkv)
		att := B * NH * T * T
		run := func(q, bias Tensor) (out, dq Tensor) {
			out, dq = poison(B*T*C), fresh(B*T*3*C)
			c.Upload(dq, make([]float32, B*T*3*C))
			a := poison(att)
			c.AttentionForward(out, poison(att), a, q, bias, B, T, C, NH, true)
			c.AttentionBackward(dq, poison(att), poison(att), dout, q, bias, a, B, T, C, NH, true)
			return out, dq
		}
		gotOut, gotDq := run(qkv, qb)
		wantOut, wantDq := run(biased, Tensor{})
		if err := c.Err(); err != nil {
			t.Fatal(err)
		}
		same("out", gotOut, wantOut)
		same("dqkv", gotDq, wantDq)
		same("qkv (an input)", qkv, qkvIn)
	})
	t.Run("ResidualLayerNormForward/in-place", func(t *testing.T) {
		// res may be a: the model adds a branch into the residual stream.
		const N, C = 9, 64
		a, b, w, bias := fresh(N*C), fresh(N*C), fresh(C), fresh(C)
		a2 := copyOf(a)
		out, mean, rstd := poison(N*C), poison(N), poison(N)
		c.ResidualLayerNormForward(a, out, mean, rstd, a, b, Tensor{}, w, bias, N, C)
		wantOut, wantMean, wantRstd := poison(N*C), poison(N), poison(N)
		c.ResidualForward(a2, a2, b)
		c.LayerNormForward(wantOut, wantMean, wantRstd, a2, w, bias, N, C)
		if err := c.Err(); err != nil {
			t.Fatal(err)
		}
		same("res", a, a2)
		same("out", out, wantOut)
	})
}

func toF64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
