package crawl

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"
)

// pgSite is a loopback test site that records what was asked of it.
type pgSite struct {
	*httptest.Server
	mu       sync.Mutex
	requests map[string]int
	busy     atomic.Int32 // requests in flight
	maxBusy  atomic.Int32
}

func (s *pgSite) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

func (s *pgSite) countUnder(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for p, c := range s.requests {
		if strings.HasPrefix(p, prefix) {
			n += c
		}
	}
	return n
}

func html5(body string) string {
	return "<!doctype html><html><head><title>t</title></head><body>" + body + "</body></html>"
}

// newPGSite starts the test site. robots is its robots.txt (a status code
// answers that status instead).
func newPGSite(t *testing.T, robots string, handle func(mux *http.ServeMux)) *pgSite {
	t.Helper()
	s := &pgSite{requests: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/robots.txt", func(w http.ResponseWriter, r *http.Request) {
		if code, err := strconv.Atoi(robots); err == nil {
			http.Error(w, "robots", code)
			return
		}
		w.Write([]byte(robots))
	})
	handle(mux)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.busy.Add(1)
		defer s.busy.Add(-1)
		for {
			m := s.maxBusy.Load()
			if n <= m || s.maxBusy.CompareAndSwap(m, n) {
				break
			}
		}
		s.mu.Lock()
		s.requests[r.URL.Path]++
		s.mu.Unlock()
		if !strings.HasPrefix(r.Header.Get("User-Agent"), "clipstream/") {
			http.Error(w, "who are you", http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func pgPage(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(html5(body)))
	}
}

// pgMainSite has every case of the crawl issue's "Sources of pairs" and
// "Bad input" that concern pages.
func pgMainSite(t *testing.T) *pgSite {
	latin1, err := charmap.ISO8859_1.NewEncoder().String(html5(`<img src="/img/noel.jpg" alt="Père Noël à Genève">`))
	if err != nil {
		t.Fatal(err)
	}
	return newPGSite(t, "User-agent: *\nDisallow: /nothing/\n\nUser-agent: clipstream\nDisallow: /private/\n", func(mux *http.ServeMux) {
		mux.HandleFunc("/{$}", pgPage(`
			<a href="/gallery.html">g</a> <a href="private/secret.html">p</a> <a href="/cal/2024/1">calendar</a>
			<a href="/latin1.html">l</a> <a href="/latin1-meta.html">lm</a> <a href="/malformed.html">m</a>
			<a href="/base/page.html">b</a> <a href="/lazy.html">lazy</a> <a href="/fig.html">f</a>
			<a href="/bad.html">bad</a> <a href="/photo.jpg">a photo</a> <a href="/missing.html">404</a>
			<a href="/noindex.html">n</a> <a href="/xrobots.html">x</a> <a href="/redirect">r</a>
			<a href="https://elsewhere.example/page.html">off-site</a> <a href="mailto:me@example.com">mail</a>
			<a href="/gallery.html#top">same page</a> <img src="/img/logo.png" alt="Site logo">`))
		mux.HandleFunc("/gallery.html", pgPage(`
			<img src="img/cat.jpg" alt="A cat"><img src="/img/dog.jpg" alt="A dog">
			<img src="https://cdn.example.net/bird.jpg" alt="A bird"><img src="img/no-alt.jpg">
			<a href="/">home</a> <a href="/gallery2.html">more</a>`))
		mux.HandleFunc("/gallery2.html", pgPage(`<img src="img/deep.jpg" alt="Too deep to reach at depth 1">`))
		mux.HandleFunc("/private/secret.html", pgPage(`<img src="/img/secret.jpg" alt="secret">`))
		mux.HandleFunc("/cal/{y}/{m}", func(w http.ResponseWriter, r *http.Request) {
			y, _ := strconv.Atoi(r.PathValue("y"))
			m, _ := strconv.Atoi(r.PathValue("m"))
			ny, nm := y, m+1
			if nm > 12 {
				ny, nm = y+1, 1
			}
			pgPage(fmt.Sprintf(`<h1>%d-%02d</h1><img src="/img/cal-%d-%d.jpg" alt="Calendar for %d-%02d"><a href="/cal/%d/%d">next month</a>`,
				y, m, y, m, y, m, ny, nm))(w, r)
		})
		mux.HandleFunc("/latin1.html", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=ISO-8859-1")
			w.Write([]byte(latin1))
		})
		mux.HandleFunc("/latin1-meta.html", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			b, _ := charmap.ISO8859_1.NewEncoder().String(`<meta charset="iso-8859-1"><img src="/img/cafe.jpg" alt="Café crème">`)
			w.Write([]byte(b))
		})
		mux.HandleFunc("/malformed.html", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(`<html><body><div><p><img src="/img/m1.jpg" alt="unclosed"<img src=/img/m2.jpg alt=swallowed></span></div>` +
				`<table><img src="/img/m3.jpg" alt='foster parented'><tr><td><img src=/img/m4.jpg alt=bare>` + "\x00\xff\xfe"))
		})
		mux.HandleFunc("/base/page.html", pgPage(`<base href="/static/v2/"><img src="x.jpg" alt="Resolved against base"><img src="../y.jpg" alt="Up from base">`))
		mux.HandleFunc("/lazy.html", pgPage(`
			<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="/img/lazy.jpg" alt="Lazy loaded">
			<img src="/img/small.jpg" srcset="/img/small.jpg 320w, /img/large.jpg 1280w, /img/medium.jpg 640w" alt="Responsive">
			<img src="/img/p.gif" data-srcset="/img/r1.jpg 1x, /img/r2.jpg 2x" alt="Lazy responsive">`))
		mux.HandleFunc("/fig.html", pgPage(`
			<figure><img src="/img/fig.jpg"><figcaption>A <em>figure</em> caption</figcaption></figure>
			<img src="/img/titled.jpg" title="Only a title">`))
		mux.HandleFunc("/bad.html", pgPage(`
			<img src="javascript:alert(1)" alt="js"><img src="data:image/png;base64,iVBORw0KGgo=" alt="inline">
			<img src="ftp://example.com/a.jpg" alt="ftp"><img alt="no source"><img src="/img/good.jpg" alt="The only good one">
			<a href="javascript:void(0)">js link</a>`))
		mux.HandleFunc("/photo.jpg", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/jpeg")
			w.Write([]byte("\xff\xd8\xff\xe0 not really a jpeg"))
		})
		mux.HandleFunc("/noindex.html", pgPage(`<meta name="robots" content="noindex"><img src="/img/hidden.jpg" alt="hidden">`))
		mux.HandleFunc("/xrobots.html", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Robots-Tag", "noai")
			pgPage(`<img src="/img/noai.jpg" alt="opted out">`)(w, r)
		})
		mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/redirected.html", http.StatusFound)
		})
		mux.HandleFunc("/redirected.html", pgPage(`<img src="img/after.jpg" alt="After a redirect">`))
	})
}

