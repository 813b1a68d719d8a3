package dedup

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The benchmarks run against indexes prefilled with n generated samples
// (1M and 10M take minutes to build). A prefilled index is built once and
// kept under the user cache directory, keyed by n, seed, radius, band
// count, kinds and layout version, so later runs and every invocation of a
// benchmark function (Go runs one more than once) reuse it. Benchmarks that
// write work on a copy; query benchmarks open it read-only.
//
// Environment: DEDUP_BENCH_SEED (default 1) seeds the generated samples;
// DEDUP_BENCH_CACHE overrides the cache directory.

func benchSeed(b *testing.B) uint64 {
	s := os.Getenv("DEDUP_BENCH_SEED")
	if s == "" {
		return 1
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		b.Fatalf("DEDUP_BENCH_SEED=%q: %v", s, err)
	}
	return v
}

// benchHash is benchSample(i, seed).PHash without the rest: a balanced
// random hash (32 bits set), as a pHash of an image without ties has.
func benchHash(i int, seed uint64) PHash {
	return balancedHash(rand.New(rand.NewPCG(uint64(i), seed)))
}

// benchSample is generated sample i: every field unique to i.
func benchSample(i int, seed uint64) Sample {
	return Sample{
		Key:      fmt.Sprintf("s-%08d", i),
		URL:      fmt.Sprintf("https://img.example.com/%d/%08d.jpg", seed, i),
		Caption:  fmt.Sprintf("caption %d", i),
		SHA256:   SumSHA256(fmt.Appendf(nil, "image bytes %d %d", seed, i)),
		PHash:    benchHash(i, seed),
		HasPHash: true,
	}
}

// baseSpec describes a prefilled index.
type baseSpec struct {
	n        int
	radius   int
	bands    int // 0: autoBands(radius)
	nearOnly bool
}

func (s baseSpec) options() Options {
	o := DefaultOptions()
	o.NearRadius, o.NearBands = s.radius, s.bands
	if s.nearOnly {
		o.URL, o.Exact, o.Pair = false, false, false
	}
	return o
}

func (s baseSpec) kinds() string {
	if s.nearOnly {
		return "near"
	}
	return "all"
}

func (s baseSpec) name(seed uint64) string {
	kinds := s.kinds()
	m := s.bands
	if m == 0 {
		m = autoBands(s.radius)
	}
	return fmt.Sprintf("v%d-n%d-seed%d-r%d-m%d-%s", layoutVersion, s.n, seed, s.radius, m, kinds)
}

// baseInfo is stored next to a prefilled index.
type baseInfo struct {
	N, Radius, Bands int
	Seed             uint64
	Kinds            string
	LoadSeconds      float64
	DiskBytes        int64
}

var (
	baseMu    sync.Mutex
	hashCache = map[[2]uint64][]PHash{}
)

func cacheRoot(b *testing.B) string {
	if d := os.Getenv("DEDUP_BENCH_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		b.Fatalf("no user cache dir (set DEDUP_BENCH_CACHE): %v", err)
	}
	return filepath.Join(d, "clipstream", "dedup-bench")
}

// prefilled returns the directory of a closed index holding samples
// 0..n-1 of the seed, building it if the cache has none.
func prefilled(b *testing.B, spec baseSpec) (string, baseInfo) {
	b.Helper()
	baseMu.Lock()
	defer baseMu.Unlock()
	seed := benchSeed(b)
	dir := filepath.Join(cacheRoot(b), spec.name(seed))
	var info baseInfo
	if raw, err := os.ReadFile(filepath.Join(dir, "info.json")); err == nil {
		if err := json.Unmarshal(raw, &info); err != nil {
			b.Fatalf("%s: %v", dir, err)
		}
		return filepath.Join(dir, "index"), info
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		b.Fatal(err)
	}
	b.Logf("building prefilled index %s (seed %d): %d samples", filepath.Base(dir), seed, spec.n)
	start := time.Now()
	o := spec.options()
	x, err := Open(context.Background(), filepath.Join(tmp, "index"), o)
	if err != nil {
		b.Fatal(err)
	}
	if err := loadSamples(x, spec, seed); err != nil {
		x.Close()
		b.Fatal(err)
	}
	if err := x.Close(); err != nil {
		b.Fatal(err)
	}
	info = baseInfo{
		N: spec.n, Radius: spec.radius, Bands: len(x.bands), Seed: seed, Kinds: spec.kinds(),
		LoadSeconds: time.Since(start).Seconds(), DiskBytes: dirBytes(b, filepath.Join(tmp, "index")),
	}
	raw, _ := json.Marshal(info)
	if err := os.WriteFile(filepath.Join(tmp, "info.json"), raw, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %s in %.0f s: %.0f samples/s, %.1f disk bytes/sample", filepath.Base(dir),
		info.LoadSeconds, float64(spec.n)/info.LoadSeconds, float64(info.DiskBytes)/float64(max(spec.n, 1)))
	return filepath.Join(dir, "index"), info
}

