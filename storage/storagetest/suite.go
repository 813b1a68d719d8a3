// Package storagetest is the conformance suite every storage backend passes
// unchanged: the same tests, the same expectations, whatever the backend.
package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clipstream/clipstream/storage"
)

// NewStore returns a fresh, empty store for one test. The store's multipart
// part size should be the 5 MiB minimum so that Large crosses part borders.
type NewStore func(t *testing.T) storage.Store

// Large is the size of the objects that cross multipart part borders.
const Large = 11<<20 + 12345

// Run runs every conformance test against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, storage.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"Missing", testMissing},
		{"GetRange", testGetRange},
		{"Stat", testStat},
		{"ListOrder", testListOrder},
		{"ListMany", testListMany},
		{"ListBreak", testListBreak},
		{"Delete", testDelete},
		{"PutIfAbsent", testPutIfAbsent},
		{"PutIfAbsentRace", testPutIfAbsentRace},
		{"FailedPutInvisible", testFailedPutInvisible},
		{"ShortBody", testShortBody},
		{"InvalidKeys", testInvalidKeys},
		{"Cancel", testCancel},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

// Data returns n bytes that encode the seed and their own position, so a
// dropped, repeated or misplaced block shows in a comparison.
func Data(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	for i := 0; i < n; i += 8 {
		v := r.Uint64() ^ uint64(i)
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// onlyReader hides every method but Read, so a backend cannot seek, size or
// replay the body: it must stream.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// Stream wraps b as a reader that only reads.
func Stream(b []byte) io.Reader { return onlyReader{bytes.NewReader(b)} }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// ReadAll reads key whole and fails the test on error.
func ReadAll(t *testing.T, s storage.Store, key string) []byte {
	t.Helper()
	rc, err := s.Get(ctxT(t), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

func mustPut(t *testing.T, s storage.Store, key string, b []byte) {
	t.Helper()
	if err := s.Put(ctxT(t), key, Stream(b), int64(len(b))); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		gs, ws := sha256.Sum256(got), sha256.Sum256(want)
		t.Fatalf("%s: got %d bytes sha256 %x, want %d bytes sha256 %x", what, len(got), gs[:8], len(want), ws[:8])
	}
}

func testRoundTrip(t *testing.T, s storage.Store) {
	for _, size := range []int{0, 1, 4097, 1 << 20, Large} {
		for _, known := range []bool{true, false} {
			name := fmt.Sprintf("size=%d/known=%v", size, known)
			t.Run(name, func(t *testing.T) {
				key := fmt.Sprintf("rt/%d-%v.bin", size, known)
				want := Data(uint64(size), size)
				n := int64(size)
				if !known {
					n = -1
				}
				if err := s.Put(ctxT(t), key, Stream(want), n); err != nil {
					t.Fatalf("put: %v", err)
				}
				sameBytes(t, key, ReadAll(t, s, key), want)
			})
		}
	}
}

func testOverwrite(t *testing.T, s storage.Store) {
	mustPut(t, s, "ow/k", Data(1, 1000))
	want := Data(2, 3000)
	mustPut(t, s, "ow/k", want)
	sameBytes(t, "overwritten", ReadAll(t, s, "ow/k"), want)
}

func testMissing(t *testing.T, s storage.Store) {
	ctx := ctxT(t)
	if _, err := s.Get(ctx, "no/such/key"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("get missing: got %v, want ErrNotExist", err)
	}
	if _, err := s.GetRange(ctx, "no/such/key", 1, 2); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("get-range missing: got %v, want ErrNotExist", err)
	}
	if _, err := s.Stat(ctx, "no/such/key"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("stat missing: got %v, want ErrNotExist", err)
	}
	mustPut(t, s, "file", []byte("x"))
	if _, err := s.Stat(ctx, "file/under"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("stat key under an object: got %v, want ErrNotExist", err)
	}
	var se *storage.Error
	if _, err := s.Get(ctx, "no/such/key"); !errors.As(err, &se) || !strings.Contains(se.URL, "no/such/key") {
		t.Errorf("error %v does not name the object", err)
	}
}

func testGetRange(t *testing.T, s storage.Store) {
	const size = 100_000
	data := Data(7, size)
	mustPut(t, s, "range/obj", data)
	tests := []struct {
		name      string
		off, n    int64
		want      []byte
		wantError error
	}{
		{"head", 0, 10, data[:10], nil},
		{"middle", 4096, 5000, data[4096 : 4096+5000], nil},
		{"to-end", 99_000, -1, data[99_000:], nil},
		{"past-end-cut", size - 3, 10, data[size-3:], nil},
		{"at-end", size, -1, nil, nil},
		{"zero-length", 50, 0, nil, nil},
		{"whole", 0, -1, data, nil},
		{"beyond-end", size + 1, 5, nil, storage.ErrInvalidRange},
		{"negative", -1, 5, nil, storage.ErrInvalidRange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := s.GetRange(ctxT(t), "range/obj", tc.off, tc.n)
			if tc.wantError != nil {
				if !errors.Is(err, tc.wantError) {
					t.Fatalf("got %v, want %v", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			sameBytes(t, tc.name, got, tc.want)
		})
	}
}

func testStat(t *testing.T, s storage.Store) {
	before := time.Now().Add(-time.Minute)
	mustPut(t, s, "stat/k", Data(3, 777))
	info, err := s.Stat(ctxT(t), "stat/k")
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != "stat/k" || info.Size != 777 {
		t.Errorf("stat = %+v, want key stat/k size 777", info)
	}
	if info.ModTime.Before(before) || info.ModTime.After(time.Now().Add(time.Minute)) {
		t.Errorf("mod time %v is not about now", info.ModTime)
	}
}

// collect lists prefix and fails the test on error.
func collect(t *testing.T, s storage.Store, prefix string) []storage.ObjectInfo {
	t.Helper()
	var out []storage.ObjectInfo
	for info, err := range s.List(ctxT(t), prefix) {
		if err != nil {
			t.Fatalf("list %q: %v", prefix, err)
		}
		out = append(out, info)
	}
	return out
}

func keysOf(infos []storage.ObjectInfo) []string {
	keys := make([]string, len(infos))
	for i, in := range infos {
		keys[i] = in.Key
	}
	return keys
}

func testListOrder(t *testing.T, s storage.Store) {
	// Chosen so that directory order and key order differ: '.' and '-' sort
	// before '/', '0' after it.
	keys := []string{"l/a/b", "l/a.c", "l/a-", "l/b/c/d", "l/b0", "l/ab", "l/a/z/y", "m/x", "k"}
	for i, k := range keys {
		mustPut(t, s, k, Data(uint64(i), i+1))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"l/", []string{"l/a-", "l/a.c", "l/a/b", "l/a/z/y", "l/ab", "l/b/c/d", "l/b0"}},
		{"l/a", []string{"l/a-", "l/a.c", "l/a/b", "l/a/z/y", "l/ab"}},
		{"l/a/", []string{"l/a/b", "l/a/z/y"}},
		{"l/b", []string{"l/b/c/d", "l/b0"}},
		{"", []string{"k", "l/a-", "l/a.c", "l/a/b", "l/a/z/y", "l/ab", "l/b/c/d", "l/b0", "m/x"}},
		{"nothing/", nil},
		{"l/b/c/d", []string{"l/b/c/d"}},
	}
	for _, tc := range tests {
		t.Run("prefix="+tc.prefix, func(t *testing.T) {
			infos := collect(t, s, tc.prefix)
			if got := keysOf(infos); !slices.Equal(got, tc.want) {
				t.Fatalf("list %q = %q, want %q", tc.prefix, got, tc.want)
			}
			for _, in := range infos {
				if want := int64(slices.Index(keys, in.Key) + 1); in.Size != want {
					t.Errorf("%s: size %d, want %d", in.Key, in.Size, want)
				}
			}
		})
	}
}

func testListMany(t *testing.T, s storage.Store) {
	const n = 1200 // more than one S3 listing page
	var want []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		key := fmt.Sprintf("many/%02d/%06d", i%7, i)
		want = append(want, key)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			b := []byte(key)
			if err := s.Put(context.Background(), key, bytes.NewReader(b), int64(len(b))); err != nil {
				errs <- err
			}
			mu.Lock()
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	slices.Sort(want)
	if got := keysOf(collect(t, s, "many/")); !slices.Equal(got, want) {
		t.Fatalf("listed %d keys, want %d (first diff near %v)", len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("index %d: %q vs %q", i, a[i], b[i])
		}
	}
	return "the end"
}

func testListBreak(t *testing.T, s storage.Store) {
	for i := range 5 {
		mustPut(t, s, fmt.Sprintf("brk/%d", i), []byte{byte(i)})
	}
	var got []string
	for info, err := range s.List(ctxT(t), "brk/") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, info.Key)
		if len(got) == 2 {
			break
		}
	}
	if !slices.Equal(got, []string{"brk/0", "brk/1"}) {
		t.Fatalf("got %q", got)
	}
}

func testDelete(t *testing.T, s storage.Store) {
	ctx := ctxT(t)
	mustPut(t, s, "del/a", []byte("a"))
	mustPut(t, s, "del/b", []byte("b"))
	if err := s.Delete(ctx, "del/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "del/a"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("stat after delete: %v", err)
	}
	if err := s.Delete(ctx, "del/a"); err != nil {
		t.Fatalf("delete of a missing object: %v", err)
	}
	if got := keysOf(collect(t, s, "del/")); !slices.Equal(got, []string{"del/b"}) {
		t.Fatalf("after delete, list = %q", got)
	}
}

func testPutIfAbsent(t *testing.T, s storage.Store) {
	ctx := ctxT(t)
	for _, size := range []int{10, Large} {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			key := fmt.Sprintf("pia/%d", size)
			first := Data(10, size)
			if err := s.PutIfAbsent(ctx, key, Stream(first), -1); err != nil {
				t.Fatal(err)
			}
			err := s.PutIfAbsent(ctx, key, Stream(Data(11, size)), int64(size))
			if !errors.Is(err, storage.ErrExists) {
				t.Fatalf("second put-if-absent: got %v, want ErrExists", err)
			}
			sameBytes(t, "after refused put", ReadAll(t, s, key), first)
		})
	}
}

