package dedup

import (
	"context"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"sync"
	"testing"
)

// testOptions are DefaultOptions with small memtables, so that opening many
// indexes in a test run stays cheap.
func testOptions() Options {
	o := DefaultOptions()
	o.MemTableSize = 4 << 20
	o.BlockCacheSize = 4 << 20
	return o
}

func openTest(t testing.TB, dir string, o Options) *Index {
	t.Helper()
	x, err := Open(context.Background(), dir, o)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

// balancedHash returns a pseudo-random 64-bit hash with exactly 32 bits set,
// as a pHash of an image without ties has.
func balancedHash(r *rand.Rand) PHash {
	var h uint64
	for _, i := range r.Perm(64)[:32] {
		h |= 1 << i
	}
	return PHash(h)
}

// flipBits flips n distinct random bits of h.
func flipBits(r *rand.Rand, h PHash, n int) PHash {
	for _, i := range r.Perm(64)[:n] {
		h ^= 1 << i
	}
	return h
}

// sampleAt is fixture sample i: every field encodes i, and its pHash comes
// from a generator seeded with i.
func sampleAt(i int) Sample {
	r := rand.New(rand.NewPCG(uint64(i), 0x5eed))
	return Sample{
		Key:      fmt.Sprintf("s-%07d", i),
		URL:      fmt.Sprintf("https://img.example.com/i/%07d.jpg", i),
		Caption:  fmt.Sprintf("caption %d", i),
		SHA256:   SumSHA256([]byte(fmt.Sprintf("image bytes %d", i))),
		PHash:    balancedHash(r),
		HasPHash: true,
	}
}

func mustCheck(t testing.TB, x *Index, s Sample) Verdict {
	t.Helper()
	v, err := x.Check(context.Background(), s)
	if err != nil {
		t.Fatalf("Check(%s): %v", s.Key, err)
	}
	return v
}

func TestCheckKinds(t *testing.T) {
	base := sampleAt(1)
	other := sampleAt(2)
	with := func(f func(*Sample)) Sample {
		s := other
		f(&s)
		return s
	}
	for _, tc := range []struct {
		name  string
		opts  func(*Options)
		s     Sample
		kind  Kind
		dist  int
		keeps bool
	}{
		{"new sample", nil, other, KindNone, 0, true},
		{"same URL", nil, with(func(s *Sample) { s.URL = base.URL }), KindURL, 0, false},
		{"same URL other spelling", nil, with(func(s *Sample) {
			s.URL = "HTTPS://IMG.example.com:443/i/%30000001.jpg#top"
		}), KindURL, 0, false},
		{"same URL, URL kind off", func(o *Options) { o.URL = false }, with(func(s *Sample) { s.URL = base.URL }), KindNone, 0, true},
		{"same bytes", nil, with(func(s *Sample) { s.SHA256 = base.SHA256; s.PHash = base.PHash }), KindExact, 0, false},
		{"same bytes, exact off, same caption", func(o *Options) { o.Exact = false }, with(func(s *Sample) {
			s.SHA256, s.Caption, s.HasPHash = base.SHA256, "  CAPTION   1 ", false
		}), KindPair, 0, false},
		{"same bytes, exact and near off, other caption", func(o *Options) { o.Exact, o.Near = false, false }, with(func(s *Sample) {
			s.SHA256, s.PHash = base.SHA256, base.PHash
		}), KindNone, 0, true},
		{"near at distance 3", nil, with(func(s *Sample) { s.PHash = base.PHash ^ 0b10101 }), KindNear, 3, false},
		{"near at distance 4", nil, with(func(s *Sample) { s.PHash = base.PHash ^ 0xf000 }), KindNear, 4, false},
		{"distance 5 is not near", nil, with(func(s *Sample) { s.PHash = base.PHash ^ 0x1f }), KindNone, 0, true},
		{"near off", func(o *Options) { o.Near = false }, with(func(s *Sample) { s.PHash = base.PHash }), KindNone, 0, true},
		{"no pHash", nil, with(func(s *Sample) { s.PHash, s.HasPHash = base.PHash, false }), KindNone, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions()
			if tc.opts != nil {
				tc.opts(&o)
			}
			x := openTest(t, t.TempDir(), o)
			if v := mustCheck(t, x, base); !v.Keep {
				t.Fatalf("first sample: %+v", v)
			}
			v := mustCheck(t, x, tc.s)
			if v.Keep != tc.keeps || v.Kind != tc.kind || v.Distance != tc.dist {
				t.Fatalf("verdict %+v, want keep=%v kind=%v distance=%d", v, tc.keeps, tc.kind, tc.dist)
			}
			if !v.Keep && v.Original != base.Key {
				t.Fatalf("original %q, want %q", v.Original, base.Key)
			}
		})
	}
}

