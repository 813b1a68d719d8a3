package crawl

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/semaphore"
)

// fetched is a downloaded body on its way to the image processors.
type fetched struct {
	job      *job
	data     []byte
	reserved int64 // bytes of the memory budget held until processed
	code     int
	finalURL string
	at       time.Time
}

// work takes one turn of host h for job j: robots.txt first (fetching it
// uses the turn, and the job waits for the next one), then the request.
// Bodies go to bodies; failures are emitted at once. The host's turn ends
// (sched.done) as soon as the body is read, before the image is processed.
func (f *Fetcher) work(ctx context.Context, h *hostState, j *job, budget *semaphore.Weighted, bodies chan<- *fetched, emit func(Sample) error) error {
	ent, fresh := f.robots.cached(j.origin)
	if !fresh {
		ent = f.robots.get(ctx, j.origin)
		if err := ctx.Err(); err != nil {
			return err
		}
		r := result{requested: true, requeue: true}
		if cd, ok := ent.rules.CrawlDelay(); ok && cd <= f.opts.MaxCrawlDelay {
			r.delay = cd
		}
		return f.finish(ctx, h, j, r, nil, emit)
	}
	var r result
	cd, _ := ent.rules.CrawlDelay()
	if cd <= f.opts.MaxCrawlDelay {
		r.delay = cd
	}
	switch {
	case ent.err != nil:
		return f.finish(ctx, h, j, r, ent.err, emit)
	case cd > f.opts.MaxCrawlDelay:
		return f.finish(ctx, h, j, r, newError(StatusCrawlDelayTooLong,
			"robots.txt of %s asks for Crawl-delay %v > maximum %v", j.origin, cd, f.opts.MaxCrawlDelay), emit)
	case !ent.rules.Allowed(robotsPath(j.u)):
		return f.finish(ctx, h, j, r, newError(StatusRobotsDisallowed,
			"robots.txt of %s disallows %s for %s", j.origin, robotsPath(j.u), f.opts.ProductToken), emit)
	}
	fb, rr, err := f.get(ctx, j, budget)
	rr.delay = r.delay
	if ctx.Err() != nil {
		if fb != nil {
			budget.Release(fb.reserved)
		}
		return ctx.Err()
	}
	if err := f.finish(ctx, h, j, rr, err, emit); err != nil {
		if fb != nil {
			budget.Release(fb.reserved)
		}
		return err
	}
	if fb == nil {
		return nil
	}
	select {
	case bodies <- fb:
		return nil
	case <-ctx.Done():
		budget.Release(fb.reserved)
		return ctx.Err()
	}
}

// finish ends the host's turn and emits the sample of a failed job (jobErr
// non-nil, unless the job was queued again) and of the jobs dropped if the
// host got parked.
func (f *Fetcher) finish(ctx context.Context, h *hostState, j *job, r result, jobErr error, emit func(Sample) error) error {
	dropped, parkErr := f.sched.done(h, j, r, f.opts.HostFailureLimit, f.opts.ParkDuration, jobErr)
	if jobErr != nil && !r.requeue {
		s := jobSample(j, jobErr)
		s.HTTPStatus = r.code
		if err := emit(s); err != nil {
			return err
		}
	}
	for _, d := range dropped {
		if err := emit(jobSample(d, parkErr)); err != nil {
			return err
		}
	}
	return nil
}

// jobSample is the sample of a job that failed with err.
func jobSample(j *job, err error) Sample {
	s := failedSample(j.pair, err)
	s.Caption = j.caption
	return s
}

// checkRedirect allows at most MaxRedirects redirects, refuses loops and
// non-http(s) targets, and checks each target against its robots.txt.
// (The target's address is checked when it is dialled.)
func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > f.opts.MaxRedirects {
		return newError(StatusTooManyRedirects, "more than %d redirects from %s", f.opts.MaxRedirects, via[0].URL)
	}
	target := req.URL.String()
	for _, v := range via {
		if v.URL.String() == target {
			return newError(StatusRedirectLoop, "%s redirects back to %s", via[len(via)-1].URL, target)
		}
	}
	u, origin, err := parseImageURL(target)
	if err != nil {
		return err
	}
	ent := f.robots.get(req.Context(), origin)
	if ent.err != nil {
		return ent.err
	}
	if !ent.rules.Allowed(robotsPath(u)) {
		return newError(StatusRobotsDisallowed, "redirect target %s: robots.txt of %s disallows it", target, origin)
	}
	f.stats.requests.Add(1)
	return nil
}

