package ops

import (
	"errors"
	"fmt"
)

// Buffer is a run of float32s owned by a Backend: host memory for the CPU,
// device memory for a GPU.
type Buffer interface {
	Len() int
}

// Tensor is a view of Len float32s starting at Off in Buf. Shapes are passed
// to each op explicitly, as in llm.c.
type Tensor struct {
	Buf Buffer
	Off int
	Len int
}

// View returns the n float32s starting at off within t.
func (t Tensor) View(off, n int) Tensor {
	return Tensor{Buf: t.Buf, Off: t.Off + off, Len: n}
}

// Activation selects the MLP non-linearity.
type Activation int

const (
	// GELU is the exact erf form, PyTorch's nn.GELU() (open_clip's default).
	GELU Activation = iota
	// QuickGELU is x·σ(1.702x), OpenAI CLIP's (open_clip's "-quickgelu" models).
	QuickGELU
)

// ErrShape is wrapped by the error an op records when its tensors do not
// have the sizes its shape arguments imply.
var ErrShape = errors.New("ops: shape mismatch")

// ErrBuffer is wrapped when a tensor is not in memory of the backend, or
// lies outside its buffer.
var ErrBuffer = errors.New("ops: bad buffer")

// Backend is the op interface. Shapes: B batch, T tokens, C channels, OC
// output channels, NH heads, N rows, D feature width, V vocabulary. Backward
// ops add into their gradient outputs. Ops do not return errors; the first
// error is kept and returned by Err.
type Backend interface {
	// Name says which implementation this is ("cpu", "cuda").
	Name() string
	// Alloc returns a zeroed buffer of n float32s.
	Alloc(n int) (Buffer, error)
	// Upload copies src into t; Download copies t into dst.
	Upload(t Tensor, src []float32)
	Download(dst []float32, t Tensor)
	// Zero sets t to 0.
	Zero(t Tensor)
	// Err returns the first error any op recorded, or nil.
	Err() error

	// MatmulForward: out[N,OC] = inp[N,C] · weightᵀ (weight [OC,C], PyTorch
	// Linear layout) + bias[OC]; a zero-length bias means none.
	MatmulForward(out, inp, weight, bias Tensor, N, C, OC int)
	MatmulBackward(dinp, dweight, dbias, dout, inp, weight Tensor, N, C, OC int)

	// ProjectForward: out[N,OC] = inp[N,C] · weight (weight [C,OC], the
	// layout of open_clip's visual.proj and text_projection, used as x @ P).
	ProjectForward(out, inp, weight Tensor, N, C, OC int)
	// ProjectBackward adds dinp += dout·weightᵀ (skipped when dinp is empty)
	// and dweight += inpᵀ·dout.
	ProjectBackward(dinp, dweight, dout, inp, weight Tensor, N, C, OC int)

	// LayerNormForward normalises each of N rows of C over C (eps 1e-5), saving
	// the row mean and 1/std for the backward.
	LayerNormForward(out, mean, rstd, inp, weight, bias Tensor, N, C int)
	LayerNormBackward(dinp, dweight, dbias, dout, inp, weight, mean, rstd Tensor, N, C int)

	// MatmulActivationForward is MatmulForward into pre followed by
	// ActivationForward(out, pre, act), fused where the backend can: pre
	// keeps the pre-activation values ActivationBackward needs. Its results
	// equal the two ops' (bit for bit on the CPU).
	MatmulActivationForward(pre, out, inp, weight, bias Tensor, N, C, OC int, act Activation)

	// ActivationForward applies act elementwise.
	ActivationForward(out, inp Tensor, act Activation)
	ActivationBackward(dinp, inp, dout Tensor, act Activation)

	// AttentionForward: qkv[B,T,3C] (q, k, v each [B,T,C], heads of C/NH
	// channels) to out[B,T,C], saving the scores and softmax in
	// preatt/att[B,NH,T,T]. causal masks key positions after the query's.
	// qkvBias [3C], unless empty, is added to each row of qkv first: the
	// in-projection's bias, which then needs no pass of its own (qkv stays
	// as the GEMM left it, and the backward adds the bias again).
	AttentionForward(out, preatt, att, qkv, qkvBias Tensor, B, T, C, NH int, causal bool)
	AttentionBackward(dqkv, dpreatt, datt, dout, qkv, qkvBias, att Tensor, B, T, C, NH int, causal bool)

	// ResidualForward: out = a + b.
	ResidualForward(out, a, b Tensor)
	ResidualBackward(da, db, dout Tensor)
	// ResidualLayerNormForward is ResidualForward(res, a, b) followed by
	// LayerNormForward(out, mean, rstd, res, weight, bias, N, C), in one
	// pass over each row where the backend can (a pre-LN block's residual
	// add and the next LayerNorm). bBias [C], unless empty, is added to
	// each row of b first: the bias of the matmul that produced b, which
	// then needs no pass of its own (res = a + (b + bBias)). Results equal
	// the ops' composition (bit for bit on the CPU).
	ResidualLayerNormForward(res, out, mean, rstd, a, b, bBias, weight, bias Tensor, N, C int)

	// EmbeddingForward: out[N,C] = table[ids[n]] (table [V,C]).
	EmbeddingForward(out, table Tensor, ids []int32, N, C, V int)
	EmbeddingBackward(dtable, dout Tensor, ids []int32, N, C, V int)

	// NormalizeForward divides each of N rows of D by its L2 norm
	// (F.normalize, eps 1e-12), saving the norms.
	NormalizeForward(out, norm, inp Tensor, N, D int)
	NormalizeBackward(dinp, dout, out, norm Tensor, N, D int)

	// ContrastiveForward is CLIP's symmetric InfoNCE over B image and text
	// features (rows of D, normalised): logits = exp(logitScale)·img·txtᵀ,
	// loss = (CE(logits, diag) + CE(logitsᵀ, diag)) / 2, averaged over B.
	// It saves logits and both softmaxes (probsRow, probsCol, each [B,B]) and
	// writes the scalar loss to loss[0].
	ContrastiveForward(loss, logits, probsRow, probsCol, img, txt, logitScale Tensor, B, D int)
	// ContrastiveBackward takes dloss (the loss's upstream gradient, 1 for
	// the training loss) and adds into dimg, dtxt and dlogitScale. It uses
	// logits as scratch: their values are gone afterwards.
	ContrastiveBackward(dimg, dtxt, dlogitScale, img, txt, logitScale, logits, probsRow, probsCol Tensor, dloss float32, B, D int)
}

func shapeErr(op, name string, got, want int) error {
	return fmt.Errorf("%w: %s: %s has %d values, want %d", ErrShape, op, name, got, want)
}