// TestNearRadius: for every radius, a hash at exactly that distance is a
// near-duplicate and one at radius+1 is not.
func TestNearRadius(t *testing.T) {
	for radius := 0; radius <= MaxRadius; radius++ {
		t.Run(fmt.Sprintf("radius=%d", radius), func(t *testing.T) {
			seed := uint64(100 + radius)
			r := rand.New(rand.NewPCG(seed, 1))
			o := testOptions()
			o.NearRadius = radius
			o.URL, o.Exact, o.Pair = false, false, false
			x := openTest(t, t.TempDir(), o)
			base := balancedHash(r)
			mustCheck(t, x, Sample{Key: "base", PHash: base, HasPHash: true})
			for trial := range 20 {
				in := flipBits(r, base, radius)
				out := flipBits(r, base, radius+1)
				if _, d, ok, err := x.Nearest(context.Background(), in); err != nil || !ok || d != radius {
					t.Fatalf("seed %d trial %d: Nearest(distance %d) = %d, %v, %v", seed, trial, radius, d, ok, err)
				}
				if _, _, ok, err := x.Nearest(context.Background(), out); err != nil || ok {
					t.Fatalf("seed %d trial %d: Nearest(distance %d) found something (err %v)", seed, trial, radius+1, err)
				}
			}
		})
	}
}

// TestConcurrentDuplicates: many goroutines offer duplicates of each other
// at once (same bytes, same URL, or pHashes pairwise within the radius);
// exactly one is kept.
func TestConcurrentDuplicates(t *testing.T) {
	const workers = 64
	for _, tc := range duplicateOffers {
		t.Run(tc.name, func(t *testing.T) {
			const seed = 7
			r := rand.New(rand.NewPCG(seed, 0))
			x := openTest(t, t.TempDir(), testOptions())
			base := sampleAt(1)
			samples := make([]Sample, workers)
			for i := range samples {
				samples[i] = tc.mk(i, base, r)
			}
			oneKept(t, seed, workers, func(i int) (Verdict, string, error) {
				v, err := x.Check(context.Background(), samples[i])
				return v, samples[i].Key, err
			})
		})
	}
}

