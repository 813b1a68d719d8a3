package ops

import (
	"fmt"
	"sync"
)

// HostBuffer is the CPU backend's Buffer: a []float32 in host memory.
type HostBuffer struct {
	Data []float32
}

// Len returns the number of float32s in the buffer.
func (h *HostBuffer) Len() int { return len(h.Data) }

// CPU is the reference Backend: pure Go, float32, parallel over Workers
// goroutines (GOMAXPROCS by default). It is safe to use from one goroutine
// at a time, like a CUDA stream.
type CPU struct {
	Workers int
	// BF16GEMM rounds every GEMM operand to bf16 (products and sums stay
	// float32), where the CUDA backend's BF16 precision does: the
	// matmuls, the projections and the attention's products (q, k, v, the
	// softmax for att·v, the output gradient, and the scores' gradient
	// for dq and dk). The contrastive loss stays float32, as there. It is
	// the reference that precision is checked against; training uses
	// float32.
	BF16GEMM bool

	mu  sync.Mutex
	err error
}

// NewCPU returns a CPU backend using all cores.
func NewCPU() *CPU { return &CPU{Workers: defaultWorkers()} }

var _ Backend = (*CPU)(nil)

// Name returns "cpu".
func (c *CPU) Name() string { return "cpu" }

// Alloc returns a zeroed host buffer of n float32s.
func (c *CPU) Alloc(n int) (Buffer, error) {
	if n < 0 {
		return nil, fmt.Errorf("%w: alloc of %d values", ErrBuffer, n)
	}
	return &HostBuffer{Data: make([]float32, n)}, nil
}

// Err returns the first error an op recorded.
func (c *CPU) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *CPU) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
}

// args collects an op's tensors as slices, checking each one's buffer and
// length; the first problem is recorded and ok() turns false.
type args struct {
	c   *CPU
	op  string
	bad bool
}

func (c *CPU) args(op string) *args { return &args{c: c, op: op} }

// get returns t's values, which must number want (want < 0: any; an empty
// tensor with Buf nil is allowed where optional).
func (a *args) get(name string, t Tensor, want int, optional bool) []float32 {
	if a.bad {
		return nil
	}
	if optional && t.Buf == nil && t.Len == 0 {
		return nil
	}
	h, ok := t.Buf.(*HostBuffer)
	if !ok {
		a.bad = true
		a.c.fail(fmt.Errorf("%w: %s: %s is not a CPU buffer (%T)", ErrBuffer, a.op, name, t.Buf))
		return nil
	}
	if t.Off < 0 || t.Len < 0 || t.Off+t.Len > len(h.Data) {
		a.bad = true
		a.c.fail(fmt.Errorf("%w: %s: %s [%d:+%d] outside a buffer of %d", ErrBuffer, a.op, name, t.Off, t.Len, len(h.Data)))
		return nil
	}
	if want >= 0 && t.Len != want {
		a.bad = true
		a.c.fail(shapeErr(a.op, name, t.Len, want))
		return nil
	}
	return h.Data[t.Off : t.Off+t.Len]
}

func (a *args) need(name string, t Tensor, want int) []float32 { return a.get(name, t, want, false) }
func (a *args) opt(name string, t Tensor, want int) []float32  { return a.get(name, t, want, true) }

func (a *args) check(ok bool, format string, v ...any) {
	if !a.bad && !ok {
		a.bad = true
		a.c.fail(fmt.Errorf("%w: %s: %s", ErrShape, a.op, fmt.Sprintf(format, v...)))
	}
}

func (a *args) ok() bool { return !a.bad }

// Upload copies src into t.
func (c *CPU) Upload(t Tensor, src []float32) {
	a := c.args("Upload")
	if d := a.need("t", t, len(src)); a.ok() {
		copy(d, src)
	}
}

// Download copies t into dst.
func (c *CPU) Download(dst []float32, t Tensor) {
	a := c.args("Download")
	if s := a.need("t", t, len(dst)); a.ok() {
		copy(dst, s)
	}
}

// Zero sets t to 0.
func (c *CPU) Zero(t Tensor) {
	a := c.args("Zero")
	if d := a.need("t", t, -1); a.ok() {
		parallelFor(len(d), elemWorkers(len(d), c.Workers), func(lo, hi int) { clear(d[lo:hi]) })
	}
}

