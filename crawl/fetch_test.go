package crawl

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testSite is a loopback HTTP server that logs every request.
type testSite struct {
	t   testing.TB
	srv *httptest.Server
	mux *http.ServeMux

	mu       sync.Mutex
	log      []reqRec
	inFlight int
	maxIn    int
}

type reqRec struct {
	path string
	at   time.Time
	ua   string
}

func newSite(t testing.TB) *testSite {
	s := &testSite{t: t, mux: http.NewServeMux()}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.log = append(s.log, reqRec{r.URL.RequestURI(), time.Now(), r.UserAgent()})
		s.inFlight++
		s.maxIn = max(s.maxIn, s.inFlight)
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.inFlight--
			s.mu.Unlock()
		}()
		s.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *testSite) url(path string) string { return s.srv.URL + path }

func (s *testSite) handle(pattern string, h http.HandlerFunc) { s.mux.HandleFunc(pattern, h) }

// robots serves body as /robots.txt ("" means 404).
func (s *testSite) robots(body string) {
	s.handle("/robots.txt", func(w http.ResponseWriter, r *http.Request) {
		if body == "" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(body))
	})
}

func (s *testSite) serveBytes(pattern, ctype string, b []byte) {
	s.handle(pattern, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		_, _ = w.Write(b)
	})
}

func (s *testSite) requests() []reqRec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]reqRec(nil), s.log...)
}

func (s *testSite) count(path string) int {
	n := 0
	for _, r := range s.requests() {
		if r.path == path {
			n++
		}
	}
	return n
}

var (
	testPNGOnce sync.Once
	testPNG     []byte
)

// pngImage is a real 64×48 PNG.
func pngImage(t testing.TB) []byte {
	testPNGOnce.Do(func() { testPNG = encodePNG(t, gradient(64, 48)) })
	return testPNG
}

// testOptions: loopback allowed, no spacing, short timeouts and backoff.
func testOptions() Options {
	o := DefaultOptions()
	o.AllowPrivate = true
	o.HostDelay = 0
	o.Workers = 8
	o.ProcessWorkers = 2
	// Generous: the tests must pass on a loaded machine. Tests of timeouts
	// set their own.
	o.ConnectTimeout = 10 * time.Second
	o.HeaderTimeout = 10 * time.Second
	o.BodyTimeout = 15 * time.Second
	o.BackoffBase = 50 * time.Millisecond
	o.BackoffMax = 200 * time.Millisecond
	o.MaxRetryAfter = 5 * time.Second
	o.MaxBodyBytes = 1 << 20
	o.MemoryBudget = 8 << 20
	return o
}

const caption = "A colourful test gradient"

// fetchAll runs a new Fetcher with opts over the pairs and returns the
// samples by image URL.
func fetchAll(t testing.TB, opts Options, pairs ...Pair) map[string]Sample {
	t.Helper()
	f, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return runFetcher(t, f, pairs...)
}

