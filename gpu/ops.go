package gpu

import (
	"math"
	"slices"

	"github.com/clipstream/clipstream/trainer/ops"
)

// The ops of ops.Backend. Each checks its tensors on the host (args), then
// enqueues GEMMs (cuBLAS) and kernels (kernels/*.cu) on the compute stream
// from the device's owner goroutine. Semantics, accumulation (+=) and
// scratch use follow the CPU reference in trainer/ops.

// gemm runs g on the compute stream. In BF16 mode the two operands are
// read as bf16: from a buffer's bf16 copy when it has a current one, else
// cast into scratch first. aT and bT are the tensors g.A and g.B point
// into (for finding a bf16 copy); either may be zero.
func (b *Backend) gemm(g rowMajorGemm, aT, bT ops.Tensor) error {
	return b.gemmIn(b.opts.Precision, g, aT, bT)
}

func (b *Backend) gemmIn(p Precision, g rowMajorGemm, aT, bT ops.Tensor) error {
	if g.M == 0 || g.N == 0 {
		return nil
	}
	c := g.toCublas()
	if p == BF16 {
		spanA, spanB := g.sizes()
		a16, err := b.bf16Operand("gemm_a16", g.A, spanA, aT)
		if err != nil {
			return err
		}
		b16, err := b.bf16Operand("gemm_b16", g.B, spanB, bT)
		if err != nil {
			return err
		}
		// toCublas swapped the operands: cuBLAS's a is our B.
		c.a, c.b = b16, a16
		c.abType, c.compute = cudaR16BF, cublasCompute32F
	}
	return b.blas.gemm(b.handle, c)
}

// bf16Operand returns a bf16 view of the n floats at p: the buffer's bf16
// copy if t has a current one, else a cast into scratch name.
func (b *Backend) bf16Operand(name string, p devicePtr, n int64, t ops.Tensor) (devicePtr, error) {
	if d, ok := t.Buf.(*deviceBuffer); ok && d.bf16 != 0 && !d.stale && p >= d.ptr && p < d.ptr+devicePtr(4*d.n) {
		return d.bf16 + (p-d.ptr)/2, nil
	}
	if p16, ok := b.shadows.lookup(p, n); ok {
		return p16, nil
	}
	if d, ok := t.Buf.(*deviceBuffer); ok && d.owner == b && n > 0 && p >= d.ptr && p+devicePtr(4*n) <= d.ptr+devicePtr(4*d.n) {
		if p16, ok, err := b.castShadow(p, n); err != nil || ok {
			return p16, err
		}
	}
	s, err := b.scratchPtr(name, 2*n)
	if err != nil {
		return 0, err
	}
	return s, b.launch("f32_to_bf16_kernel", elementwise(n), s, p, n)
}

// MatmulForward implements ops.Backend.
func (b *Backend) MatmulForward(out, inp, weight, bias ops.Tensor, N, C, OC int) {
	a := b.args("MatmulForward")
	o, x, w, bs := a.out("out", out, N*OC), a.in("inp", inp, N*C), a.in("weight", weight, OC*C), a.optIn("bias", bias, OC)
	b.run(a, func() error {
		g := rowMajorGemm{TransB: true, M: N, N: OC, K: C, A: x, LDA: C, B: w, LDB: C, C: o, LDC: OC, Alpha: 1}
		if err := b.gemm(g, inp, weight); err != nil {
			return err
		}
		if bs == 0 || N*OC == 0 {
			return nil
		}
		n := int64(N) * int64(OC)
		return b.launch("add_bias", elementwise(n), o, bs, n, OC)
	})
}

// MatmulBackward implements ops.Backend.
func (b *Backend) MatmulBackward(dinp, dweight, dbias, dout, inp, weight ops.Tensor, N, C, OC int) {
	a := b.args("MatmulBackward")
	dx, dw, db := a.optOut("dinp", dinp, N*C), a.out("dweight", dweight, OC*C), a.optOut("dbias", dbias, OC)
	dy, x, w := a.in("dout", dout, N*OC), a.in("inp", inp, N*C), a.in("weight", weight, OC*C)
	b.run(a, func() error {
		if dx != 0 {
			g := rowMajorGemm{M: N, N: C, K: OC, A: dy, LDA: OC, B: w, LDB: C, C: dx, LDC: C, Alpha: 1, Beta: 1}
			if err := b.gemm(g, dout, weight); err != nil {
				return err
			}
		}
		g := rowMajorGemm{TransA: true, M: OC, N: C, K: N, A: dy, LDA: OC, B: x, LDB: C, C: dw, LDC: C, Alpha: 1, Beta: 1}
		if err := b.gemm(g, dout, inp); err != nil {
			return err
		}
		if db == 0 || N*OC == 0 {
			return nil
		}
		return b.launch("bias_backward", biasBackwardDims(N, OC, b.dev.SMs), db, dy, N, OC)
	})
}

