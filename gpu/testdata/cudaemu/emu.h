// emu.h: the CUDA built-ins the kernels under gpu/kernels use, for
// compiling those same sources with a host C++ compiler into the CUDA
// emulator (cudaemu.cc). It is included before common.cuh and each kernel
// file. Every thread of a block is a fiber on one OS thread, so shared
// memory is a function-static array (volatile: the compiler must not keep
// it in registers across a barrier), atomics are plain read-modify-writes,
// and __syncthreads and warp shuffles are barriers among the block's (or
// warp's) fibers.
#pragma once

#include <math.h>
#include <string.h>

#define __global__
#define __device__ static
#define __forceinline__ inline
#define __shared__ static volatile

struct emu_dim3 {
    unsigned int x, y, z;
};

// The current thread, block and launch (set by the emulator).
extern "C" const emu_dim3* emu_thread_idx();
extern "C" emu_dim3 emu_block_idx, emu_block_dim, emu_grid_dim;
extern "C" void emu_syncthreads();
extern "C" float emu_shfl_xor(float v, int lane_mask);
extern "C" void* emu_dyn_shared();

#define threadIdx (*emu_thread_idx())
#define blockIdx emu_block_idx
#define blockDim emu_block_dim
#define gridDim emu_grid_dim
#define __syncthreads() emu_syncthreads()
#define __shfl_xor_sync(mask, v, o) emu_shfl_xor((v), (o))

static inline float atomicAdd(float* p, float v) {
    const float old = *p;
    *p = old + v;
    return old;
}

static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }

static inline float __int_as_float(int i) {
    float f;
    memcpy(&f, &i, 4);
    return f;
}

static inline float __uint_as_float(unsigned int u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline unsigned int __float_as_uint(float f) {
    unsigned int u;
    memcpy(&u, &f, 4);
    return u;
}

static inline int __float_as_int(float f) {
    int i;
    memcpy(&i, &f, 4);
    return i;
}


// Each kernel file's generated wrappers register the kernels here: capture
// copies the parameters cuLaunchKernel points at (their types known only
// to the wrapper), run calls the kernel with them, release frees them.
struct emu_kernel {
    const char* name;
    void* (*capture)(void** params);
    void (*run)(void* args);
    void (*release)(void* args);
    int fibers;  // the kernel may wait at a barrier: its threads need fibers
};
extern "C" void emu_register(const emu_kernel* k);