func runFetcher(t testing.TB, f *Fetcher, pairs ...Pair) map[string]Sample {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	in := make(chan Pair)
	go func() {
		defer close(in)
		for _, p := range pairs {
			select {
			case in <- p:
			case <-ctx.Done():
				return
			}
		}
	}()
	got := map[string]Sample{}
	err := f.Run(ctx, in, func(s Sample) error {
		if _, dup := got[s.ImageURL]; dup {
			t.Errorf("two samples for %s", s.ImageURL)
		}
		got[s.ImageURL] = s
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(got) != len(pairs) {
		t.Fatalf("%d samples for %d pairs", len(got), len(pairs))
	}
	return got
}

func pair(u string) Pair {
	return Pair{ImageURL: u, Caption: caption, CaptionSource: FromAlt, Source: "test"}
}

// expect checks each URL's status.
func expect(t *testing.T, got map[string]Sample, want map[string]Status) {
	t.Helper()
	for u, st := range want {
		s, ok := got[u]
		if !ok {
			t.Errorf("%s: no sample", u)
			continue
		}
		if s.Status != st {
			t.Errorf("%s: status %s (%s), want %s", u, s.Status, s.Error, st)
		}
	}
}

func TestFetchOK(t *testing.T) {
	s := newSite(t)
	s.robots("")
	s.serveBytes("/a.png", "image/png", pngImage(t))
	jpg := encodeJPEG(t, gradient(600, 300), 90)
	s.serveBytes("/big.jpg", "image/jpeg", jpg)
	extra := json.RawMessage(`{"license":"cc-by"}`)
	p := pair(s.url("/a.png#frag"))
	p.PageURL, p.Extra = s.url("/page.html"), extra
	got := fetchAll(t, testOptions(),
		p,
		pair(s.url("/big.jpg")),
		pair("ftp://example.com/x.png"),
		pair("javascript:alert(1)"),
		Pair{ImageURL: s.url("/c.png"), Caption: "IMG_1234.jpg"},
		Pair{ImageURL: s.url("/d.png"), Caption: "dog"},
	)
	expect(t, got, map[string]Status{
		p.ImageURL: StatusOK, s.url("/big.jpg"): StatusOK,
		"ftp://example.com/x.png": StatusBadURL, "javascript:alert(1)": StatusBadURL,
		s.url("/c.png"): StatusCaptionRejected, s.url("/d.png"): StatusCaptionRejected,
	})
	a := got[p.ImageURL]
	if a.Format != "png" || a.OriginalWidth != 64 || a.Width != 64 || a.Height != 48 || a.Caption != caption ||
		a.PageURL != p.PageURL || string(a.Extra) != string(extra) || a.HTTPStatus != 200 || a.OriginalBytes != int64(len(pngImage(t))) {
		t.Errorf("sample %+v", a)
	}
	b := got[s.url("/big.jpg")]
	if b.Width != 256 || b.Height != 256 || b.OriginalWidth != 600 || b.SHA256.IsZero() {
		t.Errorf("big: %d×%d from %d×%d", b.Width, b.Height, b.OriginalWidth, b.OriginalHeight)
	}
	// No request for rejected pairs; the User-Agent names us.
	for _, r := range s.requests() {
		if r.path == "/c.png" || r.path == "/d.png" {
			t.Errorf("requested %s", r.path)
		}
		if !strings.HasPrefix(r.ua, "clipstream/") || !strings.Contains(r.ua, "+"+DefaultContactURL) {
			t.Errorf("User-Agent %q", r.ua)
		}
	}
	// Metadata round trip.
	j, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var back Sample
	if err := json.Unmarshal(j, &back); err != nil {
		t.Fatal(err)
	}
	if back.SHA256 != a.SHA256 || back.PHash != a.PHash || back.Caption != a.Caption || back.Width != a.Width || back.Status != StatusOK {
		t.Errorf("JSON round trip: %s", j)
	}
	if !strings.Contains(string(j), `"sha256":"`+a.SHA256.String()+`"`) || strings.Contains(string(j), "Image") {
		t.Errorf("metadata JSON %s", j)
	}
}

// TestPerHostSpacing: one request in flight per host, and at least
// HostDelay between the end of one and the start of the next.
func TestPerHostSpacing(t *testing.T) {
	const delay = 150 * time.Millisecond
	s := newSite(t)
	s.robots("")
	s.handle("/img/", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
		_, _ = w.Write(pngImage(t))
	})
	var pairs []Pair
	for i := range 5 {
		pairs = append(pairs, pair(s.url(fmt.Sprintf("/img/%d.png", i))))
	}
	o := testOptions()
	o.HostDelay = delay
	start := time.Now()
	got := fetchAll(t, o, pairs...)
	for _, p := range pairs {
		expect(t, got, map[string]Status{p.ImageURL: StatusOK})
	}
	reqs := s.requests()
	if len(reqs) != 6 {
		t.Fatalf("%d requests, want 6 (robots.txt + 5)", len(reqs))
	}
	for i := 1; i < len(reqs); i++ {
		if gap := reqs[i].at.Sub(reqs[i-1].at); gap < delay {
			t.Errorf("requests %d and %d %v apart, want >= %v", i-1, i, gap, delay)
		}
	}
	if s.maxIn != 1 {
		t.Errorf("%d requests in flight at once on one host", s.maxIn)
	}
	t.Logf("6 requests in %v (spacing %v)", time.Since(start), delay)
}

// TestHostsInterleaved: with one worker, hosts take turns; with several, a
// host with many pairs does not hold up a host with few.
func TestHostsInterleaved(t *testing.T) {
	const delay = 60 * time.Millisecond
	sites := []*testSite{newSite(t), newSite(t), newSite(t)}
	var order []int // site index of each image request, in time order
	var mu sync.Mutex
	var pairs []Pair
	for si, s := range sites {
		s.robots("")
		s.handle("/img/", func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			order = append(order, si)
			mu.Unlock()
			_, _ = w.Write(pngImage(t))
		})
	}
	// Queue all of site 0's pairs first, then 1's, then 2's.
	for si, s := range sites {
		for i := range 4 {
			_ = si
			pairs = append(pairs, pair(s.url(fmt.Sprintf("/img/%d.png", i))))
		}
	}
	o := testOptions()
	o.HostDelay = delay
	o.Workers = 1
	start := time.Now()
	fetchAll(t, o, pairs...)
	el := time.Since(start)
	// Every prefix of the request order is balanced across hosts.
	counts := make([]int, 3)
	for i, si := range order {
		counts[si]++
		lo, hi := min(counts[0], counts[1], counts[2]), max(counts[0], counts[1], counts[2])
		if hi-lo > 1 {
			t.Fatalf("after %d requests the hosts have %v: not interleaved (order %v)", i+1, counts, order)
		}
	}
	// Interleaved, 12 requests on 3 hosts take about 4 spacings, not 12
	// (logged, not asserted: a loaded machine stretches it).
	t.Logf("12 requests on 3 hosts with one worker and %v spacing: %v", delay, el)

	// A host with 20 pairs and one with 2, many workers: the small host is
	// done while the big one is still early in its queue.
	big, small := newSite(t), newSite(t)
	var bigN atomic.Int32
	var smallDoneAt atomic.Int32
	for _, s := range []*testSite{big, small} {
		s.robots("")
	}
	big.handle("/img/", func(w http.ResponseWriter, r *http.Request) {
		bigN.Add(1)
		_, _ = w.Write(pngImage(t))
	})
	small.handle("/img/", func(w http.ResponseWriter, r *http.Request) {
		smallDoneAt.Store(bigN.Load())
		_, _ = w.Write(pngImage(t))
	})
	pairs = nil
	for i := range 20 {
		pairs = append(pairs, pair(big.url(fmt.Sprintf("/img/%d.png", i))))
	}
	for i := range 2 {
		pairs = append(pairs, pair(small.url(fmt.Sprintf("/img/%d.png", i))))
	}
	o.Workers = 8
	o.HostDelay = 30 * time.Millisecond
	fetchAll(t, o, pairs...)
	if n := smallDoneAt.Load(); n > 5 {
		t.Errorf("the small host's last request came after %d of the big host's", n)
	}
}

