package dedup

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// fill checks samples [from, to) from GOMAXPROCS goroutines.
func fill(b *testing.B, x *Index, from, to int, mk func(int) Sample) {
	b.Helper()
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	next.Store(int64(from))
	for range runtime.GOMAXPROCS(0) * 2 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				if _, err := x.Check(context.Background(), mk(i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func dirBytes(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkCheck: one op is two Checks from parallel goroutines, a new
// sample (an insert) and a duplicate of an earlier one (a lookup), all
// kinds on, into an index already holding n samples. Reports bytes on disk
// per stored sample after Close.
func BenchmarkCheck(b *testing.B) {
	for _, bl := range []bool{false, true} {
		for _, n := range []int{0, 100_000, 1_000_000} {
			b.Run(fmt.Sprintf("bloom=%v/%s", bl, sizeName(n)), func(b *testing.B) {
				dir := b.TempDir()
				o := DefaultOptions()
				o.Bloom = bl
				x, err := Open(context.Background(), dir, o)
				if err != nil {
					b.Fatal(err)
				}
				fill(b, x, 0, n, sampleAt)
				var ctr atomic.Int64
				ctr.Store(int64(n))
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := int(ctr.Add(1))
						if _, err := x.Check(context.Background(), sampleAt(i)); err != nil {
							b.Error(err)
						}
						d := sampleAt(i / 2)
						d.Key = "dup"
						if _, err := x.Check(context.Background(), d); err != nil {
							b.Error(err)
						}
					}
				})
				b.StopTimer()
				stored := ctr.Load()
				if err := x.Close(); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(dirBytes(b, dir))/float64(stored), "disk-B/sample")
				b.ReportMetric(2*float64(b.N)/b.Elapsed().Seconds(), "checks/s")
			})
		}
	}
}

// BenchmarkNearQuery: Nearest for hashes 0..radius+2 bits from a stored one,
// against n stored balanced hashes.
func BenchmarkNearQuery(b *testing.B) {
	for _, radius := range []int{4, 8} {
		for _, n := range []int{100_000, 1_000_000} {
			b.Run(fmt.Sprintf("radius=%d/%s", radius, sizeName(n)), func(b *testing.B) {
				o := DefaultOptions()
				o.NearRadius = radius
				o.URL, o.Exact, o.Pair = false, false, false
				x, err := Open(context.Background(), b.TempDir(), o)
				if err != nil {
					b.Fatal(err)
				}
				defer x.Close()
				fill(b, x, 0, n, sampleAt)
				r := rand.New(rand.NewPCG(1, 1))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					h := flipBits(r, sampleAt(r.IntN(n)).PHash, i%(radius+3))
					if _, _, _, err := x.Nearest(context.Background(), h); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
			})
		}
	}
}

// BenchmarkSameURL: Checks of one URL over and over (run with
// -benchtime=10000000x for the ten million).
func BenchmarkSameURL(b *testing.B) {
	x, err := Open(context.Background(), b.TempDir(), DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	s := sampleAt(0)
	if _, err := x.Check(context.Background(), s); err != nil {
		b.Fatal(err)
	}
	d := Sample{Key: "dup", URL: s.URL}
	b.ReportAllocs()
	for b.Loop() {
		if v, err := x.Check(context.Background(), d); err != nil || v.Keep {
			b.Fatal(v, err)
		}
	}
}
