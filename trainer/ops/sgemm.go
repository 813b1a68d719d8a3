package ops

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Float is the element type the op kernels are written for: float32 to
// train, float64 for the finite-difference tests.
type Float interface{ ~float32 | ~float64 }

// Blocking for gemm: C is cut into mc×nc tiles that workers take in turn;
// each tile is computed in kc-deep slices from packed panels of A (mr rows)
// and B (nr columns) that stay in L1/L2 while a 4×4 register-blocked kernel
// sweeps them. Sizes for float32: an A block is 64×256×4 B = 64 KiB, a B
// block 256×256×4 B = 256 KiB.
const (
	gemmMR = 4
	gemmNR = 4
	gemmMC = 64
	gemmNC = 256
	gemmKC = 256
	// gemmSerialFlops is the size under which one goroutine is faster than
	// starting workers.
	gemmSerialFlops = 1 << 18
)

// gemm computes C (+)= op(A)·op(B) for row-major matrices, with
// op(A) [M,K] and op(B) [K,N]. transA means A is stored as [K,M], transB that
// B is stored as [N,K]; lda, ldb, ldc are row strides. With accumulate the
// product is added to C, otherwise C is overwritten. It uses up to workers
// goroutines over tiles of C.
func gemm[T Float](transA, transB bool, M, N, K int, a []T, lda int, b []T, ldb int, c []T, ldc int, accumulate bool, workers int) {
	if M == 0 || N == 0 {
		return
	}
	if K == 0 {
		if !accumulate {
			for i := range M {
				clear(c[i*ldc : i*ldc+N])
			}
		}
		return
	}
	tilesM := (M + gemmMC - 1) / gemmMC
	tilesN := (N + gemmNC - 1) / gemmNC
	tiles := tilesM * tilesN
	if workers > tiles {
		workers = tiles
	}
	if 2*M*N*K < gemmSerialFlops || workers < 1 {
		workers = 1
	}
	g := gemmTask[T]{transA: transA, transB: transB, M: M, N: N, K: K, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
		accumulate: accumulate, tilesN: tilesN, tiles: tiles}
	if workers == 1 {
		g.work()
		return
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(g.work)
	}
	wg.Wait()
}

type gemmTask[T Float] struct {
	transA, transB bool
	M, N, K        int
	a, b, c        []T
	lda, ldb, ldc  int
	accumulate     bool
	tilesN, tiles  int
	next           atomic.Int64
}

// work takes tiles until none are left.
func (g *gemmTask[T]) work() {
	packA := make([]T, gemmMC*gemmKC)
	packB := make([]T, gemmKC*gemmNC)
	for {
		t := int(g.next.Add(1) - 1)
		if t >= g.tiles {
			return
		}
		ic, jc := (t/g.tilesN)*gemmMC, (t%g.tilesN)*gemmNC
		mb, nb := min(gemmMC, g.M-ic), min(gemmNC, g.N-jc)
		for pc := 0; pc < g.K; pc += gemmKC {
			kb := min(gemmKC, g.K-pc)
			g.packA(packA, ic, pc, mb, kb)
			g.packB(packB, pc, jc, kb, nb)
			add := g.accumulate || pc > 0
			for ir := 0; ir < mb; ir += gemmMR {
				for jr := 0; jr < nb; jr += gemmNR {
					ap := packA[ir*kb : (ir+gemmMR)*kb]
					bp := packB[jr*kb : (jr+gemmNR)*kb]
					var acc [gemmMR * gemmNR]T
					kernel4x4(ap, bp, &acc)
					rows, cols := min(gemmMR, mb-ir), min(gemmNR, nb-jr)
					for r := range rows {
						row := g.c[(ic+ir+r)*g.ldc+jc+jr:]
						row = row[:cols]
						if add {
							for j := range row {
								row[j] += acc[r*gemmNR+j]
							}
						} else {
							copy(row, acc[r*gemmNR:r*gemmNR+cols])
						}
					}
				}
			}
		}
	}
}

// packA copies op(A)[i0:i0+mb, p0:p0+kb] into panels of gemmMR rows, each
// stored k-major ([k][r]), zero-padding the last panel.
func (g *gemmTask[T]) packA(dst []T, i0, p0, mb, kb int) {
	for ir := 0; ir < mb; ir += gemmMR {
		panel := dst[ir*kb : (ir+gemmMR)*kb]
		for r := range gemmMR {
			i := i0 + ir + r
			if ir+r >= mb {
				for k := range kb {
					panel[k*gemmMR+r] = 0
				}
				continue
			}
			if g.transA { // A is [K,M]
				for k := range kb {
					panel[k*gemmMR+r] = g.a[(p0+k)*g.lda+i]
				}
			} else {
				src := g.a[i*g.lda+p0 : i*g.lda+p0+kb]
				for k, v := range src {
					panel[k*gemmMR+r] = v
				}
			}
		}
	}
}

// packB copies op(B)[p0:p0+kb, j0:j0+nb] into panels of gemmNR columns,
// each stored k-major ([k][c]), zero-padding the last panel.
func (g *gemmTask[T]) packB(dst []T, p0, j0, kb, nb int) {
	for jr := 0; jr < nb; jr += gemmNR {
		panel := dst[jr*kb : (jr+gemmNR)*kb]
		for cc := range gemmNR {
			j := j0 + jr + cc
			if jr+cc >= nb {
				for k := range kb {
					panel[k*gemmNR+cc] = 0
				}
				continue
			}
			if g.transB { // B is [N,K]
				src := g.b[j*g.ldb+p0 : j*g.ldb+p0+kb]
				for k, v := range src {
					panel[k*gemmNR+cc] = v
				}
			} else {
				for k := range kb {
					panel[k*gemmNR+cc] = g.b[(p0+k)*g.ldb+j]
				}
			}
		}
	}
}

// kernel4x4 accumulates the 4×4 product of a packed A panel and a packed B
// panel (both [k][4]) into acc, keeping the sixteen sums in registers.
func kernel4x4[T Float](ap, bp []T, acc *[16]T) {
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 T
	n := min(len(ap), len(bp))
	ap, bp = ap[:n], bp[:n]
	for k := 0; k+3 < len(ap) && k+3 < len(bp); k += 4 {
		b0, b1, b2, b3 := bp[k], bp[k+1], bp[k+2], bp[k+3]
		a := ap[k]
		c00 += a * b0
		c01 += a * b1
		c02 += a * b2
		c03 += a * b3
		a = ap[k+1]
		c10 += a * b0
		c11 += a * b1
		c12 += a * b2
		c13 += a * b3
		a = ap[k+2]
		c20 += a * b0
		c21 += a * b1
		c22 += a * b2
		c23 += a * b3
		a = ap[k+3]
		c30 += a * b0
		c31 += a * b1
		c32 += a * b2
		c33 += a * b3
	}
	*acc = [16]T{c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33}
}

// parallelFor runs fn over [0,n) split into contiguous chunks, one per
// worker, and waits for them.
func parallelFor(n, workers int, fn func(lo, hi int)) {
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}

func defaultWorkers() int { return runtime.GOMAXPROCS(0) }