// MatmulForward implements Backend.
func (c *CPU) MatmulForward(out, inp, weight, bias Tensor, N, C, OC int) {
	a := c.args("MatmulForward")
	o, x, w, b := a.need("out", out, N*OC), a.need("inp", inp, N*C), a.need("weight", weight, OC*C), a.opt("bias", bias, OC)
	if a.ok() {
		matmulForward(o, c.gemmOperand(x), c.gemmOperand(w), b, N, C, OC, c.Workers)
	}
}

// gemmOperand returns x, or with BF16GEMM a copy rounded to bf16.
func (c *CPU) gemmOperand(x []float32) []float32 {
	if !c.BF16GEMM {
		return x
	}
	return roundedBF16(x)
}

// MatmulBackward implements Backend.
func (c *CPU) MatmulBackward(dinp, dweight, dbias, dout, inp, weight Tensor, N, C, OC int) {
	a := c.args("MatmulBackward")
	dx, dw, db := a.opt("dinp", dinp, N*C), a.need("dweight", dweight, OC*C), a.opt("dbias", dbias, OC)
	dy, x, w := a.need("dout", dout, N*OC), a.need("inp", inp, N*C), a.need("weight", weight, OC*C)
	if a.ok() {
		if !c.BF16GEMM {
			matmulBackward(dx, dw, db, dy, x, w, N, C, OC, c.Workers)
			return
		}
		matmulBackward(dx, dw, nil, roundedBF16(dy), roundedBF16(x), roundedBF16(w), N, C, OC, c.Workers)
		biasBackward(db, dy, N, OC, c.Workers) // from the float32 gradient
	}
}

// ProjectForward implements Backend.
func (c *CPU) ProjectForward(out, inp, weight Tensor, N, C, OC int) {
	a := c.args("ProjectForward")
	o, x, w := a.need("out", out, N*OC), a.need("inp", inp, N*C), a.need("weight", weight, C*OC)
	if a.ok() {
		projectForward(o, c.gemmOperand(x), c.gemmOperand(w), N, C, OC, c.Workers)
	}
}

// ProjectBackward implements Backend.
func (c *CPU) ProjectBackward(dinp, dweight, dout, inp, weight Tensor, N, C, OC int) {
	a := c.args("ProjectBackward")
	dx, dw := a.opt("dinp", dinp, N*C), a.need("dweight", dweight, C*OC)
	dy, x, w := a.need("dout", dout, N*OC), a.need("inp", inp, N*C), a.need("weight", weight, C*OC)
	if a.ok() {
		projectBackward(dx, dw, c.gemmOperand(dy), c.gemmOperand(x), c.gemmOperand(w), N, C, OC, c.Workers)
	}
}

// LayerNormForward implements Backend.
func (c *CPU) LayerNormForward(out, mean, rstd, inp, weight, bias Tensor, N, C int) {
	a := c.args("LayerNormForward")
	o, m, r, x := a.need("out", out, N*C), a.need("mean", mean, N), a.need("rstd", rstd, N), a.need("inp", inp, N*C)
	w, b := a.need("weight", weight, C), a.need("bias", bias, C)
	if a.ok() {
		layerNormForward(o, m, r, x, w, b, N, C, c.Workers)
	}
}

// LayerNormBackward implements Backend.
func (c *CPU) LayerNormBackward(dinp, dweight, dbias, dout, inp, weight, mean, rstd Tensor, N, C int) {
	a := c.args("LayerNormBackward")
	dx, dw, db, dy := a.need("dinp", dinp, N*C), a.need("dweight", dweight, C), a.need("dbias", dbias, C), a.need("dout", dout, N*C)
	x, w, m, r := a.need("inp", inp, N*C), a.need("weight", weight, C), a.need("mean", mean, N), a.need("rstd", rstd, N)
	if a.ok() {
		layerNormBackward(dx, dw, db, dy, x, w, m, r, N, C, c.Workers)
	}
}

// MatmulActivationForward implements Backend: the matmul, then the
// activation (the CPU gains nothing from fusing them).
func (c *CPU) MatmulActivationForward(pre, out, inp, weight, bias Tensor, N, C, OC int, act Activation) {
	a := c.args("MatmulActivationForward")
	p, o := a.need("pre", pre, N*OC), a.need("out", out, N*OC)
	x, w, b := a.need("inp", inp, N*C), a.need("weight", weight, OC*C), a.opt("bias", bias, OC)
	if a.ok() {
		matmulForward(p, c.gemmOperand(x), c.gemmOperand(w), b, N, C, OC, c.Workers)
		activationForward(o, p, act, c.Workers)
	}
}

