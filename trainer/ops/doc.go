// Package ops is the op interface the CLIP model is written against, and its
// CPU implementation, the reference every other backend is checked against.
//
// Each op has a forward and a backward, side by side in one file
// (matmul.go, project.go, layernorm.go, gelu.go, attention.go, residual.go,
// embedding.go, normalize.go, contrastive.go), written as generic functions
// over float32 and float64: the CPU backend runs the float32 instantiation,
// and the tests run the float64 one against central finite differences,
// so the code checked is the code that trains.
//
// Matrix products go through one cache-blocked GEMM (sgemm.go). On amd64
// its float32 micro-kernel is AVX2+FMA assembly (sgemm_amd64.s), chosen at
// start-up by CPUID; elsewhere, with -tags purego, and for float64 it is
// plain Go. TestGemmFloat32 checks the float32 path against a float64
// triple loop.
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
