package loader

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/clipstream/clipstream/internal/s3test"
	"github.com/clipstream/clipstream/shardwriter"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, append(s3test.ToxiproxyLeaks(), goleak.Cleanup(func(code int) {
		if benchDir != "" {
			os.RemoveAll(benchDir)
		}
		os.Exit(code)
	}))...)
}

// sizes50 are uneven shard sizes, 50 samples in all.
var sizes50 = []int{7, 5, 9, 3, 8, 6, 7, 5}

func fileURL(dir string) string { return "file://" + dir }

func newDataset50(t testing.TB) *dataset {
	return writeDataset(t, fileURL(t.TempDir()), "w0", "s", sizes50, 40, 30, nil)
}

func TestDeterministic(t *testing.T) {
	d := newDataset50(t)
	st := State{Seed: 7, Epoch: 3}
	a := run(t, newLoader(t, testConfig(t, 4, d.url)), st, -1)
	cfg := testConfig(t, 4, d.url)
	cfg.Workers = 1 // a different pool size must not change anything
	cfg.FetchConcurrency = 1
	b := run(t, newLoader(t, cfg), st, -1)
	if len(a) != len(b) || len(a) != 13 {
		t.Fatalf("%d and %d batches, want 13", len(a), len(b))
	}
	for i := range a {
		if a[i].hash != b[i].hash {
			t.Fatalf("batch %d differs: %s vs %s (keys %v vs %v)", i, a[i].hash, b[i].hash, a[i].keys, b[i].keys)
		}
	}
	// Another epoch is another order.
	c := run(t, newLoader(t, testConfig(t, 4, d.url)), State{Seed: 7, Epoch: 4}, -1)
	if c[0].hash == a[0].hash {
		t.Fatal("epochs 3 and 4 start with the same batch")
	}
	// The images are not constant: augmentation and content reach them.
	if a[0].hash == a[1].hash {
		t.Fatal("two batches hash alike")
	}
}

func TestResumeAtRandomPosition(t *testing.T) {
	d := newDataset50(t)
	cfg := testConfig(t, 3, d.url)
	st := State{Seed: 11, Epoch: 1}
	full := run(t, newLoader(t, cfg), st, -1)
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for range 3 {
		k := 1 + r.IntN(len(full)-1) // stop after k batches
		t.Logf("stopping after %d of %d batches", k, len(full))
		l := newLoader(t, cfg)
		first := run(t, l, st, k)
		resumeAt := first[k-1].state
		if resumeAt.Position == 0 || resumeAt.Epoch != st.Epoch {
			t.Fatalf("state after batch %d: %+v", k, resumeAt)
		}
		rest := run(t, newLoader(t, cfg), resumeAt, -1)
		if len(first)+len(rest) != len(full) {
			t.Fatalf("%d + %d batches, want %d", len(first), len(rest), len(full))
		}
		for i, g := range append(first, rest...) {
			if g.hash != full[i].hash {
				t.Fatalf("batch %d differs after resuming at %+v", i, resumeAt)
			}
		}
	}
	last := full[len(full)-1].state
	if last.Epoch != st.Epoch+1 || last.Position != 0 {
		t.Fatalf("state after the last batch: %+v", last)
	}
}

func TestWorldSizesCoverEpochOnce(t *testing.T) {
	d := newDataset50(t)
	ds := []*dataset{d}
	st := State{Seed: 3, Epoch: 0}
	crops := map[int64]string{} // global index → image hash, from world 1
	for _, tail := range []TailPolicy{TailShort, TailDrop} {
		for world := 1; world <= 3; world++ {
			var all []got
			var steps []int
			var l0 *Loader
			for rank := range world {
				cfg := testConfig(t, 4, d.url)
				cfg.World, cfg.Rank, cfg.Tail = world, rank, tail
				l := newLoader(t, cfg)
				if rank == 0 {
					l0 = l
				}
				gs := run(t, l, st, -1)
				steps = append(steps, len(gs))
				all = append(all, gs...)
			}
			for _, s := range steps {
				if s != steps[0] {
					t.Fatalf("tail %d world %d: ranks take %v steps", tail, world, steps)
				}
			}
			// TailShort: every sample; TailDrop: all but the last partial
			// step of the order (50 mod 4·world samples).
			hi := int64(50)
			if tail == TailDrop {
				hi -= 50 % int64(4*world)
			}
			checkExactlyOnce(t, all, expectKeys(t, l0, ds, st, 0, hi))
			// A sample's augmentation depends on (seed, epoch, index) only:
			// not on the world size or its place in a batch.
			for _, g := range all {
				for r, i := range g.indices {
					if c, ok := crops[i]; !ok {
						crops[i] = g.rows[r]
					} else if c != g.rows[r] {
						t.Fatalf("world %d: index %d has another image than in world 1", world, i)
					}
				}
			}
			if tail == TailShort {
				seen := map[string]int{}
				for _, k := range keysOf(all) {
					seen[k]++
				}
				for _, k := range d.keys {
					if seen[k] != 1 {
						t.Fatalf("world %d: key %s seen %d times", world, k, seen[k])
					}
				}
			}
		}
	}
}

