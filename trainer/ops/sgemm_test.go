package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveGemm is the textbook triple loop, in float64.
func naiveGemm(transA, transB bool, M, N, K int, a []float64, lda int, b []float64, ldb int) []float64 {
	c := make([]float64, M*N)
	for i := range M {
		for j := range N {
			var s float64
			for k := range K {
				var av, bv float64
				if transA {
					av = a[k*lda+i]
				} else {
					av = a[i*lda+k]
				}
				if transB {
					bv = b[j*ldb+k]
				} else {
					bv = b[k*ldb+j]
				}
				s += av * bv
			}
			c[i*N+j] = s
		}
	}
	return c
}

func TestGemm(t *testing.T) {
	sizes := [][3]int{{1, 1, 1}, {3, 5, 7}, {4, 4, 4}, {65, 257, 300}, {130, 33, 513}, {7, 600, 2}, {0, 3, 3}, {3, 3, 0}}
	for _, s := range sizes {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			for _, acc := range []bool{false, true} {
				M, N, K := s[0], s[1], s[2]
				name := fmt.Sprintf("M%d_N%d_K%d_tA%v_tB%v_acc%v", M, N, K, tr[0], tr[1], acc)
				t.Run(name, func(t *testing.T) {
					seed := uint64(M*1000003 + N*1009 + K)
					rng := rand.New(rand.NewPCG(seed, 1))
					a := randSlice(rng, M*K)
					b := randSlice(rng, K*N)
					lda, ldb := K, N
					if tr[0] {
						lda = M
					}
					if tr[1] {
						ldb = K
					}
					want := naiveGemm(tr[0], tr[1], M, N, K, a, lda, b, ldb)
					c := randSlice(rng, M*N)
					c0 := append([]float64(nil), c...)
					gemm(tr[0], tr[1], M, N, K, a, lda, b, ldb, c, N, acc, 3)
					for i := range c {
						w := want[i]
						if acc {
							w += c0[i]
						}
						if math.Abs(c[i]-w) > 1e-9*(1+math.Abs(w)) {
							t.Fatalf("seed %d: c[%d] = %v, want %v", seed, i, c[i], w)
						}
					}
				})
			}
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = rng.NormFloat64()
	}
	return s
}

// BenchmarkSgemm reports GFLOP/s of the float32 GEMM in the layouts the
// matmul op uses: forward (NT), input gradient (NN), weight gradient (TN).
func BenchmarkSgemm(b *testing.B) {
	sizes := [][3]int{{128, 128, 128}, {512, 512, 512}, {1024, 1024, 1024}, {3200, 768, 768}, {3200, 3072, 768}}
	layouts := []struct {
		name           string
		transA, transB bool
	}{{"NT", false, true}, {"NN", false, false}, {"TN", true, false}}
	for _, s := range sizes {
		for _, l := range layouts {
			M, N, K := s[0], s[1], s[2]
			b.Run(fmt.Sprintf("%s/M%d_N%d_K%d", l.name, M, N, K), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				a32 := make([]float32, M*K)
				b32 := make([]float32, K*N)
				for i := range a32 {
					a32[i] = float32(rng.NormFloat64())
				}
				for i := range b32 {
					b32[i] = float32(rng.NormFloat64())
				}
				c := make([]float32, M*N)
				lda, ldb := K, N
				if l.transA {
					lda = M
				}
				if l.transB {
					ldb = K
				}
				b.ReportAllocs()
				for b.Loop() {
					gemm(l.transA, l.transB, M, N, K, a32, lda, b32, ldb, c, N, false, defaultWorkers())
				}
				b.ReportMetric(2*float64(M)*float64(N)*float64(K)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestGemmFloat32 checks the float32 path (the AVX2 micro-kernel where the
// CPU has it) against the float64 triple loop.
func TestGemmFloat32(t *testing.T) {
	t.Logf("assembly micro-kernel: %v (AVX-512: %v)", useAsmKernel, useAVX512)
	checkGemmFloat32(t)
}

func checkGemmFloat32(t *testing.T) {
	sizes := [][3]int{{1, 1, 1}, {6, 16, 1}, {6, 16, 2}, {12, 32, 3}, {7, 17, 3}, {97, 257, 300}, {130, 33, 513}, {5, 600, 2}, {200, 300, 260}}
	for _, s := range sizes {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			for _, acc := range []bool{false, true} {
				M, N, K := s[0], s[1], s[2]
				seed := uint64(M*1000003 + N*1009 + K)
				rng := rand.New(rand.NewPCG(seed, 2))
				a, b := randSlice(rng, M*K), randSlice(rng, K*N)
				lda, ldb := K, N
				if tr[0] {
					lda = M
				}
				if tr[1] {
					ldb = K
				}
				want := naiveGemm(tr[0], tr[1], M, N, K, a, lda, b, ldb)
				c := randSlice(rng, M*N)
				a32, b32, c32 := to32(a), to32(b), to32(c)
				gemm(tr[0], tr[1], M, N, K, a32, lda, b32, ldb, c32, N, acc, 2)
				for i := range c32 {
					w := want[i]
					if acc {
						w += float64(float32(c[i]))
					}
					if math.Abs(float64(c32[i])-w) > 1e-5*math.Sqrt(float64(K))*(1+math.Abs(w)) {
						t.Fatalf("seed %d: M%d N%d K%d trans %v acc %v: c[%d] = %v, want %v", seed, M, N, K, tr, acc, i, c32[i], w)
					}
				}
			}
		}
	}
}

func to32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}