// pgTestOptions are fast options for loopback tests.
func pgTestOptions(seeds ...string) PageOptions {
	return PageOptions{
		Seeds:        seeds,
		Delay:        -1,
		RandomDelay:  -1,
		AllowPrivate: true,
		Workers:      4,
	}
}

func pgRun(t *testing.T, opts PageOptions) ([]Pair, PageStats) {
	t.Helper()
	var got []Pair
	st, err := CrawlPages(context.Background(), opts, func(p Pair) error {
		got = append(got, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].ImageURL < got[j].ImageURL })
	return got, st
}

func TestCrawlPagesSite(t *testing.T) {
	s := pgMainSite(t)
	errs := make(chan error, 100)
	opts := pgTestOptions(s.URL + "/")
	opts.MaxDepth = 1
	opts.Errors = errs
	got, st := pgRun(t, opts)
	close(errs)

	u := func(p string) string { return s.URL + p }
	want := []Pair{
		{ImageURL: u("/img/after.jpg"), PageURL: u("/redirected.html"), Caption: "After a redirect", CaptionSource: FromAlt},
		{ImageURL: u("/img/cafe.jpg"), PageURL: u("/latin1-meta.html"), Caption: "Café crème", CaptionSource: FromAlt},
		{ImageURL: u("/img/cal-2024-1.jpg"), PageURL: u("/cal/2024/1"), Caption: "Calendar for 2024-01", CaptionSource: FromAlt},
		{ImageURL: u("/img/cat.jpg"), PageURL: u("/gallery.html"), Caption: "A cat", CaptionSource: FromAlt},
		{ImageURL: u("/img/dog.jpg"), PageURL: u("/gallery.html"), Caption: "A dog", CaptionSource: FromAlt},
		{ImageURL: u("/img/fig.jpg"), PageURL: u("/fig.html"), Caption: "A figure caption", CaptionSource: FromFigcaption},
		{ImageURL: u("/img/good.jpg"), PageURL: u("/bad.html"), Caption: "The only good one", CaptionSource: FromAlt},
		{ImageURL: u("/img/large.jpg"), PageURL: u("/lazy.html"), Caption: "Responsive", CaptionSource: FromAlt},
		{ImageURL: u("/img/lazy.jpg"), PageURL: u("/lazy.html"), Caption: "Lazy loaded", CaptionSource: FromAlt},
		{ImageURL: u("/img/logo.png"), PageURL: u("/"), Caption: "Site logo", CaptionSource: FromAlt},
		{ImageURL: u("/img/m1.jpg"), PageURL: u("/malformed.html"), Caption: "unclosed", CaptionSource: FromAlt},
		{ImageURL: u("/img/m3.jpg"), PageURL: u("/malformed.html"), Caption: "foster parented", CaptionSource: FromAlt},
		{ImageURL: u("/img/m4.jpg"), PageURL: u("/malformed.html"), Caption: "bare", CaptionSource: FromAlt},
		{ImageURL: u("/img/noel.jpg"), PageURL: u("/latin1.html"), Caption: "Père Noël à Genève", CaptionSource: FromAlt},
		{ImageURL: u("/img/r2.jpg"), PageURL: u("/lazy.html"), Caption: "Lazy responsive", CaptionSource: FromAlt},
		{ImageURL: u("/img/titled.jpg"), PageURL: u("/fig.html"), Caption: "Only a title", CaptionSource: FromTitle},
		{ImageURL: u("/static/v2/x.jpg"), PageURL: u("/base/page.html"), Caption: "Resolved against base", CaptionSource: FromAlt},
		{ImageURL: u("/static/y.jpg"), PageURL: u("/base/page.html"), Caption: "Up from base", CaptionSource: FromAlt},
		{ImageURL: "https://cdn.example.net/bird.jpg", PageURL: u("/gallery.html"), Caption: "A bird", CaptionSource: FromAlt},
	}
	for i := range want {
		want[i].Source = "page"
	}
	sort.Slice(want, func(i, j int) bool { return want[i].ImageURL < want[j].ImageURL })
	if !slices.EqualFunc(got, want, func(a, b Pair) bool {
		return a.ImageURL == b.ImageURL && a.PageURL == b.PageURL && a.Caption == b.Caption && a.CaptionSource == b.CaptionSource && a.Source == b.Source && a.Extra == nil
	}) {
		t.Errorf("pairs:\n got %d %+v\nwant %d %+v", len(got), got, len(want), want)
	}

	wantStats := PageStats{
		// index + 15 same-site links (the image link included) +
		// the redirect, all but /private/ requested.
		Requested: 16, Pages: 12, NonHTML: 1, Pairs: 19,
		Images: 25, Links: 19,
		Queued: 16, OffDomain: 1, DepthLimited: 3,
		RobotsBlocked: 1, RobotsOptOut: 2, HTTPErrors: 1,
	}
	if st != wantStats {
		t.Errorf("stats\n got %+v\nwant %+v", st, wantStats)
	}
	if n := s.countUnder("/private/"); n != 0 {
		t.Errorf("robots.txt: /private/ was asked %d times", n)
	}
	if n := s.count("/robots.txt"); n != 1 {
		t.Errorf("robots.txt asked %d times", n)
	}
	if n := s.count("/gallery2.html") + s.count("/cal/2024/2"); n != 0 {
		t.Errorf("pages beyond MaxDepth were asked %d times", n)
	}
	var pes []*PageError
	for e := range errs {
		var pe *PageError
		if !errors.As(e, &pe) {
			t.Fatalf("error %v is not a *PageError", e)
		}
		pes = append(pes, pe)
	}
	sort.Slice(pes, func(i, j int) bool { return pes[i].URL < pes[j].URL })
	if len(pes) != 2 || pes[0].URL != u("/missing.html") || pes[0].Status != 404 || pes[0].Depth != 1 ||
		pes[1].URL != u("/private/secret.html") || !strings.Contains(pes[1].Error(), "robots.txt") {
		t.Errorf("errors: %v", pes)
	}
}

