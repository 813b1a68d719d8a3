package ops

// projectForward: out[N,OC] = inp[N,C]·weight, weight [C,OC] stored
// input-major, as open_clip's visual.proj and text_projection parameters
// (used as x @ proj, not as nn.Linear).
func projectForward[T Float](out, inp, weight []T, N, C, OC, workers int) {
	gemm(false, false, N, OC, C, inp, C, weight, OC, out, OC, false, workers)
}

// projectBackward adds dinp[N,C] += dout·weightᵀ and dweight[C,OC] +=
// inpᵀ·dout. A zero-length dinp is skipped.
func projectBackward[T Float](dinp, dweight, dout, inp, weight []T, N, C, OC, workers int) {
	if len(dinp) > 0 {
		gemm(false, true, N, C, OC, dout, OC, weight, OC, dinp, C, true, workers)
	}
	gemm(true, false, C, OC, N, inp, C, dout, OC, dweight, OC, true, workers)
}