func TestRobotsTxt(t *testing.T) {
	img := pngImage(t)
	mk := func(robots func(s *testSite)) *testSite {
		s := newSite(t)
		robots(s)
		s.handle("/", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/robots.txt" {
				return
			}
			_, _ = w.Write(img)
		})
		return s
	}
	rules := mk(func(s *testSite) {
		// Our group applies, not "*" (which would disallow everything).
		s.robots("User-agent: *\nDisallow: /\n\nUser-agent: clipstream\nDisallow: /private/\nDisallow: /nous/\n")
	})
	notFound := mk(func(s *testSite) { s.robots("") })
	unavailable := mk(func(s *testSite) {
		s.handle("/robots.txt", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3600")
			http.Error(w, "down", http.StatusServiceUnavailable)
		})
	})
	limited := mk(func(s *testSite) {
		s.handle("/robots.txt", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "slow down", http.StatusTooManyRequests)
		})
	})
	slowDelay := mk(func(s *testSite) { s.robots("User-agent: *\nCrawl-delay: 600\n") })
	// A closed port: robots.txt unreachable.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	o := testOptions()
	o.MaxCrawlDelay = 10 * time.Second
	got := fetchAll(t, o,
		pair(rules.url("/ok.png")), pair(rules.url("/private/x.png")), pair(rules.url("/nous/y.png")),
		pair(rules.url("/ok2.png")), pair(rules.url("/ok3.png")),
		pair(notFound.url("/private/x.png")),
		pair(unavailable.url("/a.png")), pair(unavailable.url("/b.png")),
		pair(limited.url("/a.png")),
		pair(slowDelay.url("/a.png")),
		pair(closed+"/a.png"),
	)
	expect(t, got, map[string]Status{
		rules.url("/ok.png"): StatusOK, rules.url("/private/x.png"): StatusRobotsDisallowed,
		rules.url("/nous/y.png"): StatusRobotsDisallowed, rules.url("/ok2.png"): StatusOK, rules.url("/ok3.png"): StatusOK,
		notFound.url("/private/x.png"): StatusOK,
		unavailable.url("/a.png"):      StatusRobotsDisallowed, unavailable.url("/b.png"): StatusRobotsDisallowed,
		limited.url("/a.png"):   StatusRobotsDisallowed,
		slowDelay.url("/a.png"): StatusCrawlDelayTooLong,
		closed + "/a.png":       StatusNetwork,
	})
	if n := rules.count("/robots.txt"); n != 1 {
		t.Errorf("robots.txt fetched %d times, want 1 (cached)", n)
	}
	for _, c := range []struct {
		s    *testSite
		path string
	}{{rules, "/private/x.png"}, {rules, "/nous/y.png"}, {unavailable, "/a.png"}, {unavailable, "/b.png"}, {limited, "/a.png"}, {slowDelay, "/a.png"}} {
		if n := c.s.count(c.path); n != 0 {
			t.Errorf("%s requested %d times despite robots.txt", c.path, n)
		}
	}
	if n := unavailable.count("/robots.txt"); n != 1 {
		t.Errorf("503 robots.txt asked %d times, want 1 (cached)", n)
	}
}

