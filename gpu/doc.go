// Package gpu is the CUDA backend of the trainer's op interface
// (trainer/ops.Backend): the last stage of crawl → dedup → shardwriter →
// storage → loader → trainer → gpu. It knows only the op interface.
//
// # Loading CUDA at run time
//
// Nothing CUDA is linked: libcuda.so.1 (driver API), libcublas (v2 API;
// it brings libcublasLt) and libnvrtc are opened with dlopen when a
// Backend is made, and called through small cgo trampolines whose C
// prototypes the package declares itself (dl_cgo.go), so no CUDA header
// or toolkit is needed to build, and `go build ./...` and `go test ./...`
// work on machines without CUDA. A build without cgo gets stubs
// (dl_nocgo.go) and every load fails with ErrNoCUDA.
//
// The search (search.go) tries CLIPSTREAM_CUDA_LIBS, CUDA_HOME and
// CUDA_PATH, LD_LIBRARY_PATH, the dynamic loader's own search, the usual
// system directories (the container driver mount, /usr/lib/<triple>,
// /usr/local/cuda, …), then the nvidia/*/lib directories of pip's nvidia-*
// wheels and PyTorch's torch/lib in the site-packages of common virtual
// environments and of python3 (asked only if it is on PATH and nothing
// earlier matched). Libraries found in a wheel's directory have their
// companions (libnvrtc-builtins, libcublasLt) opened first, as the
// dynamic loader would not find them there. Errors say what failed:
// ErrNoCUDA, ErrNoNVRTC, ErrNoCUBLAS inside a *LoadError listing every
// path tried and directory searched; ErrNoDevice when the driver answers
// but has no device; otherwise an *Error naming the call and the
// library's result (CUDA_ERROR_*, CUBLAS_STATUS_*, NVRTC_ERROR_*).
//
// # Device ownership
//
// A CUDA context is current per OS thread. One goroutine, locked to its
// thread for life, owns the device's primary context; all device work is
// submitted to it and runs there in order (device.go says why this rather
// than setting the context at every entry). Device.Do waits for its work;
// Device.Go queues it (up to 1024 pieces) and returns, so an op costs the
// caller a channel send, and the host checks the next op's arguments
// while the owner launches the last. Ops that read or write host memory
// (Upload, Download, SumSquares, the image uploads) wait; an error in
// queued work is sticky and reported by Err.
//
// # Kernels
//
// The non-GEMM ops are CUDA C files under kernels/ (extern "C" entry
// points, no CUDA headers: bf16 is handled as raw 16-bit patterns by
// kernels/common.cuh, which is prepended to every file), embedded with
// go:embed and compiled by NVRTC for the device's architecture when a
// Backend is made. The PTX and CUBIN are cached on disk, keyed by (source
// hash, architecture, NVRTC version, options), under CLIPSTREAM_CACHE or
// the user cache directory. TestKernelsCompile compiles every file for
// sm_80 and sm_90 on any machine, GPU or not, installing the
// nvidia-cuda-nvrtc wheel into a cached virtualenv when the machine has no
// NVRTC.
//
// # The Backend
//
// Backend implements ops.Backend on one compute stream: device buffers
// (cuMemAlloc), host-side shape checks before any device work (the sticky
// error of the CPU reference), GEMMs and strided-batched GEMMs through
// cublasGemmEx with fp32 accumulation (row-major ops mapped to cuBLAS's
// column-major view in gemm.go), everything else through cuLaunchKernel.
// Uploads go through two pinned staging buffers on a separate copy stream;
// PrefetchPixels moves the next batch's uint8 images into one of two
// device buffers there while the current step runs (the trainer calls it
// during the backward), and UploadPatches then only waits for that copy
// and normalises on the device. FP32
// mode is exact fp32 (checked to 1e-5 of the CPU); BF16 mode feeds the
// GEMMs bf16 operands (checked to 1e-2), with fp32 master weights, an
// optional bf16 copy of the weights that the fused AdamWStep keeps
// current, and the contrastive loss kept in fp32. In BF16 mode the ops
// whose outputs feed GEMMs (LayerNorm, residual+LayerNorm, bias+activation,
// attention) also write a bf16 "shadow" of their output, and any other
// GEMM operand is cast once into a shadow, which the next GEMM on the same
// values reuses; a write into a shadowed range makes it stale before the
// writing op runs (shadow.go). Beyond the interface:
// AdamWStep, EnableBF16Copy, SumSquares (gradient clipping) and
// NormalizeImages (uint8 HWC to normalised NCHW on the device). The
// trainer finds the first three through ops.Optimizer and ops.BF16Copier,
// so a training step keeps the weights, gradients and moments on the
// device: only the images, the tokens, the loss, the squared gradient norm
// and the logit scale cross the bus.
//
// The op checks (ops_test.go) compare every op with the CPU reference (in
// BF16 mode its bf16 reference, ops.CPU.BF16GEMM) on a GPU; they skip
// without one unless CLIPSTREAM_REQUIRE_GPU=1. Without a GPU they still
// run, with a tiny-model training trajectory, on a CUDA emulator the tests
// build with g++ (testdata/cudaemu, TestEmulatedDevice): the driver API and
// cuBLAS on the host, these kernels compiled for it, streams run lazily in
// two adversarial orders. TestLaunchSitesMatchKernels checks every launch's
// arguments against its kernel's PTX parameters, and Backend.launch checks
// them again at run time. scripts/gpu-check.sh builds the test binary here
// and runs it on a GPU machine without Go.
package gpu
