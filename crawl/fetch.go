package crawl

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
)

// Version is the crawler version in the default User-Agent.
const Version = "0.1"

// DefaultContactURL is where the default User-Agent points site owners.
const DefaultContactURL = "https://github.com/clipstream/clipstream"

// Options configure a Fetcher. Start from DefaultOptions; the zero value of
// a field is not a valid setting unless its comment says so.
//
// Memory: a Fetcher holds at most MaxPending queued pairs (a few hundred
// bytes each), MemoryBudget bytes of downloaded bodies (every body reserves
// its Content-Length, or MaxBodyBytes when the length is unknown or
// encoded, before it is read, and keeps it until its image is processed),
// and ProcessWorkers decoded images (up to Image.MaxPixels × 8 bytes each,
// 1.5 to 4 bytes per pixel for usual images). With the defaults on 16
// cores: 100,000 pairs (~50 MB) + 1 GiB + 16 × 33.5 M px × 4 B (~2 GiB, for
// 16 simultaneous 33-megapixel images; a few MB for web-sized ones).
type Options struct {
	// ProductToken is our robots.txt product token (RFC 9309), matched
	// against User-agent lines and scoped X-Robots-Tag directives.
	ProductToken string
	// UserAgent is sent with every request; "" makes
	// "ProductToken/Version (+ContactURL)".
	UserAgent string
	// ContactURL goes into the default User-Agent so site owners can reach
	// us; "" means DefaultContactURL.
	ContactURL string

	// Workers is the number of requests in flight at once, over all hosts.
	Workers int
	// ProcessWorkers decode and resize images; 0 means GOMAXPROCS.
	ProcessWorkers int
	// MaxPending is how many pairs may wait in the per-host queues; Run
	// stops reading its input while they are full.
	MaxPending int
	// MemoryBudget bounds the bytes of bodies held at once (at least
	// MaxBodyBytes).
	MemoryBudget int64

	// HostDelay is the least time between the end of one request to a host
	// (scheme, name, port) and the start of the next; one request per host
	// is in flight at a time.
	HostDelay time.Duration
	// MaxCrawlDelay caps the robots.txt Crawl-delay we honour: a host that
	// asks for more is not crawled (StatusCrawlDelayTooLong).
	MaxCrawlDelay time.Duration
	// RobotsTTL is how long a fetched robots.txt (or its 4xx) is trusted;
	// RobotsErrorTTL how long a 5xx/429/unreachable one keeps the host
	// disallowed before it is asked again.
	RobotsTTL, RobotsErrorTTL time.Duration

	// ConnectTimeout bounds DNS lookup plus TCP connect (and TLS
	// handshake); HeaderTimeout the wait for response headers after the
	// request is sent; BodyTimeout the whole request, body included.
	ConnectTimeout, HeaderTimeout, BodyTimeout time.Duration
	// MaxBodyBytes is the largest body read, after Content-Encoding.
	MaxBodyBytes int64
	// MaxRedirects is how many redirects are followed.
	MaxRedirects int

	// MaxRetries is how many times a 429 or 503 is retried, after
	// Retry-After when given (up to MaxRetryAfter), else after BackoffBase ×
	// 2^attempt capped at BackoffMax. A Retry-After above MaxRetryAfter
	// fails the pair and parks its host for that long (at most ParkDuration).
	MaxRetries                             int
	BackoffBase, BackoffMax, MaxRetryAfter time.Duration
	// HostFailureLimit consecutive failures (network errors, timeouts, 5xx,
	// 429 after retries) park a host for ParkDuration: its queued and later
	// pairs fail with StatusHostParked without a request. 0 never parks.
	HostFailureLimit int
	ParkDuration     time.Duration

	// DNSCacheTTL is how long a host name's addresses are reused.
	DNSCacheTTL time.Duration
	// Resolver replaces the system resolver (nil: net.DefaultResolver).
	Resolver Resolver
	// AllowPrivate lets requests reach loopback, private, link-local and
	// other special addresses (for tests on loopback). Off, such addresses
	// are refused at dial time (StatusPrivateAddress) except those in
	// AllowedPrefixes.
	AllowPrivate    bool
	AllowedPrefixes []netip.Prefix

	Image   ImageOptions
	Caption CaptionOptions
}

