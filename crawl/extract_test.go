package crawl

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

type exWant struct {
	url, caption string
	src          CaptionSource
}

func exPairs(p *HTMLPage) []exWant {
	var out []exWant
	for _, x := range p.Pairs {
		out = append(out, exWant{x.ImageURL, x.Caption, x.CaptionSource})
	}
	return out
}

func TestExtractHTML(t *testing.T) {
	const page = "http://example.com/dir/page.html?q=1#frag"
	tests := []struct {
		name     string
		html     string
		ct       string
		want     []exWant
		links    []string
		noText   int
		badSrc   int
		base     string
		noFollow bool
		noImages bool
	}{
		{
			name: "alt and relative URLs",
			html: `<img src="a.jpg" alt="a cat"><img src="/b.png" alt="a dog"><img src="//cdn.example.org/c.gif" alt="a bird">
			<img src="https://other.example/d.webp#x" alt="a fish"><img src="../e.jpg" alt=" an owl ">`,
			want: []exWant{
				{"http://example.com/dir/a.jpg", "a cat", FromAlt},
				{"http://example.com/b.png", "a dog", FromAlt},
				{"http://cdn.example.org/c.gif", "a bird", FromAlt},
				{"https://other.example/d.webp", "a fish", FromAlt},
				{"http://example.com/e.jpg", " an owl ", FromAlt},
			},
		},
		{
			name: "base href",
			html: `<html><head><base href="https://static.example.net/img/"><base href="/ignored/"></head>
			<body><img src="x.jpg" alt="x"><a href="next.html">n</a></body></html>`,
			want:  []exWant{{"https://static.example.net/img/x.jpg", "x", FromAlt}},
			links: []string{"https://static.example.net/img/next.html"},
			base:  "https://static.example.net/img/",
		},
		{
			name: "relative base href",
			html: `<base href="../assets/"><img src="y.jpg" alt="y">`,
			want: []exWant{{"http://example.com/assets/y.jpg", "y", FromAlt}},
			base: "http://example.com/assets/",
		},
		{
			name: "javascript base is ignored",
			html: `<base href="javascript:alert(1)"><img src="z.jpg" alt="z">`,
			want: []exWant{{"http://example.com/dir/z.jpg", "z", FromAlt}},
			base: "http://example.com/dir/page.html?q=1",
		},
		{
			name: "srcset largest",
			html: `<img src="s.jpg" srcset="s.jpg 320w, m.jpg 640w, l.jpg 1280w, xs.jpg 100w" alt="w">
			<img src="s.jpg" srcset="a.jpg, b.jpg 2x, c.jpg 1.5x" alt="x">
			<img srcset="https://img.example/i,w_100,h_100.jpg 100w, https://img.example/i,w_900.jpg 900w" alt="commas">
			<img src="only.jpg" srcset="bad.jpg 12q" alt="bad descriptor">`,
			want: []exWant{
				{"http://example.com/dir/l.jpg", "w", FromAlt},
				{"http://example.com/dir/b.jpg", "x", FromAlt},
				{"https://img.example/i,w_900.jpg", "commas", FromAlt},
				{"http://example.com/dir/only.jpg", "bad descriptor", FromAlt},
			},
		},
		{
			name: "lazy loading",
			html: `<img src="data:image/gif;base64,R0lGOD" data-src="real.jpg" alt="lazy">
			<img src="placeholder.gif" data-srcset="r1.jpg 1x, r2.jpg 2x" srcset="p.gif 1x" alt="lazy set">
			<img data-lazy-src="l.jpg" alt="lazy2">`,
			want: []exWant{
				{"http://example.com/dir/real.jpg", "lazy", FromAlt},
				{"http://example.com/dir/r2.jpg", "lazy set", FromAlt},
				{"http://example.com/dir/l.jpg", "lazy2", FromAlt},
			},
		},
		{
			name: "title and figcaption fallbacks",
			html: `<img src="t.jpg" title="from title">
			<figure><img src="f.jpg"><figcaption>  A <b>red</b>
			 fox <script>x()</script></figcaption></figure>
			<figure><img src="g.jpg" alt="alt wins"><figcaption>caption</figcaption></figure>
			<figure><img src="h.jpg" alt=""><img src="i.jpg" title="title wins"><figcaption>shared</figcaption></figure>
			<figure><img src="nocap.jpg"></figure>
			<img src="none.jpg">`,
			want: []exWant{
				{"http://example.com/dir/t.jpg", "from title", FromTitle},
				{"http://example.com/dir/f.jpg", "A red fox", FromFigcaption},
				{"http://example.com/dir/g.jpg", "alt wins", FromAlt},
				{"http://example.com/dir/h.jpg", "shared", FromFigcaption},
				{"http://example.com/dir/i.jpg", "title wins", FromTitle},
			},
			noText: 2,
		},
		{
			name: "nearest figure only",
			html: `<figure><figcaption>outer</figcaption><div><figure><img src="in.jpg"></figure></div><img src="out.jpg"></figure>`,
			want: []exWant{
				{"http://example.com/dir/out.jpg", "outer", FromFigcaption},
			},
			noText: 1,
		},
		{
			name: "bad sources",
			html: `<img src="javascript:alert(1)" alt="js"><img src=" JavaScript:void(0)" alt="js2">
			<img src="data:image/png;base64,iVBOR" alt="data"><img src="ftp://example.com/a.jpg" alt="ftp">
			<img src="mailto:x@example.com" alt="mail"><img alt="no src"><img src="" alt="empty">
			<img src="http://[::1" alt="unparsable"><img src="ok.jpg" alt="ok">`,
			want:   []exWant{{"http://example.com/dir/ok.jpg", "ok", FromAlt}},
			badSrc: 8,
		},
		{
			name: "entities, whitespace in URL, uppercase tags",
			html: `<IMG SRC="  a b.jpg
			" ALT="caf&eacute; &amp; cr&egrave;me"><img src="q.jpg?x=1&amp;y=2" alt="q">`,
			want: []exWant{
				{"http://example.com/dir/a%20b.jpg", "café & crème", FromAlt},
				{"http://example.com/dir/q.jpg?x=1&y=2", "q", FromAlt},
			},
		},
		{
			name: "malformed",
			html: `<div><p><img src="1.jpg" alt="one"<img src="2.jpg" alt="two"></p></span></div><table><img src="3.jpg" alt="three"><tr><td><img src=4.jpg alt=four>`,
			want: []exWant{
				{"http://example.com/dir/1.jpg", "one", FromAlt},
				{"http://example.com/dir/3.jpg", "three", FromAlt},
				{"http://example.com/dir/4.jpg", "four", FromAlt},
			},
		},
		{
			name:  "links",
			html:  `<a href="a.html">a</a><a href="a.html#x">dup</a><a href="javascript:x()">js</a><a href="mailto:a@b">m</a><a href="b.html" rel="nofollow">nf</a><map><area href="/c.html"></map><a href="https://other.example/">o</a>`,
			links: []string{"http://example.com/dir/a.html", "http://example.com/c.html", "https://other.example/"},
		},
		{
			name:     "meta robots",
			html:     `<meta name="ROBOTS" content="NoIndex, nofollow"><img src="a.jpg" alt="a"><a href="x.html">x</a>`,
			noFollow: true,
			noImages: true,
		},
		{
			name:     "meta robots noimageai",
			html:     `<meta name="robots" content="noimageai"><img src="a.jpg" alt="a"><a href="x.html">x</a>`,
			links:    []string{"http://example.com/dir/x.html"},
			noImages: true,
		},
		{
			name: "noscript is not parsed",
			html: `<noscript><img src="n.jpg" alt="n"></noscript><img src="y.jpg" alt="y">`,
			want: []exWant{{"http://example.com/dir/y.jpg", "y", FromAlt}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ExtractHTML([]byte(tt.html), page, tt.ct)
			if err != nil {
				t.Fatal(err)
			}
			if got := exPairs(p); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("pairs:\n got %q\nwant %q", got, tt.want)
			}
			if !reflect.DeepEqual(p.Links, tt.links) {
				t.Errorf("links:\n got %q\nwant %q", p.Links, tt.links)
			}
			if p.NoText != tt.noText || p.BadSource != tt.badSrc {
				t.Errorf("NoText, BadSource = %d, %d; want %d, %d", p.NoText, p.BadSource, tt.noText, tt.badSrc)
			}
			if tt.base != "" && p.Base != tt.base {
				t.Errorf("Base = %q, want %q", p.Base, tt.base)
			}
			if p.NoFollow != tt.noFollow || p.NoImages != tt.noImages {
				t.Errorf("NoFollow, NoImages = %v, %v", p.NoFollow, p.NoImages)
			}
			for _, x := range p.Pairs {
				if x.PageURL != "http://example.com/dir/page.html?q=1" || x.Source != "page" {
					t.Errorf("pair %+v: wrong PageURL or Source", x)
				}
			}
		})
	}
}