// TestCrawlPagesTrap crawls an endless calendar: depth and page limits stop
// it, with exactly the pages allowed.
func TestCrawlPagesTrap(t *testing.T) {
	s := pgMainSite(t)
	for _, tt := range []struct {
		depth, pages int
		wantPages    int64
	}{
		{depth: 4, pages: 1000, wantPages: 5},
		{depth: 1000, pages: 7, wantPages: 7},
	} {
		t.Run(fmt.Sprintf("depth %d pages %d", tt.depth, tt.pages), func(t *testing.T) {
			before := s.countUnder("/cal/")
			opts := pgTestOptions(s.URL + "/cal/2030/11")
			opts.MaxDepth, opts.MaxPages = tt.depth, tt.pages
			got, st := pgRun(t, opts)
			if st.Requested != tt.wantPages || st.Pages != tt.wantPages || int64(len(got)) != tt.wantPages {
				t.Fatalf("%d pairs, stats %+v", len(got), st)
			}
			if st.DepthLimited+st.PageLimited != 1 {
				t.Fatalf("limits hit %d + %d times", st.DepthLimited, st.PageLimited)
			}
			if n := s.countUnder("/cal/") - before; int64(n) != tt.wantPages {
				t.Fatalf("server saw %d calendar requests", n)
			}
			if last := got[len(got)-1]; !strings.Contains(last.PageURL, "/cal/20") {
				t.Fatalf("pair %+v", last)
			}
		})
	}
}

