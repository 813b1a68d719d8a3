// Package gpu owns the CUDA backend of the trainer's op interface: the
// driver API, cuBLAS(Lt) and NVRTC loaded at run time with dlopen, kernels
// embedded as CUDA C and compiled for the device found, and device memory.
//
// It knows only the op interface; the binary builds and runs without a CUDA
// toolkit and falls back to the CPU when no device answers.
//
// Not yet implemented: see the CUDA backend issue.
package gpu
