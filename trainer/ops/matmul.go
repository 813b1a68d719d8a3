package ops

// matmulForward: out[N,OC] = inp[N,C]·weightᵀ + bias, weight [OC,C].
func matmulForward[T Float](out, inp, weight, bias []T, N, C, OC, workers int) {
	gemm(false, true, N, OC, C, inp, C, weight, C, out, OC, false, workers)
	if len(bias) == 0 {
		return
	}
	parallelFor(N, elemWorkers(N*OC, workers), func(lo, hi int) {
		for n := lo; n < hi; n++ {
			row := out[n*OC : (n+1)*OC]
			for o := range row {
				row[o] += bias[o]
			}
		}
	})
}

// matmulBackward adds dinp[N,C] += dout·weight, dweight[OC,C] += doutᵀ·inp
// and dbias[OC] += Σₙ dout[n]. A zero-length dinp or dbias is skipped.
func matmulBackward[T Float](dinp, dweight, dbias, dout, inp, weight []T, N, C, OC, workers int) {
	if len(dinp) > 0 {
		gemm(false, false, N, C, OC, dout, OC, weight, C, dinp, C, true, workers)
	}
	gemm(true, false, OC, C, N, dout, OC, inp, C, dweight, C, true, workers)
	biasBackward(dbias, dout, N, OC, workers)
}

// biasBackward adds the column sums of dout [N,OC] into dbias (nothing
// when dbias is empty).
func biasBackward[T Float](dbias, dout []T, N, OC, workers int) {
	if len(dbias) == 0 {
		return
	}
	// columns split over workers, each summing all rows of its columns
	parallelFor(OC, elemWorkers(N*OC, workers), func(lo, hi int) {
		db := dbias[lo:hi]
		for n := range N {
			for o, d := range dout[n*OC+lo : n*OC+hi] {
				db[o] += d
			}
		}
	})
}
