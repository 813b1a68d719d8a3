package ops

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestErfRational bounds erfRational's absolute error against math.Erf on
// a dense grid over [−6, 6] (and at the clamp and infinities).
func TestErfRational(t *testing.T) {
	var worst, at float64
	for i := -600000; i <= 600000; i++ {
		x := float64(i) * 1e-5
		e := math.Abs(erfRational(x) - math.Erf(x))
		if e > worst {
			worst, at = e, float64(x)
		}
	}
	t.Logf("erfRational: max abs error %.3g at x = %.5g", worst, at)
	if worst > 7e-8 {
		t.Errorf("erfRational: max abs error %.3g at x = %.5g, want ≤ 7e-8", worst, at)
	}
	for _, x := range []float64{math.Inf(1), 1e30, 4, 100} {
		if math.Abs(erfRational(x)-1) > 7e-8 || erfRational(-x) != -erfRational(x) {
			t.Errorf("erfRational(±%g) = %g, %g", x, erfRational(x), erfRational(-x))
		}
	}
	if v := erfRational(math.NaN()); v == v {
		t.Errorf("erfRational(NaN) = %g", v)
	}
}

// TestExp32 bounds exp32's relative error against math.Exp over the
// range softmax and the GELU backward use, and checks the clamps.
func TestExp32(t *testing.T) {
	var worst, at float64
	for i := -870000; i <= 880000; i++ {
		x := float32(i) * 1e-4
		want := math.Exp(float64(x))
		e := math.Abs(float64(exp32(x))-want) / want
		if e > worst {
			worst, at = e, float64(x)
		}
	}
	t.Logf("exp32: max relative error %.3g at x = %.5g", worst, at)
	if worst > 3e-7 {
		t.Errorf("exp32: max relative error %.3g at x = %.5g, want ≤ 3e-7", worst, at)
	}
	if v := exp32(float32(math.Inf(-1))); v < 0 || v > 1e-37 {
		t.Errorf("exp32(-Inf) = %g", v)
	}
	if v := exp32(1000); math.IsInf(float64(v), 0) {
		t.Errorf("exp32(1000) = %g", v)
	}
	if exp32(0) != 1 {
		t.Errorf("exp32(0) = %g", exp32(0))
	}
}

// TestActivation32 compares the float32 forward and backward (AVX2 where
// available, with ragged tails) against the float64 reference the
// finite-difference test checks.
func TestActivation32(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, act := range []Activation{GELU, QuickGELU} {
		for _, n := range []int{1, 7, 8, 9, 31, 1000, 4099} {
			x, dy, d0 := randSlice(rng, n), randSlice(rng, n), randSlice(rng, n)
			for i := range x {
				x[i] *= 4
			}
			x[0] = -9 // tails
			if n > 1 {
				x[1] = 9
			}
			want, wantD := make([]float64, n), append([]float64(nil), d0...)
			activationForward(want, x, act, 1)
			activationBackward(wantD, x, dy, act, 1)
			x32, dy32, got, gotD := to32(x), to32(dy), make([]float32, n), to32(d0)
			activationForward(got, x32, act, 3)
			activationBackward(gotD, x32, dy32, act, 3)
			for i := range n {
				if e := math.Abs(float64(got[i]) - want[i]); e > 5e-7*(1+math.Abs(want[i])) {
					t.Fatalf("act %d n %d: forward(%g) = %g, want %g", act, n, x32[i], got[i], want[i])
				}
				if e := math.Abs(float64(gotD[i]) - wantD[i]); e > 1e-6*(1+math.Abs(wantD[i])) {
					t.Fatalf("act %d n %d: backward(%g) = %g, want %g", act, n, x32[i], gotD[i], wantD[i])
				}
			}
		}
	}
}

func BenchmarkGELU(b *testing.B) {
	const n = 1 << 20
	rng := rand.New(rand.NewPCG(1, 1))
	x, dy, dx, y := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], dy[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	b.Run("forward", func(b *testing.B) {
		for b.Loop() {
			activationForward(y, x, GELU, 1)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
	})
	b.Run("backward", func(b *testing.B) {
		for b.Loop() {
			activationBackward(dx, x, dy, GELU, 1)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
	})
}
