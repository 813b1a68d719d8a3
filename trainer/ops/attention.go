package ops

import "math"

// attentionForward is multi-head scaled dot-product attention over
// qkv[B,T,3C] (q at channel 0, k at C, v at 2C; head h owns channels
// h·hs..(h+1)·hs of each, hs = C/NH, the layout of PyTorch's
// nn.MultiheadAttention in_proj). For each batch, head and query t it saves
// the scaled scores preatt[b,h,t,:] and their softmax att[b,h,t,:], and
// writes out[b,t,h·hs:(h+1)·hs] = Σ att·v. With causal, keys after t are
// masked (att 0). Work is split over (batch, head) pairs.
func attentionForward[T Float](out, preatt, att, qkv []T, B, T_, C, NH int, causal bool, workers int) {
	hs := C / NH
	scale := 1 / math.Sqrt(float64(hs))
	parallelFor(B*NH, workers, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			for t := range T_ {
				q := qkv[(b*T_+t)*3*C+h*hs:][:hs]
				pre := preatt[(bh*T_+t)*T_:][:T_]
				a := att[(bh*T_+t)*T_:][:T_]
				last := T_ - 1
				if causal {
					last = t
				}
				maxv := math.Inf(-1)
				for t2 := 0; t2 <= last; t2++ {
					k := qkv[(b*T_+t2)*3*C+C+h*hs:][:hs]
					var s T
					for i := range q {
						s += q[i] * k[i]
					}
					s *= T(scale)
					pre[t2] = s
					maxv = max(maxv, float64(s))
				}
				var sum float64
				for t2 := 0; t2 <= last; t2++ {
					e := math.Exp(float64(pre[t2]) - maxv)
					a[t2] = T(e)
					sum += e
				}
				for t2 := 0; t2 <= last; t2++ {
					a[t2] = T(float64(a[t2]) / sum)
				}
				for t2 := last + 1; t2 < T_; t2++ {
					pre[t2], a[t2] = 0, 0
				}
				o := out[(b*T_+t)*C+h*hs:][:hs]
				clear(o)
				for t2 := 0; t2 <= last; t2++ {
					v := qkv[(b*T_+t2)*3*C+2*C+h*hs:][:hs]
					w := a[t2]
					for i := range o {
						o[i] += w * v[i]
					}
				}
			}
		}
	})
}

// attentionBackward adds the gradient of attentionForward into dqkv. datt
// and dpreatt ([B,NH,T,T]) are scratch: overwritten, not accumulated.
//
//	datt = dout·v,  dv += att·dout
//	dpreatt = att·(datt − Σ att·datt)          (softmax)
//	dq += scale·Σ dpreatt·k,  dk += scale·dpreatt·q
func attentionBackward[T Float](dqkv, dpreatt, datt, dout, qkv, att []T, B, T_, C, NH int, causal bool, workers int) {
	hs := C / NH
	scale := T(1 / math.Sqrt(float64(hs)))
	parallelFor(B*NH, workers, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			for t := range T_ {
				a := att[(bh*T_+t)*T_:][:T_]
				da := datt[(bh*T_+t)*T_:][:T_]
				dpre := dpreatt[(bh*T_+t)*T_:][:T_]
				do := dout[(b*T_+t)*C+h*hs:][:hs]
				last := T_ - 1
				if causal {
					last = t
				}
				clear(da)
				clear(dpre)
				for t2 := 0; t2 <= last; t2++ {
					v := qkv[(b*T_+t2)*3*C+2*C+h*hs:][:hs]
					dv := dqkv[(b*T_+t2)*3*C+2*C+h*hs:][:hs]
					var s T
					for i := range do {
						s += do[i] * v[i]
						dv[i] += a[t2] * do[i]
					}
					da[t2] = s
				}
				var dot T
				for t2 := 0; t2 <= last; t2++ {
					dot += a[t2] * da[t2]
				}
				for t2 := 0; t2 <= last; t2++ {
					dpre[t2] = a[t2] * (da[t2] - dot)
				}
				q := qkv[(b*T_+t)*3*C+h*hs:][:hs]
				dq := dqkv[(b*T_+t)*3*C+h*hs:][:hs]
				for t2 := 0; t2 <= last; t2++ {
					k := qkv[(b*T_+t2)*3*C+C+h*hs:][:hs]
					dk := dqkv[(b*T_+t2)*3*C+C+h*hs:][:hs]
					g := dpre[t2] * scale
					for i := range q {
						dq[i] += g * k[i]
						dk[i] += g * q[i]
					}
				}
			}
		}
	})
}