func TestElasticResume(t *testing.T) {
	d := newDataset50(t)
	ds := []*dataset{d}
	st := State{Seed: 5, Epoch: 2}
	for _, tail := range []TailPolicy{TailShort, TailDrop} {
		// World 2 runs 2 steps of 2×4 samples, then saves at 16; world 3
		// resumes there (16 is not a multiple of 3: rank r takes the
		// indices ≡ r mod 3 from 16 on).
		var before []got
		var saved State
		for rank := range 2 {
			cfg := testConfig(t, 4, d.url)
			cfg.World, cfg.Rank, cfg.Tail = 2, rank, tail
			gs := run(t, newLoader(t, cfg), st, 2)
			before = append(before, gs...)
			if rank == 0 {
				saved = gs[1].state
			} else if gs[1].state != saved {
				t.Fatalf("ranks saved different states: %+v vs %+v", saved, gs[1].state)
			}
		}
		if saved.Position != 16 {
			t.Fatalf("saved position %d, want 16", saved.Position)
		}
		// World 3 resumes from that state.
		var after []got
		var l0 *Loader
		for rank := range 3 {
			cfg := testConfig(t, 4, d.url)
			cfg.World, cfg.Rank, cfg.Tail = 3, rank, tail
			l := newLoader(t, cfg)
			if rank == 0 {
				l0 = l
			}
			after = append(after, run(t, l, saved, -1)...)
		}
		hi := int64(50)
		if tail == TailDrop {
			hi -= (50 - 16) % 12
		}
		checkExactlyOnce(t, append(before, after...), expectKeys(t, l0, ds, st, 0, hi))
	}
}

func TestOrderChangedRefused(t *testing.T) {
	d := newDataset50(t)
	cfg := testConfig(t, 4, d.url)
	gs := run(t, newLoader(t, cfg), State{Seed: 1}, 2)
	cfg.BlockShards = 3
	l := newLoader(t, cfg)
	if _, err := l.Iter(context.Background(), gs[1].state); !errors.Is(err, ErrOrderChanged) {
		t.Fatalf("resume under another block size: %v, want ErrOrderChanged", err)
	}
	if _, err := l.Iter(context.Background(), State{Position: 51}); err == nil {
		t.Fatal("position past the epoch accepted")
	}
}

func TestMixedSources(t *testing.T) {
	a := writeDataset(t, fileURL(t.TempDir()), "a", "a", []int{4, 4, 4, 4}, 24, 24, nil)
	b := writeDataset(t, fileURL(t.TempDir()), "b", "b", []int{3, 3, 3}, 24, 24, nil)
	c := writeDataset(t, fileURL(t.TempDir()), "c", "c", []int{5, 5, 5, 5}, 24, 24, nil)
	cfg := testConfig(t, 5, a.url, b.url, c.url)
	cfg.Sources[0].Weight = 1
	cfg.Sources[1].Weight = 2   // every shard twice
	cfg.Sources[2].Weight = 0.5 // two of four shards, chosen per epoch
	l := newLoader(t, cfg)
	st := State{Seed: 9}
	gs := run(t, l, st, -1)
	counts := map[string]int{}
	for _, k := range keysOf(gs) {
		counts[k]++
	}
	for _, k := range a.keys {
		if counts[k] != 1 {
			t.Fatalf("source a key %s seen %d times, want 1", k, counts[k])
		}
	}
	for _, k := range b.keys {
		if counts[k] != 2 {
			t.Fatalf("source b key %s seen %d times, want 2", k, counts[k])
		}
	}
	nc := 0
	for _, k := range c.keys {
		if counts[k] > 1 {
			t.Fatalf("source c key %s seen %d times", k, counts[k])
		}
		nc += counts[k]
	}
	if nc != 10 {
		t.Fatalf("source c gave %d samples, want 10 (two shards)", nc)
	}
	o, _ := l.Order(st.Seed, st.Epoch)
	checkExactlyOnce(t, gs, expectKeys(t, l, []*dataset{a, b, c}, st, 0, o.Len()))
}