// ProjectForward implements ops.Backend.
func (b *Backend) ProjectForward(out, inp, weight ops.Tensor, N, C, OC int) {
	a := b.args("ProjectForward")
	o, x, w := a.out("out", out, N*OC), a.in("inp", inp, N*C), a.in("weight", weight, C*OC)
	b.run(a, func() error {
		return b.gemm(rowMajorGemm{M: N, N: OC, K: C, A: x, LDA: C, B: w, LDB: OC, C: o, LDC: OC, Alpha: 1}, inp, weight)
	})
}

// ProjectBackward implements ops.Backend.
func (b *Backend) ProjectBackward(dinp, dweight, dout, inp, weight ops.Tensor, N, C, OC int) {
	a := b.args("ProjectBackward")
	dx, dw := a.optOut("dinp", dinp, N*C), a.out("dweight", dweight, C*OC)
	dy, x, w := a.in("dout", dout, N*OC), a.in("inp", inp, N*C), a.in("weight", weight, C*OC)
	b.run(a, func() error {
		if dx != 0 {
			g := rowMajorGemm{TransB: true, M: N, N: C, K: OC, A: dy, LDA: OC, B: w, LDB: OC, C: dx, LDC: C, Alpha: 1, Beta: 1}
			if err := b.gemm(g, dout, weight); err != nil {
				return err
			}
		}
		g := rowMajorGemm{TransA: true, M: C, N: OC, K: N, A: x, LDA: C, B: dy, LDB: OC, C: dw, LDC: OC, Alpha: 1, Beta: 1}
		return b.gemm(g, inp, dout)
	})
}

// maxLayerNormC bounds C for the layernorm backward's 2·C floats of shared
// memory (48 KiB without opting in to more).
const maxLayerNormC = 6144

// LayerNormForward implements ops.Backend.
func (b *Backend) LayerNormForward(out, mean, rstd, inp, weight, bias ops.Tensor, N, C int) {
	a := b.args("LayerNormForward")
	o, m, r, x := a.out("out", out, N*C), a.out("mean", mean, N), a.out("rstd", rstd, N), a.in("inp", inp, N*C)
	w, bs := a.in("weight", weight, C), a.in("bias", bias, C)
	b.run(a, func() error {
		if N == 0 {
			return nil
		}
		return b.launchShadowed("layernorm_forward", warpPerRow(int64(N)), o, int64(N)*int64(C), func(o16 devicePtr) []any {
			return []any{o, o16, m, r, x, w, bs, N, C}
		})
	})
}

// ResidualLayerNormForward implements ops.Backend: one warp per row adds
// the residual and normalises it, reading a and b once and res from cache.
func (b *Backend) ResidualLayerNormForward(res, out, mean, rstd, x, y, yBias, weight, bias ops.Tensor, N, C int) {
	a := b.args("ResidualLayerNormForward")
	r, o, m, s := a.out("res", res, N*C), a.out("out", out, N*C), a.out("mean", mean, N), a.out("rstd", rstd, N)
	p, q, qb := a.in("a", x, N*C), a.in("b", y, N*C), a.optIn("bBias", yBias, C)
	w, bs := a.in("weight", weight, C), a.in("bias", bias, C)
	b.run(a, func() error {
		if N == 0 {
			return nil
		}
		return b.launchShadowed("residual_layernorm_forward", warpPerRow(int64(N)), o, int64(N)*int64(C), func(o16 devicePtr) []any {
			return []any{r, o, o16, m, s, p, q, qb, w, bs, N, C}
		})
	})
}

