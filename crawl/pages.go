package crawl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocolly/colly/v2"
	collystorage "github.com/gocolly/colly/v2/storage"
)

// PageOptions configures CrawlPages. Fields left zero take the defaults
// of DefaultPageOptions, except MaxDepth (0 fetches the seeds only).
type PageOptions struct {
	// Seeds are the absolute http(s) URLs the crawl starts from.
	Seeds []string
	// AllowedDomains are the host names (without port, matched exactly,
	// as colly does) whose pages are fetched; nil means the seeds' hosts.
	// Images may be anywhere.
	AllowedDomains []string
	// MaxDepth is how many links are followed from a seed; 0 fetches the
	// seeds only.
	MaxDepth int
	// MaxPages bounds the pages requested, seeds included (default 1000).
	// With MaxDepth it is what stops link traps (endless calendars).
	MaxPages int
	// MaxQueue bounds the pages waiting to be fetched (default 10,000); a
	// link found while it is full is dropped and counted. The queue holds
	// about 200 bytes per page.
	MaxQueue int
	// Workers is how many pages are fetched at once over all hosts
	// (default 8). Each holds at most one page body (MaxBodyBytes) and its
	// parse tree.
	Workers int
	// Parallelism is how many requests one domain may have in flight
	// (colly LimitRule.Parallelism; default 1).
	Parallelism int
	// Delay is the pause after each request to a domain before its next
	// (LimitRule.Delay; default 1 s, negative for none); RandomDelay adds
	// up to that much more at random (default 500 ms, negative for none).
	Delay, RandomDelay time.Duration
	// UserAgent is sent with every request and matched against robots.txt
	// groups by its leading product token; default
	// "clipstream/VERSION (+CONTACT)".
	UserAgent string
	// ConnectTimeout bounds DNS plus connect (default 10 s);
	// RequestTimeout a whole request, body included (default 30 s).
	ConnectTimeout, RequestTimeout time.Duration
	// MaxBodyBytes is the most of a page read (default 10 MiB).
	MaxBodyBytes int
	// MaxRedirects is how many redirects are followed (default 5).
	MaxRedirects int
	// AllowPrivate lets the crawl reach loopback, private, link-local and
	// other special addresses (tests on loopback). Off, they are refused at
	// dial time, robots.txt and redirects included.
	AllowPrivate bool
	// Visited is the set of pages already queued, as colly's storage
	// (a Badger-backed one makes it survive restarts); nil means colly's
	// in-memory storage. It also keeps the crawl's cookies.
	Visited collystorage.Storage
	// Log, if set, keeps the crawl's progress across runs (the dedup index
	// does, for clipstream crawl): a crawl given the log of an interrupted
	// one fetches no page that one finished; it hands fn again the pairs
	// of the pages it finished (fn may have been cut off before it saw
	// them all through; the caller skips the image URLs it already tried)
	// and offers again their links (those MaxPages or MaxDepth stopped may
	// be taken now); it queues first the pages it left queued, and counts
	// MaxPages over all runs. It replaces Visited for queueing.
	Log PageLog
	// Partition crawls only the seeds, and follows only the links, whose
	// host falls in this part (see Partition).
	Partition Partition
	// Errors, if set, receives a *PageError for every page that failed.
	// Sends never block: when the channel is full the error is dropped
	// (PageStats.ErrorsDropped). CrawlPages never closes it.
	Errors chan<- error
	// Logger receives debug lines per page and failures; nil discards.
	Logger *slog.Logger
}

// DefaultPageOptions returns polite defaults for crawling the open web.
func DefaultPageOptions() PageOptions {
	return PageOptions{
		MaxDepth:       3,
		MaxPages:       1000,
		MaxQueue:       10_000,
		Workers:        8,
		Parallelism:    1,
		Delay:          time.Second,
		RandomDelay:    500 * time.Millisecond,
		UserAgent:      "clipstream/" + Version + " (+" + DefaultContactURL + ")",
		ConnectTimeout: 10 * time.Second,
		RequestTimeout: 30 * time.Second,
		MaxBodyBytes:   10 << 20,
		MaxRedirects:   5,
	}
}