// ActivationForward implements Backend.
func (c *CPU) ActivationForward(out, inp Tensor, act Activation) {
	a := c.args("ActivationForward")
	x := a.need("inp", inp, -1)
	o := a.need("out", out, inp.Len)
	if a.ok() {
		activationForward(o, x, act, c.Workers)
	}
}

// ActivationBackward implements Backend.
func (c *CPU) ActivationBackward(dinp, inp, dout Tensor, act Activation) {
	a := c.args("ActivationBackward")
	x := a.need("inp", inp, -1)
	dx, dy := a.need("dinp", dinp, inp.Len), a.need("dout", dout, inp.Len)
	if a.ok() {
		activationBackward(dx, x, dy, act, c.Workers)
	}
}

func (c *CPU) attentionArgs(a *args, B, T, C, NH int) {
	a.check(NH > 0 && C%NH == 0, "C=%d not a multiple of NH=%d", C, NH)
}

// AttentionForward implements Backend.
func (c *CPU) AttentionForward(out, preatt, att, qkv, qkvBias Tensor, B, T, C, NH int, causal bool) {
	a := c.args("AttentionForward")
	c.attentionArgs(a, B, T, C, NH)
	o, p, at, q := a.need("out", out, B*T*C), a.need("preatt", preatt, B*NH*T*T), a.need("att", att, B*NH*T*T), a.need("qkv", qkv, B*T*3*C)
	qb := a.opt("qkvBias", qkvBias, 3*C)
	if a.ok() {
		attentionForward(o, p, at, c.gemmOperand(withRowBias(q, qb)), B, T, C, NH, causal, c.BF16GEMM, c.Workers)
	}
}

// withRowBias returns x [N, len(bias)], or a copy with bias added to each
// row (float32 adds, as MatmulForward's bias pass) when bias is not empty.
func withRowBias(x, bias []float32) []float32 {
	if len(bias) == 0 {
		return x
	}
	r := make([]float32, len(x))
	for i, v := range x {
		r[i] = v + bias[i%len(bias)]
	}
	return r
}

// AttentionBackward implements Backend.
func (c *CPU) AttentionBackward(dqkv, dpreatt, datt, dout, qkv, qkvBias, att Tensor, B, T, C, NH int, causal bool) {
	a := c.args("AttentionBackward")
	c.attentionArgs(a, B, T, C, NH)
	dq, dp, da := a.need("dqkv", dqkv, B*T*3*C), a.need("dpreatt", dpreatt, B*NH*T*T), a.need("datt", datt, B*NH*T*T)
	dy, q, at := a.need("dout", dout, B*T*C), a.need("qkv", qkv, B*T*3*C), a.need("att", att, B*NH*T*T)
	qb := a.opt("qkvBias", qkvBias, 3*C)
	if a.ok() {
		attentionBackward(dq, dp, da, c.gemmOperand(dy), c.gemmOperand(withRowBias(q, qb)), at, B, T, C, NH, causal, c.BF16GEMM, c.Workers)
	}
}

// ResidualForward implements Backend.
func (c *CPU) ResidualForward(out, x, y Tensor) {
	a := c.args("ResidualForward")
	o := a.need("out", out, -1)
	p, q := a.need("a", x, out.Len), a.need("b", y, out.Len)
	if a.ok() {
		parallelFor(len(o), elemWorkers(len(o), c.Workers), func(lo, hi int) {
			residualForward(o[lo:hi], p[lo:hi], q[lo:hi])
		})
	}
}

// ResidualLayerNormForward implements Backend.
func (c *CPU) ResidualLayerNormForward(res, out, mean, rstd, x, y, yBias, weight, bias Tensor, N, C int) {
	a := c.args("ResidualLayerNormForward")
	r, o, m, s := a.need("res", res, N*C), a.need("out", out, N*C), a.need("mean", mean, N), a.need("rstd", rstd, N)
	p, q, qb := a.need("a", x, N*C), a.need("b", y, N*C), a.opt("bBias", yBias, C)
	w, b := a.need("weight", weight, C), a.need("bias", bias, C)
	if a.ok() {
		residualLayerNormForward(r, o, m, s, p, q, qb, w, b, N, C, c.Workers)
	}
}

