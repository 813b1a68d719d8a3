// Package ops is the op interface the CLIP model is written against, and its
// CPU implementation, the reference every other backend is checked against.
//
// Each op has a forward and a backward, side by side in one file
// (matmul.go, project.go, layernorm.go, gelu.go, attention.go, residual.go,
// embedding.go, normalize.go, contrastive.go), written as generic functions
// over float32 and float64: the CPU backend runs the float32 instantiation,
// and the tests run the float64 one against central finite differences,
// so the code checked is the code that trains. Two places specialise
// float32 for speed, each with its own test against the float64 reference:
// the GELU/QuickGELU elementwise math (a rational erf, AVX2 on amd64, and
// a polynomial exp; TestErfRational, TestExp32, TestActivation32) and the
// attention softmax's exp (TestCPUMatchesFloat64).
//
// Matrix products go through one cache-blocked GEMM (sgemm.go). On amd64
// its float32 micro-kernel is assembly (sgemm_amd64.s), AVX-512F or
// AVX2+FMA, chosen at start-up by CPUID, and writes full tiles straight
// into C; elsewhere, with -tags purego, and for float64 it is plain Go.
// TestGemmFloat32 (and TestGemmFloat32AVX2 on AVX-512 machines) checks the
// float32 path against a float64 triple loop. Attention runs its products
// through the same GEMM, single-threaded per (batch, head) pair, pairs in
// parallel. Elementwise ops (bias, residual, embedding, activation, Zero)
// split their rows over the workers.
//
// Backward functions accumulate into their gradient outputs (+=), as in
// llm.c, so gradients from several uses of a tensor add up and the trainer
// zeroes its one flat gradient buffer once per step.
//
// Tensors are views (offset, length) into flat buffers a Backend allocated:
// parameters, gradients and activations each live in one buffer. A shape
// mismatch is a programming error in the model, not bad outside data; an op
// that detects one records it, does nothing, and Backend.Err reports the
// first such error (CUDA-style sticky error), so no op panics.
//
// The trainer is handed a Backend and never imports the CUDA one; package
// gpu implements the same interface.
package ops
