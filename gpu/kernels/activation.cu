// Elementwise non-linearities, bias add and bias gradient.

__device__ __forceinline__ float gelu_f(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

__device__ __forceinline__ float quickgelu_f(float x) { return x / (1.0f + expf(-1.702f * x)); }

extern "C" __global__ void gelu_forward(float* out, const float* inp, long long n) {
    GRID_STRIDE(i, n) { out[i] = gelu_f(inp[i]); }
}

// dinp += act'(x)·dout, and dinp's bf16 shadow dinp16 unless null (the
// next GEMM's output-gradient operand, cast in the same pass).
template <float (*deriv)(float)>
__device__ __forceinline__ void act_backward(float* dinp, bf16_t* dinp16, const float* inp, const float* dout,
                                             long long n) {
    GRID_STRIDE(i, n) {
        const float g = dinp[i] + deriv(inp[i]) * dout[i];
        dinp[i] = g;
        if (dinp16) dinp16[i] = f32_to_bf16(g);
    }
}

// GELU'(x) = Φ(x) + x·φ(x)
__device__ __forceinline__ float gelu_d(float x) {
    return 0.5f * (1.0f + erff(x * 0.70710678118654752f)) + x * 0.3989422804014327f * expf(-0.5f * x * x);
}

// QuickGELU'(x) = σ(1.702x) + 1.702x·σ(1−σ)
__device__ __forceinline__ float quickgelu_d(float x) {
    const float s = 1.0f / (1.0f + expf(-1.702f * x));
    return s + 1.702f * x * s * (1.0f - s);
}

extern "C" __global__ void gelu_backward(float* dinp, bf16_t* dinp16, const float* inp, const float* dout, long long n) {
    act_backward<gelu_d>(dinp, dinp16, inp, dout, n);
}

extern "C" __global__ void quickgelu_backward(float* dinp, bf16_t* dinp16, const float* inp, const float* dout,
                                              long long n) {
    act_backward<quickgelu_d>(dinp, dinp16, inp, dout, n);
}

extern "C" __global__ void quickgelu_forward(float* out, const float* inp, long long n) {
    GRID_STRIDE(i, n) { out[i] = quickgelu_f(inp[i]); }
}

// bias_gelu_forward and bias_quickgelu_forward finish a GEMM: pre[n, o] +=
// bias[o] (bias may be null), then out = act(pre), and out's bf16 shadow
// out16 unless null, in one pass over pre instead of a bias pass and an
// activation pass (and a cast before the next GEMM).
template <float (*act)(float)>
__device__ __forceinline__ void bias_act_forward(float* pre, float* out, bf16_t* out16, const float* bias, long long n,
                                                 int OC) {
    GRID_STRIDE(i, n) {
        float x = pre[i];
        if (bias) {
            x += bias[i % OC];
            pre[i] = x;
        }
        const float y = act(x);
        out[i] = y;
        if (out16) out16[i] = f32_to_bf16(y);
    }
}

extern "C" __global__ void bias_gelu_forward(float* pre, float* out, bf16_t* out16, const float* bias, long long n,
                                             int OC) {
    bias_act_forward<gelu_f>(pre, out, out16, bias, n, OC);
}

extern "C" __global__ void bias_quickgelu_forward(float* pre, float* out, bf16_t* out16, const float* bias, long long n,
                                                  int OC) {
    bias_act_forward<quickgelu_f>(pre, out, out16, bias, n, OC);
}

// add_bias: out[n, o] += bias[o] over n·OC elements.
extern "C" __global__ void add_bias(float* out, const float* bias, long long n, int OC) {
    GRID_STRIDE(i, n) { out[i] += bias[i % OC]; }
}

// bias_backward: dbias[o] += Σₙ dout[n, o]. Block (32, 8): 32 columns, 8
// row lanes; blockIdx.y picks a slice of rows. One atomic add per column
// per block.
extern "C" __global__ void bias_backward(float* dbias, const float* dout, int N, int OC) {
    __shared__ float part[8][33];
    const int c = blockIdx.x * 32 + threadIdx.x;
    float s = 0.0f;
    if (c < OC) {
        for (long long n = (long long)blockIdx.y * 8 + threadIdx.y; n < N; n += 8LL * gridDim.y) s += dout[n * OC + c];
    }
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < OC) {
        float t = 0.0f;
        for (int k = 0; k < 8; k++) t += part[k][threadIdx.x];
        atomicAdd(&dbias[c], t);
    }
}
