package dedup

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// batchSamples returns n samples with duplicates of every kind among them,
// many within the same CheckBatch chunk.
func batchSamples(r *rand.Rand, n int) []Sample {
	var out []Sample
	for i := range n {
		s := sampleAt(i)
		if i > 0 {
			prev := out[r.IntN(len(out))]
			switch i % 7 {
			case 1:
				s.URL = prev.URL
			case 2:
				s.SHA256 = prev.SHA256
			case 3:
				s.PHash = flipBits(r, prev.PHash, r.IntN(DefaultRadius+2))
			case 4:
				s.PHash = 0 // all black
			case 5:
				s.SHA256, s.Caption, s.URL = prev.SHA256, prev.Caption, ""
			}
		}
		out = append(out, s)
	}
	return out
}

// TestCheckBatchMatchesCheck: CheckBatch gives the verdicts that Check one
// sample after another gives, with chunks small enough (1 MiB memtables)
// that a batch spans many of them, for every kind setting.
func TestCheckBatchMatchesCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(*Options)
	}{
		{"all kinds", nil},
		{"exact off", func(o *Options) { o.Exact = false }},
		{"near only, radius 8", func(o *Options) { o.URL, o.Exact, o.Pair, o.NearRadius = false, false, false, 8 }},
		{"bloom", func(o *Options) { o.Bloom, o.BloomExpected = true, 1000 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const seed = 11
			r := rand.New(rand.NewPCG(seed, 0))
			o := testOptions()
			o.MemTableSize = 1 << 20
			if tc.f != nil {
				tc.f(&o)
			}
			one := openTest(t, t.TempDir(), o)
			bulk := openTest(t, t.TempDir(), o)
			ss := batchSamples(r, 1500)
			got, err := bulk.CheckBatch(context.Background(), ss)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(ss) {
				t.Fatalf("%d verdicts for %d samples", len(got), len(ss))
			}
			dups := 0
			for i, s := range ss {
				want := mustCheck(t, one, s)
				if got[i] != want {
					t.Fatalf("seed %d sample %d: CheckBatch %+v, Check %+v", seed, i, got[i], want)
				}
				if !want.Keep {
					dups++
				}
			}
			if dups < 100 {
				t.Fatalf("only %d duplicates: the test checks little", dups)
			}
			// What the batch recorded blocks later Checks.
			if v := mustCheck(t, bulk, withKey(ss[0], "later")); v.Keep {
				t.Fatalf("sample recorded by CheckBatch did not block: %+v", v)
			}
		})
	}
}

func TestCheckBatchBadSample(t *testing.T) {
	x := openTest(t, t.TempDir(), testOptions())
	ss := []Sample{sampleAt(1), {Key: ""}, sampleAt(2)}
	if _, err := x.CheckBatch(context.Background(), ss); !errors.Is(err, ErrBadSample) {
		t.Fatalf("CheckBatch with an empty key = %v, want ErrBadSample", err)
	}
	// Nothing was recorded.
	if v := mustCheck(t, x, sampleAt(1)); !v.Keep {
		t.Fatalf("a failed batch recorded a sample: %+v", v)
	}
}

// TestCheckBatchConcurrentWithCheck: workers offer duplicates of one
// sample at once, some through Check and some inside CheckBatch batches
// of other samples; exactly one is kept.
func TestCheckBatchConcurrentWithCheck(t *testing.T) {
	const workers = 16
	for _, tc := range duplicateOffers {
		t.Run(tc.name, func(t *testing.T) {
			const seed = 9
			r := rand.New(rand.NewPCG(seed, 0))
			x := openTest(t, t.TempDir(), testOptions())
			base := sampleAt(1)
			offers := make([]Sample, workers)
			for i := range offers {
				offers[i] = tc.mk(i, base, r)
			}
			oneKept(t, seed, workers, func(i int) (Verdict, string, error) {
				s := offers[i]
				if i%2 == 1 {
					v, err := x.Check(context.Background(), s)
					return v, s.Key, err
				}
				// Fillers: unrelated samples around the duplicate.
				vs, err := x.CheckBatch(context.Background(), []Sample{sampleAt(10_000 + 3*i), s, sampleAt(10_001 + 3*i)})
				if err != nil {
					return Verdict{}, "", err
				}
				return vs[1], s.Key, nil
			})
		})
	}
}

func TestNearBandsStored(t *testing.T) {
	dir := t.TempDir()
	o := testOptions()
	o.NearBands = 5
	x := openTest(t, dir, o)
	mustCheck(t, x, sampleAt(1))
	if err := x.Commit(context.Background(), []string{sampleAt(1).Key}); err != nil {
		t.Fatal(err)
	}
	x.Close()
	// Reopened with the default, it keeps its 5 bands and still finds
	// near duplicates.
	x = openTest(t, dir, testOptions())
	st, err := x.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Bands != 5 || st.BuiltRadius != DefaultRadius {
		t.Fatalf("stats: %d bands, radius %d; want 5, %d", st.Bands, st.BuiltRadius, DefaultRadius)
	}
	if _, d, ok, err := x.Nearest(context.Background(), sampleAt(1).PHash^0b1111); err != nil || !ok || d != 4 {
		t.Fatalf("Nearest = %d, %v, %v", d, ok, err)
	}
}

func TestNearBandsBadOptions(t *testing.T) {
	for _, tc := range []struct{ bands, radius int }{{-1, 4}, {65, 4}, {2, 10}, {1, 4}} {
		t.Run(fmt.Sprintf("bands=%d/radius=%d", tc.bands, tc.radius), func(t *testing.T) {
			o := testOptions()
			o.NearBands, o.NearRadius = tc.bands, tc.radius
			if _, err := Open(context.Background(), t.TempDir(), o); !errors.Is(err, ErrBadOptions) {
				t.Fatalf("Open = %v, want ErrBadOptions", err)
			}
		})
	}
}