// get requests the job's URL and reads the body. result says what the
// host's turn did; a nil *fetched with a nil error means the job is queued
// again (429/503).
func (f *Fetcher) get(ctx context.Context, j *job, budget *semaphore.Weighted) (*fetched, result, error) {
	rctx, cancel := context.WithTimeout(ctx, f.opts.BodyTimeout)
	defer cancel()
	r := result{requested: true}
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, j.u.String(), nil)
	if err != nil {
		return nil, result{}, wrapError(StatusBadURL, err, "image URL %q", j.pair.ImageURL)
	}
	req.Header.Set("User-Agent", f.ua)
	req.Header.Set("Accept", "image/webp,image/png,image/jpeg,image/gif,image/*;q=0.8,*/*;q=0.5")
	req.Header.Set("Accept-Encoding", "identity")
	f.stats.requests.Add(1)
	resp, err := f.client.Do(req)
	if err != nil {
		st := StatusOf(err)
		switch st {
		case StatusNetwork, StatusTimeout, StatusDNS:
			r.failed = true
		}
		return nil, r, wrapError(st, err, "")
	}
	defer resp.Body.Close()
	now := time.Now()
	r.code = resp.StatusCode
	finalURL := ""
	if u := resp.Request.URL.String(); u != j.u.String() {
		finalURL = u
	}
	code := resp.StatusCode
	if code != http.StatusOK && code != http.StatusNonAuthoritativeInfo {
		// Read a little of an error body so the connection can be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			r, err := f.retryLater(j, resp, now, r)
			return nil, r, err
		}
		switch {
		case code >= 500:
			r.failed = true
			return nil, r, newError(StatusHTTP5xx, "HTTP %d from %s", code, resp.Request.URL)
		case code >= 400:
			r.succeeded = true
			return nil, r, newError(StatusHTTP4xx, "HTTP %d from %s", code, resp.Request.URL)
		default:
			r.succeeded = true
			return nil, r, newError(StatusHTTPOther, "HTTP %d from %s", code, resp.Request.URL)
		}
	}
	r.succeeded = true
	if tag := xRobotsOptOut(resp.Header, f.opts.ProductToken); tag != "" {
		return nil, r, newError(StatusOptedOut, "X-Robots-Tag %q on %s", tag, resp.Request.URL)
	}
	limit := f.opts.MaxBodyBytes
	if resp.ContentLength > limit {
		return nil, r, newError(StatusTooLarge, "Content-Length %d > maximum %d bytes", resp.ContentLength, limit)
	}
	enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))
	reserve := limit
	if (enc == "" || enc == "identity") && resp.ContentLength >= 0 {
		reserve = resp.ContentLength + 1
	}
	if err := budget.Acquire(ctx, reserve); err != nil {
		return nil, r, err
	}
	data, err := readBody(resp.Body, enc, resp.ContentLength, limit)
	if err != nil {
		budget.Release(reserve)
		if StatusOf(err) != StatusTooLarge {
			r.succeeded, r.failed = false, true
		}
		return nil, r, err
	}
	f.stats.bytes.Add(int64(len(data)))
	return &fetched{job: j, data: data, reserved: reserve, code: code, finalURL: finalURL, at: now}, r, nil
}