func TestCorruptSamplesSkipped(t *testing.T) {
	dir := t.TempDir()
	// Shardwriter shards: samples 3 and 10 are not images, 12 is too large.
	d := writeDataset(t, fileURL(dir), "w0", "s", []int{8, 8}, 40, 30, func(i int) []byte {
		switch i {
		case 3:
			return []byte("not a jpeg at all")
		case 10:
			return testJPEG(t, i, 40, 30)[:200] // truncated
		case 12:
			return testJPEG(t, i, 80, 80)
		}
		return nil
	})
	// A raw shard with what shardwriter refuses to write.
	jpg := testJPEG(t, 99, 40, 30)
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, image.NewGray(image.Rect(0, 0, 20, 20))); err != nil {
		t.Fatal(err)
	}
	writeRawShard(t, d.store, "x", 0, []rawSample{
		{"x000", []rawMember{{"jpg", jpg}, {"txt", []byte("fine")}, {"json", []byte("{}")}}},
		{"x001", []rawMember{{"txt", []byte("no image")}, {"json", []byte("{}")}}},
		{"x002", []rawMember{{"jpg", jpg}, {"json", []byte("{}")}}},
		{"x003", []rawMember{{"jpg", jpg}, {"txt", []byte("bad \xff\xfe utf-8")}, {"json", []byte("{}")}}},
		{"x004", []rawMember{{"png", pngBuf.Bytes()}, {"txt", []byte("a png")}}},
	})
	d.readShards(t)
	cfg := testConfig(t, 4, d.url)
	cfg.MaxPixels = 3000
	l := newLoader(t, cfg)
	gs := run(t, l, State{Seed: 2}, -1)
	bad := map[string]bool{"s000003": true, "s000010": true, "s000012": true, "x001": true, "x002": true, "x003": true}
	want := map[string]bool{}
	for _, keys := range d.shards {
		for _, k := range keys {
			if !bad[k] {
				want[k] = true
			}
		}
	}
	seen := map[string]bool{}
	for _, k := range keysOf(gs) {
		if seen[k] || !want[k] {
			t.Fatalf("key %s delivered twice or not expected", k)
		}
		seen[k] = true
	}
	if len(seen) != len(want) {
		t.Fatalf("%d samples delivered, want %d", len(seen), len(want))
	}
	m := l.Metrics()
	if m.SkippedBadImage != 2 || m.SkippedTooLarge != 1 || m.SkippedMissing != 2 || m.SkippedBadText != 1 || m.SkippedTotal != 6 {
		t.Fatalf("skip counts %+v", m)
	}
	// Replay skips the same samples: same batches.
	again := run(t, newLoader(t, cfg), State{Seed: 2}, -1)
	for i := range gs {
		if gs[i].hash != again[i].hash {
			t.Fatalf("batch %d differs on replay", i)
		}
	}
}