func testPutIfAbsentRace(t *testing.T, s storage.Store) {
	for _, size := range []int{100, 6 << 20} {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			const writers = 16
			key := fmt.Sprintf("race/%d", size)
			start := make(chan struct{})
			errs := make([]error, writers)
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					errs[w] = s.PutIfAbsent(context.Background(), key, Stream(Data(uint64(100+w), size)), int64(size))
				}()
			}
			close(start)
			wg.Wait()
			winner := -1
			for w, err := range errs {
				switch {
				case err == nil:
					if winner >= 0 {
						t.Fatalf("writers %d and %d both won", winner, w)
					}
					winner = w
				case !errors.Is(err, storage.ErrExists):
					t.Fatalf("writer %d: %v", w, err)
				}
			}
			if winner < 0 {
				t.Fatal("no writer won")
			}
			sameBytes(t, "stored object", ReadAll(t, s, key), Data(uint64(100+winner), size))
		})
	}
}

// failingReader yields n bytes of data and then an error.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

var errBoom = errors.New("reader broke")

func testFailedPutInvisible(t *testing.T, s storage.Store) {
	ctx := ctxT(t)
	old := Data(20, 500)
	mustPut(t, s, "fail/existing", old)
	for _, n := range []int{0, 1000, Large} {
		for _, key := range []string{"fail/new", "fail/existing"} {
			for _, exclusive := range []bool{false, true} {
				if exclusive && key == "fail/existing" {
					continue
				}
				name := fmt.Sprintf("after=%d/%s/exclusive=%v", n, key, exclusive)
				t.Run(name, func(t *testing.T) {
					r := &failingReader{data: Data(21, n), err: errBoom}
					var err error
					if exclusive {
						err = s.PutIfAbsent(ctx, key, r, -1)
					} else {
						err = s.Put(ctx, key, r, -1)
					}
					if !errors.Is(err, errBoom) && !strings.Contains(fmt.Sprint(err), errBoom.Error()) {
						t.Fatalf("put: got %v, want the reader's error", err)
					}
					if key == "fail/new" {
						if _, err := s.Stat(ctx, key); !errors.Is(err, storage.ErrNotExist) {
							t.Fatalf("half-written object is visible: stat = %v", err)
						}
					} else {
						sameBytes(t, "old object", ReadAll(t, s, key), old)
					}
				})
			}
		}
	}
	if got := keysOf(collect(t, s, "fail/")); !slices.Equal(got, []string{"fail/existing"}) {
		t.Fatalf("list after failed puts = %q", got)
	}
}