func (o PageOptions) withDefaults() PageOptions {
	d := DefaultPageOptions()
	if o.MaxDepth < 0 {
		o.MaxDepth = 0
	}
	if o.MaxPages <= 0 {
		o.MaxPages = d.MaxPages
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = d.MaxQueue
	}
	if o.Workers <= 0 {
		o.Workers = d.Workers
	}
	if o.Parallelism <= 0 {
		o.Parallelism = d.Parallelism
	}
	switch {
	case o.Delay == 0:
		o.Delay = d.Delay
	case o.Delay < 0:
		o.Delay = 0
	}
	switch {
	case o.RandomDelay == 0:
		o.RandomDelay = d.RandomDelay
	case o.RandomDelay < 0:
		o.RandomDelay = 0
	}
	if o.UserAgent == "" {
		o.UserAgent = d.UserAgent
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = d.ConnectTimeout
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = d.RequestTimeout
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = d.MaxBodyBytes
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = d.MaxRedirects
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// PageLog is a page crawl's progress, kept where it outlives the process.
// It is defined here, by its user; dedup.Index implements it in the
// crawl's Badger index.
type PageLog interface {
	// QueuePage records url as queued at depth links from its seed, and
	// reports whether it was new: false when any run queued it before.
	QueuePage(ctx context.Context, url string, depth int) (bool, error)
	// PageDone records that url was fetched, whatever came of it, with
	// a record of what it held (opaque: the crawl encodes its pairs and
	// links).
	PageDone(ctx context.Context, url string, record []byte) error
	// Pages calls fn with every page queued by any run, in no set order,
	// until fn returns false: done, with its record, once fetched. The
	// record is valid only during the call.
	Pages(ctx context.Context, fn func(url string, depth int, done bool, record []byte) bool) error
}

// PageError is a page that could not be crawled.
type PageError struct {
	URL    string // the page (after redirects, when known)
	Depth  int    // links followed from its seed
	Status int    // HTTP status, 0 if none came
	Err    error
}

func (e *PageError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("crawl: page %s (HTTP %d): %v", e.URL, e.Status, e.Err)
	}
	return fmt.Sprintf("crawl: page %s: %v", e.URL, e.Err)
}

func (e *PageError) Unwrap() error { return e.Err }

// PageStats counts what a page crawl did.
type PageStats struct {
	Requested int64 // pages requested (robots.txt-blocked ones included)
	Pages     int64 // HTML pages parsed
	NonHTML   int64 // responses that were not HTML (the body is not read)
	Pairs     int64 // pairs yielded
	Images    int64 // <img> elements seen on the pages
	Links     int64 // links found on the pages (before any filter)

	Queued         int64 // pages queued, seeds included
	Resumed        int64 // pages an earlier run queued and did not finish, queued again (Log)
	Earlier        int64 // pages earlier runs queued (Log), counted against MaxPages
	Replayed       int64 // pairs of pages earlier runs fetched, handed to fn again (Log)
	Duplicate      int64 // links to pages already queued
	OffDomain      int64 // links to hosts outside AllowedDomains
	OutOfPartition int64 // links (and seeds) to hosts of other partitions
	DepthLimited   int64 // links beyond MaxDepth
	PageLimited    int64 // links dropped because MaxPages were queued
	QueueFull      int64 // links dropped because MaxQueue pages waited

	RobotsBlocked  int64 // pages robots.txt disallows (also a 5xx robots.txt)
	RobotsOptOut   int64 // pages opted out by X-Robots-Tag (body not read) or <meta name=robots> (images not taken)
	PrivateBlocked int64 // requests refused for their private address
	HTTPErrors     int64 // 4xx/5xx (and other non-2xx) answers
	Errors         int64 // other failures: network, timeouts, redirects
	ErrorsDropped  int64 // PageErrors not sent because Errors was full
}

// pgCounters are PageStats, updated from many goroutines.
type pgCounters struct {
	requested, pages, nonHTML, pairs, images, links                                    atomic.Int64
	queued, duplicate, offDomain, outOfPartition, depthLimited, pageLimited, queueFull atomic.Int64
	resumed, earlier, replayed                                                         atomic.Int64
	robotsBlocked, robotsOptOut, privateBlocked, httpErrors, errors, errorsDropped     atomic.Int64
}

func (c *pgCounters) snapshot() PageStats {
	return PageStats{
		Requested: c.requested.Load(), Pages: c.pages.Load(), NonHTML: c.nonHTML.Load(), Pairs: c.pairs.Load(),
		Images: c.images.Load(), Links: c.links.Load(),
		Queued: c.queued.Load(), Duplicate: c.duplicate.Load(), OffDomain: c.offDomain.Load(),
		OutOfPartition: c.outOfPartition.Load(), DepthLimited: c.depthLimited.Load(), PageLimited: c.pageLimited.Load(),
		QueueFull: c.queueFull.Load(), Resumed: c.resumed.Load(), Earlier: c.earlier.Load(),
		Replayed: c.replayed.Load(), RobotsBlocked: c.robotsBlocked.Load(), RobotsOptOut: c.robotsOptOut.Load(),
		PrivateBlocked: c.privateBlocked.Load(), HTTPErrors: c.httpErrors.Load(), Errors: c.errors.Load(),
		ErrorsDropped: c.errorsDropped.Load(),
	}
}

// ErrNoSeeds is returned by CrawlPages when no seed is a usable URL.
var ErrNoSeeds = errors.New("crawl: no usable seed URL")

// pgCrawl is one running page crawl.
type pgCrawl struct {
	opts    PageOptions
	fn      PairFunc
	cancel  context.CancelFunc
	c       *colly.Collector
	visited collystorage.Storage
	allowed map[string]bool
	front   *pgFrontier
	n       pgCounters

	ctx      context.Context
	emitMu   sync.Mutex // serialises fn; guards fnErr
	fnErr    error
	queueMu  sync.Mutex // makes the visited check and record one step; guards admitted
	admitted int
}

// Context keys of colly requests.
const (
	pgKeyDepth   = "clipstream.depth"
	pgKeyErrSeen = "clipstream.err"
	pgKeyOptOut  = "clipstream.optout"
	pgKeyRecord  = "clipstream.record"
)

// CrawlPages crawls pages with colly from opts.Seeds and calls fn with the
// pairs of every HTML page (see ExtractHTML), each with its PageURL.
//
// Pages are fetched by Workers goroutines from a bounded queue that hands
// them out round-robin over hosts, through one colly collector with a
// LimitRule per allowed domain (Parallelism, Delay, RandomDelay), robots.txt
// honoured for our user agent (colly fetches and caches it; a 4xx allows
// all, a 5xx disallows all), requests bound to ctx (colly's StdlibContext),
// and an http.Transport whose dialer refuses private addresses unless
// AllowPrivate. Only links to allowed domains within MaxDepth are followed,
// each page once (opts.Visited), at most MaxPages in all; links are not
// followed from pages whose <meta name=robots> says nofollow or none; a page
// whose X-Robots-Tag opts out (noai, noimageai, noindex, noimageindex, none,
// unscoped or scoped to our product token) is not read, and one whose
// <meta name=robots> does yields no pairs. Non-HTML responses are not read.
// Every failure is counted in PageStats and, if opts.Errors is set, sent
// there as a *PageError.
//
// It returns when no page is left, or ctx is done (ctx.Err()), or fn fails
// (fn's error); in-flight requests are then finished or cancelled and no
// goroutine is left behind.
func CrawlPages(ctx context.Context, opts PageOptions, fn PairFunc) (PageStats, error) {
	opts = opts.withDefaults()
	if err := opts.Partition.Validate(); err != nil {
		return PageStats{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pc := &pgCrawl{opts: opts, fn: fn, cancel: cancel, ctx: ctx}

	// Seeds, and the allowed domains they imply.
	var seeds []pgJob
	pc.allowed = map[string]bool{}
	for _, d := range opts.AllowedDomains {
		pc.allowed[strings.ToLower(strings.TrimSuffix(d, "."))] = true
	}
	var bad []string
	for _, s := range opts.Seeds {
		u, err := parseHTTPURL(s)
		if err != nil {
			bad = append(bad, s)
			continue
		}
		seeds = append(seeds, pgJob{url: u.Href(true), host: strings.ToLower(u.Host())})
		if opts.AllowedDomains == nil {
			pc.allowed[pgHostname(strings.ToLower(u.Host()))] = true
		}
	}
	if len(seeds) == 0 {
		return PageStats{}, fmt.Errorf("%w (seeds %q)", ErrNoSeeds, opts.Seeds)
	}
	for _, s := range bad {
		opts.Logger.Warn("seed is not an absolute http(s) URL; skipped", "seed", s)
	}

	transport, closeIdle := pc.transport(ctx)
	defer closeIdle()
	if err := pc.collector(ctx, transport); err != nil {
		return PageStats{}, err
	}

	pc.front = newPGFrontier(ctx, opts.MaxQueue, opts.Parallelism)
	defer pc.front.release()
	if err := pc.resume(ctx); err != nil {
		return PageStats{}, err
	}
	for _, s := range seeds {
		pc.offer(s)
	}

	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Go(func() {
			for {
				j, ok := pc.front.pop()
				if !ok {
					return
				}
				rec := pc.visit(j)
				if pc.opts.Log != nil && ctx.Err() == nil {
					// a page cut short by the end of the crawl stays
					// pending, to be fetched by the next run
					rec, err := json.Marshal(rec)
					if err == nil {
						err = pc.opts.Log.PageDone(ctx, j.url, rec)
					}
					if err != nil && ctx.Err() == nil {
						pc.report(&PageError{URL: j.url, Depth: j.depth, Err: fmt.Errorf("page log: %w", err)}, &pc.n.errors)
					}
				}
				pc.front.done(j)
			}
		})
	}
	wg.Wait()

	st := pc.n.snapshot()
	pc.emitMu.Lock()
	fnErr := pc.fnErr
	pc.emitMu.Unlock()
	if fnErr != nil {
		return st, fnErr
	}
	return st, context.Cause(ctx)
}

// transport is the HTTP transport colly uses: the dialer of this package
// (refusing private addresses at dial time unless AllowPrivate), no proxy,
// robots.txt bodies cut to MaxRobotsBytes, a 5xx or 429 robots.txt read as
// "disallow all", and requests without a context (colly's robots.txt
// fetches) bound to the crawl's.
func (pc *pgCrawl) transport(ctx context.Context) (http.RoundTripper, func()) {
	d := newDialer(&Options{
		AllowPrivate:   pc.opts.AllowPrivate,
		ConnectTimeout: pc.opts.ConnectTimeout,
		DNSCacheTTL:    5 * time.Minute,
	})
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
		TLSHandshakeTimeout:   pc.opts.ConnectTimeout,
		ResponseHeaderTimeout: pc.opts.RequestTimeout,
	}
	return &pgRoundTripper{ctx: ctx, rt: t}, t.CloseIdleConnections
}

type pgRoundTripper struct {
	ctx context.Context
	rt  http.RoundTripper
}

func (p *pgRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Context().Done() == nil {
		req = req.WithContext(p.ctx)
	}
	resp, err := p.rt.RoundTrip(req)
	if err != nil || req.URL.Path != "/robots.txt" {
		return resp, err
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		// RFC 9309 §2.3.1.3: an unavailable robots.txt means full
		// disallow. colly's robots.txt parser knows that, but colly then
		// asks the parsed file's groups, of which this has none; so say it
		// in words colly reads.
		resp.Body.Close()
		resp.StatusCode, resp.Status = http.StatusOK, "200 OK (robots.txt unavailable: disallow all)"
		resp.Header = http.Header{"Content-Type": {"text/plain"}}
		resp.ContentLength = -1
		resp.Body = io.NopCloser(strings.NewReader("User-agent: *\nDisallow: /\n"))
		return resp, nil
	}
	resp.Body = pgLimitedBody{io.LimitReader(resp.Body, MaxRobotsBytes), resp.Body}
	return resp, nil
}

type pgLimitedBody struct {
	io.Reader
	io.Closer
}

// collector sets up colly.
func (pc *pgCrawl) collector(ctx context.Context, rt http.RoundTripper) error {
	o := pc.opts
	domains := make([]string, 0, len(pc.allowed))
	for d := range pc.allowed {
		domains = append(domains, d)
	}
	c := colly.NewCollector(
		colly.UserAgent(o.UserAgent),
		colly.AllowedDomains(domains...),
		colly.MaxBodySize(o.MaxBodyBytes),
		colly.StdlibContext(ctx),
		// The crawl checks and records visits itself, when a link is
		// queued (see offer), in the same storage.
		colly.AllowURLRevisit(),
	)
	c.IgnoreRobotsTxt = false
	c.WithTransport(rt)
	c.SetRequestTimeout(o.RequestTimeout)
	if o.Visited != nil {
		if err := c.SetStorage(o.Visited); err != nil {
			return fmt.Errorf("crawl: visited storage: %w", err)
		}
		pc.visited = o.Visited
	} else {
		s := &collystorage.InMemoryStorage{}
		if err := c.SetStorage(s); err != nil {
			return fmt.Errorf("crawl: visited storage: %w", err)
		}
		pc.visited = s
	}
	maxRedirects := o.MaxRedirects
	c.SetRedirectHandler(func(req *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		return nil
	})
	// One rule per domain: colly's rule holds one semaphore for all hosts it
	// matches. Hosts are matched with any port.
	for _, d := range domains {
		re := `^` + regexp.QuoteMeta(d) + `(:[0-9]+)?$`
		if strings.Contains(d, ":") { // an IPv6 literal
			re = `^\[` + regexp.QuoteMeta(d) + `\](:[0-9]+)?$`
		}
		if err := c.Limit(&colly.LimitRule{
			DomainRegexp: re,
			Parallelism:  o.Parallelism,
			Delay:        o.Delay,
			RandomDelay:  o.RandomDelay,
		}); err != nil {
			return fmt.Errorf("crawl: limit rule for %s: %w", d, err)
		}
	}
	token := pgProductToken(o.UserAgent)
	c.OnResponseHeaders(func(r *colly.Response) {
		// The body of an opted-out or non-HTML page is not read; an error
		// status goes on to OnError.
		if r.StatusCode >= 300 {
			return
		}
		if xRobotsOptOut(*r.Headers, token) != "" {
			r.Ctx.Put(pgKeyOptOut, true)
			r.Request.Abort()
			return
		}
		if !pgIsHTMLType(r.Headers.Get("Content-Type")) {
			r.Request.Abort()
		}
	})
	c.OnResponse(pc.onResponse)
	c.OnError(pc.onError)
	pc.c = c
	return nil
}

// pgIsHTMLType reports whether a Content-Type may be HTML (an absent one
// may: the body is sniffed).
func pgIsHTMLType(ct string) bool {
	ct = strings.ToLower(strings.TrimSpace(ct))
	return ct == "" || strings.Contains(ct, "html")
}

// offer queues a page, if it passes the filters. It reports whether the
// page was queued.
func (pc *pgCrawl) offer(j pgJob) bool {
	if !pc.allowed[pgHostname(j.host)] {
		pc.n.offDomain.Add(1)
		return false
	}
	if !pc.opts.Partition.OwnsHost(j.host) {
		pc.n.outOfPartition.Add(1)
		return false
	}
	if j.depth > pc.opts.MaxDepth {
		pc.n.depthLimited.Add(1)
		return false
	}
	pc.queueMu.Lock()
	defer pc.queueMu.Unlock()
	if pc.opts.Log != nil {
		return pc.offerLogged(j)
	}
	key := pgVisitKey(j.url)
	seen, err := pc.visited.IsVisited(key)
	if err != nil {
		pc.report(&PageError{URL: j.url, Depth: j.depth, Err: fmt.Errorf("visited storage: %w", err)}, &pc.n.errors)
		return false
	}
	if seen {
		pc.n.duplicate.Add(1)
		return false
	}
	if pc.admitted >= pc.opts.MaxPages {
		pc.n.pageLimited.Add(1)
		return false
	}
	if !pc.front.push(j) {
		pc.n.queueFull.Add(1)
		return false
	}
	if err := pc.visited.Visited(key); err != nil {
		pc.report(&PageError{URL: j.url, Depth: j.depth, Err: fmt.Errorf("visited storage: %w", err)}, &pc.n.errors)
	}
	pc.admitted++
	pc.n.queued.Add(1)
	return true
}

// offerLogged is offer's check and record through the PageLog; queueMu
// is held.
func (pc *pgCrawl) offerLogged(j pgJob) bool {
	if pc.admitted >= pc.opts.MaxPages {
		// Not recorded: a later run with a larger MaxPages may take it.
		pc.n.pageLimited.Add(1)
		return false
	}
	isNew, err := pc.opts.Log.QueuePage(pc.ctx, j.url, j.depth)
	if err != nil {
		if pc.ctx.Err() == nil {
			pc.report(&PageError{URL: j.url, Depth: j.depth, Err: fmt.Errorf("page log: %w", err)}, &pc.n.errors)
		}
		return false
	}
	if !isNew {
		pc.n.duplicate.Add(1)
		return false
	}
	pc.admitted++
	if !pc.front.push(j) {
		// Recorded as queued: the next run takes it from the log.
		pc.n.queueFull.Add(1)
		return false
	}
	pc.n.queued.Add(1)
	return true
}

// resume reads the log of earlier runs (a no-op without a Log): it counts
// their pages against MaxPages, queues again the pages they left queued,
// and hands fn again the pairs of the pages they fetched.
func (pc *pgCrawl) resume(ctx context.Context) error {
	log := pc.opts.Log
	if log == nil {
		return nil
	}
	// Count first, so that MaxPages holds for the links offered below.
	var n int64
	if err := log.Pages(ctx, func(string, int, bool, []byte) bool { n++; return true }); err != nil {
		return fmt.Errorf("crawl: page log: %w", err)
	}
	pc.queueMu.Lock()
	pc.admitted = int(min(n, int64(math.MaxInt32)))
	pc.queueMu.Unlock()
	pc.n.earlier.Store(n)
	var bad error
	err := log.Pages(ctx, func(page string, depth int, done bool, raw []byte) bool {
		if done {
			var rec pgRecord
			if len(raw) > 0 {
				if err := json.Unmarshal(raw, &rec); err != nil {
					bad = fmt.Errorf("page %s: its record does not parse: %w", page, err)
					return false
				}
			}
			pc.emit(rec.Pairs, &pc.n.replayed) // streamed: fn's back-pressure bounds the memory
			pc.offerLinks(rec.Links, depth+1)
			return ctx.Err() == nil
		}
		u, err := parseHTTPURL(page)
		if err != nil {
			return true // not a page this crawl could have queued
		}
		j := pgJob{url: page, host: strings.ToLower(u.Host()), depth: depth}
		if !pc.allowed[pgHostname(j.host)] || !pc.opts.Partition.OwnsHost(j.host) || j.depth > pc.opts.MaxDepth {
			return true // another crawl's page (other seeds, partition or depth)
		}
		if !pc.front.push(j) {
			pc.n.queueFull.Add(1) // stays pending for the run after
			return true
		}
		pc.n.resumed.Add(1)
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return fmt.Errorf("crawl: page log: %w", err)
	}
	return nil
}

// pgVisitKey is the key of a page in the visited storage: FNV-1a of the URL
// (fragment dropped), as colly keys its own visits.
func pgVisitKey(u string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(u))
	return h.Sum64()
}

// pgRecord is what the page log keeps of a page fetched: the pairs it
// handed to fn and the links it offered.
type pgRecord struct {
	Pairs []Pair   `json:"pairs,omitempty"`
	Links []string `json:"links,omitempty"`
}

// visit fetches one page (callbacks do the rest) and returns what it held.
func (pc *pgCrawl) visit(j pgJob) (rec pgRecord) {
	cctx := colly.NewContext()
	cctx.Put(pgKeyDepth, j.depth)
	pc.n.requested.Add(1)
	pc.opts.Logger.Debug("page", "url", j.url, "depth", j.depth)
	err := pc.c.Request(http.MethodGet, j.url, nil, cctx, nil)
	if r, ok := cctx.GetAny(pgKeyRecord).(pgRecord); ok {
		rec = r
	}
	if err == nil || cctx.GetAny(pgKeyErrSeen) != nil || pc.ctx.Err() != nil {
		return rec
	}
	// Errors colly returns without calling OnError: its checks before a
	// request.
	switch {
	case errors.Is(err, colly.ErrRobotsTxtBlocked):
		pc.n.robotsBlocked.Add(1)
		pc.report(&PageError{URL: j.url, Depth: j.depth, Err: err}, nil)
	case errors.Is(err, errBlockedAddress):
		pc.report(&PageError{URL: j.url, Depth: j.depth, Err: err}, &pc.n.privateBlocked)
	default:
		pc.report(&PageError{URL: j.url, Depth: j.depth, Err: err}, &pc.n.errors)
	}
	return rec
}

// onError routes colly's errors into counters and the error channel.
func (pc *pgCrawl) onError(r *colly.Response, err error) {
	r.Ctx.Put(pgKeyErrSeen, true)
	if pc.ctx.Err() != nil {
		return // cancelled: not the page's failure
	}
	depth, _ := r.Ctx.GetAny(pgKeyDepth).(int)
	u := ""
	if r.Request != nil && r.Request.URL != nil {
		u = r.Request.URL.String()
	}
	pe := &PageError{URL: u, Depth: depth, Status: r.StatusCode, Err: err}
	switch {
	case errors.Is(err, colly.ErrAbortedAfterHeaders) && r.Ctx.GetAny(pgKeyOptOut) != nil:
		pc.n.robotsOptOut.Add(1) // not an error
	case errors.Is(err, colly.ErrAbortedAfterHeaders):
		pc.n.nonHTML.Add(1) // not an error
	case errors.Is(err, errBlockedAddress):
		pc.report(pe, &pc.n.privateBlocked)
	case r.StatusCode >= 300:
		pc.report(pe, &pc.n.httpErrors)
	default:
		pc.report(pe, &pc.n.errors)
	}
}

// report counts an error and sends it on, never blocking.
func (pc *pgCrawl) report(e *PageError, counter *atomic.Int64) {
	if counter != nil {
		counter.Add(1)
	}
	pc.opts.Logger.Debug("page failed", "url", e.URL, "status", e.Status, "err", e.Err)
	if pc.opts.Errors == nil {
		return
	}
	select {
	case pc.opts.Errors <- e:
	default:
		pc.n.errorsDropped.Add(1)
	}
}

// onResponse extracts a page's pairs and links.
func (pc *pgCrawl) onResponse(r *colly.Response) {
	depth, _ := r.Ctx.GetAny(pgKeyDepth).(int)
	ct := r.Headers.Get("Content-Type")
	if ct == "" && !strings.Contains(strings.ToLower(http.DetectContentType(r.Body)), "html") {
		pc.n.nonHTML.Add(1)
		return
	}
	// colly has already decoded a body whose Content-Type names a charset.
	if strings.Contains(strings.ToLower(ct), "charset") {
		ct = "text/html; charset=utf-8"
	}
	pageURL := r.Request.URL.String()
	page, err := ExtractHTML(r.Body, pageURL, ct)
	if err != nil {
		pc.report(&PageError{URL: pageURL, Depth: depth, Status: r.StatusCode, Err: err}, &pc.n.errors)
		return
	}
	pc.n.pages.Add(1)
	pc.n.images.Add(int64(page.Images))
	pc.n.links.Add(int64(len(page.Links)))
	if page.NoImages {
		pc.n.robotsOptOut.Add(1)
	} else if len(page.Pairs) > 0 {
		pc.emit(page.Pairs, &pc.n.pairs)
	}
	if pc.opts.Log != nil {
		rec := pgRecord{Links: page.Links}
		if !page.NoImages {
			rec.Pairs = page.Pairs
		}
		r.Ctx.Put(pgKeyRecord, rec)
	}
	pc.offerLinks(page.Links, depth+1)
}

// offerLinks offers every http(s) link at depth.
func (pc *pgCrawl) offerLinks(links []string, depth int) {
	for _, l := range links {
		u, err := parseHTTPURL(l)
		if err != nil {
			continue
		}
		pc.offer(pgJob{url: l, host: strings.ToLower(u.Host()), depth: depth})
	}
}

// emit hands pairs to fn, one caller at a time, counting them in n; after
// fn fails it does nothing.
func (pc *pgCrawl) emit(pairs []Pair, n *atomic.Int64) {
	pc.emitMu.Lock()
	defer pc.emitMu.Unlock()
	for _, p := range pairs {
		if pc.fnErr != nil {
			return
		}
		if err := pc.fn(p); err != nil {
			pc.fnErr = err
			pc.cancel()
			return
		}
		n.Add(1)
	}
}

// pgProductToken is the product token a user agent starts with.
func pgProductToken(ua string) string {
	tok, _, _ := strings.Cut(ua, "/")
	tok, _, _ = strings.Cut(tok, " ")
	return strings.ToLower(tok)
}

// pgHostname is the host name of a URL authority, without port or the
// brackets of an IPv6 literal.
func pgHostname(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
}