// LayerNormBackward implements ops.Backend.
func (b *Backend) LayerNormBackward(dinp, dweight, dbias, dout, inp, weight, mean, rstd ops.Tensor, N, C int) {
	a := b.args("LayerNormBackward")
	a.check(C <= maxLayerNormC, "C=%d above the %d the backward kernel supports", C, maxLayerNormC)
	dx, dw, db, dy := a.out("dinp", dinp, N*C), a.out("dweight", dweight, C), a.out("dbias", dbias, C), a.in("dout", dout, N*C)
	x, w, m, r := a.in("inp", inp, N*C), a.in("weight", weight, C), a.in("mean", mean, N), a.in("rstd", rstd, N)
	b.run(a, func() error {
		if N == 0 {
			return nil
		}
		// dinp is the residual gradient: the last op to write it before the
		// GEMMs of the block below read it, so its shadow is written here.
		return b.launchShadowed("layernorm_backward", layerNormBackwardDims(N, C, b.dev.SMs), dx, int64(N)*int64(C), func(dx16 devicePtr) []any {
			return []any{dx, dx16, dw, db, dy, x, w, m, r, N, C}
		})
	})
}

func activationKernels(act ops.Activation) (fwd, bwd string) {
	if act == ops.QuickGELU {
		return "quickgelu_forward", "quickgelu_backward"
	}
	return "gelu_forward", "gelu_backward"
}

// MatmulActivationForward implements ops.Backend: the GEMM writes pre
// without the bias, then one kernel adds the bias and applies act, reading
// pre once (unfused: a bias pass and an activation pass, two reads and two
// writes of the N·OC floats).
func (b *Backend) MatmulActivationForward(pre, out, inp, weight, bias ops.Tensor, N, C, OC int, act ops.Activation) {
	a := b.args("MatmulActivationForward")
	p, o := a.out("pre", pre, N*OC), a.out("out", out, N*OC)
	x, w, bs := a.in("inp", inp, N*C), a.in("weight", weight, OC*C), a.optIn("bias", bias, OC)
	b.run(a, func() error {
		g := rowMajorGemm{TransB: true, M: N, N: OC, K: C, A: x, LDA: C, B: w, LDB: C, C: p, LDC: OC, Alpha: 1}
		if err := b.gemm(g, inp, weight); err != nil {
			return err
		}
		if N*OC == 0 {
			return nil
		}
		kernel := "bias_gelu_forward"
		if act == ops.QuickGELU {
			kernel = "bias_quickgelu_forward"
		}
		n := int64(N) * int64(OC)
		return b.launchShadowed(kernel, elementwise(n), o, n, func(o16 devicePtr) []any {
			return []any{p, o, o16, bs, n, OC}
		})
	})
}

// ActivationForward implements ops.Backend.
func (b *Backend) ActivationForward(out, inp ops.Tensor, act ops.Activation) {
	a := b.args("ActivationForward")
	x := a.in("inp", inp, -1)
	o := a.out("out", out, inp.Len)
	b.run(a, func() error {
		if inp.Len == 0 {
			return nil
		}
		fwd, _ := activationKernels(act)
		n := int64(inp.Len)
		return b.launch(fwd, elementwise(n), o, x, n)
	})
}

// ActivationBackward implements ops.Backend.
func (b *Backend) ActivationBackward(dinp, inp, dout ops.Tensor, act ops.Activation) {
	a := b.args("ActivationBackward")
	x := a.in("inp", inp, -1)
	dx, dy := a.out("dinp", dinp, inp.Len), a.in("dout", dout, inp.Len)
	b.run(a, func() error {
		if inp.Len == 0 {
			return nil
		}
		_, bwd := activationKernels(act)
		n := int64(inp.Len)
		// dinp is the next GEMM's output gradient (the MLP's first
		// layer): its bf16 shadow is written in the same pass.
		return b.launchShadowed(bwd, elementwise(n), dx, n, func(dx16 devicePtr) []any {
			return []any{dx, dx16, x, dy, n}
		})
	})
}

// attnLayout is the per-head scratch layout of one attention call: q, k, v
// (and their gradients) as [B·NH, T, hs] each, contiguous.
type attnLayout struct {
	B, T, C, NH, hs int
	n               int64 // floats in one of q, k, v: B·T·C
}