func testShortBody(t *testing.T, s storage.Store) {
	ctx := ctxT(t)
	for _, tc := range []struct{ have, declared int }{{50, 100}, {Large - 1000, Large}, {0, 1}} {
		t.Run(fmt.Sprintf("have=%d/declared=%d", tc.have, tc.declared), func(t *testing.T) {
			key := fmt.Sprintf("short/%d", tc.declared)
			err := s.Put(ctx, key, Stream(Data(30, tc.have)), int64(tc.declared))
			if !errors.Is(err, storage.ErrShortBody) {
				t.Fatalf("got %v, want ErrShortBody", err)
			}
			if _, err := s.Stat(ctx, key); !errors.Is(err, storage.ErrNotExist) {
				t.Fatalf("short object is visible: stat = %v", err)
			}
		})
	}
}

func testInvalidKeys(t *testing.T, s storage.Store) {
	ctx := ctxT(t)
	for _, key := range []string{"", "/abs", "a//b", "a/../b", "..", "./a", "a/", "nul\x00", "back\\slash", "bad\xffutf8", strings.Repeat("k", 1025)} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			if err := s.Put(ctx, key, Stream([]byte("x")), 1); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("put: got %v", err)
			}
			if err := s.PutIfAbsent(ctx, key, Stream([]byte("x")), 1); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("put-if-absent: got %v", err)
			}
			if _, err := s.Get(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("get: got %v", err)
			}
			if _, err := s.Stat(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("stat: got %v", err)
			}
			if err := s.Delete(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("delete: got %v", err)
			}
		})
	}
}

