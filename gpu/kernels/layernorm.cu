// LayerNorm over the last dimension (eps 1e-5, biased variance, as
// PyTorch's nn.LayerNorm). One warp per row.

// layernorm_row normalises row x (C floats) into y, and into its bf16
// shadow y16 unless null, the warp's 32 lanes striding over it, and has
// lane 0 save the row's mean and 1/std.
__device__ __forceinline__ void layernorm_row(float* y, bf16_t* y16, float* mean, float* rstd, const float* x,
                                              const float* weight, const float* bias, int C, int lane) {
    float s = 0.0f;
    for (int i = lane; i < C; i += 32) s += x[i];
    const float m = warp_sum(s) / C;
    float v = 0.0f;
    for (int i = lane; i < C; i += 32) {
        const float d = x[i] - m;
        v += d * d;
    }
    const float r = rsqrtf(warp_sum(v) / C + 1e-5f);
    for (int i = lane; i < C; i += 32) {
        const float o = ((x[i] - m) * r) * weight[i] + bias[i];
        y[i] = o;
        if (y16) y16[i] = f32_to_bf16(o);
    }
    if (lane == 0) {
        *mean = m;
        *rstd = r;
    }
}

// layernorm_forward: out = LayerNorm(inp), and its bf16 shadow out16
// unless null. One warp per row.
extern "C" __global__ void layernorm_forward(float* out, bf16_t* out16, float* mean, float* rstd, const float* inp,
                                             const float* weight, const float* bias, int N, int C) {
    WARP_ROW(row, lane);
    if (row >= N) return;
    layernorm_row(out + row * C, out16 ? out16 + row * C : 0, mean + row, rstd + row, inp + row * C, weight, bias, C,
                  lane);
}

// residual_layernorm_forward: res = a + (b + bbias), then out =
// LayerNorm(res), one warp per row; bbias [C] (the bias of the matmul that
// made b, so that it needs no pass of its own) may be null. Each lane
// reads back only the elements of res it wrote, so the row needs no
// barrier, and res may alias a or b. out16 as in layernorm_forward.
extern "C" __global__ void residual_layernorm_forward(float* res, float* out, bf16_t* out16, float* mean, float* rstd,
                                                      const float* a, const float* b, const float* bbias,
                                                      const float* weight, const float* bias, int N, int C) {
    WARP_ROW(row, lane);
    if (row >= N) return;
    const long long off = row * C;
    for (int i = lane; i < C; i += 32) res[off + i] = a[off + i] + (bbias ? b[off + i] + bbias[i] : b[off + i]);
    layernorm_row(out + off, out16 ? out16 + off : 0, mean + row, rstd + row, res + off, weight, bias, C, lane);
}

// layernorm_backward adds dinp (and writes the sum's bf16 shadow dinp16
// unless null: the residual gradient, which the next GEMMs read as their
// output gradient), dweight and dbias. Rows are grid-strided
// over the warps; each block sums its dweight/dbias in shared memory
// (2·C floats, dynamic) and adds them to global memory once.
extern "C" __global__ void layernorm_backward(float* dinp, bf16_t* dinp16, float* dweight, float* dbias,
                                              const float* dout, const float* inp, const float* weight,
                                              const float* mean, const float* rstd, int N, int C) {
    extern __shared__ float acc[];  // [0,C) dweight, [C,2C) dbias
    for (int i = threadIdx.x; i < 2 * C; i += blockDim.x) acc[i] = 0.0f;
    __syncthreads();
    const int lane = threadIdx.x & 31;
    const long long warps = (long long)gridDim.x * (blockDim.x >> 5);
    for (long long row = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5; row < N; row += warps) {
        const float* x = inp + row * C;
        const float* dy = dout + row * C;
        float* dx = dinp + row * C;
        const float m = mean[row], r = rstd[row];
        float gsum = 0.0f, gnsum = 0.0f;
        for (int i = lane; i < C; i += 32) {
            const float n = (x[i] - m) * r;
            const float g = weight[i] * dy[i];
            gsum += g;
            gnsum += g * n;
        }
        gsum = warp_sum(gsum) / C;
        gnsum = warp_sum(gnsum) / C;
        for (int i = lane; i < C; i += 32) {
            const float n = (x[i] - m) * r;
            const float g = weight[i] * dy[i];
            atomicAdd(&acc[C + i], dy[i]);
            atomicAdd(&acc[i], n * dy[i]);
            const float gx = dx[i] + (g - gsum - n * gnsum) * r;
            dx[i] = gx;
            if (dinp16) dinp16[row * C + i] = f32_to_bf16(gx);
        }
    }
    __syncthreads();
    for (int i = threadIdx.x; i < C; i += blockDim.x) {
        atomicAdd(&dweight[i], acc[i]);
        atomicAdd(&dbias[i], acc[C + i]);
    }
}