func newAttnLayout(B, T, C, NH int) attnLayout {
	return attnLayout{B: B, T: T, C: C, NH: NH, hs: C / NH, n: int64(B) * int64(T) * int64(C)}
}

// batched returns the strided-batched GEMM over the B·NH heads of
// C_h = alpha·op(A_h)·op(B_h), with per-head matrices of the given row
// strides (each head's matrix is rows×ld, contiguous).
func (l attnLayout) batched(transA, transB bool, M, N, K int, a devicePtr, lda int, bm devicePtr, ldb int, c devicePtr, ldc int, alpha float32) rowMajorGemm {
	rowsA := M
	if transA {
		rowsA = K
	}
	rowsB := K
	if transB {
		rowsB = N
	}
	return rowMajorGemm{TransA: transA, TransB: transB, M: M, N: N, K: K, A: a, LDA: lda, B: bm, LDB: ldb, C: c, LDC: ldc,
		Alpha: alpha, Batch: l.B * l.NH, StrideA: int64(rowsA * lda), StrideB: int64(rowsB * ldb), StrC: int64(M * ldc)}
}

// AttentionForward implements ops.Backend: permute qkv into per-head q, k,
// v; preatt = q·kᵀ/√hs (one strided-batched GEMM); masked softmax into
// att; y = att·v (GEMM); out = y unpermuted. In BF16 mode the permute and
// the softmax write the GEMMs' bf16 operands directly (no fp32 q, k, v at
// all), and att's bf16 copy stays as its shadow for the backward.
func (b *Backend) AttentionForward(out, preatt, att, qkv, qkvBias ops.Tensor, B, T, C, NH int, causal bool) {
	a := b.args("AttentionForward")
	a.check(NH > 0 && C%NH == 0, "C=%d not a multiple of NH=%d", C, NH)
	o, p, at, q := a.out("out", out, B*T*C), a.out("preatt", preatt, B*NH*T*T), a.out("att", att, B*NH*T*T), a.in("qkv", qkv, B*T*3*C)
	qb := a.optIn("qkvBias", qkvBias, 3*C)
	b.run(a, func() error {
		l := newAttnLayout(B, T, C, NH)
		if l.n == 0 {
			return nil
		}
		y, err := b.scratchPtr("attn_y", 4*l.n)
		if err != nil {
			return err
		}
		qk, err := b.attnOperands(l, "attn_qkv", q, qb)
		if err != nil {
			return err
		}
		scale := float32(1 / math.Sqrt(float64(l.hs)))
		if err := b.attnGemm(l.batched(false, true, T, T, l.hs, qk.q, l.hs, qk.k, l.hs, p, T, scale)); err != nil {
			return err
		}
		rows := B * NH * T
		attOp := at
		var at16 devicePtr
		done := func() {}
		if b.opts.Precision == BF16 {
			if at16, done, err = b.shadowOut(at, int64(rows)*int64(T)); err != nil {
				return err
			}
			if at16 == 0 { // no room for a shadow: a scratch copy for this call
				if at16, err = b.scratchPtr("attn_att16", 2*int64(rows)*int64(T)); err != nil {
					return err
				}
			}
			attOp = at16
		}
		if err := b.launch("attn_softmax_forward", warpPerRow(int64(rows)), p, at, at16, rows, T, boolInt(causal)); err != nil {
			return err
		}
		done()
		if err := b.attnGemm(l.batched(false, false, T, l.hs, T, attOp, T, qk.v, l.hs, y, l.hs, 1)); err != nil {
			return err
		}
		return b.launchShadowed("attn_unpermute", elementwise(l.n), o, l.n, func(o16 devicePtr) []any {
			return []any{o, o16, y, B, T, NH, l.hs}
		})
	})
}

// attnQKV is where the per-head q, k, v of one attention call are: fp32,
// or bf16 in BF16 mode.
type attnQKV struct{ q, k, v devicePtr }

