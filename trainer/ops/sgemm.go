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
// and B (nr columns) that stay in L1/L2 while a 6×16 register-blocked
// micro-kernel sweeps them (AVX2+FMA assembly on amd64 for float32, plain
// Go otherwise). Sizes for float32: an A block is 96×256×4 B = 96 KiB, a B
// block 256×256×4 B = 256 KiB.
const (
	gemmMR = 6
	gemmNR = 16
	gemmMC = 96
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
// goroutines.
//
// Loop order is GotoBLAS's: for each nc-wide column block and kc-deep
// slice, op(B) is packed once (workers share the packing) and then workers
// take (mc-row block, column chunk) items, each packing its A block and
// running the micro-kernel over it.
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
	if 2*M*N*K < gemmSerialFlops || workers < 1 {
		workers = 1
	}
	g := &gemmTask[T]{transA: transA, transB: transB, M: M, N: N, K: K, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc}
	kcMax := min(gemmKC, K)
	ncMax := roundUp(min(gemmNC, N), gemmNR)
	pb := getPack[T]()
	defer putPack(pb)
	g.packB = (*pb)[:kcMax*ncMax]
	mcMax := roundUp(min(gemmMC, M), gemmMR)
	packA := make([][]T, workers)
	for w := range packA {
		p := getPack[T]()
		defer putPack(p)
		packA[w] = (*p)[:mcMax*kcMax]
	}
	blocksM := (M + gemmMC - 1) / gemmMC
	for jc := 0; jc < N; jc += gemmNC {
		nb := min(gemmNC, N-jc)
		panels := (nb + gemmNR - 1) / gemmNR
		// split columns when there are fewer row blocks than workers
		splits := min(panels, max(1, (workers+blocksM-1)/blocksM))
		for pc := 0; pc < K; pc += gemmKC {
			kb := min(gemmKC, K-pc)
			add := accumulate || pc > 0
			parallelFor(panels, workers, func(lo, hi int) {
				for p := lo; p < hi; p++ {
					g.packBPanel(p, pc, jc, kb, nb)
				}
			})
			items := blocksM * splits
			var next atomic.Int64
			parallelFor(workers, workers, func(lo, hi int) {
				for w := lo; w < hi; w++ {
					for {
						it := int(next.Add(1) - 1)
						if it >= items {
							break
						}
						ib, s := it/splits, it%splits
						p0, p1 := s*panels/splits, (s+1)*panels/splits
						g.block(packA[w], ib*gemmMC, pc, jc, kb, nb, p0, p1, add)
					}
				}
			})
		}
	}
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// gemmPackLen is the size of a pack buffer: enough for a packed B block
// (kc×nc) and a packed A block (mc×kc).
const gemmPackLen = gemmKC * max(gemmNC, gemmMC)

// packPools recycle gemm's pack buffers (float32, float64), so that the
// many small GEMMs of attention allocate nothing.
var packPools [2]sync.Pool

func packPool[T Float]() *sync.Pool {
	if _, ok := any(T(0)).(float64); ok {
		return &packPools[1]
	}
	return &packPools[0]
}

func getPack[T Float]() *[]T {
	if p, ok := packPool[T]().Get().(*[]T); ok {
		return p
	}
	s := make([]T, gemmPackLen)
	return &s
}

func putPack[T Float](p *[]T) { packPool[T]().Put(p) }

type gemmTask[T Float] struct {
	transA, transB bool
	M, N, K        int
	a, b, c        []T
	lda, ldb, ldc  int
	packB          []T
}

// block computes C[ic:ic+mb, jc+16·p0 : jc+16·p1] (+)= its A block times
// the packed B panels p0..p1 of the current kc slice. Full 6×16 tiles of a
// float32 C go straight through the assembly micro-kernel, which adds into
// or overwrites C itself; edge tiles (and float64) go through acc.
func (g *gemmTask[T]) block(packA []T, ic, pc, jc, kb, nb, p0, p1 int, add bool) {
	mb := min(gemmMC, g.M-ic)
	g.packA(packA, ic, pc, mb, kb)
	c32, direct := any(g.c).([]float32)
	direct = direct && useAsmKernel
	var acc [gemmMR * gemmNR]T
	for p := p0; p < p1; p++ {
		jr := p * gemmNR
		bp := g.packB[jr*kb : (jr+gemmNR)*kb]
		cols := min(gemmNR, nb-jr)
		for ir := 0; ir < mb; ir += gemmMR {
			ap := packA[ir*kb : (ir+gemmMR)*kb]
			rows := min(gemmMR, mb-ir)
			if direct && rows == gemmMR && cols == gemmNR {
				off := (ic+ir)*g.ldc + jc + jr
				_ = c32[off+(gemmMR-1)*g.ldc+gemmNR-1] // the kernel's last write
				asmKernel(kb, &any(ap).([]float32)[0], &any(bp).([]float32)[0], &c32[off], g.ldc, add)
				continue
			}
			microKernel(kb, ap, bp, &acc)
			for r := range rows {
				row := g.c[(ic+ir+r)*g.ldc+jc+jr:]
				row = row[:cols]
				src := acc[r*gemmNR : r*gemmNR+cols]
				if add {
					for j, v := range src {
						row[j] += v
					}
				} else {
					copy(row, src)
				}
			}
		}
	}
}

// packA copies op(A)[i0:i0+mb, p0:p0+kb] into panels of gemmMR rows, each
// stored k-major ([k][r]), zero-padding the last panel. Reads go along
// rows of the stored matrix, so a transposed A is read contiguously too.
func (g *gemmTask[T]) packA(dst []T, i0, p0, mb, kb int) {
	for ir := 0; ir < mb; ir += gemmMR {
		panel := dst[ir*kb : (ir+gemmMR)*kb]
		rows := min(gemmMR, mb-ir)
		if rows < gemmMR {
			clear(panel)
		}
		if g.transA { // A is [K,M]: row k holds op(A)[:,k]
			if rows == gemmMR { // fixed-size moves: no memmove call per k
				for k := range kb {
					d, src := (*[gemmMR]T)(panel[k*gemmMR:]), (*[gemmMR]T)(g.a[(p0+k)*g.lda+i0+ir:])
					d[0], d[1], d[2], d[3], d[4], d[5] = src[0], src[1], src[2], src[3], src[4], src[5]
				}
				continue
			}
			for k := range kb {
				src := g.a[(p0+k)*g.lda+i0+ir:][:rows]
				copy(panel[k*gemmMR:][:rows], src)
			}
			continue
		}
		if rows == gemmMR { // six rows at once: contiguous writes
			i := (i0 + ir) * g.lda
			s0 := g.a[i+p0 : i+p0+kb]
			s1 := g.a[i+g.lda+p0 : i+g.lda+p0+kb]
			s2 := g.a[i+2*g.lda+p0 : i+2*g.lda+p0+kb]
			s3 := g.a[i+3*g.lda+p0 : i+3*g.lda+p0+kb]
			s4 := g.a[i+4*g.lda+p0 : i+4*g.lda+p0+kb]
			s5 := g.a[i+5*g.lda+p0 : i+5*g.lda+p0+kb]
			for k := range kb {
				d := (*[gemmMR]T)(panel[k*gemmMR:])
				d[0], d[1], d[2], d[3], d[4], d[5] = s0[k], s1[k], s2[k], s3[k], s4[k], s5[k]
			}
			continue
		}
		for r := range rows {
			i := i0 + ir + r
			src := g.a[i*g.lda+p0 : i*g.lda+p0+kb]
			for k, v := range src {
				panel[k*gemmMR+r] = v
			}
		}
	}
}

// packBPanel copies columns [16·p, 16·p+16) of op(B)[p0:p0+kb, j0:j0+nb]
// into panel p of g.packB, stored k-major ([k][c]), zero-padding past nb.
func (g *gemmTask[T]) packBPanel(p, p0, j0, kb, nb int) {
	jr := p * gemmNR
	panel := g.packB[jr*kb : (jr+gemmNR)*kb]
	cols := min(gemmNR, nb-jr)
	if cols < gemmNR {
		clear(panel)
	}
	if g.transB { // B is [N,K]
		for cc := range cols {
			j := j0 + jr + cc
			src := g.b[j*g.ldb+p0 : j*g.ldb+p0+kb]
			for k, v := range src {
				panel[k*gemmNR+cc] = v
			}
		}
		return
	}
	if cols == gemmNR { // fixed-size moves: no memmove call per k
		for k := range kb {
			d, src := (*[gemmNR]T)(panel[k*gemmNR:]), (*[gemmNR]T)(g.b[(p0+k)*g.ldb+j0+jr:])
			for c := range gemmNR {
				d[c] = src[c]
			}
		}
		return
	}
	for k := range kb {
		copy(panel[k*gemmNR:][:cols], g.b[(p0+k)*g.ldb+j0+jr:][:cols])
	}
}

// microKernel sets acc to the 6×16 product of a packed A panel ([k][6])
// and a packed B panel ([k][16]), k = kb ≥ 1.
func microKernel[T Float](kb int, ap, bp []T, acc *[gemmMR * gemmNR]T) {
	if a32, ok := any(ap).([]float32); ok && useAsmKernel {
		b32 := any(bp).([]float32)
		c32 := any(acc).(*[gemmMR * gemmNR]float32)
		asmKernel(kb, &a32[0], &b32[0], &c32[0], gemmNR, false)
		return
	}
	kernelGo(kb, ap, bp, acc)
}

// kernelGo is the portable micro-kernel: for each k, a rank-1 update of
// the 6×16 block, two rows at a time.
func kernelGo[T Float](kb int, ap, bp []T, acc *[gemmMR * gemmNR]T) {
	*acc = [gemmMR * gemmNR]T{}
	ap, bp = ap[:kb*gemmMR], bp[:kb*gemmNR]
	for r := 0; r < gemmMR; r += 2 {
		c0 := acc[r*gemmNR : (r+1)*gemmNR : (r+1)*gemmNR]
		c1 := acc[(r+1)*gemmNR : (r+2)*gemmNR : (r+2)*gemmNR]
		for k := range kb {
			a0, a1 := ap[k*gemmMR+r], ap[k*gemmMR+r+1]
			b := bp[k*gemmNR : (k+1)*gemmNR : (k+1)*gemmNR]
			for c, bv := range b {
				c0[c] += a0 * bv
				c1[c] += a1 * bv
			}
		}
	}
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

// elemSerial is the number of elements under which an elementwise op runs
// on one goroutine: starting workers costs more than it saves.
const elemSerial = 1 << 14

// elemWorkers returns workers, or 1 for an elementwise op over fewer than
// elemSerial elements.
func elemWorkers(n, workers int) int {
	if n < elemSerial {
		return 1
	}
	return workers
}
