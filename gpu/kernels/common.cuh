// common.cuh is prepended to every kernel file before NVRTC compiles it
// (NVRTC gets no include path): bf16 helpers, warp and block reductions,
// and the grid-stride loop. No CUDA header is included; NVRTC provides the
// built-ins (threadIdx, __shfl_xor_sync, atomicAdd, erff, expf, ...).
//
// bf16 is kept as raw 16-bit patterns (bf16_t) converted by bit operations,
// so the kernels need no cuda_bf16.h and the conversion is exactly the
// host's (gpu/bf16.go): round to nearest even, NaN kept quiet.

typedef unsigned short bf16_t;

// NEG_INF is −∞ (NVRTC has no math.h, so no INFINITY).
#define NEG_INF __int_as_float(0xff800000)

__device__ __forceinline__ float bf16_to_f32(bf16_t h) {
    return __uint_as_float(((unsigned int)h) << 16);
}

__device__ __forceinline__ bf16_t f32_to_bf16(float f) {
    unsigned int u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (bf16_t)(u >> 16);
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// block_sum returns the sum of v over the block (blockDim.x a multiple of
// 32, at most 1024) to every thread. It synchronises the block.
__device__ float block_sum(float v) {
    __shared__ float s[32];
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) s[w] = v;
    __syncthreads();
    v = (threadIdx.x < nw) ? s[threadIdx.x] : 0.0f;
    if (w == 0) v = warp_sum(v);
    if (threadIdx.x == 0) s[0] = v;
    __syncthreads();
    const float r = s[0];
    __syncthreads();
    return r;
}

// block_max is block_sum's twin for the maximum.
__device__ float block_max(float v) {
    __shared__ float s[32];
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) s[w] = v;
    __syncthreads();
    v = (threadIdx.x < nw) ? s[threadIdx.x] : NEG_INF;
    if (w == 0) v = warp_max(v);
    if (threadIdx.x == 0) s[0] = v;
    __syncthreads();
    const float r = s[0];
    __syncthreads();
    return r;
}

// GRID_STRIDE loops i over [0, n) across the whole grid.
#define GRID_STRIDE(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long long)blockDim.x * gridDim.x)

// WARP_ROW sets row to this warp's row (one warp per row) and lane.
#define WARP_ROW(row, lane) \
    const long long row = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5; \
    const int lane = threadIdx.x & 31
