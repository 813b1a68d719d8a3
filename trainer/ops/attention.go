package ops

import "math"

// attentionForward is multi-head scaled dot-product attention over
// qkv[B,T,3C] (q at channel 0, k at C, v at 2C; head h owns channels
// h·hs..(h+1)·hs of each, hs = C/NH, the layout of PyTorch's
// nn.MultiheadAttention in_proj). For each batch, head and query t it saves
// the scaled scores preatt[b,h,t,:] and their softmax att[b,h,t,:], and
// writes out[b,t,h·hs:(h+1)·hs] = Σ att·v. With causal, keys after t are
// masked (preatt and att 0).
//
// Work is split over (batch, head) pairs; each pair is two single-threaded
// GEMMs on strided views of qkv and out (Q·Kᵀ into preatt, att·V into out)
// around a row softmax, so the products run in the SGEMM micro-kernel.
//
// With bf16 (ops.CPU.BF16GEMM; qkv already rounded by the caller) the
// softmax is rounded to bf16 for the att·V product, as on the GPU; att
// itself stays float32.
func attentionForward[T Float](out, preatt, att, qkv []T, B, T_, C, NH int, causal, bf16 bool, workers int) {
	hs := C / NH
	scale := T(1 / math.Sqrt(float64(hs)))
	C3, TT := 3*C, T_*T_
	parallelFor(B*NH, workers, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			base := b*T_*C3 + h*hs
			pre, a := preatt[bh*TT:][:TT], att[bh*TT:][:TT]
			gemm(false, true, T_, T_, hs, qkv[base:], C3, qkv[base+C:], C3, pre, T_, false, 1)
			for t := range T_ {
				n := T_
				if causal {
					n = t + 1
				}
				softmaxRow(a[t*T_:][:T_], pre[t*T_:][:T_], n, scale)
			}
			av := a
			if bf16 {
				av = roundedBF16(a)
			}
			gemm(false, false, T_, hs, T_, av, T_, qkv[base+2*C:], C3, out[b*T_*C+h*hs:], C, false, 1)
		}
	})
}

// softmaxRow scales pre[:n] by scale in place and writes its softmax to
// a[:n]; pre and a past n (masked keys) are set to 0.
func softmaxRow[T Float](a, pre []T, n int, scale T) {
	if a32, ok := any(a).([]float32); ok {
		softmaxRow32(a32, any(pre).([]float32), n, float32(scale))
		return
	}
	maxv := math.Inf(-1)
	for i := range n {
		pre[i] *= scale
		maxv = max(maxv, float64(pre[i]))
	}
	var sum float64
	for i := range n {
		e := math.Exp(float64(pre[i]) - maxv)
		a[i] = T(e)
		sum += e
	}
	for i := range n {
		a[i] = T(float64(a[i]) / sum)
	}
	clear(pre[n:])
	clear(a[n:])
}

// softmaxRow32 is softmaxRow in float32 with exp32 (the sum in float64).
func softmaxRow32(a, pre []float32, n int, scale float32) {
	p := pre[:n]
	maxv := float32(math.Inf(-1))
	for i := range p {
		p[i] *= scale
		maxv = max(maxv, p[i])
	}
	var sum float64
	a = a[:len(pre)]
	for i, v := range p {
		e := exp32(v - maxv)
		a[i] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	for i := range p {
		a[i] *= inv
	}
	clear(pre[n:])
	clear(a[n:])
}

// attentionBackward adds the gradient of attentionForward into dqkv. datt
// and dpreatt ([B,NH,T,T]) are scratch: overwritten, not accumulated (dpreatt
// holds the scores' gradient times the scale).
//
//	datt = dout·vᵀ,  dv += attᵀ·dout
//	dpreatt = att·(datt − Σ att·datt)          (softmax, per row)
//	dq += scale·dpreatt·k,  dk += scale·dpreattᵀ·q
//
// As in the forward, each (batch, head) pair is four single-threaded GEMMs
// on strided views around the row-wise softmax backward.
//
// With bf16 (dout and qkv already rounded by the caller) att is rounded
// for attᵀ·dout and dpreatt for the dq and dk products, as on the GPU.
func attentionBackward[T Float](dqkv, dpreatt, datt, dout, qkv, att []T, B, T_, C, NH int, causal, bf16 bool, workers int) {
	hs := C / NH
	scale := T(1 / math.Sqrt(float64(hs)))
	C3, TT := 3*C, T_*T_
	parallelFor(B*NH, workers, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			base := b*T_*C3 + h*hs
			a, da, dpre := att[bh*TT:][:TT], datt[bh*TT:][:TT], dpreatt[bh*TT:][:TT]
			do := dout[b*T_*C+h*hs:]
			gemm(false, true, T_, T_, hs, do, C, qkv[base+2*C:], C3, da, T_, false, 1)
			av := a
			if bf16 {
				av = roundedBF16(a)
			}
			gemm(true, false, T_, hs, T_, av, T_, do, C, dqkv[base+2*C:], C3, true, 1)
			for t := range T_ {
				n := T_
				if causal {
					n = t + 1
				}
				ar, dar, dp := a[t*T_:][:n], da[t*T_:][:n], dpre[t*T_:][:T_]
				var dot T
				for i, v := range ar {
					dot += v * dar[i]
				}
				for i, v := range ar {
					dp[i] = v * (dar[i] - dot) * scale
				}
				clear(dp[n:])
			}
			dp := dpre
			if bf16 {
				dp = roundedBF16(dpre)
			}
			gemm(false, false, T_, hs, T_, dp, T_, qkv[base+C:], C3, dqkv[base:], C3, true, 1)
			gemm(true, false, T_, hs, T_, dp, T_, qkv[base:], C3, dqkv[base+C:], C3, true, 1)
		}
	})
}
