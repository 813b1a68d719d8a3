package dedup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

func TestOpenLockedDirectory(t *testing.T) {
	dir := t.TempDir()
	openTest(t, dir, testOptions())
	_, err := Open(context.Background(), dir, testOptions())
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second Open = %v, want ErrLocked naming %s", err, dir)
	}
}

// TestOpenCorruptDirectory damages a closed index in several ways; Open must
// fail with an error naming the directory, never panic or open empty.
func TestOpenCorruptDirectory(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"manifest truncated", func(t *testing.T, dir string) {
			truncate(t, filepath.Join(dir, "MANIFEST"), 5)
		}},
		{"manifest garbage", func(t *testing.T, dir string) {
			writeGarbage(t, filepath.Join(dir, "MANIFEST"))
		}},
		{"sst garbage", func(t *testing.T, dir string) {
			for _, f := range glob(t, dir, "*.sst") {
				writeGarbage(t, f)
			}
		}},
		{"sst truncated", func(t *testing.T, dir string) {
			for _, f := range glob(t, dir, "*.sst") {
				truncate(t, f, 100)
			}
		}},
		{"KEYREGISTRY garbage", func(t *testing.T, dir string) {
			writeGarbage(t, filepath.Join(dir, "KEYREGISTRY"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			x, err := Open(context.Background(), dir, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			for i := range 200 {
				mustCheck(t, x, sampleAt(i))
			}
			if err := x.Close(); err != nil {
				t.Fatal(err)
			}
			if len(glob(t, dir, "*.sst")) == 0 {
				t.Fatal("no .sst after close; the test would not damage data")
			}
			tc.damage(t, dir)
			x, err = Open(context.Background(), dir, testOptions())
			if err == nil {
				// Badger may open lazily; the data must then fail to read.
				_, err = x.Stats(context.Background())
				x.Close()
			}
			if err == nil {
				t.Fatal("damaged index opened and read without error")
			}
			if !strings.Contains(err.Error(), dir) {
				t.Fatalf("error %q does not name %s", err, dir)
			}
		})
	}
}

func TestOpenNotAnIndex(t *testing.T) {
	dir := t.TempDir()
	writeGarbage(t, filepath.Join(dir, "MANIFEST"))
	_, err := Open(context.Background(), dir, testOptions())
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Open = %v, want ErrCorrupt naming %s", err, dir)
	}
}

func TestOpenRadiusLargerThanBuilt(t *testing.T) {
	dir := t.TempDir()
	x := openTest(t, dir, testOptions())
	x.Close()
	o := testOptions()
	o.NearRadius = 8
	if _, err := Open(context.Background(), dir, o); !errors.Is(err, ErrRadiusTooLarge) {
		t.Fatalf("Open(radius 8 on a radius-4 index) = %v, want ErrRadiusTooLarge", err)
	}
	o.NearRadius = 2
	openTest(t, dir, o)
}

func TestBadOptionsAndSamples(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(*Options)
	}{
		{"radius -1", func(o *Options) { o.NearRadius = -1 }},
		{"radius 11", func(o *Options) { o.NearRadius = 11 }},
		{"low-info bits 23", func(o *Options) { o.LowInfoBits = 23 }},
		{"bloom with no size", func(o *Options) { o.Bloom, o.BloomExpected = true, 0 }},
		{"tiny memtable", func(o *Options) { o.MemTableSize = 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions()
			tc.f(&o)
			if _, err := Open(context.Background(), t.TempDir(), o); !errors.Is(err, ErrBadOptions) {
				t.Fatalf("Open = %v, want ErrBadOptions", err)
			}
		})
	}
	x := openTest(t, t.TempDir(), testOptions())
	for _, tc := range []struct {
		name string
		s    Sample
		want error
	}{
		{"empty key", Sample{URL: "https://a.example/"}, ErrBadSample},
		{"key too long", Sample{Key: strings.Repeat("k", MaxKeyLen+1)}, ErrBadSample},
		{"relative URL", Sample{Key: "k", URL: "/img.jpg"}, ErrBadURL},
		{"unparsable URL", Sample{Key: "k", URL: "http://[::1"}, ErrBadURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := x.Check(context.Background(), tc.s); !errors.Is(err, tc.want) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReadOnlyAndClosed(t *testing.T) {
	dir := t.TempDir()
	x := openTest(t, dir, testOptions())
	mustCheck(t, x, sampleAt(1))
	x.Close()
	o := testOptions()
	o.ReadOnly = true
	r := openTest(t, dir, o)
	if _, err := r.Check(context.Background(), sampleAt(2)); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Check on read-only = %v", err)
	}
	st, err := r.Stats(context.Background())
	if err != nil || st.URLs != 1 || st.Epoch != 1 {
		t.Fatalf("read-only Stats = %+v, %v", st, err)
	}
	r.Close()
	if _, err := r.Check(context.Background(), sampleAt(2)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Check after Close = %v", err)
	}
}

func glob(t *testing.T, dir, pat string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, pat))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func truncate(t *testing.T, path string, n int64) {
	t.Helper()
	if err := os.Truncate(path, n); err != nil {
		t.Fatal(err)
	}
}

func writeGarbage(t *testing.T, path string) {
	t.Helper()
	b := make([]byte, 4096)
	for i := range b {
		b[i] = byte(i*131 + 7)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLowInfoBitsKept: an index keeps the low-information threshold it was
// built with. Reopening with another is a clear error naming the
// directory; an index from before the threshold was stored adopts the one
// it is next opened with.
func TestLowInfoBitsKept(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	x := openTest(t, dir, testOptions())
	x.Close()
	o := testOptions()
	o.LowInfoBits = 8
	_, err := Open(ctx, dir, o)
	if !errors.Is(err, ErrBadOptions) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "LowInfoBits 12") {
		t.Fatalf("Open(LowInfoBits 8 on a 12 index) = %v, want ErrBadOptions naming the directory and 12", err)
	}
	ro := testOptions()
	ro.ReadOnly, ro.LowInfoBits = true, 8
	if _, err := Open(ctx, dir, ro); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("read-only Open with another threshold = %v, want ErrBadOptions", err)
	}
	openTest(t, dir, testOptions()).Close()

	// Drop the stored value, as in an index written before it was stored.
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(txn *badger.Txn) error { return txn.Delete(metaLowInfo) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	openTest(t, dir, o).Close() // adopts 8
	if _, err := Open(ctx, dir, testOptions()); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("after adopting 8, Open with 12 = %v, want ErrBadOptions", err)
	}
}