// attnOperands permutes qkv into per-head q, k, v in scratch name: fp32
// in FP32 mode, bf16 (the GEMMs' operands, half the bytes) in BF16 mode.
func (b *Backend) attnOperands(l attnLayout, name string, qkv, bias devicePtr) (attnQKV, error) {
	if b.opts.Precision == BF16 {
		base, err := b.scratchPtr(name+"16", 3*2*l.n)
		if err != nil {
			return attnQKV{}, err
		}
		r := attnQKV{base, base + devicePtr(2*l.n), base + devicePtr(4*l.n)}
		return r, b.launch("attn_permute", elementwise(l.n), devicePtr(0), devicePtr(0), devicePtr(0), r.q, r.k, r.v, qkv, bias, l.B, l.T, l.NH, l.hs)
	}
	base, err := b.scratchPtr(name, 3*4*l.n)
	if err != nil {
		return attnQKV{}, err
	}
	r := attnQKV{base, base + devicePtr(4*l.n), base + devicePtr(8*l.n)}
	return r, b.launch("attn_permute", elementwise(l.n), r.q, r.k, r.v, devicePtr(0), devicePtr(0), devicePtr(0), qkv, bias, l.B, l.T, l.NH, l.hs)
}

// attnGemm runs one of the attention's batched GEMMs, whose operands are
// already in the precision's type (bf16 in BF16 mode: no cast).
func (b *Backend) attnGemm(g rowMajorGemm) error {
	if g.M == 0 || g.N == 0 {
		return nil
	}
	c := g.toCublas()
	if b.opts.Precision == BF16 {
		c.abType, c.compute = cudaR16BF, cublasCompute32F
	}
	return b.blas.gemm(b.handle, c)
}

// AttentionBackward implements ops.Backend. datt and dpreatt are scratch,
// overwritten with the CPU's values (dpreatt scaled by 1/√hs and 0 on
// masked keys; datt = dy·vᵀ everywhere). In BF16 mode q, k, v, dy
// and dpreatt go to the GEMMs as bf16 written by the kernels that make
// them, and att as its shadow from the forward.
func (b *Backend) AttentionBackward(dqkv, dpreatt, datt, dout, qkv, qkvBias, att ops.Tensor, B, T, C, NH int, causal bool) {
	a := b.args("AttentionBackward")
	a.check(NH > 0 && C%NH == 0, "C=%d not a multiple of NH=%d", C, NH)
	dq, dp, da := a.out("dqkv", dqkv, B*T*3*C), a.out("dpreatt", dpreatt, B*NH*T*T), a.out("datt", datt, B*NH*T*T)
	dy, q, at := a.in("dout", dout, B*T*C), a.in("qkv", qkv, B*T*3*C), a.in("att", att, B*NH*T*T)
	qb := a.optIn("qkvBias", qkvBias, 3*C)
	b.run(a, func() error {
		l := newAttnLayout(B, T, C, NH)
		if l.n == 0 {
			return nil
		}
		bf := b.opts.Precision == BF16
		width := int64(4)
		if bf {
			width = 2
		}
		gbase, err := b.scratchPtr("attn_dqkv", 3*4*l.n)
		if err != nil {
			return err
		}
		dys, err := b.scratchPtr("attn_dy", width*l.n)
		if err != nil {
			return err
		}
		qk, err := b.attnOperands(l, "attn_qkv", q, qb)
		if err != nil {
			return err
		}
		dqs, dks, dvs := gbase, gbase+devicePtr(4*l.n), gbase+devicePtr(8*l.n)
		dyF, dy16 := dys, devicePtr(0)
		if bf {
			dyF, dy16 = 0, dys
		}
		if err := b.launch("attn_unpermute_backward", elementwise(l.n), dyF, dy16, dy, B, T, NH, l.hs); err != nil {
			return err
		}
		rows := B * NH * T
		attOp, dpOp := at, dp
		var dp16 devicePtr
		if bf {
			if attOp, err = b.bf16Operand("attn_att16", at, int64(rows)*int64(T), att); err != nil {
				return err
			}
			if dp16, err = b.scratchPtr("attn_dp16", 2*int64(rows)*int64(T)); err != nil {
				return err
			}
			dpOp = dp16
		}
		scale := float32(1 / math.Sqrt(float64(l.hs)))
		hs := l.hs
		steps := []rowMajorGemm{
			l.batched(false, true, T, T, hs, dys, hs, qk.v, hs, da, T, 1),   // datt = dy·vᵀ
			l.batched(true, false, T, hs, T, attOp, T, dys, hs, dvs, hs, 1), // dv = attᵀ·dy
		}
		for _, g := range steps {
			if err := b.attnGemm(g); err != nil {
				return err
			}
		}
		if err := b.launch("attn_softmax_backward", warpPerRow(int64(rows)), dp, dp16, da, at, rows, T, boolInt(causal), scale); err != nil {
			return err
		}
		steps = []rowMajorGemm{
			l.batched(false, false, T, hs, T, dpOp, T, qk.k, hs, dqs, hs, 1), // dq = dpreatt·k (dpreatt holds the scale)
			l.batched(true, false, T, hs, T, dpOp, T, qk.q, hs, dks, hs, 1),  // dk = dpreattᵀ·q
		}
		for _, g := range steps {
			if err := b.attnGemm(g); err != nil {
				return err
			}
		}
		return b.launchShadowed("attn_permute_backward", elementwise(l.n), dq, 3*l.n, func(dq16 devicePtr) []any {
			return []any{dq, dq16, dqs, dks, dvs, B, T, NH, hs}
		})
	})
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

// ResidualForward implements ops.Backend.
func (b *Backend) ResidualForward(out, x, y ops.Tensor) {
	a := b.args("ResidualForward")
	o := a.out("out", out, -1)
	p, q := a.in("a", x, out.Len), a.in("b", y, out.Len)
	b.run(a, func() error {
		if out.Len == 0 {
			return nil
		}
		n := int64(out.Len)
		return b.launch("residual_forward", elementwise(n), o, p, q, n)
	})
}

// ResidualBackward implements ops.Backend.
func (b *Backend) ResidualBackward(da, db, dout ops.Tensor) {
	a := b.args("ResidualBackward")
	dy := a.in("dout", dout, -1)
	p, q := a.out("da", da, dout.Len), a.out("db", db, dout.Len)
	b.run(a, func() error {
		if dout.Len == 0 {
			return nil
		}
		n := int64(dout.Len)
		return b.launch("residual_backward", elementwise(n), p, q, dy, n)
	})
}

func (a *args) ids(ids []int32, N, V int) {
	a.check(len(ids) == N, "%d ids for %d rows", len(ids), N)
	for _, id := range ids {
		if a.bad {
			return
		}
		a.check(id >= 0 && int(id) < V, "id %d outside the vocabulary [0,%d)", id, V)
	}
}

// uploadIDs copies ids to device scratch on the compute stream.
func (b *Backend) uploadIDs(ids []int32) (devicePtr, error) {
	p, err := b.scratchPtr("ids", int64(4*len(ids)))
	if err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return p, nil
	}
	_, err = b.toDevice(p, int32Bytes(ids), b.compute)
	return p, err
}

