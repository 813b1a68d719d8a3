package ops

// AdamWArgs holds one optimizer step's hyper-parameters (PyTorch's AdamW)
// for a backend that runs the step itself.
type AdamWArgs struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
	Step                               int     // 1 for the first step
	GradScale                          float32 // multiplies the gradients first (accumulation, clipping); 0 means 1
	// NoDecay lists the [lo, hi) element ranges of params (sorted,
	// disjoint, within it) where WeightDecay is not applied: biases,
	// LayerNorm parameters, embeddings, the logit scale. One step then
	// covers the whole parameter buffer in one pass.
	NoDecay [][2]int
}

// Decays reports whether the element at offset i gets weight decay.
func (h *AdamWArgs) Decays(i int) bool {
	lo, hi := 0, len(h.NoDecay)
	for lo < hi { // the first range ending after i
		mid := (lo + hi) / 2
		if h.NoDecay[mid][1] <= i {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return !(lo < len(h.NoDecay) && h.NoDecay[lo][0] <= i)
}

// Optimizer is what a backend offers when it can update parameters where
// they live, so that a step does not move the parameters and gradients to
// the host and back. The trainer uses it when the backend has it (the
// CUDA backend); the CPU backend does not need it, as its buffers are host
// memory already and the trainer's own AdamW (checked against PyTorch) is
// the reference the device step is checked against.
type Optimizer interface {
	// AdamWStep updates params from grads with the moments m and v, all
	// of the same length, in one pass: decoupled weight decay, the moment
	// updates and the bias-corrected step, on GradScale·grads.
	AdamWStep(params, grads, m, v Tensor, h AdamWArgs)
	// SumSquares returns Σ t² (the squared gradient norm). It waits for
	// the backend.
	SumSquares(t Tensor) float32
}

// BF16Copier is a backend that can keep a bf16 copy of a buffer (the
// parameters), which its bf16 GEMMs read instead of casting the fp32
// values at every product, and which its AdamWStep keeps current.
type BF16Copier interface {
	// BF16 reports whether the GEMMs run on bf16 operands: only then does
	// a copy pay.
	BF16() bool
	EnableBF16Copy(buf Buffer) error
	SyncBF16(buf Buffer) error
}