// oneKept runs offer(i) for i in [0, n) on n goroutines released at once
// and fails unless exactly one offer is kept.
func oneKept(t *testing.T, seed uint64, n int, offer func(i int) (Verdict, string, error)) {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		kept  []string
		start = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-start
			v, key, err := offer(i)
			if err != nil {
				t.Error(err)
				return
			}
			if v.Keep {
				mu.Lock()
				kept = append(kept, key)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if len(kept) != 1 {
		t.Fatalf("seed %d: kept %d samples (%v), want exactly 1", seed, len(kept), kept)
	}
}

// TestLowInformationHashes: flat images (all black, all white) and other
// hashes with few bits set never enter the multi-index buckets, so they
// cannot grow one giant bucket; they still dedup exactly.
func TestLowInformationHashes(t *testing.T) {
	o := testOptions()
	o.URL, o.Exact, o.Pair = false, false, false
	x := openTest(t, t.TempDir(), o)
	ctx := context.Background()
	const seed = 3
	r := rand.New(rand.NewPCG(seed, 0))

	// 2000 distinct sparse hashes (0..11 bits set), one per sample.
	stored := map[PHash]bool{}
	for i := 0; len(stored) < 2000; i++ {
		h := PHash(0)
		for range r.IntN(12) {
			h |= 1 << r.IntN(64)
		}
		if stored[h] {
			continue
		}
		stored[h] = true
		if v := mustCheck(t, x, Sample{Key: fmt.Sprintf("flat-%05d", i), PHash: h, HasPHash: true}); !v.Keep {
			t.Fatalf("seed %d: distinct low-information hash %s: %+v", seed, h, v)
		}
	}
	for _, tc := range []struct {
		name string
		h    PHash
	}{{"all black", 0}, {"all white", 1 << 63}} {
		t.Run(tc.name, func(t *testing.T) {
			v := mustCheck(t, x, Sample{Key: "again-" + tc.name, PHash: tc.h, HasPHash: true})
			if v.Keep || v.Kind != KindNear || v.Distance != 0 {
				t.Fatalf("second %s image: %+v, want near duplicate at distance 0", tc.name, v)
			}
		})
	}
	st, err := x.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.BucketEntries != 0 || st.PHashes != 2000 {
		t.Fatalf("after 2000 low-information hashes: %d bucket entries, %d pHash records; want 0 and 2000",
			st.BucketEntries, st.PHashes)
	}
	// A normal hash goes to one bucket per band.
	mustCheck(t, x, Sample{Key: "normal", PHash: balancedHash(r), HasPHash: true})
	if st, _ = x.Stats(ctx); st.BucketEntries != int64(autoBands(DefaultRadius)) || st.Bands != autoBands(DefaultRadius) {
		t.Fatalf("bucket entries %d in %d bands, want %d", st.BucketEntries, st.Bands, autoBands(DefaultRadius))
	}
}

// bruteNearest is what Nearest must answer, by a linear scan of stored:
// the smallest distance within radius, where a low-information hash (fewer
// than lowInfo bits) matches only an equal one and is never a near match
// of anything else.
func bruteNearest(stored []PHash, h PHash, radius, lowInfo int) (int, bool) {
	best := radius + 1
	for _, s := range stored {
		d := bits.OnesCount64(uint64(h ^ s))
		if d > 0 && (h.Bits() < lowInfo || s.Bits() < lowInfo) {
			continue
		}
		best = min(best, d)
	}
	return best, best <= radius
}

// TestRecallAgainstBruteForce compares Nearest with a linear Hamming scan
// for every radius, with the default band count, the classic radius+1
// bands and 2 bands where that is allowed, on queries at every distance
// from stored hashes. A tenth of the stored and queried hashes are
// low-information (flat or near-flat images).
func TestRecallAgainstBruteForce(t *testing.T) {
	for radius := 0; radius <= MaxRadius; radius++ {
		for _, m := range []int{0, radius + 1, 2} {
			if m != 0 && countProbes(radius, m) > 1000 {
				continue // correct but slow: 2 bands from radius 6 up
			}
			t.Run(fmt.Sprintf("radius=%d/bands=%d", radius, m), func(t *testing.T) {
				seed := uint64(radius*100 + m)
				r := rand.New(rand.NewPCG(seed, 99))
				o := testOptions()
				o.NearRadius, o.NearBands = radius, m
				o.URL, o.Exact, o.Pair = false, false, false
				x := openTest(t, t.TempDir(), o)
				lowInfo := func() PHash {
					h := PHash(0)
					for range r.IntN(o.LowInfoBits) {
						h |= 1 << r.IntN(64)
					}
					return h
				}
				var batch []Sample
				for i := range 1500 {
					h := balancedHash(r)
					if i%10 == 0 {
						h = lowInfo()
					}
					batch = append(batch, Sample{Key: fmt.Sprintf("h-%05d", i), PHash: h, HasPHash: true})
				}
				vs, err := x.CheckBatch(context.Background(), batch)
				if err != nil {
					t.Fatal(err)
				}
				var stored []PHash
				for i, v := range vs {
					if v.Keep {
						stored = append(stored, batch[i].PHash)
					}
				}
				for q := range 300 {
					h := flipBits(r, stored[r.IntN(len(stored))], q%(radius+3))
					if q%10 == 5 {
						h = lowInfo()
					}
					best, want := bruteNearest(stored, h, radius, o.LowInfoBits)
					_, d, ok, err := x.Nearest(context.Background(), h)
					if err != nil {
						t.Fatal(err)
					}
					if ok != want || (ok && d != best) {
						t.Fatalf("seed %d query %d (%s): index says %d/%v, brute force %d/%v", seed, q, h, d, ok, best, want)
					}
				}
			})
		}
	}
}

// TestSubRadii: for every radius and band count, a pair of hashes at
// exactly that distance has some band within the band's sub-radius, which
// is what makes the search exact.
func TestSubRadii(t *testing.T) {
	for radius := 0; radius <= MaxRadius; radius++ {
		for m := 1; m <= MaxRadius+1; m++ {
			t.Run(fmt.Sprintf("radius=%d/bands=%d", radius, m), func(t *testing.T) {
				seed := uint64(radius*100 + m)
				r := rand.New(rand.NewPCG(seed, 5))
				bs, subs := splitBands(m), subRadii(radius, m)
				for trial := range 2000 {
					h := PHash(r.Uint64())
					g := flipBits(r, h, radius)
					found := false
					for i, b := range bs {
						if bits.OnesCount64(b.sub(h)^b.sub(g)) <= subs[i] {
							found = true
						}
					}
					if !found {
						t.Fatalf("seed %d trial %d: %s and %s: no band within its sub-radius %v", seed, trial, h, g, subs)
					}
				}
			})
		}
	}
}

func TestMasksUpTo(t *testing.T) {
	for _, tc := range []struct {
		n uint
		k int
	}{{5, 0}, {5, 2}, {5, 7}, {16, 2}, {22, 3}, {64, 2}} {
		t.Run(fmt.Sprintf("n=%d/k=%d", tc.n, tc.k), func(t *testing.T) {
			ms := masksUpTo(tc.n, tc.k)
			want := 0
			for w := 0; w <= tc.k; w++ {
				want += binomial(int(tc.n), w)
			}
			seen := map[uint64]bool{}
			for _, m := range ms {
				if seen[m] || bits.OnesCount64(m) > tc.k || (tc.n < 64 && m >= 1<<tc.n) {
					t.Fatalf("bad or repeated mask %b", m)
				}
				seen[m] = true
			}
			if len(ms) != want {
				t.Fatalf("%d masks, want %d", len(ms), want)
			}
		})
	}
}

func TestManyInsertsOfOneURL(t *testing.T) {
	const n = 100_000
	o := testOptions()
	x := openTest(t, t.TempDir(), o)
	s := sampleAt(0)
	if !mustCheck(t, x, s).Keep {
		t.Fatal("first sample not kept")
	}
	for i := 1; i < n; i++ {
		d := Sample{Key: fmt.Sprintf("dup-%06d", i), URL: s.URL}
		v := mustCheck(t, x, d)
		if v.Keep || v.Kind != KindURL || v.Original != s.Key {
			t.Fatalf("insert %d: %+v", i, v)
		}
	}
	st, err := x.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.URLs != 1 || st.Duplicates[KindURL] != n-1 {
		t.Fatalf("stats %+v: want 1 URL record and %d URL duplicates", st, n-1)
	}
}

// duplicateOffers are the ways the concurrency tests make the i-th of
// several offers duplicate a base sample: the same bytes, the same URL, or
// pHashes pairwise within the radius.
var duplicateOffers = []struct {
	name string
	mk   func(i int, base Sample, r *rand.Rand) Sample
}{
	{"same bytes", func(i int, b Sample, _ *rand.Rand) Sample {
		s := sampleAt(1000 + i)
		s.SHA256 = b.SHA256
		return s
	}},
	{"same URL", func(i int, b Sample, _ *rand.Rand) Sample {
		s := sampleAt(1000 + i)
		s.URL = b.URL
		return s
	}},
	{"near within radius/2 of one hash", func(i int, b Sample, r *rand.Rand) Sample {
		s := sampleAt(1000 + i)
		s.PHash = flipBits(r, b.PHash, 1+i%2) // pairwise distance <= 4
		return s
	}},
}
