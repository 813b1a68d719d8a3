package gpu

// rowMajorGemm is C (= or +=) alpha·op(A)·op(B) for row-major matrices, as
// the ops write them: op(A) is [M,K] (A stored [K,M] when TransA), op(B)
// is [K,N] (B stored [N,K] when TransB); lda, ldb, ldc are row strides in
// elements. Beta is 0 to overwrite C and 1 to accumulate. With Batch > 0
// it is Batch such products, the matrices StrideA/B/C elements apart.
type rowMajorGemm struct {
	TransA, TransB         bool
	M, N, K                int
	A, B, C                devicePtr
	LDA, LDB, LDC          int
	Alpha, Beta            float32
	Batch                  int
	StrideA, StrideB, StrC int64
}

// gemmCall is one cuBLAS call, in cuBLAS's column-major terms.
type gemmCall struct {
	opA, opB                  int
	m, n, k                   int
	alpha, beta               float32
	a, b, c                   devicePtr
	lda, ldb, ldc             int
	strideA, strideB, strideC int64
	abType, cType, compute    int
	batch                     int
}

// toCublas maps the row-major product to cuBLAS. A row-major [R,S] matrix
// with row stride ld is, read column-major, its [S,R] transpose with the
// same leading dimension, so C = op(A)·op(B) is computed as
// Cᵀ = op(B)ᵀ·op(A)ᵀ: the operands swap, M and N swap, and each keeps its
// own transpose flag.
func (g rowMajorGemm) toCublas() gemmCall {
	op := func(t bool) int {
		if t {
			return cublasOpT
		}
		return cublasOpN
	}
	return gemmCall{
		opA: op(g.TransB), opB: op(g.TransA),
		m: g.N, n: g.M, k: g.K,
		alpha: g.Alpha, beta: g.Beta,
		a: g.B, lda: g.LDB, strideA: g.StrideB,
		b: g.A, ldb: g.LDA, strideB: g.StrideA,
		c: g.C, ldc: g.LDC, strideC: g.StrC,
		abType: cudaR32F, cType: cudaR32F, compute: cublasCompute32FPedan,
		batch: g.Batch,
	}
}

// sizes returns the element counts op(A) and op(B) span in memory (one
// batch entry each, from the first element to the last), for the bf16
// operand copies.
func (g rowMajorGemm) sizes() (a, b int64) {
	rowsA, colsA := g.M, g.K
	if g.TransA {
		rowsA, colsA = g.K, g.M
	}
	rowsB, colsB := g.K, g.N
	if g.TransB {
		rowsB, colsB = g.N, g.K
	}
	span := func(rows, cols, ld int, stride int64, batch int) int64 {
		one := int64(rows-1)*int64(ld) + int64(cols)
		if batch > 1 {
			return stride*int64(batch-1) + one
		}
		return one
	}
	return span(rowsA, colsA, g.LDA, g.StrideA, g.Batch), span(rowsB, colsB, g.LDB, g.StrideB, g.Batch)
}