// readBody reads at most limit bytes of body after undoing its
// Content-Encoding (identity, gzip, deflate).
func readBody(body io.Reader, enc string, length, limit int64) ([]byte, error) {
	var r io.Reader
	switch enc {
	case "", "identity":
		r = body
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, bodyReadError(err, "gzip body")
		}
		defer zr.Close()
		r = zr
	case "deflate":
		zr, err := zlib.NewReader(body)
		if err != nil {
			return nil, bodyReadError(err, "deflate body")
		}
		defer zr.Close()
		r = zr
	default:
		return nil, newError(StatusBadImage, "unsupported Content-Encoding %q", enc)
	}
	var buf bytes.Buffer
	if length >= 0 && length <= limit && r == body {
		buf.Grow(int(length) + 1)
	}
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, bodyReadError(err, "reading the body")
	}
	if n > limit {
		if r != body {
			return nil, newError(StatusTooLarge, "%s body inflates past the maximum %d bytes", enc, limit)
		}
		return nil, newError(StatusTooLarge, "body longer than the maximum %d bytes", limit)
	}
	return buf.Bytes(), nil
}

// bodyReadError classifies an error met while reading a body: a short or
// reset body is a network error, a corrupt encoding a bad image.
func bodyReadError(err error, what string) error {
	if errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, zlib.ErrHeader) || errors.Is(err, zlib.ErrChecksum) {
		return wrapError(StatusBadImage, err, "%s", what)
	}
	return wrapError(classifyNetError(err), err, "%s", what)
}

// retryLater handles a 429 or 503: the job goes back to the front of its
// host's queue and the host waits Retry-After (or the backoff), or, after
// MaxRetries or with a Retry-After above MaxRetryAfter, the job fails.
func (f *Fetcher) retryLater(j *job, resp *http.Response, now time.Time, r result) (result, error) {
	code := resp.StatusCode
	kind := StatusTooManyRequests
	if code == http.StatusServiceUnavailable {
		kind = StatusHTTP5xx
	}
	ra, hasRA := parseRetryAfter(resp.Header.Get("Retry-After"), now)
	if hasRA && ra > f.opts.MaxRetryAfter {
		r.failed = true
		r.park = min(ra, f.opts.ParkDuration)
		r.parkErr = newError(StatusHostParked, "host %s asked to wait %v (HTTP %d, Retry-After) > maximum %v", j.origin, ra, code, f.opts.MaxRetryAfter)
		return r, newError(kind, "HTTP %d from %s with Retry-After %v > maximum %v", code, resp.Request.URL, ra, f.opts.MaxRetryAfter)
	}
	if j.attempt >= f.opts.MaxRetries {
		r.failed = true
		return r, newError(kind, "HTTP %d from %s after %d retries", code, resp.Request.URL, j.attempt)
	}
	wait := ra
	if !hasRA {
		wait = f.opts.BackoffBase << j.attempt
		if wait > f.opts.BackoffMax || wait <= 0 {
			wait = f.opts.BackoffMax
		}
	}
	j.attempt++
	r.requeue = true
	r.wait = wait
	return r, nil
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an
// HTTP-date (RFC 9110 §10.2.3). A date in the past means no wait.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		const maxSecs = int64(365 * 24 * 3600)
		return time.Duration(min(secs, maxSecs)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// process turns a downloaded body into a sample.
func (f *Fetcher) process(b *fetched) Sample {
	j := b.job
	res, err := processImage(b.data, &f.opts.Image)
	if err != nil {
		s := jobSample(j, err)
		s.HTTPStatus, s.FinalURL, s.FetchedAt = b.code, b.finalURL, b.at
		s.OriginalBytes = int64(len(b.data))
		return s
	}
	p := j.pair
	return Sample{
		ImageURL: p.ImageURL, PageURL: p.PageURL, FinalURL: b.finalURL,
		Caption: j.caption, CaptionSource: p.CaptionSource, Source: p.Source,
		Image: res.Data, Format: res.Format,
		OriginalWidth: res.OriginalWidth, OriginalHeight: res.OriginalHeight,
		Width: res.Width, Height: res.Height, OriginalBytes: int64(len(b.data)),
		SHA256: res.SHA256, PHash: res.PHash,
		Status: StatusOK, HTTPStatus: b.code, FetchedAt: b.at, Extra: p.Extra,
	}
}
