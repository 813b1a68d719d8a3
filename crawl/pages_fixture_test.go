package crawl

import (
	"context"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/clipstream/clipstream/fixtures"
)

// TestCrawlPagesFixtureSite crawls the project's fixture site and finds
// exactly the pairs it says its pages hold.
func TestCrawlPagesFixtureSite(t *testing.T) {
	site, err := fixtures.StartSite(context.Background(), fixtures.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer site.Close()

	opts := pgTestOptions(site.URL + "/")
	opts.MaxDepth = 2
	got, st := pgRun(t, opts)

	samples := site.Samples()
	want := make([]Pair, 0, len(samples))
	for _, s := range samples {
		img := site.URL + s.Image
		if s.Markup == "srcset" {
			img += "?dpr=2" // the largest candidate
		}
		want = append(want, Pair{
			ImageURL:      img,
			PageURL:       site.URL + s.Page,
			Caption:       s.Caption,
			CaptionSource: CaptionSource(s.Source),
			Source:        "page",
		})
	}
	sort.Slice(want, func(i, j int) bool { return want[i].ImageURL < want[j].ImageURL })
	if len(got) != len(want) {
		t.Fatalf("%d pairs, want %d; stats %+v", len(got), len(want), st)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ImageURL != w.ImageURL || g.PageURL != w.PageURL || g.Caption != w.Caption || g.CaptionSource != w.CaptionSource || g.Source != w.Source {
			t.Fatalf("pair %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	pages := int64(len(site.Pages()))
	if st.Pages != pages || st.RobotsBlocked != 1 || st.Errors+st.HTTPErrors+st.PrivateBlocked != 0 {
		t.Errorf("stats %+v, want %d pages", st, pages)
	}
	if n := site.RequestsUnder("/private/"); n != 0 {
		t.Errorf("/private/ asked %d times", n)
	}
	if n := site.RequestsUnder("/img/"); n != 0 {
		t.Errorf("a page crawl fetched %d images", n)
	}
}

// TestCrawlPagesFixtureHostile crawls the fixture site's hostile pages.
func TestCrawlPagesFixtureHostile(t *testing.T) {
	site, err := fixtures.StartSite(context.Background(), fixtures.Options{Hostile: true, BombSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer site.Close()

	opts := pgTestOptions(site.URL + "/hostile/index.html")
	opts.MaxDepth = 3
	opts.MaxBodyBytes = 1 << 20
	got, st := pgRun(t, opts)

	byPage := map[string][]Pair{}
	for _, p := range got {
		path := strings.TrimPrefix(p.PageURL, site.URL)
		byPage[path] = append(byPage[path], p)
		if !utf8.ValidString(p.Caption) {
			t.Errorf("invalid UTF-8 in %+v", p)
		}
	}
	imgCases := 0
	for _, c := range fixtures.HostileCases() {
		if c.Link == "img" {
			imgCases++
		}
	}
	latin := []string{"grinning face, señor feliz", "grinning face, très content"}
	captions := func(ps []Pair) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Caption)
		}
		sort.Strings(out)
		return out
	}
	for page, want := range map[string]int{
		"/hostile/index.html":       imgCases,
		"/hostile/malformed.html":   3,
		"/hostile/latin1.html":      2,
		"/hostile/latin1-meta.html": 2,
		"/hostile/bad-utf8.html":    1,
		"/hostile/schemes.html":     0,
		"/hostile/optout/page.html": 0,
		"/hostile/bomb.html":        0,
	} {
		if n := len(byPage[page]); n != want {
			t.Errorf("%s: %d pairs, want %d: %+v", page, n, want, byPage[page])
		}
	}
	for _, page := range []string{"/hostile/latin1.html", "/hostile/latin1-meta.html"} {
		if c := captions(byPage[page]); strings.Join(c, "|") != strings.Join(latin, "|") {
			t.Errorf("%s: captions %q", page, c)
		}
	}
	for page := range byPage {
		if strings.HasPrefix(page, "/hostile/trap/") {
			t.Errorf("pairs on the trap page %s", page)
		}
	}
	// Calendar d=0 at depth 1, then two new neighbours per level.
	if n := site.Requests("/hostile/trap/calendar"); n > 1+2+2 {
		t.Errorf("trap asked %d times", n)
	}
	if n := site.Requests("/hostile/optout/page-image.png"); n != 0 {
		t.Errorf("opted-out page's image asked %d times", n)
	}
	if st.RobotsOptOut != 1 {
		t.Errorf("stats %+v", st)
	}
}