func TestDeletedShardSkipped(t *testing.T) {
	d := newDataset50(t)
	cfg := testConfig(t, 4, d.url)
	cfg.Retries = 2
	l := newLoader(t, cfg) // lists the sidecars now
	// Delete one shard's data object underneath, and corrupt another.
	ctx := context.Background()
	names := slices.Sorted(maps.Keys(d.shards))
	victim, damaged := names[2], names[5]
	if err := d.store.Delete(ctx, shardwriter.ShardsDir+victim); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(d.url[len("file://"):], shardwriter.ShardsDir, damaged)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0xff
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	gs := run(t, l, State{Seed: 4}, -1)
	lost := map[string]bool{}
	for _, k := range append(slices.Clone(d.shards[victim]), d.shards[damaged]...) {
		lost[k] = true
	}
	seen := map[string]bool{}
	for _, k := range keysOf(gs) {
		if seen[k] || lost[k] {
			t.Fatalf("key %s delivered twice or from a lost shard", k)
		}
		seen[k] = true
	}
	if len(seen) != 50-len(lost) {
		t.Fatalf("%d samples delivered, want %d", len(seen), 50-len(lost))
	}
	m := l.Metrics()
	if m.ShardsSkipped != 2 || m.SkippedLost != int64(len(lost)) {
		t.Fatalf("skipped shards %d, lost samples %d; want 2, %d", m.ShardsSkipped, m.SkippedLost, len(lost))
	}
	if m.FetchRetries != 2 { // the damaged one is retried; the missing one is not
		t.Fatalf("retries %d, want 2", m.FetchRetries)
	}
}

func TestSmallBudgetAndMetrics(t *testing.T) {
	d := newDataset50(t)
	cfg := testConfig(t, 4, d.url)
	cfg.MemoryBudget = 1 // below one block: blocks go one at a time
	cfg.BatchPool = 1
	l := newLoader(t, cfg)
	gs := run(t, l, State{Seed: 8}, -1)
	if n := len(keysOf(gs)); n != 50 {
		t.Fatalf("%d samples, want 50", n)
	}
	m := l.Metrics()
	if m.Samples != 50 || m.Batches != 13 || m.ShardsFetched != 8 || m.Bytes <= 0 || m.SamplesPerSec <= 0 || m.BytesPerSec <= 0 {
		t.Fatalf("metrics %+v", m)
	}
	if m.ResidentBytes != 0 || m.PrefetchBlocks != 0 || m.FetchesInFlight != 0 {
		t.Fatalf("after the epoch: resident %d, blocks %d, fetches %d", m.ResidentBytes, m.PrefetchBlocks, m.FetchesInFlight)
	}
	if m.Stall <= 0 {
		t.Fatalf("stall %v", m.Stall)
	}
}

func TestDiskCache(t *testing.T) {
	d := newDataset50(t)
	cfg := testConfig(t, 4, d.url)
	cfg.CacheDir = t.TempDir()
	l := newLoader(t, cfg)
	first := run(t, l, State{Seed: 1}, -1)
	if m := l.Metrics(); m.CacheHits != 0 || m.ShardsFetched != 8 {
		t.Fatalf("first pass: %+v", m)
	}
	bytesRead := l.Metrics().Bytes
	second := run(t, l, State{Seed: 1}, -1)
	if m := l.Metrics(); m.CacheHits != 8 || m.Bytes != bytesRead {
		t.Fatalf("second pass: hits %d, bytes %d (was %d)", m.CacheHits, m.Bytes, bytesRead)
	}
	for i := range first {
		if first[i].hash != second[i].hash {
			t.Fatalf("batch %d differs from the cache", i)
		}
	}
	// A cache smaller than the data keeps under its limit.
	var total int64
	for sc, err := range shardwriter.Committed(context.Background(), d.store, "") {
		if err != nil {
			t.Fatal(err)
		}
		total += sc.Bytes
	}
	cfg.CacheDir, cfg.CacheBytes = t.TempDir(), total/2
	l2 := newLoader(t, cfg)
	run(t, l2, State{Seed: 1}, -1)
	if got := l2.cache.size(); got > total/2 || got == 0 {
		t.Fatalf("cache holds %d bytes, limit %d", got, total/2)
	}
	// Reopening finds the entries.
	c, err := openDiskCache(cfg.CacheDir, cfg.CacheBytes)
	if err != nil {
		t.Fatal(err)
	}
	if c.size() != l2.cache.size() {
		t.Fatalf("reopened cache holds %d, want %d", c.size(), l2.cache.size())
	}
}