// DefaultOptions are polite settings for a crawl of the open web.
func DefaultOptions() Options {
	return Options{
		ProductToken:     "clipstream",
		Workers:          256,
		MaxPending:       100_000,
		MemoryBudget:     1 << 30,
		HostDelay:        time.Second,
		MaxCrawlDelay:    30 * time.Second,
		RobotsTTL:        24 * time.Hour,
		RobotsErrorTTL:   30 * time.Minute,
		ConnectTimeout:   10 * time.Second,
		HeaderTimeout:    10 * time.Second,
		BodyTimeout:      30 * time.Second,
		MaxBodyBytes:     16 << 20,
		MaxRedirects:     5,
		MaxRetries:       3,
		BackoffBase:      2 * time.Second,
		BackoffMax:       60 * time.Second,
		MaxRetryAfter:    2 * time.Minute,
		HostFailureLimit: 5,
		ParkDuration:     time.Hour,
		DNSCacheTTL:      5 * time.Minute,
		Image:            DefaultImageOptions(),
		Caption:          DefaultCaptionOptions(),
	}
}

func (o *Options) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("crawl: option "+format, args...)) }
	if productToken(o.ProductToken) != strings.ToLower(o.ProductToken) || o.ProductToken == "" || o.ProductToken == "*" {
		bad("ProductToken %q: want letters, '_' and '-' only", o.ProductToken)
	}
	if o.Workers <= 0 {
		bad("Workers %d: want > 0", o.Workers)
	}
	if o.ProcessWorkers <= 0 {
		o.ProcessWorkers = runtime.GOMAXPROCS(0)
	}
	if o.MaxPending <= 0 {
		bad("MaxPending %d: want > 0", o.MaxPending)
	}
	if o.MaxBodyBytes <= 0 {
		bad("MaxBodyBytes %d: want > 0", o.MaxBodyBytes)
	}
	if o.MemoryBudget < o.MaxBodyBytes {
		bad("MemoryBudget %d: want >= MaxBodyBytes %d", o.MemoryBudget, o.MaxBodyBytes)
	}
	for name, d := range map[string]time.Duration{
		"HostDelay": o.HostDelay, "BackoffBase": o.BackoffBase, "ParkDuration": o.ParkDuration,
		"DNSCacheTTL": o.DNSCacheTTL, "RobotsErrorTTL": o.RobotsErrorTTL,
	} {
		if d < 0 {
			bad("%s %v: want >= 0", name, d)
		}
	}
	for name, d := range map[string]time.Duration{
		"ConnectTimeout": o.ConnectTimeout, "HeaderTimeout": o.HeaderTimeout, "BodyTimeout": o.BodyTimeout,
		"RobotsTTL": o.RobotsTTL, "MaxCrawlDelay": o.MaxCrawlDelay, "BackoffMax": o.BackoffMax,
		"MaxRetryAfter": o.MaxRetryAfter,
	} {
		if d <= 0 {
			bad("%s %v: want > 0", name, d)
		}
	}
	if o.MaxRedirects < 0 || o.MaxRetries < 0 || o.HostFailureLimit < 0 {
		bad("MaxRedirects, MaxRetries, HostFailureLimit must be >= 0")
	}
	if o.ContactURL == "" {
		o.ContactURL = DefaultContactURL
	}
	if o.UserAgent == "" {
		o.UserAgent = fmt.Sprintf("%s/%s (+%s)", o.ProductToken, Version, o.ContactURL)
	}
	if err := o.Image.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Fetcher turns pairs into samples politely: per-host queues, robots.txt,
// opt-out headers, rate limits, address checks, then image checks and
// resizing. Make one with New and Close it when done; its robots.txt and DNS
// caches and the hosts' spacing and parking outlive each Run.
type Fetcher struct {
	opts         Options
	ua           string
	dialer       *dialer
	transport    *http.Transport
	client       *http.Client // images: redirects checked against robots.txt
	robotsClient *http.Client
	robots       *robotsCache
	sched        *scheduler
	running      atomic.Bool
	stats        fetchStats
}

