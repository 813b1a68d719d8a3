// The non-GEMM pieces of multi-head attention. qkv is [B,T,3C] (q, k, v
// at channel offsets 0, C, 2C; head h owns hs = C/NH channels of each).
// The GEMMs run on per-head contiguous copies [B,NH,T,hs] (cuBLAS strided
// batched over B·NH), so attention is: permute, scores GEMM (scale as
// alpha), softmax with the causal mask, GEMM with v, unpermute.

extern "C" __global__ void attn_permute(float* q, float* k, float* v, const float* qkv, int B, int T, int NH, int hs) {
    const int C = NH * hs;
    const long long n = (long long)B * NH * T * hs;
    GRID_STRIDE(i, n) {
        const int d = i % hs;
        const int t = (i / hs) % T;
        const int h = (i / ((long long)hs * T)) % NH;
        const long long b = i / ((long long)hs * T * NH);
        const long long src = (b * T + t) * 3 * C + h * hs + d;
        q[i] = qkv[src];
        k[i] = qkv[src + C];
        v[i] = qkv[src + 2 * C];
    }
}

// attn_permute_backward adds per-head gradients back into dqkv.
extern "C" __global__ void attn_permute_backward(float* dqkv, const float* dq, const float* dk, const float* dv,
                                                 int B, int T, int NH, int hs) {
    const int C = NH * hs;
    const long long n = (long long)B * NH * T * hs;
    GRID_STRIDE(i, n) {
        const int d = i % hs;
        const int t = (i / hs) % T;
        const int h = (i / ((long long)hs * T)) % NH;
        const long long b = i / ((long long)hs * T * NH);
        const long long dst = (b * T + t) * 3 * C + h * hs + d;
        dqkv[dst] += dq[i];
        dqkv[dst + C] += dk[i];
        dqkv[dst + 2 * C] += dv[i];
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

// attn_unpermute_backward: dy[b,h,t,d] = dout[b,t,h·hs+d].
extern "C" __global__ void attn_unpermute_backward(float* dy, const float* dout, int B, int T, int NH, int hs) {
    const int C = NH * hs;
    const long long n = (long long)B * NH * T * hs;
    GRID_STRIDE(i, n) {
        const int d = i % hs;
        const int t = (i / hs) % T;
        const int h = (i / ((long long)hs * T)) % NH;
        const long long b = i / ((long long)hs * T * NH);
        dy[i] = dout[(b * T + t) * C + h * hs + d];
    }
}

// attn_softmax_forward: one warp per row (b,h,t) of the scaled scores in
// preatt ([B·NH·T, T]); writes the softmax to att. With causal, keys after
// t are masked: preatt and att are 0 there.
extern "C" __global__ void attn_softmax_forward(float* preatt, float* att, int rows, int T, int causal) {
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
    for (int j = lane; j < T; j += 32) {
        if (j <= last) {
            a[j] = expf(p[j] - m) * inv;
        } else {
            a[j] = 0.0f;
            p[j] = 0.0f;
        }
    }
}

// attn_softmax_backward: dpreatt = att·(datt − Σ att·datt) on unmasked
// keys; datt and dpreatt are 0 on masked ones.
extern "C" __global__ void attn_softmax_backward(float* dpreatt, float* datt, const float* att, int rows, int T, int causal) {
    WARP_ROW(row, lane);
    if (row >= rows) return;
    const int t = row % T;
    const int last = causal ? t : T - 1;
    const float* a = att + row * T;
    float* da = datt + row * T;
    float* dp = dpreatt + row * T;
    float dot = 0.0f;
    for (int j = lane; j <= last; j += 32) dot += a[j] * da[j];
    dot = warp_sum(dot);
    for (int j = lane; j < T; j += 32) {
        if (j <= last) {
            dp[j] = a[j] * (da[j] - dot);
        } else {
            dp[j] = 0.0f;
            da[j] = 0.0f;
        }
    }
}
