package ops

import "math"

const normalizeEps = 1e-12 // F.normalize's default

// normalizeForward: out[n] = inp[n] / max(‖inp[n]‖₂, eps), saving the
// clamped norm in norm[n].
func normalizeForward[T Float](out, norm, inp []T, N, D int) {
	for n := range N {
		x := inp[n*D : (n+1)*D]
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		nrm := max(math.Sqrt(ss), normalizeEps)
		for i, v := range x {
			out[n*D+i] = T(float64(v) / nrm)
		}
		norm[n] = T(nrm)
	}
}

// normalizeBackward adds dinp += (dout − out·(dout·out)) / norm, or
// dout/eps where the norm was clamped.
func normalizeBackward[T Float](dinp, dout, out, norm []T, N, D int) {
	for n := range N {
		dy, y, dx := dout[n*D:(n+1)*D], out[n*D:(n+1)*D], dinp[n*D:(n+1)*D]
		if float64(norm[n]) <= normalizeEps {
			for i := range dx {
				dx[i] += dy[i] / T(normalizeEps)
			}
			continue
		}
		var dot T
		for i := range dy {
			dot += dy[i] * y[i]
		}
		for i := range dx {
			dx[i] += (dy[i] - y[i]*dot) / norm[n]
		}
	}
}