func TestExtractHTMLCharsets(t *testing.T) {
	latin1 := func(s string) []byte {
		b, err := charmap.ISO8859_1.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const want = "Éléphant à Noël"
	tests := []struct {
		name string
		body []byte
		ct   string
	}{
		{"header charset", latin1(`<img src="e.jpg" alt="` + want + `">`), "text/html; charset=ISO-8859-1"},
		{"meta charset", latin1(`<meta charset="iso-8859-1"><img src="e.jpg" alt="` + want + `">`), "text/html"},
		{"meta http-equiv", latin1(`<meta http-equiv="Content-Type" content="text/html; charset=latin1"><img src="e.jpg" alt="` + want + `">`), ""},
		{"invalid utf-8 falls back to windows-1252", latin1(`<img src="e.jpg" alt="` + want + `">`), ""},
		{"utf-8 BOM beats header", append([]byte("\xef\xbb\xbf"), `<img src="e.jpg" alt="`+want+`">`...), "text/html; charset=iso-8859-1"},
		{"unknown charset label", []byte(`<img src="e.jpg" alt="` + want + `">`), "text/html; charset=x-no-such-charset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ExtractHTML(tt.body, "https://example.com/", tt.ct)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Pairs) != 1 || p.Pairs[0].Caption != want {
				t.Fatalf("pairs = %+v, want caption %q", p.Pairs, want)
			}
		})
	}
}