// EmbeddingForward implements ops.Backend.
func (b *Backend) EmbeddingForward(out, table ops.Tensor, ids []int32, N, C, V int) {
	a := b.args("EmbeddingForward")
	a.ids(ids, N, V)
	ids = slices.Clone(ids) // the op runs later; the caller may reuse its slice
	o, tb := a.out("out", out, N*C), a.in("table", table, V*C)
	b.run(a, func() error {
		if N*C == 0 {
			return nil
		}
		p, err := b.uploadIDs(ids)
		if err != nil {
			return err
		}
		return b.launch("embedding_forward", elementwise(int64(N)*int64(C)), o, tb, p, N, C)
	})
}

// EmbeddingBackward implements ops.Backend.
func (b *Backend) EmbeddingBackward(dtable, dout ops.Tensor, ids []int32, N, C, V int) {
	a := b.args("EmbeddingBackward")
	a.ids(ids, N, V)
	ids = slices.Clone(ids) // the op runs later; the caller may reuse its slice
	dt, dy := a.out("dtable", dtable, V*C), a.in("dout", dout, N*C)
	b.run(a, func() error {
		if N*C == 0 {
			return nil
		}
		p, err := b.uploadIDs(ids)
		if err != nil {
			return err
		}
		return b.launch("embedding_backward", elementwise(int64(N)*int64(C)), dt, dy, p, N, C)
	})
}

// NormalizeForward implements ops.Backend.
func (b *Backend) NormalizeForward(out, norm, inp ops.Tensor, N, D int) {
	a := b.args("NormalizeForward")
	o, n, x := a.out("out", out, N*D), a.out("norm", norm, N), a.in("inp", inp, N*D)
	b.run(a, func() error {
		if N == 0 {
			return nil
		}
		return b.launch("normalize_forward", warpPerRow(int64(N)), o, n, x, N, D)
	})
}