func TestRobotsCrawlDelay(t *testing.T) {
	s := newSite(t)
	s.robots("User-agent: clipstream\nCrawl-delay: 0.25\n")
	s.handle("/img/", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(pngImage(t)) })
	o := testOptions()
	o.HostDelay = 20 * time.Millisecond
	var pairs []Pair
	for i := range 3 {
		pairs = append(pairs, pair(s.url(fmt.Sprintf("/img/%d.png", i))))
	}
	fetchAll(t, o, pairs...)
	reqs := s.requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests", len(reqs))
	}
	for i := 1; i < len(reqs); i++ {
		if gap := reqs[i].at.Sub(reqs[i-1].at); gap < 250*time.Millisecond {
			t.Errorf("gap %v between %s and %s, want >= Crawl-delay 250ms", gap, reqs[i-1].path, reqs[i].path)
		}
	}
}

// TestXRobotsTagOptOut: an opting-out header stops the fetch before the
// body is read: the handler sees the client go away before it writes.
func TestXRobotsTagOptOut(t *testing.T) {
	s := newSite(t)
	s.robots("")
	var mu sync.Mutex
	wroteBody := map[string]bool{}
	tags := map[string]string{
		"/noai.png": "noai", "/noimageai.png": "noimageai", "/noindex.png": "noindex",
		"/noimageindex.png": "noimageindex", "/scoped.png": "clipstream: noimageai",
		"/other-bot.png": "otherbot: noai", "/harmless.png": "nofollow, noarchive",
	}
	s.handle("/", func(w http.ResponseWriter, r *http.Request) {
		tag, ok := tags[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("X-Robots-Tag", tag)
		w.Header().Set("Content-Type", "image/png")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		if tag != "otherbot: noai" && tag != "nofollow, noarchive" {
			// Wait for the client to hang up; a polite client never reads.
			select {
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Second):
			}
		}
		mu.Lock()
		wroteBody[r.URL.Path] = true
		mu.Unlock()
		_, _ = w.Write(pngImage(t))
	})
	var pairs []Pair
	want := map[string]Status{}
	for p, tag := range tags {
		pairs = append(pairs, pair(s.url(p)))
		want[s.url(p)] = StatusOptedOut
		if tag == "otherbot: noai" || tag == "nofollow, noarchive" {
			want[s.url(p)] = StatusOK
		}
	}
	got := fetchAll(t, testOptions(), pairs...)
	expect(t, got, want)
	mu.Lock()
	defer mu.Unlock()
	for p, tag := range tags {
		if want[s.url(p)] == StatusOptedOut && wroteBody[p] {
			t.Errorf("%s (%s): the body was read", p, tag)
		}
	}
}

