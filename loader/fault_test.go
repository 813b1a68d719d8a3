package loader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
)

// Fault tests: the loader reads a dataset on the test MinIO through a
// toxiproxy in front of it, so toxics can delay and cut its connections.
// Correctness (every sample once, the same pixels as a clean read, lost
// shards counted) must hold; only the throughput may suffer.

// faultySource is a dataset written straight to MinIO, and the proxy the
// loader reads it through.
type faultySource struct {
	d     *dataset
	proxy *toxiproxy.Proxy
	url   string
}

// faultSizes are the shards of the fault tests: of 80 px photo-like
// JPEGs (about 2.5 KB), so a shard is 15–30 KB and a cut at 8 KB lands
// inside every shard.
var faultSizes = []int{9, 7, 11, 6, 8, 10, 7, 9}

func newFaultySource(t *testing.T) *faultySource {
	t.Helper()
	upstream := strings.TrimPrefix(requireS3(t), "http://")
	bucket := newBucket(t)
	url := "s3://" + bucket + "/ds"
	d := writeDataset(t, url, "w0", "s", faultSizes, 0, 0, func(i int) []byte { return photoJPEG(t, i, 80) })
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	proxy := toxiproxy.NewProxy(srv, "minio", "127.0.0.1:0", upstream)
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Stop)
	return &faultySource{d: d, proxy: proxy, url: url}
}

