package crawl

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/clipstream/clipstream/dedup"
	"github.com/clipstream/clipstream/fixtures"
)

// pageLogIndex opens a dedup index, the page log clipstream crawl uses.
func pageLogIndex(t *testing.T) *dedup.Index {
	t.Helper()
	idx, err := dedup.Open(context.Background(), t.TempDir(), dedup.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	return idx
}

// pairURLs lists pairs as sorted strings, with the site's base URL cut so
// that two sites' crawls compare.
func pairURLs(base string, ps []Pair) []string {
	var out []string
	for _, p := range ps {
		out = append(out, strings.TrimPrefix(p.ImageURL, base)+" "+strings.TrimPrefix(p.PageURL, base)+" "+p.Caption)
	}
	sort.Strings(out)
	return out
}

// TestCrawlPagesResume: a page crawl stopped by MaxPages, then run again
// with the same log and a larger MaxPages, fetches every page of the site
// exactly once over the two runs and yields every pair of an uninterrupted
// crawl; a third run fetches nothing and hands fn every pair again (the
// replay that lets a crawl killed between a page and its images lose
// nothing).
func TestCrawlPagesResume(t *testing.T) {
	site, err := fixtures.StartSite(context.Background(), fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer site.Close()
	pages := site.Pages()

	full := pgTestOptions(site.URL + "/")
	full.MaxDepth = 2
	want, _ := pgRun(t, full)
	for _, p := range pages {
		if n := site.Requests(p); n != 1 {
			t.Fatalf("the uninterrupted crawl asked for %s %d times", p, n)
		}
	}

	site2, err := fixtures.StartSite(context.Background(), fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer site2.Close()
	log := pageLogIndex(t)
	opts := pgTestOptions(site2.URL + "/")
	opts.MaxDepth, opts.Log = 2, log
	opts.MaxPages = 3
	first, st1 := pgRun(t, opts)
	if st1.Requested != 3 || st1.Earlier != 0 {
		t.Fatalf("first run: %+v, want 3 pages requested", st1)
	}
	opts.MaxPages = 1000
	second, st2 := pgRun(t, opts)
	if st2.Earlier != 3 || st2.Replayed != int64(len(first)) {
		t.Errorf("second run: %+v, want the first run's 3 pages counted and its %d pairs replayed", st2, len(first))
	}
	for _, p := range pages {
		if n := site2.Requests(p); n != 1 {
			t.Errorf("over two runs %s was asked for %d times, want once", p, n)
		}
	}
	got := pairURLs(site2.URL, append(first, second...))
	// the second run replays the first's pairs: count each pair once
	got = dedupStrings(got)
	if w := pairURLs(site.URL, want); len(got) != len(w) {
		t.Fatalf("two runs yielded %d distinct pairs, an uninterrupted crawl %d", len(got), len(w))
	} else {
		for i := range w {
			if got[i] != w[i] {
				t.Fatalf("pair %d: %s, want %s", i, got[i], w[i])
			}
		}
	}

	before := site2.RequestsUnder("/")
	third, st3 := pgRun(t, opts)
	if after := site2.RequestsUnder("/"); after != before {
		t.Errorf("a third run made %d requests, want none", after-before)
	}
	if w := pairURLs(site.URL, want); len(third) != len(w) || st3.Replayed != int64(len(w)) || st3.Requested != 0 {
		t.Errorf("third run: %d pairs (%+v), want all %d replayed and no request", len(third), st3, len(w))
	}
}

// TestCrawlPagesResumeAfterFailure: when fn fails (the pipeline stopped),
// the page whose pairs were being handed over is not done, and the next
// run fetches it again; no page is lost.
func TestCrawlPagesResumeAfterFailure(t *testing.T) {
	site, err := fixtures.StartSite(context.Background(), fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer site.Close()
	log := pageLogIndex(t)
	opts := pgTestOptions(site.URL + "/")
	opts.MaxDepth, opts.Log, opts.Workers = 2, log, 1
	stop := errors.New("pipeline stopped")
	n := 0
	_, err = CrawlPages(context.Background(), opts, func(Pair) error {
		if n++; n == 5 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("first run: %v, want the pipeline's error", err)
	}
	var all []Pair
	st, err := CrawlPages(context.Background(), opts, func(p Pair) error { all = append(all, p); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if st.Resumed == 0 {
		t.Errorf("the rerun queued again none of the pages the failed run left: %+v", st)
	}
	var pending, done int
	if err := log.Pages(context.Background(), func(_ string, _ int, d bool, _ []byte) bool {
		if d {
			done++
		} else {
			pending++
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if pending != 0 || done != len(site.Pages())+1 { // + the robots-disallowed page, done without pairs
		t.Errorf("after the rerun %d pages pending, %d done; the site has %d pages", pending, done, len(site.Pages()))
	}
	if got, want := len(dedupStrings(pairURLs(site.URL, all))), len(site.Samples()); got != want {
		t.Errorf("the rerun yielded %d distinct pairs, the site holds %d", got, want)
	}
}

func dedupStrings(s []string) []string {
	out := s[:0:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}
