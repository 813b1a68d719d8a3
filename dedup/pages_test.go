package dedup

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

type pageSeen struct {
	depth  int
	done   bool
	record string
}

func listPages(t *testing.T, x *Index) map[string]pageSeen {
	t.Helper()
	out := map[string]pageSeen{}
	err := x.Pages(context.Background(), func(url string, depth int, done bool, rec []byte) bool {
		if _, dup := out[url]; dup {
			t.Errorf("page %s listed twice", url)
		}
		out[url] = pageSeen{depth, done, string(rec)}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPageLog: pages are queued once (also under another spelling of the
// same URL), marked done with their record, listed, and all of it survives
// a reopen.
func TestPageLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	x, err := Open(ctx, dir, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		url   string
		depth int
		isNew bool
	}{
		{"http://Example.org/a", 0, true},
		{"http://example.org:80/a#frag", 3, false}, // the same page
		{"http://example.org/b", 1, true},
		{"http://example.org/c", 2, true},
	} {
		got, err := x.QueuePage(ctx, c.url, c.depth)
		if err != nil || got != c.isNew {
			t.Fatalf("queue %d %s: new %v, %v; want new %v", i, c.url, got, err, c.isNew)
		}
	}
	if err := x.PageDone(ctx, "http://example.org/b", []byte(`{"pairs":[1]}`)); err != nil {
		t.Fatal(err)
	}
	if err := x.PageDone(ctx, "http://example.org/c", nil); err != nil {
		t.Fatal(err)
	}
	want := map[string]pageSeen{
		"http://Example.org/a": {0, false, ""},
		"http://example.org/b": {1, true, `{"pairs":[1]}`},
		"http://example.org/c": {2, true, ""},
	}
	check := func(when string) {
		got := listPages(t, x)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: pages %v, want %v", when, got, want)
		}
	}
	check("before reopening")
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if x, err = Open(ctx, dir, DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	check("after reopening")
	if isNew, err := x.QueuePage(ctx, "http://example.org/b", 0); err != nil || isNew {
		t.Errorf("queueing a done page again: new %v, %v", isNew, err)
	}
	n := 0
	if err := x.Pages(ctx, func(string, int, bool, []byte) bool { n++; return false }); err != nil || n != 1 {
		t.Errorf("stopping the listing: %d calls, %v", n, err)
	}
	for _, bad := range []string{"", "not a url", "/relative"} {
		if _, err := x.QueuePage(ctx, bad, 0); !errors.Is(err, ErrBadSample) {
			t.Errorf("queue %q: %v, want ErrBadSample", bad, err)
		}
		if err := x.PageDone(ctx, bad, nil); !errors.Is(err, ErrBadSample) {
			t.Errorf("done %q: %v, want ErrBadSample", bad, err)
		}
	}
	if _, err := x.QueuePage(ctx, "http://example.org/d", -1); !errors.Is(err, ErrBadSample) {
		t.Errorf("negative depth: %v", err)
	}
}

// TestPageLogConcurrentQueue: of many goroutines queueing the same page,
// exactly one is told it is new.
func TestPageLogConcurrentQueue(t *testing.T) {
	x := openTest(t, t.TempDir(), DefaultOptions())
	const n = 16
	res := make(chan bool, n)
	for range n {
		go func() {
			isNew, err := x.QueuePage(context.Background(), "http://example.org/race", 0)
			if err != nil {
				t.Error(err)
			}
			res <- isNew
		}()
	}
	winners := 0
	for range n {
		if <-res {
			winners++
		}
	}
	if winners != 1 {
		t.Errorf("%d goroutines were told the page was new, want 1", winners)
	}
}

// TestPageLogCorrupt: a damaged page record is ErrCorrupt naming the
// directory, never a panic.
func TestPageLogCorrupt(t *testing.T) {
	x := openTest(t, t.TempDir(), DefaultOptions())
	ctx := context.Background()
	if _, err := x.QueuePage(ctx, "http://example.org/a", 0); err != nil {
		t.Fatal(err)
	}
	h, _ := URLHash("http://example.org/a")
	if err := x.db.Update(func(txn *badger.Txn) error { return txn.Set(hashKey(famPage, h), []byte{pageFormat, 'x'}) }); err != nil {
		t.Fatal(err)
	}
	err := x.Pages(ctx, func(string, int, bool, []byte) bool { return true })
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("listing a damaged record: %v, want ErrCorrupt", err)
	}
}

// FuzzDecodePage: any bytes decode to a record or ErrCorrupt; a record
// encodes back to the same bytes.
func FuzzDecodePage(f *testing.F) {
	f.Add(encodePage(pageRecord{state: pageQueued, depth: 2, url: "http://example.org/"}))
	f.Add(encodePage(pageRecord{state: pageDone, depth: 0, url: "http://example.org/x", pairs: []byte(`{"pairs":[]}`)}))
	f.Add([]byte{pageFormat, pageDone, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePage(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if again := encodePage(p); string(again) != string(b) {
			// a non-minimal uvarint decodes too; it must at least decode the same
			q, err := decodePage(again)
			if err != nil || fmt.Sprint(q) != fmt.Sprint(p) {
				t.Fatalf("%x decodes to %+v, which encodes to %x", b, p, again)
			}
		}
	})
}