// ResidualBackward implements Backend.
func (c *CPU) ResidualBackward(da, db, dout Tensor) {
	a := c.args("ResidualBackward")
	dy := a.need("dout", dout, -1)
	p, q := a.need("da", da, dout.Len), a.need("db", db, dout.Len)
	if a.ok() {
		parallelFor(len(dy), elemWorkers(len(dy), c.Workers), func(lo, hi int) {
			residualBackward(p[lo:hi], q[lo:hi], dy[lo:hi])
		})
	}
}

func (c *CPU) embeddingIDs(a *args, ids []int32, N, V int) {
	a.check(len(ids) == N, "%d ids for %d rows", len(ids), N)
	for _, id := range ids {
		if a.bad {
			return
		}
		a.check(id >= 0 && int(id) < V, "id %d outside the vocabulary [0,%d)", id, V)
	}
}

// EmbeddingForward implements Backend.
func (c *CPU) EmbeddingForward(out, table Tensor, ids []int32, N, C, V int) {
	a := c.args("EmbeddingForward")
	c.embeddingIDs(a, ids, N, V)
	o, tb := a.need("out", out, N*C), a.need("table", table, V*C)
	if a.ok() {
		parallelFor(N, elemWorkers(N*C, c.Workers), func(lo, hi int) {
			embeddingForward(o[lo*C:hi*C], tb, ids[lo:hi], C)
		})
	}
}

// EmbeddingBackward implements Backend.
func (c *CPU) EmbeddingBackward(dtable, dout Tensor, ids []int32, N, C, V int) {
	a := c.args("EmbeddingBackward")
	c.embeddingIDs(a, ids, N, V)
	dt, dy := a.need("dtable", dtable, V*C), a.need("dout", dout, N*C)
	if a.ok() {
		// split over columns: rows may repeat an id, columns never collide
		parallelFor(C, elemWorkers(N*C, c.Workers), func(lo, hi int) {
			for n, id := range ids {
				row := dt[int(id)*C+lo : int(id)*C+hi]
				for i, d := range dy[n*C+lo : n*C+hi] {
					row[i] += d
				}
			}
		})
	}
}

// NormalizeForward implements Backend.
func (c *CPU) NormalizeForward(out, norm, inp Tensor, N, D int) {
	a := c.args("NormalizeForward")
	o, n, x := a.need("out", out, N*D), a.need("norm", norm, N), a.need("inp", inp, N*D)
	if a.ok() {
		normalizeForward(o, n, x, N, D)
	}
}

// NormalizeBackward implements Backend.
func (c *CPU) NormalizeBackward(dinp, dout, out, norm Tensor, N, D int) {
	a := c.args("NormalizeBackward")
	dx, dy, o, n := a.need("dinp", dinp, N*D), a.need("dout", dout, N*D), a.need("out", out, N*D), a.need("norm", norm, N)
	if a.ok() {
		normalizeBackward(dx, dy, o, n, N, D)
	}
}

// ContrastiveForward implements Backend.
func (c *CPU) ContrastiveForward(loss, logits, probsRow, probsCol, img, txt, logitScale Tensor, B, D int) {
	a := c.args("ContrastiveForward")
	l, lg, pr, pc := a.need("loss", loss, 1), a.need("logits", logits, B*B), a.need("probsRow", probsRow, B*B), a.need("probsCol", probsCol, B*B)
	x, y, s := a.need("img", img, B*D), a.need("txt", txt, B*D), a.need("logitScale", logitScale, 1)
	if a.ok() {
		l[0] = float32(contrastiveForward(lg, pr, pc, x, y, s, B, D, c.Workers))
	}
}

// ContrastiveBackward implements Backend.
func (c *CPU) ContrastiveBackward(dimg, dtxt, dlogitScale, img, txt, logitScale, logits, probsRow, probsCol Tensor, dloss float32, B, D int) {
	a := c.args("ContrastiveBackward")
	dx, dy, ds := a.need("dimg", dimg, B*D), a.need("dtxt", dtxt, B*D), a.need("dlogitScale", dlogitScale, 1)
	x, y, s := a.need("img", img, B*D), a.need("txt", txt, B*D), a.need("logitScale", logitScale, 1)
	lg, pr, pc := a.need("logits", logits, B*B), a.need("probsRow", probsRow, B*B), a.need("probsCol", probsCol, B*B)
	if a.ok() {
		contrastiveBackward(dx, dy, ds, x, y, s, lg, pr, pc, float64(dloss), B, D, c.Workers)
	}
}
