package ops

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func hostTensor(t *testing.T, c *CPU, v []float64) Tensor {
	t.Helper()
	buf, err := c.Alloc(len(v))
	if err != nil {
		t.Fatal(err)
	}
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	tt := Tensor{Buf: buf, Len: len(v)}
	c.Upload(tt, f)
	return tt
}

func download(c *CPU, t Tensor) []float32 {
	out := make([]float32, t.Len)
	c.Download(out, t)
	return out
}

// TestCPUMatchesFloat64 runs ops through the Backend in float32 and compares
// them with the float64 instantiation the gradient tests check.
func TestCPUMatchesFloat64(t *testing.T) {
	const seed = 42
	rng := rand.New(rand.NewPCG(seed, 1))
	c := NewCPU()
	const N, C, OC = 70, 96, 130 // crosses gemm's block edges
	x, w, b := randSlice(rng, N*C), randSlice(rng, OC*C), randSlice(rng, OC)
	want := make([]float64, N*OC)
	matmulForward(want, x, w, b, N, C, OC, 1)
	out := hostTensor(t, c, make([]float64, N*OC))
	c.MatmulForward(out, hostTensor(t, c, x), hostTensor(t, c, w), hostTensor(t, c, b), N, C, OC)
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	assertClose(t, "matmul", download(c, out), want, 1e-4, seed)

	const B, T, AC, NH = 3, 7, 16, 4
	qkv := randSlice(rng, B*T*3*AC)
	wantA := make([]float64, B*T*AC)
	attentionForward(wantA, make([]float64, B*NH*T*T), make([]float64, B*NH*T*T), qkv, B, T, AC, NH, true, false, 1)
	outA := hostTensor(t, c, make([]float64, B*T*AC))
	scratch := func() Tensor { return hostTensor(t, c, make([]float64, B*NH*T*T)) }
	c.AttentionForward(outA, scratch(), scratch(), hostTensor(t, c, qkv), Tensor{}, B, T, AC, NH, true)
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	assertClose(t, "attention", download(c, outA), wantA, 1e-4, seed)

	// attention backward (GEMMs per head, float32 softmax), both masks, and
	// sizes past the micro-kernel's 6×16 tiles
	for _, causal := range []bool{false, true} {
		const B, T, AC, NH = 2, 23, 64, 2
		qkv := randSlice(rng, B*T*3*AC)
		dout := randSlice(rng, B*T*AC)
		dq0 := randSlice(rng, B*T*3*AC)
		att := make([]float64, B*NH*T*T)
		attentionForward(make([]float64, B*T*AC), make([]float64, len(att)), att, qkv, B, T, AC, NH, causal, false, 1)
		want := append([]float64(nil), dq0...)
		attentionBackward(want, make([]float64, len(att)), make([]float64, len(att)), dout, qkv, att, B, T, AC, NH, causal, false, 1)
		scratch := func() Tensor { return hostTensor(t, c, make([]float64, B*NH*T*T)) }
		at, q, dq := scratch(), hostTensor(t, c, qkv), hostTensor(t, c, dq0)
		c.AttentionForward(hostTensor(t, c, make([]float64, B*T*AC)), scratch(), at, q, Tensor{}, B, T, AC, NH, causal)
		c.AttentionBackward(dq, scratch(), scratch(), hostTensor(t, c, dout), q, Tensor{}, at, B, T, AC, NH, causal)
		if err := c.Err(); err != nil {
			t.Fatal(err)
		}
		assertClose(t, "attention backward", download(c, dq), want, 1e-5, seed)
	}

	// embedding backward (split over columns) with repeated ids
	const V, D = 5, 40
	ids := []int32{1, 4, 1, 0, 1, 4}
	dt0, dy := randSlice(rng, V*D), randSlice(rng, len(ids)*D)
	wantE := append([]float64(nil), dt0...)
	embeddingBackward(wantE, dy, ids, D)
	dt := hostTensor(t, c, dt0)
	c.EmbeddingBackward(dt, hostTensor(t, c, dy), ids, len(ids), D, V)
	assertClose(t, "embedding backward", download(c, dt), wantE, 1e-6, seed)
}