func TestRateLimited(t *testing.T) {
	s := newSite(t)
	s.robots("")
	var raFirst, noRA, always, parkN atomic.Int32
	var raAt time.Time
	var early atomic.Int32
	var mu sync.Mutex
	s.handle("/retry-after.png", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if raFirst.Add(1) == 1 {
			raAt = time.Now().Add(time.Second)
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		if time.Now().Before(raAt) {
			early.Add(1)
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write(pngImage(t))
	})
	s2 := newSite(t)
	s2.robots("")
	s2.handle("/no-retry-after.png", func(w http.ResponseWriter, r *http.Request) {
		if noRA.Add(1) <= 2 {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write(pngImage(t))
	})
	s3 := newSite(t)
	s3.robots("")
	s3.handle("/always.png", func(w http.ResponseWriter, r *http.Request) {
		always.Add(1)
		w.WriteHeader(http.StatusTooManyRequests)
	})
	s3.handle("/unavailable.png", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	// Retry-After beyond MaxRetryAfter: the pair fails and the host is
	// parked, so its other pair is never asked for.
	s4 := newSite(t)
	s4.robots("")
	s4.handle("/", func(w http.ResponseWriter, r *http.Request) {
		parkN.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	o := testOptions()
	o.HostFailureLimit = 0
	got := fetchAll(t, o,
		pair(s.url("/retry-after.png")), pair(s2.url("/no-retry-after.png")),
		pair(s3.url("/always.png")), pair(s3.url("/unavailable.png")),
		pair(s4.url("/a.png")), pair(s4.url("/b.png")),
	)
	expect(t, got, map[string]Status{
		s.url("/retry-after.png"): StatusOK, s2.url("/no-retry-after.png"): StatusOK,
		s3.url("/always.png"): StatusTooManyRequests, s3.url("/unavailable.png"): StatusHTTP5xx,
		s4.url("/a.png"): StatusTooManyRequests, s4.url("/b.png"): StatusHostParked,
	})
	if n := early.Load(); n != 0 {
		t.Errorf("%d requests before Retry-After elapsed", n)
	}
	if n := noRA.Load(); n != 3 {
		t.Errorf("no-retry-after asked %d times, want 3", n)
	}
	if n := always.Load(); n != int32(o.MaxRetries+1) {
		t.Errorf("always-429 asked %d times, want %d", n, o.MaxRetries+1)
	}
	if n := parkN.Load(); n != 1 {
		t.Errorf("host with Retry-After 3600 asked %d times, want 1", n)
	}
	// Backoff spacing without Retry-After: 50 ms, then 100 ms.
	var at []time.Time
	for _, r := range s2.requests() {
		if r.path == "/no-retry-after.png" {
			at = append(at, r.at)
		}
	}
	if len(at) == 3 && (at[1].Sub(at[0]) < 50*time.Millisecond || at[2].Sub(at[1]) < 100*time.Millisecond) {
		t.Errorf("backoff gaps %v, %v; want >= 50ms, 100ms", at[1].Sub(at[0]), at[2].Sub(at[1]))
	}
}

func TestRedirects(t *testing.T) {
	s := newSite(t)
	s.robots("User-agent: *\nDisallow: /forbidden/\n")
	s.serveBytes("/a.png", "image/png", pngImage(t))
	redirect := func(from, to string) {
		s.handle(from, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusFound) })
	}
	redirect("/r/ok.png", "/a.png")
	redirect("/r/loop-a.png", "/r/loop-b.png")
	redirect("/r/loop-b.png", "/r/loop-a.png")
	s.handle("/r/chain.png", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.URL.Query().Get("n"), &n)
		http.Redirect(w, r, fmt.Sprintf("/r/chain.png?n=%d", n+1), http.StatusFound)
	})
	redirect("/r/forbidden.png", "/forbidden/a.png")
	redirect("/r/private.png", "http://10.0.0.1/x.png")
	redirect("/r/metadata.png", "http://169.254.169.254/latest/meta-data/")
	redirect("/r/ftp.png", "ftp://example.com/a.png")

	o := testOptions()
	// Loopback is allowed (the test site), private addresses are not.
	o.AllowPrivate = false
	o.AllowedPrefixes = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	start := time.Now()
	got := fetchAll(t, o,
		pair(s.url("/r/ok.png")), pair(s.url("/r/loop-a.png")), pair(s.url("/r/chain.png?n=0")),
		pair(s.url("/r/forbidden.png")), pair(s.url("/r/private.png")), pair(s.url("/r/metadata.png")),
		pair(s.url("/r/ftp.png")), pair("http://192.168.1.1/direct.png"), pair("http://[::ffff:10.1.1.1]/x.png"),
	)
	expect(t, got, map[string]Status{
		s.url("/r/ok.png"): StatusOK, s.url("/r/loop-a.png"): StatusRedirectLoop,
		s.url("/r/chain.png?n=0"): StatusTooManyRedirects, s.url("/r/forbidden.png"): StatusRobotsDisallowed,
		s.url("/r/private.png"): StatusPrivateAddress, s.url("/r/metadata.png"): StatusPrivateAddress,
		s.url("/r/ftp.png"): StatusBadURL, "http://192.168.1.1/direct.png": StatusPrivateAddress,
		"http://[::ffff:10.1.1.1]/x.png": StatusPrivateAddress,
	})
	if f := got[s.url("/r/ok.png")].FinalURL; f != s.url("/a.png") {
		t.Errorf("FinalURL %q", f)
	}
	chain := 0
	for _, r := range s.requests() {
		if strings.HasPrefix(r.path, "/r/chain.png") {
			chain++
		}
	}
	if chain != o.MaxRedirects+1 {
		t.Errorf("redirect chain followed %d requests, want %d", chain, o.MaxRedirects+1)
	}
	if s.count("/forbidden/a.png") != 0 {
		t.Error("redirect target disallowed by robots.txt was requested")
	}
	// Refused at dial time: no connect timeout (10 s) was waited for.
	if el := time.Since(start); el > 8*time.Second {
		t.Errorf("took %v", el)
	}
}

func TestTimeoutsAndBrokenBodies(t *testing.T) {
	s := newSite(t)
	s.robots("")
	img := pngImage(t)
	s.handle("/trickle.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(img)))
		for i := range img {
			if _, err := w.Write(img[i : i+1]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-time.After(100 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	})
	s.handle("/slow-headers.png", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write(img)
	})
	s.handle("/reset.png", func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n", len(img))
		buf.Write(img[:len(img)/2])
		buf.Flush()
		time.Sleep(20 * time.Millisecond)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close sends a TCP reset
		}
		conn.Close()
	})
	s.handle("/short.png", func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(img))
		buf.Write(img[:100])
		buf.Flush()
		conn.Close()
	})
	o := testOptions()
	o.BodyTimeout = 2 * time.Second
	o.HeaderTimeout = time.Second
	got := fetchAll(t, o,
		pair(s.url("/trickle.png")), pair(s.url("/slow-headers.png")),
		pair(s.url("/reset.png")), pair(s.url("/short.png")),
	)
	expect(t, got, map[string]Status{
		s.url("/trickle.png"): StatusTimeout, s.url("/slow-headers.png"): StatusTimeout,
		s.url("/reset.png"): StatusNetwork, s.url("/short.png"): StatusNetwork,
	})
}

