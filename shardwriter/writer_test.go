package shardwriter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	goleak.VerifyTestMain(m)
}

func newStore(t testing.TB) storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sample returns sample i: its bytes encode i, so drops, duplicates and
// swaps show when read back.
func sample(i int) shardwriter.Sample {
	img := make([]byte, 1000+i%500)
	r := rand.New(rand.NewPCG(uint64(i), 1))
	for j := range img {
		img[j] = byte(r.Uint32())
	}
	copy(img, fmt.Sprintf("img-%08d", i))
	return shardwriter.Sample{
		Image:   img,
		Caption: fmt.Sprintf("caption of sample %d: a photo of thing number %d", i, i),
		Meta:    json.RawMessage(fmt.Sprintf(`{"id":%d,"url":"https://example.com/%d.jpg"}`, i, i)),
	}
}

// readAll reads every committed sample under prefix, checking each shard
// against its sidecar, and returns the ids from the metadata.
func readAll(t *testing.T, store storage.Store, prefix string) []int {
	t.Helper()
	var ids []int
	for sc, err := range shardwriter.Committed(context.Background(), store, prefix) {
		if err != nil {
			t.Fatal(err)
		}
		err := shardwriter.ReadShard(context.Background(), store, prefix, sc, shardwriter.ReaderOptions{}, func(rec *shardwriter.Record) error {
			var meta struct{ ID int }
			if err := json.Unmarshal(rec.Members["json"], &meta); err != nil {
				return err
			}
			want := sample(meta.ID)
			if !bytes.Equal(rec.Members["jpg"], want.Image) || string(rec.Members["txt"]) != want.Caption {
				return fmt.Errorf("sample %s (id %d) differs from what was written", rec.Key, meta.ID)
			}
			ids = append(ids, meta.ID)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name       string
		n          int
		maxSamples int
		maxBytes   int64
		wantShards int
	}{
		{"one-partial-shard", 5, 10, 0, 1},
		{"exact-shards", 30, 10, 0, 3},
		{"rotate-by-count", 25, 10, 0, 3},
		{"rotate-by-bytes", 40, 1000, 8 << 10, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore(t)
			ctx := context.Background()
			var commits []shardwriter.Commit
			var prepared []string
			w, err := shardwriter.New(ctx, store, shardwriter.Options{
				Prefix: "ds/", WriterID: "a", MaxSamples: tc.maxSamples, MaxBytes: tc.maxBytes,
				BeforeCommit: func(ctx context.Context, shard string, keys []string) error {
					// The data object is complete; the sidecar is not there yet.
					if _, err := store.Stat(ctx, "ds/shards/"+shard+shardwriter.SidecarSuffix); err == nil {
						t.Errorf("sidecar of %s exists before BeforeCommit", shard)
					}
					if _, err := store.Stat(ctx, "ds/shards/"+shard+shardwriter.DataSuffix); err != nil {
						t.Errorf("data object of %s missing at BeforeCommit: %v", shard, err)
					}
					prepared = append(prepared, shard)
					return nil
				},
				OnCommit: func(_ context.Context, c shardwriter.Commit) error { commits = append(commits, c); return nil },
			})
			if err != nil {
				t.Fatal(err)
			}
			var nextKeys []string
			for i := range tc.n {
				nextKeys = append(nextKeys, w.NextKey())
				if err := w.Write(ctx, sample(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(ctx); err != nil {
				t.Fatal(err)
			}
			ids := readAll(t, store, "ds/")
			if want := seq(0, tc.n); !slices.Equal(ids, want) {
				t.Fatalf("read back ids %v, want %v", ids, want)
			}
			if len(prepared) != len(commits) {
				t.Errorf("%d shards prepared, %d committed", len(prepared), len(commits))
			}
			if tc.wantShards > 0 && len(commits) != tc.wantShards {
				t.Errorf("%d shards, want %d", len(commits), tc.wantShards)
			}
			if tc.maxBytes > 0 && len(commits) < 3 {
				t.Errorf("byte rotation made only %d shards", len(commits))
			}
			// Keys of the commits are the keys in the shards, in order.
			var keys []string
			for _, c := range commits {
				keys = append(keys, c.Keys...)
				if c.Sidecar.Samples != len(c.Keys) || c.Sidecar.FirstKey != c.Keys[0] {
					t.Errorf("commit %s: sidecar %+v does not match keys", c.Sidecar.Shard, c.Sidecar)
				}
			}
			if !slices.Equal(keys, nextKeys) {
				t.Errorf("NextKey predicted %v, the writer assigned %v", nextKeys, keys)
			}
			if len(keys) != tc.n || !slices.IsSorted(keys) {
				t.Errorf("commit keys: %d, sorted=%v", len(keys), slices.IsSorted(keys))
			}
			checkSummary(t, store, "ds/", tc.n, len(commits))
			problems, shards, samples, err := shardwriter.Verify(ctx, store, "ds/")
			if err != nil || len(problems) > 0 || shards != len(commits) || samples != int64(tc.n) {
				t.Fatalf("verify: %v %v shards=%d samples=%d", err, problems, shards, samples)
			}
		})
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func checkSummary(t *testing.T, store storage.Store, prefix string, samples, shards int) {
	t.Helper()
	ctx := context.Background()
	rc, err := store.Get(ctx, prefix+shardwriter.SizesKey)
	if err != nil {
		t.Fatal(err)
	}
	var sizes map[string]int
	err = json.NewDecoder(rc).Decode(&sizes)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for name, n := range sizes {
		if !strings.HasSuffix(name, shardwriter.DataSuffix) {
			t.Errorf("sizes.json names %q", name)
		}
		total += n
	}
	if total != samples || len(sizes) != shards {
		t.Errorf("sizes.json: %d shards, %d samples; want %d, %d", len(sizes), total, shards, samples)
	}
	rc, err = store.Get(ctx, prefix+shardwriter.DatasetKey)
	if err != nil {
		t.Fatal(err)
	}
	var sum shardwriter.Summary
	err = json.NewDecoder(rc).Decode(&sum)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Samples != int64(samples) || sum.Shards != shards || len(sum.Fingerprint) != 64 {
		t.Errorf("dataset.json = %+v", sum)
	}
}

func TestRestartNumbering(t *testing.T) {
	store := newStore(t)
	ctx := context.Background()
	write := func(id string, from, to int) {
		w, err := shardwriter.New(ctx, store, shardwriter.Options{WriterID: id, MaxSamples: 4})
		if err != nil {
			t.Fatal(err)
		}
		for i := from; i < to; i++ {
			if err := w.Write(ctx, sample(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	write("w", 0, 10) // shards 0, 1, 2
	// An orphan data object at seq 7 (a crashed writer got that far).
	if err := store.Put(ctx, shardwriter.DataKey("", "w", 7), strings.NewReader("junk"), 4); err != nil {
		t.Fatal(err)
	}
	w, err := shardwriter.New(ctx, store, shardwriter.Options{WriterID: "w"})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.NextSeq(); got != 8 {
		t.Fatalf("next seq %d, want 8 (after the orphan)", got)
	}
	w.Abort()
	write("w", 10, 13)
	write("w2", 13, 15) // another writer id in the same dataset
	var names []string
	for sc, err := range shardwriter.Committed(ctx, store, "") {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, sc.Shard)
	}
	want := []string{"w-000000.tar.zst", "w-000001.tar.zst", "w-000002.tar.zst", "w-000008.tar.zst", "w2-000000.tar.zst"}
	if !slices.Equal(names, want) {
		t.Fatalf("committed %q, want %q", names, want)
	}
	ids := readAll(t, store, "")
	slices.Sort(ids)
	if !slices.Equal(ids, seq(0, 15)) {
		t.Fatalf("ids %v", ids)
	}
}

func TestConcurrentWriters(t *testing.T) {
	store := newStore(t)
	ctx := context.Background()
	const writers, per = 6, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for k := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := shardwriter.New(ctx, store, shardwriter.Options{WriterID: fmt.Sprintf("g%d", k), MaxSamples: 7})
			if err != nil {
				errs <- err
				return
			}
			for i := k * per; i < (k+1)*per; i++ {
				if err := w.Write(ctx, sample(i)); err != nil {
					errs <- err
					return
				}
			}
			errs <- w.Close(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ids := readAll(t, store, "")
	slices.Sort(ids)
	if !slices.Equal(ids, seq(0, writers*per)) {
		t.Fatalf("got %d ids, want %d exactly once each", len(ids), writers*per)
	}
	checkSummary(t, store, "", writers*per, writers*((per+6)/7))
}

func TestBadSamples(t *testing.T) {
	store := newStore(t)
	ctx := context.Background()
	w, err := shardwriter.New(ctx, store, shardwriter.Options{WriterID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	big := sample(1)
	big.Image = make([]byte, 40<<20)
	for _, tc := range []struct {
		name string
		mod  func(*shardwriter.Sample)
	}{
		{"key-with-slash", func(s *shardwriter.Sample) { s.Key = "a/b" }},
		{"key-with-dotdot", func(s *shardwriter.Sample) { s.Key = ".." }},
		{"key-with-dot", func(s *shardwriter.Sample) { s.Key = "a.b" }},
		{"caption-with-nul", func(s *shardwriter.Sample) { s.Caption = "a\x00b" }},
		{"caption-bad-utf8", func(s *shardwriter.Sample) { s.Caption = "a\xffb" }},
		{"40MB-image", func(s *shardwriter.Sample) { s.Image = big.Image }},
		{"no-image", func(s *shardwriter.Sample) { s.Image = nil }},
		{"meta-not-json", func(s *shardwriter.Sample) { s.Meta = json.RawMessage("{nope") }},
		{"meta-not-object", func(s *shardwriter.Sample) { s.Meta = json.RawMessage("[1]") }},
		{"ext-txt", func(s *shardwriter.Sample) { s.ImageExt = "txt" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sample(0)
			tc.mod(&s)
			if err := w.Write(ctx, s); !errors.Is(err, shardwriter.ErrInvalidSample) {
				t.Fatalf("got %v, want ErrInvalidSample", err)
			}
		})
	}
	// The writer is still usable and stored only the good samples.
	for i := range 3 {
		if err := w.Write(ctx, sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if ids := readAll(t, store, ""); !slices.Equal(ids, []int{0, 1, 2}) {
		t.Fatalf("ids %v", ids)
	}
}

// failingStore is the real file store with a fault injected after a number
// of bytes written: it stands for storage failing mid-shard.
type failingStore struct {
	storage.Store
	failAfter int64
}

var errInjected = errors.New("injected storage failure")

func (f *failingStore) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	if strings.HasSuffix(key, shardwriter.DataSuffix) {
		r = &failingReader{r: r, left: f.failAfter}
	}
	return f.Store.PutIfAbsent(ctx, key, r, size)
}

type failingReader struct {
	r    io.Reader
	left int64
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.left <= 0 {
		io.Copy(io.Discard, f.r) // keep the pipe moving, as a dead connection would not
		return 0, errInjected
	}
	if int64(len(p)) > f.left {
		p = p[:f.left]
	}
	n, err := f.r.Read(p)
	f.left -= int64(n)
	return n, err
}

func TestStorageFailsMidShard(t *testing.T) {
	base := newStore(t)
	store := &failingStore{Store: base, failAfter: 5000}
	ctx := context.Background()
	w, err := shardwriter.New(ctx, store, shardwriter.Options{WriterID: "f", MaxSamples: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for i := 0; i < 200 && werr == nil; i++ {
		werr = w.Write(ctx, sample(i))
	}
	if werr == nil {
		werr = w.Close(ctx)
	} else if cerr := w.Close(ctx); !errors.Is(cerr, errInjected) {
		t.Errorf("close after failure: %v", cerr)
	}
	if !errors.Is(werr, errInjected) {
		t.Fatalf("got %v, want the storage error", werr)
	}
	if !strings.Contains(werr.Error(), "f-000000") {
		t.Errorf("error %q does not name the shard", werr)
	}
	for info, err := range base.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		t.Errorf("object %s is visible after a failed shard", info.Key)
	}
}

func TestVerifyCatchesLies(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		mod  func(t *testing.T, store storage.Store)
		want string
	}{
		{"sidecar-not-json", func(t *testing.T, s storage.Store) { put(t, s, "shards/v-000000.json", "not json") }, "not valid JSON"},
		{"count-lie", func(t *testing.T, s storage.Store) { editSidecar(t, s, func(sc *shardwriter.Sidecar) { sc.Samples++ }) }, "samples, sidecar says"},
		{"sha-lie", func(t *testing.T, s storage.Store) {
			editSidecar(t, s, func(sc *shardwriter.Sidecar) { sc.SHA256 = strings.Repeat("0", 64) })
		}, "sha256"},
		{"last-key-lie", func(t *testing.T, s storage.Store) {
			editSidecar(t, s, func(sc *shardwriter.Sidecar) { sc.LastKey = "zzz" })
		}, "last key"},
		{"truncated-data", func(t *testing.T, s storage.Store) {
			b := get(t, s, "shards/v-000000.tar.zst")
			put(t, s, "shards/v-000000.tar.zst", string(b[:len(b)/2]))
		}, "shard v-000000.tar.zst"},
		{"flipped-byte", func(t *testing.T, s storage.Store) {
			b := get(t, s, "shards/v-000000.tar.zst")
			b[len(b)/3] ^= 0x40
			put(t, s, "shards/v-000000.tar.zst", string(b))
		}, "v-000000.tar.zst"},
		{"data-missing", func(t *testing.T, s storage.Store) { s.Delete(context.Background(), "shards/v-000000.tar.zst") }, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore(t)
			w, err := shardwriter.New(ctx, store, shardwriter.Options{WriterID: "v"})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 20 {
				if err := w.Write(ctx, sample(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(ctx); err != nil {
				t.Fatal(err)
			}
			tc.mod(t, store)
			problems, _, _, err := shardwriter.Verify(ctx, store, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) != 1 || !strings.Contains(problems[0].Err.Error(), tc.want) {
				t.Fatalf("problems = %v, want one mentioning %q", problems, tc.want)
			}
			t.Logf("verify: %v", problems[0].Err)
		})
	}
}

func get(t *testing.T, s storage.Store, key string) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func put(t *testing.T, s storage.Store, key, data string) {
	t.Helper()
	if err := s.Put(context.Background(), key, strings.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
}

func editSidecar(t *testing.T, s storage.Store, fn func(*shardwriter.Sidecar)) {
	t.Helper()
	var sc shardwriter.Sidecar
	if err := json.Unmarshal(get(t, s, "shards/v-000000.json"), &sc); err != nil {
		t.Fatal(err)
	}
	fn(&sc)
	b, _ := json.Marshal(sc)
	put(t, s, "shards/v-000000.json", string(b))
}

func TestGC(t *testing.T) {
	store := newStore(t)
	ctx := context.Background()
	w, err := shardwriter.New(ctx, store, shardwriter.Options{WriterID: "g", MaxSamples: 5})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		if err := w.Write(ctx, sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	w.Abort() // shards 0 and 1 committed, shard 2 aborted
	put(t, store, "shards/g-000005.tar.zst", "orphan of a crash")
	put(t, store, "shards/h-000000.tar.zst", "another orphan")

	orphans, err := shardwriter.GC(ctx, store, "", time.Hour, false)
	if err != nil || len(orphans) != 0 {
		t.Fatalf("young orphans must be left alone: %v %v", orphans, err)
	}
	orphans, err = shardwriter.GC(ctx, store, "", 0, true)
	if err != nil || len(orphans) != 2 || orphans[0].Removed {
		t.Fatalf("dry run: %+v %v", orphans, err)
	}
	orphans, err = shardwriter.GC(ctx, store, "", 0, false)
	if err != nil || len(orphans) != 2 || !orphans[1].Removed {
		t.Fatalf("gc: %+v %v", orphans, err)
	}
	var keys []string
	for info, err := range store.List(ctx, "shards/") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, info.Key)
	}
	want := []string{"shards/g-000000.json", "shards/g-000000.tar.zst", "shards/g-000001.json", "shards/g-000001.tar.zst"}
	if !slices.Equal(keys, want) {
		t.Fatalf("after gc: %q, want %q", keys, want)
	}
	if ids := readAll(t, store, ""); !slices.Equal(ids, seq(0, 10)) {
		t.Fatalf("ids %v", ids)
	}
}
