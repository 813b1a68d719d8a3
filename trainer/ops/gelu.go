package ops

import "math"

// activationForward applies GELU (exact, erf) or QuickGELU elementwise.
func activationForward[T Float](out, inp []T, act Activation, workers int) {
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
	const invSqrt2Pi = 0.3989422804014327 // 1/√(2π)
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