func TestBadBodies(t *testing.T) {
	s := newSite(t)
	s.robots("")
	img := pngImage(t)
	// A gzip bomb: 16 MiB of zeros in ~16 KiB, against a 1 MiB maximum.
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 16 {
		_, _ = zw.Write(zeros)
	}
	zw.Close()
	s.handle("/bomb.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(bomb.Bytes())
	})
	var gz bytes.Buffer
	zw = gzip.NewWriter(&gz)
	_, _ = zw.Write(img)
	zw.Close()
	s.handle("/gzipped.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(gz.Bytes())
	})
	s.handle("/brotli.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "br")
		_, _ = w.Write(img)
	})
	big := bytes.Repeat([]byte{0xff}, 2<<20)
	s.serveBytes("/too-large.png", "image/png", big) // with Content-Length
	s.handle("/too-large-chunked.png", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < len(big); i += 64 << 10 {
			if _, err := w.Write(big[i : i+64<<10]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	s.serveBytes("/truncated.png", "image/png", img[:len(img)/2])
	s.serveBytes("/empty.png", "image/png", nil)
	s.serveBytes("/mislabelled.jpg", "image/jpeg", img)
	s.serveBytes("/error-page.jpg", "image/jpeg", []byte("<!DOCTYPE html><html><head><title>Error</title></head><body>Server error</body></html>"))
	s.serveBytes("/huge.png", "image/png", hugePNG(60000, 60000))
	s.handle("/404.png", http.NotFound)
	s.handle("/500.png", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
	s.handle("/204.png", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	o := testOptions()
	o.HostFailureLimit = 0
	urls := map[string]Status{
		"/bomb.png": StatusTooLarge, "/gzipped.png": StatusOK, "/brotli.png": StatusBadImage,
		"/too-large.png": StatusTooLarge, "/too-large-chunked.png": StatusTooLarge,
		"/truncated.png": StatusBadImage, "/empty.png": StatusTooSmall, "/mislabelled.jpg": StatusOK,
		"/error-page.jpg": StatusBadImage, "/huge.png": StatusDecompressionBomb,
		"/404.png": StatusHTTP4xx, "/500.png": StatusHTTP5xx, "/204.png": StatusHTTPOther,
	}
	var pairs []Pair
	want := map[string]Status{}
	for p, st := range urls {
		pairs = append(pairs, pair(s.url(p)))
		want[s.url(p)] = st
	}
	got := fetchAll(t, o, pairs...)
	expect(t, got, want)
	if g := got[s.url("/404.png")]; g.HTTPStatus != 404 {
		t.Errorf("404: HTTPStatus %d", g.HTTPStatus)
	}
	if g := got[s.url("/mislabelled.jpg")]; g.Format != "png" {
		t.Errorf("mislabelled: format %q", g.Format)
	}
}

func TestHostParking(t *testing.T) {
	s := newSite(t)
	s.robots("")
	var n atomic.Int32
	s.handle("/img/", func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, "broken", http.StatusInternalServerError)
	})
	o := testOptions()
	o.HostFailureLimit = 2
	var pairs []Pair
	for i := range 6 {
		pairs = append(pairs, pair(s.url(fmt.Sprintf("/img/%d.png", i))))
	}
	f, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := runFetcher(t, f, pairs...)
	counts := map[Status]int{}
	for _, smp := range got {
		counts[smp.Status]++
	}
	if counts[StatusHTTP5xx] != 2 || counts[StatusHostParked] != 4 || n.Load() != 2 {
		t.Fatalf("statuses %v, %d requests; want 2 http_5xx, 4 host_parked, 2 requests", counts, n.Load())
	}
	// The parking outlives the Run: a later Run asks nothing.
	got = runFetcher(t, f, pair(s.url("/img/again.png")))
	if st := got[s.url("/img/again.png")].Status; st != StatusHostParked || n.Load() != 2 {
		t.Fatalf("second run: %s, %d requests", st, n.Load())
	}
	if c := f.Stats().Samples[StatusHostParked]; c != 5 {
		t.Errorf("Stats: %d parked, want 5", c)
	}
}

func TestResolverAndDNSErrors(t *testing.T) {
	s := newSite(t)
	s.robots("")
	s.serveBytes("/a.png", "image/png", pngImage(t))
	_, port, _ := net.SplitHostPort(s.srv.Listener.Addr().String())
	o := testOptions()
	o.Resolver = func(ctx context.Context, host string) ([]netip.Addr, error) {
		if host == "site.test" {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	got := fetchAll(t, o, pair("http://site.test:"+port+"/a.png"), pair("http://nowhere.invalid/a.png"))
	expect(t, got, map[string]Status{"http://site.test:" + port + "/a.png": StatusOK, "http://nowhere.invalid/a.png": StatusDNS})
}

func TestRunCancelAndOutError(t *testing.T) {
	s := newSite(t)
	s.robots("")
	s.handle("/slow/", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	s.serveBytes("/a.png", "image/png", pngImage(t))
	f, err := New(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	// Cancel while requests hang: Run returns promptly with the context's error.
	ctx, cancel := context.WithCancel(context.Background())
	in := make(chan Pair, 4)
	for i := range 4 {
		in <- pair(s.url(fmt.Sprintf("/slow/%d.png", i)))
	}
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	err = f.Run(ctx, in, func(Sample) error { return nil })
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Fatalf("Run after cancel: %v after %v", err, time.Since(start))
	}

	// An error from out stops Run and is returned.
	boom := errors.New("sink full")
	in = make(chan Pair, 3)
	for i := range 3 {
		in <- pair(s.url(fmt.Sprintf("/a.png?%d", i)))
	}
	close(in)
	err = f.Run(context.Background(), in, func(Sample) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Run with failing out: %v", err)
	}

	// The Fetcher is usable again, and a closed input with no pairs ends Run.
	empty := make(chan Pair)
	close(empty)
	if err := f.Run(context.Background(), empty, func(Sample) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

// TestBoundedQueue: many pairs through a tiny MaxPending and MemoryBudget
// all come out.
func TestBoundedQueue(t *testing.T) {
	sites := []*testSite{newSite(t), newSite(t)}
	var pairs []Pair
	for _, s := range sites {
		s.robots("")
		s.handle("/img/", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(pngImage(t)) })
		for i := range 40 {
			pairs = append(pairs, pair(s.url(fmt.Sprintf("/img/%d.png", i))))
		}
	}
	o := testOptions()
	o.MaxPending = 3
	o.MaxBodyBytes = 64 << 10
	o.MemoryBudget = 64 << 10
	o.Workers = 4
	got := fetchAll(t, o, pairs...)
	for _, p := range pairs {
		if got[p.ImageURL].Status != StatusOK {
			t.Fatalf("%s: %s %s", p.ImageURL, got[p.ImageURL].Status, got[p.ImageURL].Error)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	for name, mod := range map[string]func(*Options){
		"workers":       func(o *Options) { o.Workers = 0 },
		"token":         func(o *Options) { o.ProductToken = "clip stream/1" },
		"budget":        func(o *Options) { o.MemoryBudget = o.MaxBodyBytes - 1 },
		"timeout":       func(o *Options) { o.BodyTimeout = 0 },
		"resize":        func(o *Options) { o.Image.Mode = "stretch" },
		"quality":       func(o *Options) { o.Image.Quality = 101 },
		"negative_wait": func(o *Options) { o.HostDelay = -time.Second },
	} {
		o := DefaultOptions()
		mod(&o)
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	o := DefaultOptions()
	o.ContactURL = "https://example.org/crawler"
	f, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ua := f.UserAgent(); ua != "clipstream/"+Version+" (+https://example.org/crawler)" {
		t.Errorf("User-Agent %q", ua)
	}
}

func TestRobotsAllowed(t *testing.T) {
	s := newSite(t)
	s.robots("User-agent: *\nDisallow: /private/\n")
	f, err := New(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	if ok, err := f.RobotsAllowed(ctx, s.url("/page.html")); !ok || err != nil {
		t.Errorf("page: %v %v", ok, err)
	}
	if ok, err := f.RobotsAllowed(ctx, s.url("/private/page.html")); ok || err != nil {
		t.Errorf("private page: %v %v", ok, err)
	}
	if _, err := f.RobotsAllowed(ctx, "mailto:x@example.com"); StatusOf(err) != StatusBadURL {
		t.Errorf("mailto: %v", err)
	}
	if n := s.count("/robots.txt"); n != 1 {
		t.Errorf("robots.txt fetched %d times", n)
	}
}