func TestExtractHTMLBadPageURL(t *testing.T) {
	for _, u := range []string{"", "/relative", "ftp://example.com/", "javascript:x", "http://"} {
		if _, err := ExtractHTML([]byte(`<img src="a.jpg" alt="a">`), u, ""); !errors.Is(err, ErrBadPageURL) {
			t.Errorf("%q: err = %v, want ErrBadPageURL", u, err)
		}
	}
}

func TestExtractHTMLLimits(t *testing.T) {
	var b strings.Builder
	for i := 0; i < MaxPairsPerPage+5; i++ {
		b.WriteString(`<img src="a.jpg" alt="x">`)
	}
	b.WriteString(`<figure><img src="f.jpg"><figcaption>`)
	b.WriteString(strings.Repeat("é", MaxCaptionBytes))
	b.WriteString(`</figcaption></figure>`)
	p, err := ExtractHTML([]byte(b.String()), "http://example.com/", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Pairs) != MaxPairsPerPage || p.Truncated != 6 {
		t.Fatalf("pairs %d truncated %d", len(p.Pairs), p.Truncated)
	}
	p, err = ExtractHTML([]byte(`<img src="a.jpg" alt="`+strings.Repeat("€", MaxCaptionBytes)+`">`), "http://example.com/", "")
	if err != nil {
		t.Fatal(err)
	}
	c := p.Pairs[0].Caption
	if len(c) > MaxCaptionBytes || len(c) < MaxCaptionBytes-3 || !utf8.ValidString(c) {
		t.Fatalf("caption of %d bytes, valid %v", len(c), utf8.ValidString(c))
	}
}

func TestParseSrcset(t *testing.T) {
	tests := []struct {
		in   string
		want []SrcsetCandidate
	}{
		{"", nil},
		{"a.jpg", []SrcsetCandidate{{URL: "a.jpg"}}},
		{"a.jpg 1x,b.jpg 2x", []SrcsetCandidate{{URL: "a.jpg", Density: 1}, {URL: "b.jpg", Density: 2}}},
		{" a.jpg,  b.jpg 200w ,, c.jpg 1.5x ", []SrcsetCandidate{{URL: "a.jpg"}, {URL: "b.jpg", Width: 200}, {URL: "c.jpg", Density: 1.5}}},
		{"a,b.jpg 100w, c.jpg", []SrcsetCandidate{{URL: "a,b.jpg", Width: 100}, {URL: "c.jpg"}}},
		{"a.jpg 100w 2x, b.jpg -1w, c.jpg 0x, d.jpg 10q, e.jpg 100w 50h, f.jpg +5w", []SrcsetCandidate{{URL: "e.jpg", Width: 100}}},
		{"image(a).jpg 100w (junk, more), b.jpg 50w", []SrcsetCandidate{{URL: "b.jpg", Width: 50}}},
	}
	for _, tt := range tests {
		if got := ParseSrcset(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseSrcset(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func FuzzExtractHTML(f *testing.F) {
	f.Add([]byte(`<base href="/x/"><figure><img srcset="a 1x, b 2x" data-src="c"><figcaption>cap</figcaption></figure><a href="d">`), "text/html")
	f.Add([]byte(`<img src="javascript:1" alt="a"><img src="data:," alt=b><img src=//h/i alt=c title=d>`), "")
	f.Add([]byte("<meta charset=shift_jis><img src=\x82\xa0 alt=\x82\xa0>"), "text/html; charset=euc-jp")
	f.Add([]byte(`<table><img src="x" alt="y"><tr><td><figure><img title=t src=z></table>`), "")
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		p, err := ExtractHTML(body, "https://example.com/a/b.html", ct)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Pairs) > MaxPairsPerPage || len(p.Links) > MaxLinksPerPage {
			t.Fatalf("limits exceeded: %d pairs, %d links", len(p.Pairs), len(p.Links))
		}
		if p.Images != len(p.Pairs)+p.NoText+p.BadSource+p.Truncated && !p.NoImages {
			t.Fatalf("counts do not add up: %+v", p)
		}
		for _, x := range p.Pairs {
			if !strings.HasPrefix(x.ImageURL, "http://") && !strings.HasPrefix(x.ImageURL, "https://") {
				t.Fatalf("non-http image URL %q", x.ImageURL)
			}
			if strings.Contains(x.ImageURL, "#") {
				t.Fatalf("fragment kept in %q", x.ImageURL)
			}
			if x.Caption == "" || len(x.Caption) > MaxCaptionBytes {
				t.Fatalf("caption of %d bytes", len(x.Caption))
			}
			if !utf8.ValidString(x.Caption) {
				t.Fatalf("invalid UTF-8 caption %q", x.Caption)
			}
		}
		for _, l := range p.Links {
			if !strings.HasPrefix(l, "http://") && !strings.HasPrefix(l, "https://") {
				t.Fatalf("non-http link %q", l)
			}
		}
	})
}
