package crawl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
)

// Status is the outcome of one pair: StatusOK, or the kind of error that
// stopped it. Every pair given to Fetcher.Run yields exactly one Sample with
// one Status. The values are stable strings: they go into sample metadata
// and per-shard statistics, and --retry-failed selects on them.
type Status string

// The status vocabulary. Each error kind names one cause; the message in
// Sample.Error says the details (HTTP code, sizes, the rule that matched).
const (
	StatusOK Status = "ok"

	// Input and caption, decided before any request.
	StatusBadURL          Status = "bad_url"          // not an absolute http(s) URL
	StatusCaptionRejected Status = "caption_rejected" // caption empty, too short/long or boilerplate after cleaning

	// Politeness: nothing (or only headers) read from the image URL.
	StatusRobotsDisallowed  Status = "robots_disallowed"    // robots.txt disallows the URL, or answered 5xx/429 (complete disallow)
	StatusCrawlDelayTooLong Status = "crawl_delay_too_long" // robots.txt asks for a Crawl-delay above Options.MaxCrawlDelay
	StatusOptedOut          Status = "opted_out"            // X-Robots-Tag noai/noimageai/noindex/noimageindex/none; body not read
	StatusHostParked        Status = "host_parked"          // the host failed too often (or asked for a too-long wait); not tried
	StatusPrivateAddress    Status = "private_address"      // resolved to a loopback/private/link-local/metadata address; not dialled

	// Network and HTTP.
	StatusDNS              Status = "dns_error"          // the host name does not resolve
	StatusNetwork          Status = "network_error"      // refused, reset (also mid-body), TLS failure, short body
	StatusTimeout          Status = "timeout"            // connect, header or whole-body timeout
	StatusRedirectLoop     Status = "redirect_loop"      // a redirect chain came back to a URL it had visited
	StatusTooManyRedirects Status = "too_many_redirects" // more than Options.MaxRedirects redirects
	StatusTooManyRequests  Status = "too_many_requests"  // 429 still after Options.MaxRetries retries
	StatusHTTP4xx          Status = "http_4xx"           // a 4xx answer other than 429
	StatusHTTP5xx          Status = "http_5xx"           // a 5xx answer (503 after the retries)
	StatusHTTPOther        Status = "http_other"         // any other non-200 answer (1xx, 204, 3xx without Location, ...)
	StatusTooLarge         Status = "too_large"          // body (after Content-Encoding) above Options.MaxBodyBytes

	// Image checks.
	StatusBadImage          Status = "bad_image"          // unknown format (HTML, SVG, ...), truncated or corrupt data
	StatusDecompressionBomb Status = "decompression_bomb" // header claims more than ImageOptions.MaxPixels pixels; never decoded
	StatusTooSmall          Status = "too_small"          // fewer bytes than ImageOptions.MinBytes (empty) or a side below MinSide
	StatusBadAspect         Status = "bad_aspect"         // aspect ratio above ImageOptions.MaxAspectRatio

	// StatusCanceled: the crawl was stopped (context canceled) while the pair
	// was in progress. Run does not emit such samples; FetchError uses it.
	StatusCanceled Status = "canceled"
)

// Statuses lists every status, StatusOK first.
func Statuses() []Status {
	return []Status{
		StatusOK, StatusBadURL, StatusCaptionRejected,
		StatusRobotsDisallowed, StatusCrawlDelayTooLong, StatusOptedOut, StatusHostParked, StatusPrivateAddress,
		StatusDNS, StatusNetwork, StatusTimeout, StatusRedirectLoop, StatusTooManyRedirects,
		StatusTooManyRequests, StatusHTTP4xx, StatusHTTP5xx, StatusHTTPOther, StatusTooLarge,
		StatusBadImage, StatusDecompressionBomb, StatusTooSmall, StatusBadAspect, StatusCanceled,
	}
}

// Error is a failure of one pair: its kind and what happened. Every error
// this package returns for a pair is (or wraps) an *Error, so
// errors.As(err, &e) gives the kind.
type Error struct {
	Kind Status // never StatusOK
	Msg  string // what happened, naming the input (URL, sizes, HTTP code)
	Err  error  // the underlying error, if any
}

func (e *Error) Error() string {
	switch {
	case e.Msg != "" && e.Err != nil:
		return fmt.Sprintf("crawl: %s: %s: %v", e.Kind, e.Msg, e.Err)
	case e.Err != nil:
		return fmt.Sprintf("crawl: %s: %v", e.Kind, e.Err)
	default:
		return fmt.Sprintf("crawl: %s: %s", e.Kind, e.Msg)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, &Error{Kind: k}) match any *Error of kind k.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Msg == "" && t.Err == nil && t.Kind == e.Kind
}

func newError(kind Status, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

func wrapError(kind Status, err error, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: err}
}

// StatusOf returns the kind of err: StatusOK for nil, the Kind of an *Error
// in its chain, otherwise the network kind classifyNetError finds.
func StatusOf(err error) Status {
	if err == nil {
		return StatusOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return classifyNetError(err)
}

// errBlockedAddress is returned by the dialer's Control for an address that
// Options do not allow; classifyNetError maps it to StatusPrivateAddress.
var errBlockedAddress = errors.New("address not allowed")

// classifyNetError maps an error from dialling, a request or reading a body
// to a status.
func classifyNetError(err error) Status {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e.Kind
	case errors.Is(err, errBlockedAddress):
		return StatusPrivateAddress
	case errors.Is(err, context.Canceled):
		return StatusCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return StatusTimeout
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsTimeout {
			return StatusTimeout
		}
		return StatusDNS
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return StatusTimeout
	}
	return StatusNetwork
}