// NormalizeBackward implements ops.Backend.
func (b *Backend) NormalizeBackward(dinp, dout, out, norm ops.Tensor, N, D int) {
	a := b.args("NormalizeBackward")
	dx, dy, o, n := a.out("dinp", dinp, N*D), a.in("dout", dout, N*D), a.in("out", out, N*D), a.in("norm", norm, N)
	b.run(a, func() error {
		if N == 0 {
			return nil
		}
		return b.launch("normalize_backward", warpPerRow(int64(N)), dx, dy, o, n, N, D)
	})
}

// ContrastiveForward implements ops.Backend: logits = img·txtᵀ (GEMM),
// then the row and column softmaxes and the loss in kernels (the scale
// exp(logitScale) is read on the device, so nothing waits for the host).
// The loss's GEMMs run in fp32 in both precisions: they are B×B×D, a
// rounding error of the model's cost, and bf16 logits scaled by up to 100
// would move the softmaxes by percents.
func (b *Backend) ContrastiveForward(loss, logits, probsRow, probsCol, img, txt, logitScale ops.Tensor, B, D int) {
	a := b.args("ContrastiveForward")
	l, lg, pr, pc := a.out("loss", loss, 1), a.out("logits", logits, B*B), a.out("probsRow", probsRow, B*B), a.out("probsCol", probsCol, B*B)
	x, y, s := a.in("img", img, B*D), a.in("txt", txt, B*D), a.in("logitScale", logitScale, 1)
	a.check(B > 0, "batch of %d", B)
	b.run(a, func() error {
		g := rowMajorGemm{TransB: true, M: B, N: B, K: D, A: x, LDA: D, B: y, LDB: D, C: lg, LDC: B, Alpha: 1}
		if err := b.gemmIn(FP32, g, img, txt); err != nil {
			return err
		}
		terms, err := b.scratchPtr("con_terms", int64(8*B))
		if err != nil {
			return err
		}
		if err := b.launch("contrastive_rows", blockPerRow(B), lg, pr, terms, s, B); err != nil {
			return err
		}
		if err := b.launch("contrastive_cols", blockPerRow(B), pc, terms, lg, B); err != nil {
			return err
		}
		return b.launch("contrastive_loss", blockPerRow(1), l, terms, B)
	})
}

// ContrastiveBackward implements ops.Backend.
func (b *Backend) ContrastiveBackward(dimg, dtxt, dlogitScale, img, txt, logitScale, logits, probsRow, probsCol ops.Tensor, dloss float32, B, D int) {
	a := b.args("ContrastiveBackward")
	dx, dy, ds := a.out("dimg", dimg, B*D), a.out("dtxt", dtxt, B*D), a.out("dlogitScale", dlogitScale, 1)
	x, y, s := a.in("img", img, B*D), a.in("txt", txt, B*D), a.in("logitScale", logitScale, 1)
	lg, pr, pc := a.out("logits", logits, B*B), a.in("probsRow", probsRow, B*B), a.in("probsCol", probsCol, B*B)
	a.check(B > 0, "batch of %d", B)
	b.run(a, func() error {
		part, err := b.scratchPtr("con_partial", int64(4*B))
		if err != nil {
			return err
		}
		c := float32(float64(dloss) / float64(2*B))
		if err := b.launch("contrastive_grad", blockPerRow(B), lg, part, pr, pc, s, c, B); err != nil {
			return err
		}
		if err := b.launch("contrastive_dscale", blockPerRow(1), ds, part, B); err != nil {
			return err
		}
		g := rowMajorGemm{M: B, N: D, K: B, A: lg, LDA: B, B: y, LDB: D, C: dx, LDC: D, Alpha: 1, Beta: 1}
		if err := b.gemmIn(FP32, g, logits, txt); err != nil {
			return err
		}
		g = rowMajorGemm{TransA: true, M: B, N: D, K: B, A: lg, LDA: B, B: x, LDB: D, C: dy, LDC: D, Alpha: 1, Beta: 1}
		return b.gemmIn(FP32, g, logits, img)
	})
}
