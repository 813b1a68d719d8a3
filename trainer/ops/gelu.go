package ops

import "math"

// activationForward applies GELU (exact, erf) or QuickGELU elementwise.
// float32 (training) runs activationForward32; float64 (the
// finite-difference tests' reference) uses math.Erf and math.Exp.
func activationForward[T Float](out, inp []T, act Activation, workers int) {
	if o32, ok := any(out).([]float32); ok {
		activationForward32(o32, any(inp).([]float32), act, workers)
		return
	}
	parallelFor(len(inp), workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x := float64(inp[i])
			switch act {
			case QuickGELU:
				out[i] = T(x / (1 + math.Exp(-1.702*x)))
			default:
				out[i] = T(0.5 * x * (1 + math.Erf(x/math.Sqrt2)))
			}
		}
	})
}

// activationBackward adds dinp += act'(inp)·dout:
//
//	GELU:      Φ(x) + x·φ(x)
//	QuickGELU: σ(1.702x) + 1.702x·σ(1.702x)(1−σ(1.702x))
func activationBackward[T Float](dinp, inp, dout []T, act Activation, workers int) {
	if d32, ok := any(dinp).([]float32); ok {
		activationBackward32(d32, any(inp).([]float32), any(dout).([]float32), act, workers)
		return
	}
	parallelFor(len(inp), workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x := float64(inp[i])
			var d float64
			switch act {
			case QuickGELU:
				s := 1 / (1 + math.Exp(-1.702*x))
				d = s + 1.702*x*s*(1-s)
			default:
				d = 0.5*(1+math.Erf(x/math.Sqrt2)) + x*invSqrt2Pi*math.Exp(-0.5*x*x)
			}
			dinp[i] += T(d) * dout[i]
		}
	})
}

// activationForward32 is the float32 forward: GELU through erf32, QuickGELU
// through exp32, split over workers; geluForward32 has an AVX2 version.
func activationForward32(out, inp []float32, act Activation, workers int) {
	parallelFor(len(inp), workers, func(lo, hi int) {
		if act == QuickGELU {
			for i, x := range inp[lo:hi] {
				out[lo+i] = x / (1 + exp32(-1.702*x))
			}
			return
		}
		geluForward32(out[lo:hi], inp[lo:hi])
	})
}

// activationBackward32 is the float32 backward (see activationForward32).
func activationBackward32(dinp, inp, dout []float32, act Activation, workers int) {
	parallelFor(len(inp), workers, func(lo, hi int) {
		if act == QuickGELU {
			for i, x := range inp[lo:hi] {
				s := 1 / (1 + exp32(-1.702*x))
				dinp[lo+i] += (s + 1.702*x*s*(1-s)) * dout[lo+i]
			}
			return
		}
		geluBackward32(dinp[lo:hi], inp[lo:hi], dout[lo:hi])
	})
}

const (
	sqrtHalf   = 0.7071067811865476 // 1/√2
	invSqrt2Pi = 0.3989422804014327 // 1/√(2π)
)

// geluForwardGo sets out = x·Φ(x) = ½x(1 + erf(x/√2)), in float64 before
// rounding the result.
func geluForwardGo(out, inp []float32) {
	out = out[:len(inp)]
	for i, x := range inp {
		z := float64(x)
		out[i] = float32(0.5 * z * (1 + erfRational(z*sqrtHalf)))
	}
}

// geluBackwardGo adds dinp += (Φ(x) + x·φ(x))·dout.
func geluBackwardGo(dinp, inp, dout []float32) {
	dinp, dout = dinp[:len(inp)], dout[:len(inp)]
	for i, x := range inp {
		z := float64(x)
		d := 0.5*(1+erfRational(z*sqrtHalf)) + z*invSqrt2Pi*float64(exp32(-0.5*x*x))
		dinp[i] += float32(d) * dout[i]
	}
}

// erfRational is erf as a rational function, x·P(x²)/Q(x²) on [−4, 4]
// (±1 beyond): the float32 approximation of Eigen, XLA and TVM, evaluated
// here in float64, where its largest absolute error against math.Erf is
// 6.5e-8 (TestErfRational), about one float32 ulp of 1 — evaluated in
// float32 the rounding of the two polynomials makes it ~4e-7, which
// the GELU of a negative x (1 + erf ≈ 0) would show. No exp, no table,
// no branch but the clamp: the AVX2 kernels run it four lanes at a time.
func erfRational(x float64) float64 {
	x = min(max(x, -4), 4)
	x2 := x * x
	p := x2*-2.72614225801306e-10 + 2.77068142495902e-08
	p = x2*p + -2.10102402082508e-06
	p = x2*p + -5.69250639462346e-05
	p = x2*p + -7.34990630326855e-04
	p = x2*p + -2.95459980854025e-03
	p = x2*p + -1.60960333262415e-02
	q := x2*-1.45660718464996e-05 + -2.13374055278905e-04
	q = x2*q + -1.68282697438203e-03
	q = x2*q + -7.37332916720468e-03
	q = x2*q + -1.42647390514189e-02
	return x * p / q
}

// exp32 is eˣ in float32 (Cephes expf): x = n·ln2 + r, |r| ≤ ln2/2, a
// degree-7 polynomial for eʳ and 2ⁿ from the exponent bits. Relative
// error about 1e-7 (TestExp32). Arguments are clamped to [−87, 88], so
// it returns ~1.6e-38 for smaller x (never a subnormal) and never +Inf.
func exp32(x float32) float32 {
	x = min(max(x, -87), 88)
	t := x * 1.44269504088896341 // log₂e
	var n int32
	if t >= 0 {
		n = int32(t + 0.5)
	} else {
		n = int32(t - 0.5)
	}
	fn := float32(n)
	r := x - fn*0.693359375 - fn*-2.12194440e-4 // ln2 in two parts
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	y := p*r*r + r + 1
	return y * math.Float32frombits(uint32(n+127)<<23)
}