func TestCrawlPagesRobots(t *testing.T) {
	for _, tt := range []struct {
		robots               string
		wantPages, wantBlock int64
	}{
		{"404", 2, 0}, // no robots.txt: all allowed
		{"503", 0, 1}, // robots.txt unavailable: nothing allowed
		{"429", 0, 1},
		{"User-agent: clipstream\nDisallow: /", 0, 1}, // our token
		{"User-agent: otherbot\nDisallow: /", 2, 0},   // someone else's
		{"User-agent: *\nDisallow: /b", 1, 1},
	} {
		t.Run(tt.robots, func(t *testing.T) {
			s := newPGSite(t, tt.robots, func(mux *http.ServeMux) {
				mux.HandleFunc("/a", pgPage(`<img src="a.jpg" alt="a"><a href="/b">b</a>`))
				mux.HandleFunc("/b", pgPage(`<img src="b.jpg" alt="b">`))
			})
			got, st := pgRun(t, func() PageOptions { o := pgTestOptions(s.URL + "/a"); o.MaxDepth = 3; return o }())
			if st.Pages != tt.wantPages || int64(len(got)) != tt.wantPages || st.RobotsBlocked != tt.wantBlock {
				t.Fatalf("%d pairs, stats %+v", len(got), st)
			}
			if n := s.count("/a") + s.count("/b"); int64(n) != tt.wantPages {
				t.Fatalf("server saw %d page requests", n)
			}
		})
	}
}

func TestCrawlPagesPrivateAddress(t *testing.T) {
	s := pgMainSite(t)
	opts := pgTestOptions(s.URL + "/")
	opts.AllowPrivate = false
	errs := make(chan error, 10)
	opts.Errors = errs
	got, st := pgRun(t, opts)
	if len(got) != 0 || st.PrivateBlocked != 1 || st.Requested != 1 || st.Pages != 0 {
		t.Fatalf("%d pairs, stats %+v", len(got), st)
	}
	if n := s.count("/robots.txt") + s.count("/"); n != 0 {
		t.Fatalf("the loopback site got %d requests", n)
	}
	if e := <-errs; !strings.Contains(e.Error(), "not allowed") {
		t.Fatalf("error %v", e)
	}
}

// TestCrawlPagesPoliteness checks the LimitRule: one request at a time per
// domain, Delay between them.
func TestCrawlPagesPoliteness(t *testing.T) {
	s := newPGSite(t, "404", func(mux *http.ServeMux) {
		mux.HandleFunc("/", pgPage(`<a href="/1">1</a><a href="/2">2</a><a href="/3">3</a><a href="/4">4</a>`))
	})
	opts := pgTestOptions(s.URL + "/")
	opts.MaxDepth = 1
	opts.Workers = 8
	opts.Delay = 150 * time.Millisecond
	start := time.Now()
	_, st := pgRun(t, opts)
	if st.Requested != 5 {
		t.Fatalf("stats %+v", st)
	}
	if el := time.Since(start); el < 4*opts.Delay {
		t.Errorf("5 requests took %v, want at least 4 delays of %v", el, opts.Delay)
	}
	if m := s.maxBusy.Load(); m != 1 {
		t.Errorf("%d requests at once to one host", m)
	}
}