// cancellingReader cancels its context after yielding some bytes, then
// keeps yielding: the store must notice the cancel and stop.
type cancellingReader struct {
	data   []byte
	after  int
	cancel context.CancelFunc
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	if c.after <= 0 {
		c.cancel()
	}
	n := copy(p, c.data)
	c.data = c.data[n:]
	c.after -= n
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func testCancel(t *testing.T, s storage.Store) {
	mustPut(t, s, "cancel/existing", []byte("here"))
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Put(ctx, "cancel/k", Stream([]byte("x")), 1); !errors.Is(err, context.Canceled) {
			t.Errorf("put: got %v", err)
		}
		if _, err := s.Get(ctx, "cancel/existing"); !errors.Is(err, context.Canceled) {
			t.Errorf("get: got %v", err)
		}
		if _, err := s.Stat(ctx, "cancel/existing"); !errors.Is(err, context.Canceled) {
			t.Errorf("stat: got %v", err)
		}
		for _, err := range s.List(ctx, "cancel/") {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("list: got %v", err)
			}
		}
	})
	t.Run("mid-put", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		start := time.Now()
		r := &cancellingReader{data: Data(40, Large), after: 6 << 20, cancel: cancel}
		err := s.Put(ctx, "cancel/mid", onlyReader{r}, -1)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("put: got %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("put took %v to notice the cancel", d)
		}
		if _, err := s.Stat(context.Background(), "cancel/mid"); !errors.Is(err, storage.ErrNotExist) {
			t.Fatalf("cancelled object is visible: stat = %v", err)
		}
	})
}
