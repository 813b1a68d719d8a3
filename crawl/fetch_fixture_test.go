package crawl

import (
	"context"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/clipstream/clipstream/fixtures"
)

// TestFetchFixtureSite runs the fetcher over the fixture site: real corpus
// images, every hostile image case of the crawl issue (each with its exact
// status), and the robots.txt modes on virtual hosts.
func TestFetchFixtureSite(t *testing.T) {
	site, err := fixtures.StartSite(context.Background(), fixtures.Options{
		Hostile:         true,
		TrickleInterval: 50 * time.Millisecond,
		BombSize:        16 << 20,
		RetryAfter:      time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer site.Close()
	// The site builds its gzip bomb on the first request; build it now, so
	// that the fetch below is not timed out by the building.
	client := site.Client()
	defer client.CloseIdleConnections()
	if resp, err := client.Get(site.URL + "/hostile/img/bomb.png"); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	want := map[string]Status{
		"/hostile/img/truncated.png":            StatusBadImage,
		"/hostile/img/empty.png":                StatusTooSmall,
		"/hostile/img/mislabelled.jpg":          StatusOK,
		"/hostile/img/error-page.jpg":           StatusBadImage,
		"/hostile/img/huge.png":                 StatusDecompressionBomb,
		"/hostile/img/bomb.png":                 StatusTooLarge,
		"/hostile/slow/trickle.png":             StatusTimeout,
		"/hostile/reset.png":                    StatusNetwork,
		"/hostile/redirect/ok.png":              StatusOK,
		"/hostile/redirect/loop-a.png":          StatusRedirectLoop,
		"/hostile/redirect/chain.png?n=0":       StatusTooManyRedirects,
		"/hostile/redirect/private.png":         StatusPrivateAddress,
		"/hostile/redirect/metadata.png":        StatusPrivateAddress,
		"/hostile/ratelimit/retry-after.png":    StatusOK,
		"/hostile/ratelimit/no-retry-after.png": StatusOK,
		"/hostile/ratelimit/always.png":         StatusTooManyRequests,
		"/hostile/optout/noai.png":              StatusOptedOut,
		"/hostile/optout/noimageai.png":         StatusOptedOut,
		"/hostile/optout/noindex.png":           StatusOptedOut,
		"/hostile/optout/noimageindex.png":      StatusOptedOut,
		"/hostile/optout/scoped.png":            StatusOptedOut,
		"/hostile/optout/other-bot.png":         StatusOK,
	}
	var pairs []Pair
	wantURL := map[string]Status{}
	for _, c := range fixtures.HostileCases() {
		if c.Link != "img" {
			continue
		}
		st, ok := want[c.Path]
		if !ok {
			t.Errorf("hostile case %s (%s) has no expected status here", c.Path, c.Expect)
			continue
		}
		u := site.URL + c.Path
		pairs = append(pairs, Pair{ImageURL: u, Caption: c.Alt, CaptionSource: FromAlt, Source: "fixture"})
		wantURL[u] = st
	}
	// Corpus images through their category pages' captions.
	for i, s := range site.Samples() {
		if i == 12 {
			break
		}
		u := site.URL + s.Image
		pairs = append(pairs, Pair{ImageURL: u, PageURL: site.URL + s.Page, Caption: s.Caption, CaptionSource: CaptionSource(s.Source), Source: "fixture"})
		wantURL[u] = StatusOK
	}
	// robots.txt: /private/ disallowed; a host whose robots.txt 404s allows
	// it; one whose robots.txt 503s allows nothing.
	first := site.Samples()[0].Image
	for _, c := range []struct {
		u  string
		st Status
	}{
		{site.URL + "/private/secret.png", StatusRobotsDisallowed},
		{site.HostURL("robots404.site.test") + first, StatusOK},
		{site.HostURL("robots503.site.test") + first, StatusRobotsDisallowed},
	} {
		pairs = append(pairs, Pair{ImageURL: c.u, Caption: "grinning face emoji on a virtual host", Source: "fixture"})
		wantURL[c.u] = c.st
	}

	o := testOptions()
	o.AllowPrivate = false // loopback only: the private redirects must be refused
	o.AllowedPrefixes = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	o.Resolver = func(ctx context.Context, host string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil // every virtual host is the site
	}
	o.BodyTimeout = 4 * time.Second // the trickle takes minutes
	o.Image.MinSide = 1
	got := fetchAll(t, o, pairs...)
	for u, st := range wantURL {
		if s := got[u]; s.Status != st {
			t.Errorf("%s: %s (%s), want %s", strings.TrimPrefix(u, site.URL), s.Status, s.Error, st)
		}
	}
	if n := site.EarlyRetries(); n != 0 {
		t.Errorf("%d requests came before Retry-After had passed", n)
	}
	if n := site.RequestsUnder("/private/"); n != 0 {
		t.Errorf("/private/ asked %d times", n)
	}
	if n := site.Requests("/hostile/ratelimit/always.png"); n != o.MaxRetries+1 {
		t.Errorf("always-429 asked %d times, want %d", n, o.MaxRetries+1)
	}
}
