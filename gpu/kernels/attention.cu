// The non-GEMM pieces of multi-head attention. qkv is [B,T,3C] (q, k, v
// at channel offsets 0, C, 2C; head h owns hs = C/NH channels of each).
// The GEMMs run on per-head contiguous copies [B,NH,T,hs] (cuBLAS strided
// batched over B·NH), so attention is: permute, scores GEMM (scale as
// alpha), softmax with the causal mask, GEMM with v, unpermute.

// attn_permute writes q, k, v in fp32 unless q is null, and in bf16 (the
// BF16 GEMMs' operands) unless q16 is null, adding the in-projection's
// bias [3C] first unless bias is null.
extern "C" __global__ void attn_permute(float* q, float* k, float* v, bf16_t* q16, bf16_t* k16, bf16_t* v16,
                                        const float* qkv, const float* bias, int B, int T, int NH, int hs) {
    const int C = NH * hs;
    const long long n = (long long)B * NH * T * hs;
    GRID_STRIDE(i, n) {
        const int d = i % hs;
        const int t = (i / hs) % T;
        const int h = (i / ((long long)hs * T)) % NH;
        const long long b = i / ((long long)hs * T * NH);
        const long long src = (b * T + t) * 3 * C + h * hs + d;
        float x = qkv[src], y = qkv[src + C], z = qkv[src + 2 * C];
        if (bias) {
            const int c = h * hs + d;
            x += bias[c];
            y += bias[c + C];
            z += bias[c + 2 * C];
        }
        if (q) {
            q[i] = x;
            k[i] = y;
            v[i] = z;
        }
        if (q16) {
            q16[i] = f32_to_bf16(x);
            k16[i] = f32_to_bf16(y);
            v16[i] = f32_to_bf16(z);
        }
    }
}

// attn_permute_backward adds per-head gradients back into dqkv, and writes
// the sums' bf16 shadow dqkv16 unless null (the in-projection's output
// gradient for its backward GEMMs).
extern "C" __global__ void attn_permute_backward(float* dqkv, bf16_t* dqkv16, const float* dq, const float* dk,
                                                 const float* dv, int B, int T, int NH, int hs) {
    const int C = NH * hs;
    const long long n = (long long)B * NH * T * hs;
    GRID_STRIDE(i, n) {
        const int d = i % hs;
        const int t = (i / hs) % T;
        const int h = (i / ((long long)hs * T)) % NH;
        const long long b = i / ((long long)hs * T * NH);
        const long long dst = (b * T + t) * 3 * C + h * hs + d;
        const float gq = dqkv[dst] + dq[i], gk = dqkv[dst + C] + dk[i], gv = dqkv[dst + 2 * C] + dv[i];
        dqkv[dst] = gq;
        dqkv[dst + C] = gk;
        dqkv[dst + 2 * C] = gv;
        if (dqkv16) {
            dqkv16[dst] = f32_to_bf16(gq);
            dqkv16[dst + C] = f32_to_bf16(gk);
            dqkv16[dst + 2 * C] = f32_to_bf16(gv);
        }
    }
}

// attn_unpermute: out[b,t,h·hs+d] = y[b,h,t,d], and out's bf16 shadow
// out16 unless null.
extern "C" __global__ void attn_unpermute(float* out, bf16_t* out16, const float* y, int B, int T, int NH, int hs) {
    const int C = NH * hs;
    const long long n = (long long)B * NH * T * hs;
    GRID_STRIDE(i, n) {
        const int d = i % hs;
        const int t = (i / hs) % T;
        const int h = (i / ((long long)hs * T)) % NH;
        const long long b = i / ((long long)hs * T * NH);
        const long long o = (b * T + t) * C + h * hs + d;
        out[o] = y[i];
        if (out16) out16[o] = f32_to_bf16(y[i]);
    }
}

// attn_unpermute_backward: dy[b,h,t,d] = dout[b,t,h·hs+d], in fp32 unless
// dy is null and in bf16 unless dy16 is null.
extern "C" __global__ void attn_unpermute_backward(float* dy, bf16_t* dy16, const float* dout, int B, int T, int NH,
                                                   int hs) {
    const int C = NH * hs;
    const long long n = (long long)B * NH * T * hs;
    GRID_STRIDE(i, n) {
        const int d = i % hs;
        const int t = (i / hs) % T;
        const int h = (i / ((long long)hs * T)) % NH;
        const long long b = i / ((long long)hs * T * NH);
        const float x = dout[(b * T + t) * C + h * hs + d];
        if (dy) dy[i] = x;
        if (dy16) dy16[i] = f32_to_bf16(x);
    }
}

// attn_softmax_forward: one warp per row (b,h,t) of the scaled scores in
// preatt ([B·NH·T, T]); writes the softmax to att. With causal, keys after
// t are masked: preatt and att are 0 there. att16, unless null, gets att
// in bf16.
extern "C" __global__ void attn_softmax_forward(float* preatt, float* att, bf16_t* att16, int rows, int T, int causal) {
    WARP_ROW(row, lane);
    if (row >= rows) return;
    const int t = row % T;
    const int last = causal ? t : T - 1;
    float* p = preatt + row * T;
    float* a = att + row * T;
    float m = NEG_INF;
    for (int j = lane; j <= last; j += 32) m = fmaxf(m, p[j]);
    m = warp_max(m);
    float s = 0.0f;
    for (int j = lane; j <= last; j += 32) s += expf(p[j] - m);
    s = warp_sum(s);
    const float inv = 1.0f / s;
    bf16_t* a16 = att16 ? att16 + row * T : 0;
    for (int j = lane; j < T; j += 32) {
        float y = 0.0f;
        if (j <= last) {
            y = expf(p[j] - m) * inv;
        } else {
            p[j] = 0.0f;
        }
        a[j] = y;
        if (a16) a16[j] = f32_to_bf16(y);
    }
}

// attn_softmax_backward: dpreatt = scale·att·(datt − Σ att·datt) on
// unmasked keys and 0 on masked ones (the CPU reference's values: the
// 1/√hs of the scores folded in here, not into the next GEMMs). datt is
// read only. dp16, unless null, gets dpreatt in bf16.
extern "C" __global__ void attn_softmax_backward(float* dpreatt, bf16_t* dp16, const float* datt, const float* att,
                                                 int rows, int T, int causal, float scale) {
    WARP_ROW(row, lane);
    if (row >= rows) return;
    const int t = row % T;
    const int last = causal ? t : T - 1;
    const float* a = att + row * T;
    const float* da = datt + row * T;
    float* dp = dpreatt + row * T;
    float dot = 0.0f;
    for (int j = lane; j <= last; j += 32) dot += a[j] * da[j];
    dot = warp_sum(dot);
    bf16_t* d16 = dp16 ? dp16 + row * T : 0;
    for (int j = lane; j < T; j += 32) {
        const float y = j <= last ? a[j] * (da[j] - dot) * scale : 0.0f;
        dp[j] = y;
        if (d16) d16[j] = f32_to_bf16(y);
    }
}
