package crawl

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// robotsEntry is what is known of one origin's robots.txt.
type robotsEntry struct {
	rules   RobotsRules
	err     error // robots.txt unreachable: every URL of the origin fails with it
	expires time.Time
	status  int // HTTP status of the robots.txt answer; 0 when none
}

// robotsCache fetches and keeps robots.txt per origin (scheme, host and
// port; RFC 9309 §2.3): rules for up to Options.RobotsTTL (24 h), failures
// for Options.RobotsErrorTTL. At most maxSize origins are kept.
type robotsCache struct {
	f       *Fetcher
	maxSize int

	mu      sync.Mutex
	entries map[string]*robotsEntry
	sf      singleflight.Group
}

func newRobotsCache(f *Fetcher) *robotsCache {
	return &robotsCache{f: f, maxSize: 200_000, entries: map[string]*robotsEntry{}}
}

// cached returns the origin's entry if it is fresh.
func (c *robotsCache) cached(origin string) (*robotsEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[origin]
	if !ok || time.Now().After(e.expires) {
		return nil, false
	}
	return e, true
}

// get returns the origin's entry, fetching robots.txt when it is not
// cached; concurrent gets of one origin share one fetch.
func (c *robotsCache) get(ctx context.Context, origin string) *robotsEntry {
	if e, ok := c.cached(origin); ok {
		return e
	}
	v, _, _ := c.sf.Do(origin, func() (any, error) {
		if e, ok := c.cached(origin); ok {
			return e, nil
		}
		e := c.f.fetchRobots(ctx, origin)
		if errors.Is(e.err, context.Canceled) {
			return e, nil // the crawl is stopping: do not remember
		}
		c.mu.Lock()
		if len(c.entries) >= c.maxSize {
			now := time.Now()
			for k, old := range c.entries {
				if now.After(old.expires) || len(c.entries) >= c.maxSize*9/10 {
					delete(c.entries, k)
				}
			}
		}
		c.entries[origin] = e
		c.mu.Unlock()
		return e, nil
	})
	return v.(*robotsEntry)
}

// fetchRobots gets origin/robots.txt (RFC 9309 §2.3.1): a 2xx answer is
// parsed (its first MaxRobotsBytes), 4xx other than 429 allows everything,
// 5xx, 429 and network errors disallow everything; up to five redirects are
// followed, and a robots.txt not reached within them counts as unavailable
// (allow everything).
func (f *Fetcher) fetchRobots(ctx context.Context, origin string) *robotsEntry {
	now := time.Now()
	okTTL, errTTL := f.opts.RobotsTTL, f.opts.RobotsErrorTTL
	rctx, cancel := context.WithTimeout(ctx, f.opts.BodyTimeout)
	defer cancel()
	f.stats.robotsFetches.Add(1)
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, origin+"/robots.txt", nil)
	if err != nil {
		return &robotsEntry{err: wrapError(StatusBadURL, err, "robots.txt of %s", origin), expires: now.Add(errTTL)}
	}
	req.Header.Set("User-Agent", f.ua)
	req.Header.Set("Accept", "text/plain,*/*;q=0.5")
	resp, err := f.robotsClient.Do(req)
	if err != nil {
		if errors.Is(err, errTooManyRobotsRedirects) {
			return &robotsEntry{rules: AllowAllRules(), expires: now.Add(okTTL)}
		}
		if ctx.Err() != nil {
			return &robotsEntry{err: ctx.Err()}
		}
		st := classifyNetError(err)
		return &robotsEntry{err: wrapError(st, err, "robots.txt of %s unreachable: complete disallow", origin), expires: now.Add(errTTL)}
	}
	defer resp.Body.Close()
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		body, err := io.ReadAll(io.LimitReader(resp.Body, MaxRobotsBytes))
		if err != nil {
			if ctx.Err() != nil {
				return &robotsEntry{err: ctx.Err()}
			}
			st := classifyNetError(err)
			return &robotsEntry{err: wrapError(st, err, "robots.txt of %s: reading the body: complete disallow", origin), expires: now.Add(errTTL), status: code}
		}
		return &robotsEntry{rules: ParseRobots(body).Rules(f.opts.ProductToken), expires: now.Add(okTTL), status: code}
	case code == http.StatusTooManyRequests || code >= 500:
		return &robotsEntry{
			rules:   DisallowAllRules(),
			err:     newError(StatusRobotsDisallowed, "robots.txt of %s answered HTTP %d: complete disallow", origin, code),
			expires: now.Add(errTTL), status: code,
		}
	case code >= 400:
		return &robotsEntry{rules: AllowAllRules(), expires: now.Add(okTTL), status: code}
	default: // 1xx, 3xx not followed: unavailable
		return &robotsEntry{rules: AllowAllRules(), expires: now.Add(okTTL), status: code}
	}
}

var errTooManyRobotsRedirects = errors.New("robots.txt: too many redirects")
