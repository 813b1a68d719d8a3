package dedup

import (
	"context"
	"errors"
	"testing"
)

// TestProgress: a rerun skips what is done. Kept URLs are done once their
// shard committed (pending ones are refetched after a crash), duplicates
// once their original committed, failures unless retrying failures.
func TestProgress(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	x := openTest(t, dir, testOptions())
	marks := []struct{ url, status, key string }{
		{"https://a.example/committed.jpg", StatusKept, "k-1"},
		{"https://a.example/pending.jpg", StatusKept, "k-2"},
		{"https://a.example/dup-of-committed.jpg", StatusDuplicate, "k-1"},
		{"https://a.example/dup-of-pending.jpg", StatusDuplicate, "k-2"},
		{"https://a.example/timeout.jpg", "timeout", ""},
		{"HTTPS://A.EXAMPLE:443/robots.jpg#frag", "robots_disallowed", ""},
	}
	for _, m := range marks {
		if err := x.MarkURL(ctx, m.url, m.status, m.key); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Commit(ctx, []string{"k-1"}); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	x = openTest(t, dir, testOptions()) // the rerun
	for _, tc := range []struct {
		url                   string
		done, doneRetryFailed bool
		wantStatus, wantKey   string
	}{
		{"https://a.example/committed.jpg", true, true, StatusKept, "k-1"},
		{"https://a.example/pending.jpg", false, false, StatusKept, "k-2"},
		{"https://a.example/dup-of-committed.jpg", true, true, StatusDuplicate, "k-1"},
		{"https://a.example/dup-of-pending.jpg", false, false, StatusDuplicate, "k-2"},
		{"https://a.example/timeout.jpg", true, false, "timeout", ""},
		{"https://a.example/robots.jpg", true, false, "robots_disallowed", ""}, // same URL, normalised
		{"https://a.example/never.jpg", false, false, "", ""},
		{"not a url", false, false, "", ""},
	} {
		t.Run(tc.url, func(t *testing.T) {
			p, err := x.URLState(ctx, tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != tc.wantStatus || p.SampleKey != tc.wantKey {
				t.Errorf("state %+v, want status %q key %q", p, tc.wantStatus, tc.wantKey)
			}
			if got := p.Done(false); got != tc.done {
				t.Errorf("Done(false) = %v, want %v (%+v)", got, tc.done, p)
			}
			if got := p.Done(true); got != tc.doneRetryFailed {
				t.Errorf("Done(true) = %v, want %v (%+v)", got, tc.doneRetryFailed, p)
			}
		})
	}
	// A later mark replaces an earlier one: a retried failure that worked.
	if err := x.MarkURL(ctx, "https://a.example/timeout.jpg", StatusKept, "k-9"); err != nil {
		t.Fatal(err)
	}
	if p, _ := x.URLState(ctx, "https://a.example/timeout.jpg"); p.Status != StatusKept || p.Done(true) {
		t.Errorf("after a retry: %+v", p)
	}
}

func TestMarkURLBadInput(t *testing.T) {
	x := openTest(t, t.TempDir(), testOptions())
	ctx := context.Background()
	for _, tc := range []struct{ name, url, status, key string }{
		{"empty-status", "https://a.example/x", "", ""},
		{"kept-without-key", "https://a.example/x", StatusKept, ""},
		{"bad-url", "::not a url", "timeout", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := x.MarkURL(ctx, tc.url, tc.status, tc.key); !errors.Is(err, ErrBadSample) {
				t.Fatalf("got %v, want ErrBadSample", err)
			}
		})
	}
}

func FuzzDecodeProgress(f *testing.F) {
	f.Add([]byte{progressFormat, 2, 'o', 'k', 'k', '1'})
	f.Add([]byte{progressFormat, 0})
	f.Add([]byte{progressFormat, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p URLProgress
		if err := decodeProgress(b, &p); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if p.Status == "" || len(p.SampleKey) > MaxKeyLen {
			t.Fatalf("accepted %x as %+v", b, p)
		}
	})
}
