// Fused AdamW over the flat fp32 master weights (PyTorch's torch.optim.AdamW
// update), optionally writing the bf16 copy the GEMMs read, and the squared
// norm used for gradient clipping.
//
//   p ← p·(1 − lr·wd)
//   m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²      (g = gscale·grad)
//   p ← p − (lr/bc1)·m / (√v/√bc2 + eps)            (bc = 1 − βᵗ)

// nd holds nspans [lo, hi) pairs of element offsets, sorted, where wd is
// not applied; each block copies them into shared memory (dynamic, 16
// bytes a pair) and finds an element's with a binary search, so that one
// launch covers the whole parameter buffer.
extern "C" __global__ void adamw(float* p, float* m, float* v, const float* grad, bf16_t* p16, long long n,
                                 float lr, float beta1, float beta2, float eps, float wd, float bc1, float bc2,
                                 float gscale, const long long* nd, int nspans) {
    extern __shared__ long long spans[];
    for (int i = threadIdx.x; i < 2 * nspans; i += blockDim.x) spans[i] = nd[i];
    __syncthreads();
    const float sbc2 = sqrtf(bc2);
    GRID_STRIDE(i, n) {
        int lo = 0, hi = nspans;  // the first span ending after i
        while (lo < hi) {
            const int mid = (lo + hi) >> 1;
            if (spans[2 * mid + 1] <= i) lo = mid + 1;
            else hi = mid;
        }
        const float wdi = (lo < nspans && spans[2 * lo] <= i) ? 0.0f : wd;
        const float g = grad[i] * gscale;
        float w = p[i] * (1.0f - lr * wdi);
        const float mi = beta1 * m[i] + (1.0f - beta1) * g;
        const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
        w -= (lr / bc1) * mi / (sqrtf(vi) / sbc2 + eps);
        m[i] = mi;
        v[i] = vi;
        p[i] = w;
        if (p16) p16[i] = f32_to_bf16(w);
    }
}

// sum_squares: out[0] += Σ x² (one atomic add per block).
extern "C" __global__ void sum_squares(float* out, const float* x, long long n) {
    float s = 0.0f;
    GRID_STRIDE(i, n) { s += x[i] * x[i]; }
    s = block_sum(s);
    if (threadIdx.x == 0) atomicAdd(out, s);
}