// TestCrawlPagesPartitions splits a crawl of three hosts N ways: the parts
// are disjoint and together are the whole crawl.
func TestCrawlPagesPartitions(t *testing.T) {
	var seeds []string
	for i := 0; i < 3; i++ {
		s := newPGSite(t, "404", func(mux *http.ServeMux) {
			mux.HandleFunc("/", pgPage(fmt.Sprintf(`<img src="/s%d.jpg" alt="site %d"><a href="/p">p</a>`, i, i)))
			mux.HandleFunc("/p", pgPage(fmt.Sprintf(`<img src="/p%d.jpg" alt="page of site %d">`, i, i)))
		})
		seeds = append(seeds, s.URL+"/")
	}
	whole, _ := pgRun(t, func() PageOptions { o := pgTestOptions(seeds...); o.MaxDepth = 2; return o }())
	if len(whole) != 6 {
		t.Fatalf("whole crawl: %d pairs", len(whole))
	}
	for _, n := range []int{2, 3} {
		seen := map[string]int{}
		for i := 0; i < n; i++ {
			opts := pgTestOptions(seeds...)
			opts.MaxDepth = 2
			opts.Partition = Partition{Index: i, Count: n}
			got, st := pgRun(t, opts)
			for _, p := range got {
				seen[p.ImageURL]++
				pu, _ := url.Parse(p.PageURL)
				if PartOfHost(pu.Host, n) != i {
					t.Errorf("part %d/%d crawled %s", i, n, p.PageURL)
				}
			}
			if int64(len(got)) != 2*st.Queued/2 || st.Queued+st.OutOfPartition != 3+int64(len(got))/2 {
				t.Errorf("part %d/%d: %d pairs, stats %+v", i, n, len(got), st)
			}
		}
		for _, p := range whole {
			if seen[p.ImageURL] != 1 {
				t.Errorf("n=%d: %s found %d times over the parts", n, p.ImageURL, seen[p.ImageURL])
			}
		}
	}
}

func TestCrawlPagesStops(t *testing.T) {
	s := pgMainSite(t)
	t.Run("fn error", func(t *testing.T) {
		stop := errors.New("enough")
		n := 0
		opts := pgTestOptions(s.URL + "/cal/1999/1")
		opts.MaxDepth = 1000
		_, err := CrawlPages(context.Background(), opts, func(Pair) error {
			n++
			if n == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 3 {
			t.Fatalf("err = %v after %d pairs", err, n)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		opts := pgTestOptions(s.URL + "/cal/1999/1")
		opts.MaxDepth = 1000
		st, err := CrawlPages(ctx, opts, func(Pair) error {
			n++
			if n == 3 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) || st.Pairs > 4 || st.Errors != 0 {
			t.Fatalf("err = %v, stats %+v", err, st)
		}
	})
	t.Run("bad seeds", func(t *testing.T) {
		_, err := CrawlPages(context.Background(), pgTestOptions("ftp://x/", "/relative"), func(Pair) error { return nil })
		if !errors.Is(err, ErrNoSeeds) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCrawlPagesQueueFull(t *testing.T) {
	var links strings.Builder
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&links, `<a href="/p%d">%d</a>`, i, i)
	}
	s := newPGSite(t, "404", func(mux *http.ServeMux) {
		mux.HandleFunc("/{$}", pgPage(links.String()))
		mux.HandleFunc("/{p}", pgPage(`<img src="i.jpg" alt="i">`))
	})
	opts := pgTestOptions(s.URL + "/")
	opts.MaxDepth = 1
	opts.MaxQueue = 10
	_, st := pgRun(t, opts)
	// The index is popped before its links are offered: 10 fit.
	if st.Queued != 11 || st.QueueFull != 40 || st.Pages != 11 {
		t.Fatalf("stats %+v", st)
	}
}