// New checks opts and makes a Fetcher.
func New(opts Options) (*Fetcher, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	f := &Fetcher{opts: opts, ua: opts.UserAgent}
	f.dialer = newDialer(&f.opts)
	f.transport = &http.Transport{
		Proxy:                  nil, // never: the address check must see the real target
		DialContext:            f.dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    opts.ConnectTimeout,
		ResponseHeaderTimeout:  opts.HeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true, // we ask for identity; gzip bodies are inflated under MaxBodyBytes
		MaxIdleConns:           4 * opts.Workers,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	f.client = &http.Client{Transport: f.transport, CheckRedirect: f.checkRedirect}
	f.robotsClient = &http.Client{Transport: f.transport, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) > 5 {
			return errTooManyRobotsRedirects
		}
		return nil
	}}
	f.robots = newRobotsCache(f)
	f.sched = newScheduler(opts.HostDelay, opts.MaxPending)
	return f, nil
}

// Close releases idle connections. The Fetcher must not be running.
func (f *Fetcher) Close() error {
	f.transport.CloseIdleConnections()
	return nil
}

// UserAgent is the User-Agent the Fetcher sends.
func (f *Fetcher) UserAgent() string { return f.ua }

// RobotsAllowed reports whether robots.txt lets our product token fetch
// rawURL, fetching and caching the origin's robots.txt if needed (this
// request is not spaced by the host queues: sources that crawl pages call it
// before their own, spaced, page request). A robots.txt that is
// unreachable or answers 5xx disallows everything; err then says why.
func (f *Fetcher) RobotsAllowed(ctx context.Context, rawURL string) (bool, error) {
	u, origin, err := parseImageURL(rawURL)
	if err != nil {
		return false, err
	}
	e := f.robots.get(ctx, origin)
	if e.err != nil {
		return false, e.err
	}
	return e.rules.Allowed(robotsPath(u)), nil
}