func TestCancelStopsPromptly(t *testing.T) {
	d := newDataset50(t)
	cfg := testConfig(t, 2, d.url)
	l := newLoader(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	it, err := l.Iter(ctx, State{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := it.Next()
	if err != nil {
		t.Fatal(err)
	}
	b.Release()
	cancel()
	t0 := time.Now()
	for {
		b, err := it.Next()
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("after cancel: %v", err)
			}
			break
		}
		b.Release()
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if time.Since(t0) > 2*time.Second {
		t.Fatalf("stopping took %v", time.Since(t0))
	}
	// Close without reading anything, holding no buffer back.
	it2, err := l.Iter(context.Background(), State{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := it2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := it2.Next(); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("Next after Close: %v", err)
	}
}

func TestEvalIgnoresSeed(t *testing.T) {
	d := newDataset50(t)
	cfg := testConfig(t, 50, d.url)
	cfg.Eval = true
	a := run(t, newLoader(t, cfg), State{Seed: 1}, -1)
	b := run(t, newLoader(t, cfg), State{Seed: 2}, -1)
	// Different seeds give different orders but, in eval mode, the same
	// pixels for the same sample; in training mode, other crops.
	cfg.Eval = false
	c := run(t, newLoader(t, cfg), State{Seed: 2}, -1)
	if len(a) != 1 || len(b) != 1 || len(c) != 1 {
		t.Fatalf("%d, %d, %d batches, want 1", len(a), len(b), len(c))
	}
	if slices.Equal(a[0].keys, b[0].keys) {
		t.Fatal("seeds 1 and 2 give the same order")
	}
	differ := 0
	for r, k := range b[0].keys {
		i := slices.Index(a[0].keys, k)
		if a[0].rows[i] != b[0].rows[r] {
			t.Fatalf("eval image of %s differs between seeds", k)
		}
		if c[0].rows[r] != b[0].rows[r] {
			differ++
		}
	}
	if differ < 40 {
		t.Fatalf("only %d of 50 training crops differ from eval", differ)
	}
}

func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []Config{
		{},
		{BatchSize: 1},
		{BatchSize: 1, Sources: []Source{{URL: "file:///nonexistent-loader-test"}}, Rank: 1},
		{BatchSize: 1, Sources: []Source{{URL: "ftp://x"}}},
		{BatchSize: 1, Sources: []Source{{URL: t.TempDir(), Weight: -1}}},
	} {
		l, err := New(ctx, cfg)
		if err == nil {
			_, err = l.Iter(ctx, State{})
			l.Close()
		}
		if err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
	// An empty dataset is ErrEmpty.
	l, err := New(ctx, Config{BatchSize: 1, Sources: []Source{{URL: t.TempDir()}}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Iter(ctx, State{}); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty dataset: %v", err)
	}
}

// With Uint8, batches carry the same rows as float32 batches, as the
// un-normalised pixels rounded to 8 bits.
func TestUint8Output(t *testing.T) {
	d := writeDataset(t, fileURL(t.TempDir()), "w0", "s", []int{6, 5, 7}, 0, 0, func(i int) []byte { return photoJPEG(t, i, 48) })
	st := State{Seed: 4, Epoch: 1}
	for _, eval := range []bool{false, true} {
		cfg := testConfig(t, 4, d.url)
		cfg.Eval = eval
		floats := run(t, newLoader(t, cfg), st, -1)
		cfg.Uint8 = true
		l := newLoader(t, cfg)
		it, err := l.Iter(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		s := cfg.ImageSize
		img := 3 * s * s
		for k := 0; ; k++ {
			b, err := it.Next()
			if errors.Is(err, io.EOF) {
				if k != len(floats) {
					t.Fatalf("%d uint8 batches, %d float32", k, len(floats))
				}
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Images != nil || len(b.ImagesU8) != b.N*img || !slices.Equal(b.Keys, floats[k].keys) {
				t.Fatalf("batch %d: %d float32 values, %d uint8, keys %v (float32 batch: %v)", k, len(b.Images), len(b.ImagesU8), b.Keys, floats[k].keys)
			}
			for r := range b.N {
				for i, u := range b.ImagesU8[r*img : (r+1)*img] {
					c := i / (s * s)
					v := (floats[k].images[r*img+i]*CLIPStd[c] + CLIPMean[c]) * 255
					if math.Abs(float64(v)-float64(u)) > 0.51 {
						t.Fatalf("eval %v batch %d row %d value %d: uint8 %d, float32 %v", eval, k, r, i, u, v)
					}
				}
			}
			b.Release()
		}
		it.Close()
	}
}