func assertClose(t *testing.T, name string, got []float32, want []float64, tol float64, seed uint64) {
	t.Helper()
	var num, den float64
	for i := range want {
		d := float64(got[i]) - want[i]
		num += d * d
		den += want[i] * want[i]
	}
	if rel := math.Sqrt(num / den); rel > tol {
		t.Fatalf("seed %d: %s: relative error %.3g > %.1g", seed, name, rel, tol)
	}
}

// TestCausalMask: the first query of a causal head sees only itself, so its
// output is its own value vector.
func TestCausalMask(t *testing.T) {
	const B, T, C, NH = 1, 3, 4, 2
	rng := rand.New(rand.NewPCG(3, 3))
	qkv := randSlice(rng, B*T*3*C)
	out := make([]float64, B*T*C)
	att := make([]float64, B*NH*T*T)
	attentionForward(out, make([]float64, len(att)), att, qkv, B, T, C, NH, true, false, 1)
	for i := range C {
		if math.Abs(out[i]-qkv[2*C+i]) > 1e-12 {
			t.Fatalf("out[0][%d] = %v, want v[0][%d] = %v", i, out[i], i, qkv[2*C+i])
		}
	}
	for h := range NH {
		for q := range T {
			for k := q + 1; k < T; k++ {
				if a := att[(h*T+q)*T+k]; a != 0 {
					t.Fatalf("head %d query %d sees key %d (att %v)", h, q, k, a)
				}
			}
		}
	}
}

// TestShapeErrors: a wrong size or a foreign buffer is recorded, not a panic,
// and the first error sticks.
func TestShapeErrors(t *testing.T) {
	tests := []struct {
		name string
		run  func(c *CPU, ten func(n int) Tensor)
		want error
	}{
		{"matmul short weight", func(c *CPU, ten func(int) Tensor) {
			c.MatmulForward(ten(6), ten(6), ten(5), Tensor{}, 2, 3, 3)
		}, ErrShape},
		{"view outside buffer", func(c *CPU, ten func(int) Tensor) {
			c.Zero(ten(4).View(2, 4))
		}, ErrBuffer},
		{"embedding id out of range", func(c *CPU, ten func(int) Tensor) {
			c.EmbeddingForward(ten(2), ten(6), []int32{3}, 1, 2, 3)
		}, ErrShape},
		{"heads do not divide width", func(c *CPU, ten func(int) Tensor) {
			c.AttentionForward(ten(5), ten(4), ten(4), ten(15), Tensor{}, 1, 1, 5, 2, false)
		}, ErrShape},
		{"fused matmul short pre", func(c *CPU, ten func(int) Tensor) {
			c.MatmulActivationForward(ten(5), ten(6), ten(6), ten(9), ten(3), 2, 3, 3, GELU)
		}, ErrShape},
		{"fused residual layernorm short b", func(c *CPU, ten func(int) Tensor) {
			c.ResidualLayerNormForward(ten(6), ten(6), ten(2), ten(2), ten(6), ten(5), Tensor{}, ten(3), ten(3), 2, 3)
		}, ErrShape},
		{"foreign buffer", func(c *CPU, ten func(int) Tensor) {
			c.Zero(Tensor{Buf: fakeBuffer(3), Len: 3})
		}, ErrBuffer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCPU()
			ten := func(n int) Tensor {
				b, _ := c.Alloc(n)
				return Tensor{Buf: b, Len: n}
			}
			tt.run(c, ten)
			first := c.Err()
			if !errors.Is(first, tt.want) {
				t.Fatalf("Err() = %v, want %v", first, tt.want)
			}
			c.Zero(Tensor{Buf: fakeBuffer(1), Len: 1})
			if c.Err() != first {
				t.Fatalf("the first error did not stick: %v", c.Err())
			}
		})
	}
}

type fakeBuffer int

func (f fakeBuffer) Len() int { return int(f) }