// Run fetches the pairs it reads from pairs until the channel is closed, and
// calls out once for each pair, with a Sample whose Status is StatusOK or
// the error kind that stopped it. out is called from one goroutine at a
// time, in completion order (not input order); an error from out stops Run,
// which returns it. Run returns when every pair has its sample, or when ctx
// is done (returning ctx's error; the pairs then in progress get no
// sample). Run must not be called again before it returns.
//
// Pipeline, every stage bounded: a reader cleans captions and checks URLs
// (failures go straight to out) and queues pairs per host (at most
// MaxPending; it stops reading when full); a dispatcher hands hosts whose
// turn it is to Workers fetchers, one request per host at a time, spaced
// by HostDelay or the host's Crawl-delay; fetchers check robots.txt and
// X-Robots-Tag and read bodies under MemoryBudget; ProcessWorkers decode,
// check and resize; one goroutine calls out.
//
// Politeness details: the robots.txt of a host is fetched in the host's
// turn (and the pair waits for the next turn); a redirect to another host is
// checked against that host's robots.txt (fetched at once if not cached) and
// goes out in the redirecting host's turn, not spaced by the target's queue.
func (f *Fetcher) Run(ctx context.Context, pairs <-chan Pair, out func(Sample) error) error {
	if !f.running.CompareAndSwap(false, true) {
		return errors.New("crawl: Fetcher.Run is already running")
	}
	defer f.running.Store(false)
	defer f.sched.reset()
	f.sched.reopen()

	g, ctx := errgroup.WithContext(ctx)
	results := make(chan Sample, 64)
	jobs := make(chan hostJob)
	bodies := make(chan *fetched, f.opts.ProcessWorkers)
	budget := semaphore.NewWeighted(f.opts.MemoryBudget)
	emit := func(s Sample) error {
		select {
		case results <- s:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	var senders, fetchers sync.WaitGroup
	// Reader.
	senders.Add(1)
	g.Go(func() error {
		defer senders.Done()
		defer f.sched.closeInput()
		return f.read(ctx, pairs, emit)
	})
	// Dispatcher.
	g.Go(func() error {
		defer close(jobs)
		for {
			h, j, ok, err := f.sched.next(ctx)
			if err != nil || !ok {
				return err
			}
			select {
			case jobs <- hostJob{h, j}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	})
	// Fetchers.
	for range f.opts.Workers {
		senders.Add(1)
		fetchers.Add(1)
		g.Go(func() error {
			defer senders.Done()
			defer fetchers.Done()
			for hj := range jobs {
				if err := f.work(ctx, hj.h, hj.j, budget, bodies, emit); err != nil {
					return err
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		fetchers.Wait()
		close(bodies)
		return nil
	})
	// Image processors.
	for range f.opts.ProcessWorkers {
		senders.Add(1)
		g.Go(func() error {
			defer senders.Done()
			for b := range bodies {
				s := f.process(b)
				budget.Release(b.reserved)
				if err := emit(s); err != nil {
					return err
				}
			}
			return nil
		})
	}
	// Sink.
	g.Go(func() error {
		senders.Wait()
		close(results)
		return nil
	})
	g.Go(func() error {
		for s := range results {
			f.stats.count(s)
			if err := out(s); err != nil {
				return err // cancels ctx: the senders stop
			}
		}
		return nil
	})
	return g.Wait()
}

type hostJob struct {
	h *hostState
	j *job
}

// read cleans and checks each pair and queues it on its host.
func (f *Fetcher) read(ctx context.Context, pairs <-chan Pair, emit func(Sample) error) error {
	for {
		var p Pair
		var ok bool
		select {
		case p, ok = <-pairs:
			if !ok {
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
		j, err := f.prepare(p)
		if err == nil {
			var parkErr error
			parkErr, err = f.sched.add(ctx, j)
			if err != nil {
				return err
			}
			if parkErr == nil {
				continue
			}
			err = parkErr
		}
		if err := emit(failedSample(p, err)); err != nil {
			return err
		}
	}
}

// prepare checks the URL and cleans the caption, before anything is asked
// of the network.
func (f *Fetcher) prepare(p Pair) (*job, error) {
	u, origin, err := parseImageURL(p.ImageURL)
	if err != nil {
		return nil, err
	}
	c, err := CleanCaption(p.Caption, f.opts.Caption)
	if err != nil {
		return nil, err
	}
	return &job{pair: p, caption: c, u: u, origin: origin}, nil
}

// parseImageURL parses an absolute http(s) URL and returns it without its
// fragment, and its origin: scheme://host:port, lower case, port explicit.
func parseImageURL(raw string) (*url.URL, string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, "", wrapError(StatusBadURL, err, "image URL %q", raw)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return nil, "", newError(StatusBadURL, "image URL %q: scheme %q is not http or https", raw, u.Scheme)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return nil, "", newError(StatusBadURL, "image URL %q has no host", raw)
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	u.Scheme = scheme
	u.Fragment, u.RawFragment = "", ""
	hostport := host + ":" + port
	if strings.Contains(host, ":") {
		hostport = "[" + host + "]:" + port
	}
	return u, scheme + "://" + hostport, nil
}

// robotsPath is the part of u that robots.txt rules match: the escaped
// path and the query.
func robotsPath(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return p
}

// Stats are a Fetcher's counters since New.
type Stats struct {
	Samples       map[Status]int64 // samples emitted, by status
	Requests      int64            // image requests sent (retries and redirects each count)
	RobotsFetches int64            // robots.txt requests sent
	BytesRead     int64            // body bytes read (after Content-Encoding)
}

type fetchStats struct {
	mu            sync.Mutex
	samples       map[Status]int64
	requests      atomic.Int64
	robotsFetches atomic.Int64
	bytes         atomic.Int64
}

func (s *fetchStats) count(smp Sample) {
	s.mu.Lock()
	if s.samples == nil {
		s.samples = map[Status]int64{}
	}
	s.samples[smp.Status]++
	s.mu.Unlock()
}

// Stats returns a snapshot of the counters.
func (f *Fetcher) Stats() Stats {
	f.stats.mu.Lock()
	m := make(map[Status]int64, len(f.stats.samples))
	for k, v := range f.stats.samples {
		m[k] = v
	}
	f.stats.mu.Unlock()
	return Stats{
		Samples:       m,
		Requests:      f.stats.requests.Load(),
		RobotsFetches: f.stats.robotsFetches.Load(),
		BytesRead:     f.stats.bytes.Load(),
	}
}