// loadSamples records samples 0..n-1 without looking them up (a write
// batch of what Check would record), and commits them. Generated samples
// are distinct by URL and bytes; the few pairs of hashes that fall within
// the radius of each other (a few dozen in 10M at radius 8) both stay, and
// the recall checks compare against all of them.
func loadSamples(x *Index, spec baseSpec, seed uint64) error {
	const chunk = 8192
	type batch struct {
		from int
		ps   []plan
	}
	ch := make(chan batch, 4)
	var genErr error
	go func() {
		defer close(ch)
		for from := 0; from < spec.n; from += chunk {
			ps := make([]plan, 0, chunk)
			for i := from; i < min(from+chunk, spec.n); i++ {
				p, err := x.plan(benchSample(i, seed))
				if err != nil {
					genErr = err
					return
				}
				ps = append(ps, p)
			}
			ch <- batch{from, ps}
		}
	}()
	wb := x.db.NewWriteBatch()
	defer wb.Cancel()
	for bt := range ch {
		for _, p := range bt.ps {
			if err := x.recordTo(wb.Set, p); err != nil {
				return err
			}
			if err := wb.Set(committedKey(p.s.Key), nil); err != nil {
				return err
			}
		}
	}
	if genErr != nil {
		return genErr
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	return x.db.Sync()
}

// storedHashes returns the pHashes of samples 0..n-1 of the seed.
func storedHashes(n int, seed uint64) []PHash {
	baseMu.Lock()
	defer baseMu.Unlock()
	k := [2]uint64{uint64(n), seed}
	if hs, ok := hashCache[k]; ok {
		return hs
	}
	hs := make([]PHash, n)
	var wg sync.WaitGroup
	const parts = 8
	for p := range parts {
		wg.Go(func() {
			for i := p * n / parts; i < (p+1)*n/parts; i++ {
				hs[i] = benchHash(i, seed)
			}
		})
	}
	wg.Wait()
	hashCache[k] = hs
	return hs
}

// cloneIndex copies a closed index into a new directory for a benchmark to
// write to. (Not hard links: Badger truncates a table file before it
// deletes it, which would damage the cached original.)
func cloneIndex(b *testing.B, src string) string {
	b.Helper()
	dst := filepath.Join(b.TempDir(), "index")
	if err := os.Mkdir(dst, 0o755); err != nil {
		b.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range ents {
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			b.Fatal(err)
		}
	}
	return dst
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
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

func bandsName(radius, m int) string {
	if m == 0 {
		m = autoBands(radius)
	}
	return fmt.Sprintf("bands=%d", m)
}

// BenchmarkCheck: one op is two Checks from parallel goroutines, a new
// sample (an insert) and a duplicate of a stored one (a lookup), all kinds
// on, radius 4, into an index prefilled with n samples. Reports checks/s,
// bytes on disk per stored sample of the prefilled index (disk-B/sample)
// and of the index after the benchmark's inserts and Close.
func BenchmarkCheck(b *testing.B) {
	for _, bl := range []bool{false, true} {
		for _, m := range []int{0, DefaultRadius + 1} {
			for _, n := range []int{0, 100_000, 1_000_000, 10_000_000} {
				b.Run(fmt.Sprintf("bloom=%v/%s/%s", bl, bandsName(DefaultRadius, m), sizeName(n)), func(b *testing.B) {
					benchCheck(b, baseSpec{n: n, radius: DefaultRadius, bands: m}, bl)
				})
			}
		}
	}
}

func benchCheck(b *testing.B, spec baseSpec, bl bool) {
	seed := benchSeed(b)
	base, info := prefilled(b, spec)
	dir := cloneIndex(b, base)
	o := spec.options()
	o.Bloom = bl
	x, err := Open(context.Background(), dir, o)
	if err != nil {
		b.Fatal(err)
	}
	var ctr atomic.Int64
	ctr.Store(int64(spec.n))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(ctr.Add(1) - 1)
			if _, err := x.Check(context.Background(), benchSample(i, seed)); err != nil {
				b.Error(err)
			}
			// A stored sample (prefilled, or inserted earlier in this run).
			d := benchSample(i/2, seed)
			d.Key = "dup"
			if v, err := x.Check(context.Background(), d); err != nil || (i/2 < spec.n && v.Keep) {
				b.Errorf("duplicate of %d: %+v, %v", i/2, v, err)
			}
		}
	})
	b.StopTimer()
	if err := x.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(2*float64(b.N)/b.Elapsed().Seconds(), "checks/s")
	if spec.n > 0 {
		b.ReportMetric(float64(info.DiskBytes)/float64(spec.n), "disk-B/sample")
	}
	b.ReportMetric(float64(dirBytes(b, dir))/float64(ctr.Load()), "after-B/sample")
}

