package ops

import "math"

// contrastiveForward is CLIP's symmetric InfoNCE (open_clip ClipLoss on one
// device): with s = exp(logitScale[0]),
//
//	logits[i,j] = s·img[i]·txt[j]
//	loss = ½(−1/B Σᵢ log softmax_j(logits[i,:])[i] − 1/B Σⱼ log softmax_i(logits[:,j])[j])
//
// It saves logits, the row softmax (image→text) and the column softmax
// (text→image) for the backward, and returns the loss.
func contrastiveForward[T Float](logits, probsRow, probsCol, img, txt, logitScale []T, B, D, workers int) float64 {
	s := math.Exp(float64(logitScale[0]))
	gemm(false, true, B, B, D, img, D, txt, D, logits, B, false, workers)
	for i := range logits {
		logits[i] *= T(s)
	}
	var loss float64
	for i := range B { // image i against every text: rows
		loss -= logSoftmax(probsRow, logits, i*B, 1, B, i)
	}
	for j := range B { // text j against every image: columns
		loss -= logSoftmax(probsCol, logits, j, B, B, j)
	}
	return loss / float64(2*B)
}

// logSoftmax writes the softmax of the n logits at x[start+k·stride] to the
// same positions of p and returns the log-probability of element target.
func logSoftmax[T Float](p, x []T, start, stride, n, target int) float64 {
	maxv := math.Inf(-1)
	for k := range n {
		maxv = max(maxv, float64(x[start+k*stride]))
	}
	var sum float64
	for k := range n {
		sum += math.Exp(float64(x[start+k*stride]) - maxv)
	}
	for k := range n {
		p[start+k*stride] = T(math.Exp(float64(x[start+k*stride])-maxv) / sum)
	}
	return float64(x[start+target*stride]) - maxv - math.Log(sum)
}

// contrastiveBackward adds the loss gradient, times dloss, into dimg, dtxt
// and dlogitScale. With g[i,j] = dloss/(2B)·(probsRow[i,j] + probsCol[i,j]
// − 2·[i=j]) the gradient with respect to the logits,
//
//	dimg += s·g·txt,  dtxt += s·gᵀ·img,  dlogitScale += Σ g∘logits
//
// (the last because ∂logits/∂logitScale = logits). logits is overwritten
// with s·g as scratch.
func contrastiveBackward[T Float](dimg, dtxt, dlogitScale, img, txt, logitScale, logits, probsRow, probsCol []T, dloss float64, B, D, workers int) {
	s := math.Exp(float64(logitScale[0]))
	c := dloss / float64(2*B)
	var dls float64
	for i := range B {
		for j := range B {
			g := float64(probsRow[i*B+j]) + float64(probsCol[i*B+j])
			if i == j {
				g -= 2
			}
			g *= c
			dls += g * float64(logits[i*B+j])
			logits[i*B+j] = T(g * s)
		}
	}
	dlogitScale[0] += T(dls)
	gemm(false, false, B, D, B, logits, B, txt, D, dimg, D, true, workers)
	gemm(true, false, B, D, B, logits, B, img, D, dtxt, D, true, workers)
}
