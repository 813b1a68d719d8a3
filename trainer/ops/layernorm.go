package ops

import "math"

const layerNormEps = 1e-5 // PyTorch nn.LayerNorm's default

// layerNormForward normalises each row of inp[N,C] to zero mean and unit
// variance (biased, as PyTorch), then scales by weight and shifts by bias.
// mean[N] and rstd[N] are saved for the backward.
func layerNormForward[T Float](out, mean, rstd, inp, weight, bias []T, N, C, workers int) {
	parallelFor(N, workers, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			mean[n], rstd[n] = layerNormRow(out[n*C:(n+1)*C], inp[n*C:(n+1)*C], weight, bias)
		}
	})
}

// residualLayerNormForward sets res = a + b and out = LayerNorm(res) a row
// at a time, so each row of res is normalised while it is still in cache.
// The arithmetic is residualForward's and layerNormForward's.
func residualLayerNormForward[T Float](res, out, mean, rstd, a, b, bBias, weight, bias []T, N, C, workers int) {
	parallelFor(N, workers, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			r := res[n*C : (n+1)*C]
			if len(bBias) > 0 {
				// as the unfused matmul then residual: (b + bBias) first
				for i, v := range b[n*C : (n+1)*C] {
					r[i] = a[n*C+i] + (v + bBias[i])
				}
			} else {
				residualForward(r, a[n*C:(n+1)*C], b[n*C:(n+1)*C])
			}
			mean[n], rstd[n] = layerNormRow(out[n*C:(n+1)*C], r, weight, bias)
		}
	})
}

// layerNormRow normalises one row x into y and returns its mean and 1/std.
func layerNormRow[T Float](y, x, weight, bias []T) (mean, rstd T) {
	C := len(x)
	var m float64
	for _, v := range x {
		m += float64(v)
	}
	m /= float64(C)
	var v2 float64
	for _, v := range x {
		d := float64(v) - m
		v2 += d * d
	}
	s := 1 / math.Sqrt(v2/float64(C)+layerNormEps)
	y = y[:C]
	for i, v := range x {
		y[i] = T((float64(v)-m)*s)*weight[i] + bias[i]
	}
	return T(m), T(s)
}

// layerNormBackward adds the gradients of layerNormForward:
//
//	dinp = rstd·(g − mean(g) − x̂·mean(g·x̂)),  g = dout·weight
//	dweight += Σ dout·x̂,  dbias += Σ dout
//
// Rows are split across workers; the weight and bias gradients are summed
// per worker and added at the end.
func layerNormBackward[T Float](dinp, dweight, dbias, dout, inp, weight, mean, rstd []T, N, C, workers int) {
	workers = max(1, min(workers, N))
	partW := make([]T, workers*C)
	partB := make([]T, workers*C)
	chunk := (N + workers - 1) / workers
	parallelFor(workers, workers, func(lo, hi int) {
		for w := lo; w < hi; w++ {
			pw, pb := partW[w*C:(w+1)*C], partB[w*C:(w+1)*C]
			for n := w * chunk; n < min(N, (w+1)*chunk); n++ {
				x, dy, dx := inp[n*C:(n+1)*C], dout[n*C:(n+1)*C], dinp[n*C:(n+1)*C]
				m, s := mean[n], rstd[n]
				var dnormMean, dnormNormMean T
				for i := range x {
					norm := (x[i] - m) * s
					g := weight[i] * dy[i]
					dnormMean += g
					dnormNormMean += g * norm
				}
				dnormMean /= T(C)
				dnormNormMean /= T(C)
				for i := range x {
					norm := (x[i] - m) * s
					g := weight[i] * dy[i]
					pb[i] += dy[i]
					pw[i] += norm * dy[i]
					dx[i] += (g - dnormMean - norm*dnormNormMean) * s
				}
			}
		}
	})
	for w := range workers {
		for i := range C {
			dweight[i] += partW[w*C+i]
			dbias[i] += partB[w*C+i]
		}
	}
}