// BenchmarkCheckBatch: CheckBatch of new samples, 4096 per call, into an
// index prefilled with n samples (all kinds, radius 4): the bulk insert
// rate. One op is one sample.
func BenchmarkCheckBatch(b *testing.B) {
	for _, m := range []int{0, DefaultRadius + 1} {
		for _, n := range []int{0, 1_000_000, 10_000_000} {
			b.Run(fmt.Sprintf("%s/%s", bandsName(DefaultRadius, m), sizeName(n)), func(b *testing.B) {
				spec := baseSpec{n: n, radius: DefaultRadius, bands: m}
				seed := benchSeed(b)
				base, _ := prefilled(b, spec)
				x, err := Open(context.Background(), cloneIndex(b, base), spec.options())
				if err != nil {
					b.Fatal(err)
				}
				defer x.Close()
				b.ReportAllocs()
				b.ResetTimer()
				for from := n; from < n+b.N; from += 4096 {
					b.StopTimer()
					ss := make([]Sample, 0, 4096)
					for i := from; i < min(from+4096, n+b.N); i++ {
						ss = append(ss, benchSample(i, seed))
					}
					b.StartTimer()
					if _, err := x.CheckBatch(context.Background(), ss); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
			})
		}
	}
}

// BenchmarkNearQuery: Nearest for stored hashes with 0..radius+2 bits
// flipped, against n stored balanced hashes, with the default band count
// and with the classic radius+1 bands (layout version 1's search). After
// timing, it checks recall against a brute-force scan of all n hashes on
// 500 queries (the benchmark fails unless it is 100%, with no false
// positives either) and reports it.
func BenchmarkNearQuery(b *testing.B) {
	for _, radius := range []int{4, 8} {
		for _, m := range []int{0, radius + 1} {
			for _, n := range []int{100_000, 1_000_000, 10_000_000} {
				b.Run(fmt.Sprintf("radius=%d/%s/%s", radius, bandsName(radius, m), sizeName(n)), func(b *testing.B) {
					benchNearQuery(b, baseSpec{n: n, radius: radius, bands: m, nearOnly: true})
				})
			}
		}
	}
}

func benchNearQuery(b *testing.B, spec baseSpec) {
	seed := benchSeed(b)
	base, _ := prefilled(b, spec)
	stored := storedHashes(spec.n, seed)
	o := spec.options()
	o.ReadOnly = true
	if v := os.Getenv("DEDUP_BENCH_BLOCK_CACHE_MB"); v != "" { // the block cache to query with
		mb, err := strconv.Atoi(v)
		if err != nil || mb <= 0 {
			b.Fatalf("DEDUP_BENCH_BLOCK_CACHE_MB=%q: want a positive number of MiB", v)
		}
		o.BlockCacheSize = int64(mb) << 20
	}
	x, err := Open(context.Background(), base, o)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	b.Logf("seed %d, %d stored hashes, radius %d, %d bands, block cache %d MiB", seed, spec.n, spec.radius, len(x.bands), o.BlockCacheSize>>20)
	r := rand.New(rand.NewPCG(seed, 1))
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h := flipBits(r, stored[r.IntN(len(stored))], i%(spec.radius+3))
		if _, _, _, err := x.Nearest(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")

	const queries = 500
	rq := rand.New(rand.NewPCG(seed, 2))
	found, hits := 0, 0
	for q := range queries {
		h := flipBits(rq, stored[rq.IntN(len(stored))], q%(spec.radius+3))
		best := 65
		for _, s := range stored {
			best = min(best, bits.OnesCount64(uint64(h^s)))
		}
		_, d, ok, err := x.Nearest(ctx, h)
		if err != nil {
			b.Fatal(err)
		}
		if want := best <= spec.radius; ok != want || (ok && d != best) {
			b.Fatalf("seed %d recall query %d (%s): index says %d/%v, brute force %d", seed, q, h, d, ok, best)
		}
		if ok {
			found++
		}
		if best <= spec.radius {
			hits++
		}
	}
	b.ReportMetric(100*float64(found)/float64(max(hits, 1)), "recall-%")
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