func (f *faultySource) addToxic(t *testing.T, name, typ, stream, attrs string) {
	t.Helper()
	js := fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"toxicity":1,"attributes":%s}`, name, typ, stream, attrs)
	if _, err := f.proxy.Toxics.AddToxicJson(strings.NewReader(js)); err != nil {
		t.Fatalf("add toxic %s: %v", name, err)
	}
}

// config reads through the proxy (or straight from MinIO when direct).
func (f *faultySource) config(t *testing.T, direct bool) Config {
	cfg := testConfig(t, 5, f.url)
	cfg.ImageSize = 24
	cfg.Retries = 3
	cfg.RetryBackoff = 20 * time.Millisecond
	cfg.Store = storage.Options{MaxRetries: 8, IdleTimeout: 5 * time.Second}
	if !direct {
		cfg.Store.Endpoint = "http://" + f.proxy.Listen
	}
	return cfg
}

func totalSamples(sizes []int) int64 {
	var n int64
	for _, s := range sizes {
		n += int64(s)
	}
	return n
}

// timedRun is run, timed.
func timedRun(t *testing.T, l *Loader, st State) ([]got, time.Duration) {
	t.Helper()
	start := time.Now()
	gs := run(t, l, st, -1)
	return gs, time.Since(start)
}

// sameBatches checks two reads of one epoch delivered identical batches.
func sameBatches(t *testing.T, a, b []got) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d batches, clean read %d", len(a), len(b))
	}
	for i := range a {
		if a[i].hash != b[i].hash {
			t.Fatalf("batch %d differs from the clean read (keys %v vs %v)", i, a[i].keys, b[i].keys)
		}
	}
}

// 50 ms on every response: the epoch is the clean epoch, only slower.
func TestS3FaultLatency(t *testing.T) {
	f := newFaultySource(t)
	st := State{Seed: 5, Epoch: 2}
	clean, cleanTook := timedRun(t, newLoader(t, f.config(t, true)), st)
	f.addToxic(t, "lat", "latency", "downstream", `{"latency":50,"jitter":5}`)
	l := newLoader(t, f.config(t, false))
	gs, took := timedRun(t, l, st)
	sameBatches(t, gs, clean)
	checkExactlyOnce(t, gs, expectKeys(t, l, []*dataset{f.d}, st, 0, totalSamples(faultSizes)))
	if m := l.Metrics(); m.ShardsSkipped != 0 || m.SkippedTotal != 0 || m.ShardsFetched != int64(len(faultSizes)) {
		t.Fatalf("metrics %+v", m)
	}
	t.Logf("epoch of %d samples: %v clean, %v with 50 ms per response (waited %v for shards)",
		totalSamples(faultSizes), cleanTook.Round(time.Millisecond), took.Round(time.Millisecond), l.Metrics().FetchWait.Round(time.Millisecond))
}

// Every connection is cut after 8 KB of response: shard reads break in
// the middle and are resumed (by storage) or retried (by the loader); the
// epoch is the clean epoch. (The toxic goes in after the listing, whose
// response would not fit either.)
func TestS3FaultResetMidShard(t *testing.T) {
	f := newFaultySource(t)
	var largest int64
	for sc, err := range shardwriter.Committed(context.Background(), f.d.store, "") {
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, sc.Bytes)
	}
	const cut = 8 << 10
	if largest <= 2*cut {
		t.Fatalf("largest shard is %d bytes: the cut at %d would not land inside shards", largest, cut)
	}
	st := State{Seed: 9, Epoch: 0}
	clean, cleanTook := timedRun(t, newLoader(t, f.config(t, true)), st)
	cfg := f.config(t, false)
	cfg.World, cfg.Rank = 2, 1 // a rank reads every shard of its blocks all the same
	resumes := &countingHandler{msg: "storage: resuming read"}
	cfg.Store.Logger = slog.New(resumes)
	l := newLoader(t, cfg)
	f.addToxic(t, "cut", "limit_data", "downstream", fmt.Sprintf(`{"bytes":%d}`, cut))
	gs, took := timedRun(t, l, st)
	o, err := l.Order(st.Seed, st.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{}
	for i, k := range expectKeys(t, l, []*dataset{f.d}, st, 0, o.Len()) {
		if i%2 == 1 {
			want[i] = k
		}
	}
	checkExactlyOnce(t, gs, want)
	// Rank 1's rows are the odd indices of the clean single-rank epoch,
	// with the same pixels (the crop depends on the global index only).
	cleanRows := map[int64]string{}
	for _, g := range clean {
		for r, i := range g.indices {
			cleanRows[i] = g.rows[r]
		}
	}
	for _, g := range gs {
		for r, i := range g.indices {
			if g.rows[r] != cleanRows[i] {
				t.Fatalf("index %d: pixels differ from the clean read", i)
			}
		}
	}
	m := l.Metrics()
	if m.ShardsSkipped != 0 || m.SkippedTotal != 0 || m.ShardsFetched != int64(len(faultSizes)) {
		t.Fatalf("metrics %+v", m)
	}
	if n := resumes.n.Load(); n < int64(len(faultSizes)) {
		t.Fatalf("%d reads resumed after a cut, want at least one per shard", n)
	}
	t.Logf("epoch: %v clean, %v with every connection cut at %d bytes (shards up to %d bytes; %d reads resumed by storage, %d shard reads retried by the loader)",
		cleanTook.Round(time.Millisecond), took.Round(time.Millisecond), cut, largest, resumes.n.Load(), m.FetchRetries)
}

// A shard's data object is deleted while the epoch runs (after the
// listing, before the shard is fetched): the epoch completes, that
// shard's samples are counted lost, every other sample arrives once.
func TestS3FaultShardDeletedDuringEpoch(t *testing.T) {
	f := newFaultySource(t)
	f.addToxic(t, "lat", "latency", "downstream", `{"latency":50,"jitter":5}`)
	cfg := f.config(t, false)
	cfg.MemoryBudget = 1 // one block resident at a time: later blocks are fetched later
	l := newLoader(t, cfg)
	st := State{Seed: 3, Epoch: 1}
	o, err := l.Order(st.Seed, st.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	n := o.Len()
	// The victim is a shard of the last block, which cannot be fetched
	// before the first batch has been delivered.
	_, victim, _ := l.Locate(o.At(n - 1))
	// With one block resident, block k+1 is fetched only once block k is
	// done; the producer runs at most BatchPool batches ahead, so with
	// four blocks of 13 or more samples the last one is fetched well after
	// the first batch.
	if o.Blocks() < 4 {
		t.Fatalf("order of %d blocks; the test needs 4", o.Blocks())
	}
	lastLo, _ := o.blockRange(o.Blocks() - 1)
	it, err := l.Iter(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var gs []got
	for {
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		checkBatch(t, l, b)
		gs = append(gs, got{hash: hashBatch(b), keys: slices.Clone(b.Keys), indices: slices.Clone(b.Indices)})
		if len(gs) == 1 {
			if b.Indices[b.N-1] >= lastLo {
				t.Fatal("the first batch reached the last block")
			}
			if err := f.d.store.Delete(context.Background(), shardwriter.ShardsDir+victim); err != nil {
				t.Fatal(err)
			}
		}
		b.Release()
	}
	want := map[int64]string{}
	lost := 0
	for i, k := range expectKeys(t, l, []*dataset{f.d}, st, 0, n) {
		if _, shard, _ := l.Locate(o.At(i)); shard == victim {
			lost++
			continue
		}
		want[i] = k
	}
	checkExactlyOnce(t, gs, want)
	m := l.Metrics()
	if m.ShardsSkipped != 1 || m.SkippedLost != int64(lost) || m.SkippedTotal != int64(lost) {
		t.Fatalf("want 1 shard and %d samples lost; metrics %+v", lost, m)
	}
	t.Logf("deleted %s (%d samples) during the epoch: %d of %d samples delivered", victim, lost, len(want), n)
}

// countingHandler counts log records with one message.
type countingHandler struct {
	msg string
	n   atomic.Int64
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}

func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
