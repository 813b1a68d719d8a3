package crawl

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	whatwg "github.com/nlnwa/whatwg-url/url"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/net/html/charset"
)

// PairFunc receives each pair a source finds. A source calls it from one
// goroutine at a time. Returning an error stops the source, which then
// returns that error.
type PairFunc func(Pair) error

// Limits of ExtractHTML, so that one hostile page cannot make it use
// memory out of proportion to its size.
const (
	// MaxCaptionBytes is the most bytes of text kept for one pair; longer
	// text is cut at a character boundary.
	MaxCaptionBytes = 4096
	// MaxPairsPerPage is the most pairs taken from one page.
	MaxPairsPerPage = 10000
	// MaxLinksPerPage is the most links taken from one page.
	MaxLinksPerPage = 10000
)

// ErrBadPageURL is returned by ExtractHTML when the page URL is not an
// absolute http(s) URL.
var ErrBadPageURL = errors.New("crawl: page URL is not an absolute http(s) URL")

// HTMLPage is what ExtractHTML finds on one page.
type HTMLPage struct {
	// Pairs holds one pair per <img> that has text and a usable http(s)
	// source, in document order.
	Pairs []Pair
	// Links holds the absolute http(s) URLs of <a href> and <area href>
	// (without rel=nofollow), fragments dropped, each once, in document order.
	Links []string
	// Base is the URL that relative references were resolved against:
	// the first <base href> if it is a usable http(s) URL, else the page URL.
	Base string

	Images    int // <img> elements seen
	NoText    int // <img> without alt, title or figcaption text
	BadSource int // <img> with text but no usable source: none, javascript:, data:, non-http(s), unparsable
	Truncated int // pairs or links left out by MaxPairsPerPage / MaxLinksPerPage

	// NoFollow is set when <meta name="robots"> says nofollow or none:
	// Links is then empty.
	NoFollow bool
	// NoImages is set when <meta name="robots"> says noindex, none,
	// noimageindex, noai or noimageai: Pairs is then empty.
	NoImages bool
}

// ExtractHTML finds the image/text pairs and the links of one HTML page. It
// is a pure function of its arguments, and never panics on any input.
//
// body is decoded to UTF-8 using, in order, a byte-order mark, the charset
// of contentType (the response's Content-Type; may be ""), a <meta charset>
// or <meta http-equiv> in the first 1024 bytes, and otherwise UTF-8 if the
// bytes are valid UTF-8, else windows-1252 (as browsers do). Malformed HTML
// is parsed as a browser would (the HTML5 tree-construction algorithm).
//
// For every <img>, the source is, in order of preference: the largest
// candidate of data-srcset, data-src (or data-lazy-src, data-original), the
// largest candidate of srcset, src — the first that resolves to an http(s)
// URL. "Largest" is the greatest width descriptor ("800w") if any candidate
// has one, else the greatest density ("2x"; none means 1x). References are
// resolved against the first <base href> (itself resolved against the page
// URL) or the page URL, by the WHATWG URL rules browsers use, and the
// fragment is dropped. javascript:, data: and other non-http(s) sources are
// skipped.
//
// The text is the alt attribute; where alt is missing or blank, the title
// attribute; where that is too, the text of the <figcaption> of the nearest
// enclosing <figure>. Pair.CaptionSource records which. Text is kept as
// found (entities decoded by the parser, whitespace of figcaption text
// folded), cut to MaxCaptionBytes; cleaning happens later.
//
// <img> inside <noscript> is not seen (the page is parsed as by a browser
// with scripting on, where lazy-loading attributes carry the real source).
func ExtractHTML(body []byte, pageURL, contentType string) (*HTMLPage, error) {
	page, err := parseHTTPURL(pageURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrBadPageURL, pageURL)
	}
	r, err := charset.NewReader(bytes.NewReader(body), contentType)
	if err != nil {
		// An unknown charset label: read the bytes as they are.
		r = bytes.NewReader(body)
	}
	doc, err := html.Parse(r)
	if err != nil {
		return nil, fmt.Errorf("crawl: parse HTML of %s: %w", pageURL, err)
	}

	w := exWalk(doc)

	out := &HTMLPage{Base: page.Href(true)}
	base := page
	if w.baseHref != nil {
		if b, err := page.Parse(exCleanRef(*w.baseHref)); err == nil && exIsHTTP(b) {
			base = b
			out.Base = b.Href(true)
		}
	}
	out.NoFollow = w.noFollow
	out.NoImages = w.noImages
	pageHref := page.Href(true)

	figText := make(map[*html.Node]string)
	for _, im := range w.imgs {
		out.Images++
		text, src := exImageText(im, figText)
		u, ok := exImageSource(im.node, base)
		switch {
		case text == "":
			out.NoText++
		case !ok:
			out.BadSource++
		case out.NoImages:
		case len(out.Pairs) >= MaxPairsPerPage:
			out.Truncated++
		default:
			out.Pairs = append(out.Pairs, Pair{
				ImageURL:      u,
				PageURL:       pageHref,
				Caption:       text,
				CaptionSource: src,
				Source:        "page",
			})
		}
	}

	if !out.NoFollow {
		seen := make(map[string]bool)
		for _, href := range w.links {
			u, ok := exResolve(base, href)
			if !ok || seen[u] {
				continue
			}
			if len(out.Links) >= MaxLinksPerPage {
				out.Truncated++
				continue
			}
			seen[u] = true
			out.Links = append(out.Links, u)
		}
	}
	return out, nil
}

// exImage is an <img> and the nearest <figure> around it (or nil).
type exImage struct {
	node   *html.Node
	figure *html.Node
}

type exWalkResult struct {
	baseHref *string
	imgs     []exImage
	links    []string
	noFollow bool
	noImages bool
}

// exWalk visits the tree once, depth first, without recursion.
func exWalk(doc *html.Node) exWalkResult {
	var w exWalkResult
	type frame struct {
		n      *html.Node
		figure *html.Node
	}
	stack := []frame{{doc, nil}}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := f.n
		figure := f.figure
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Figure:
				figure = n
			case atom.Img:
				w.imgs = append(w.imgs, exImage{n, figure})
			case atom.Base:
				if w.baseHref == nil {
					if v, ok := exAttr(n, "href"); ok {
						w.baseHref = &v
					}
				}
			case atom.A, atom.Area:
				if v, ok := exAttr(n, "href"); ok && !exHasToken(exAttrOr(n, "rel"), "nofollow") {
					w.links = append(w.links, v)
				}
			case atom.Meta:
				if strings.EqualFold(strings.TrimSpace(exAttrOr(n, "name")), "robots") {
					c := exAttrOr(n, "content")
					if exHasToken(c, "nofollow") || exHasToken(c, "none") {
						w.noFollow = true
					}
					for _, t := range []string{"noindex", "none", "noimageindex", "noai", "noimageai"} {
						if exHasToken(c, t) {
							w.noImages = true
						}
					}
				}
			}
		}
		// Push children in reverse so they pop in document order.
		for c := n.LastChild; c != nil; c = c.PrevSibling {
			stack = append(stack, frame{c, figure})
		}
	}
	return w
}

// exImageText returns the text of an image and where it came from.
func exImageText(im exImage, figText map[*html.Node]string) (string, CaptionSource) {
	if v, ok := exAttr(im.node, "alt"); ok && strings.TrimSpace(v) != "" {
		return exCut(v), FromAlt
	}
	if v, ok := exAttr(im.node, "title"); ok && strings.TrimSpace(v) != "" {
		return exCut(v), FromTitle
	}
	if im.figure == nil {
		return "", ""
	}
	t, ok := figText[im.figure]
	if !ok {
		for c := im.figure.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && c.DataAtom == atom.Figcaption {
				t = exText(c)
				break
			}
		}
		figText[im.figure] = t
	}
	if t == "" {
		return "", ""
	}
	return t, FromFigcaption
}

// exText returns the text under n, whitespace folded, without the contents
// of script, style and template, cut to MaxCaptionBytes.
func exText(n *html.Node) string {
	var b strings.Builder
	space := false
	stack := []*html.Node{n}
	for len(stack) > 0 && b.Len() < MaxCaptionBytes {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch n.Type {
		case html.TextNode:
			for _, r := range n.Data {
				if r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' {
					space = b.Len() > 0
					continue
				}
				if space {
					b.WriteByte(' ')
					space = false
				}
				b.WriteRune(r)
			}
		case html.ElementNode:
			switch n.DataAtom {
			case atom.Script, atom.Style, atom.Template:
				continue
			case atom.Br, atom.P, atom.Div:
				space = b.Len() > 0
			}
		}
		for c := n.LastChild; c != nil; c = c.PrevSibling {
			stack = append(stack, c)
		}
	}
	return exCut(b.String())
}

// exImageSource picks the source of an <img> (see ExtractHTML).
func exImageSource(n *html.Node, base *whatwg.Url) (string, bool) {
	if v, ok := exAttr(n, "data-srcset"); ok {
		if u, ok := exLargestCandidate(v, base); ok {
			return u, true
		}
	}
	for _, a := range []string{"data-src", "data-lazy-src", "data-original"} {
		if v, ok := exAttr(n, a); ok {
			if u, ok := exResolve(base, v); ok {
				return u, true
			}
		}
	}
	if v, ok := exAttr(n, "srcset"); ok {
		if u, ok := exLargestCandidate(v, base); ok {
			return u, true
		}
	}
	if v, ok := exAttr(n, "src"); ok {
		if u, ok := exResolve(base, v); ok {
			return u, true
		}
	}
	return "", false
}

// exLargestCandidate returns the largest usable candidate of a srcset.
func exLargestCandidate(srcset string, base *whatwg.Url) (string, bool) {
	var bestW, bestX float64
	var bestWURL, bestXURL string
	for _, c := range ParseSrcset(srcset) {
		u, ok := exResolve(base, c.URL)
		if !ok {
			continue
		}
		if c.Width > 0 {
			if float64(c.Width) > bestW {
				bestW, bestWURL = float64(c.Width), u
			}
			continue
		}
		d := c.Density
		if d <= 0 {
			d = 1
		}
		if d > bestX {
			bestX, bestXURL = d, u
		}
	}
	if bestWURL != "" {
		return bestWURL, true
	}
	return bestXURL, bestXURL != ""
}

// SrcsetCandidate is one image candidate of a srcset attribute.
type SrcsetCandidate struct {
	URL     string  // as written
	Width   int     // the "w" descriptor, or 0
	Density float64 // the "x" descriptor, or 0
}

// ParseSrcset splits a srcset attribute into its candidates, following the
// HTML standard's algorithm: a candidate is a URL (a run of non-space
// characters; commas at its end end the candidate) and optional descriptors
// up to the next comma outside parentheses. A candidate with a descriptor
// that is not a positive "Nw" or "Nx" (or "Nh", which is ignored) is dropped.
func ParseSrcset(s string) []SrcsetCandidate {
	var out []SrcsetCandidate
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
	i := 0
	for i < len(s) {
		for i < len(s) && (isSpace(s[i]) || s[i] == ',') {
			i++
		}
		if i >= len(s) {
			break
		}
		start := i
		for i < len(s) && !isSpace(s[i]) {
			i++
		}
		u := s[start:i]
		var desc string
		if strings.HasSuffix(u, ",") {
			u = strings.TrimRight(u, ",")
		} else {
			start = i
			depth := 0
			for i < len(s) {
				c := s[i]
				if c == '(' {
					depth++
				} else if c == ')' && depth > 0 {
					depth--
				} else if c == ',' && depth == 0 {
					break
				}
				i++
			}
			desc = s[start:i]
		}
		if u == "" {
			continue
		}
		c := SrcsetCandidate{URL: u}
		ok := true
		for _, d := range strings.Fields(desc) {
			if len(d) < 2 {
				ok = false
				break
			}
			num, unit := d[:len(d)-1], d[len(d)-1]
			switch unit {
			case 'w':
				w, err := strconv.Atoi(num)
				if err != nil || w <= 0 || strings.TrimLeft(num, "0123456789") != "" || c.Width != 0 {
					ok = false
				}
				c.Width = w
			case 'x':
				x, err := strconv.ParseFloat(num, 64)
				if err != nil || !(x > 0) || x > 1e6 || c.Density != 0 {
					ok = false
				}
				c.Density = x
			case 'h':
			default:
				ok = false
			}
			if !ok {
				break
			}
		}
		if ok && !(c.Width > 0 && c.Density > 0) {
			out = append(out, c)
		}
	}
	return out
}

// exResolve resolves ref against base and returns the absolute http(s) URL
// without its fragment, if there is one.
func exResolve(base *whatwg.Url, ref string) (string, bool) {
	ref = exCleanRef(ref)
	if ref == "" {
		return "", false
	}
	// Schemes that are never images; checked before parsing to save work.
	if i := strings.IndexByte(ref, ':'); i > 0 {
		switch strings.ToLower(ref[:i]) {
		case "javascript", "data", "mailto", "tel", "about", "blob", "file", "vbscript":
			return "", false
		}
	}
	u, err := base.Parse(ref)
	if err != nil || !exIsHTTP(u) {
		return "", false
	}
	s := u.Href(true)
	if len(s) > 8192 {
		return "", false
	}
	if pu, err := url.Parse(s); err != nil || pu.Host == "" {
		return "", false
	}
	return s, true
}

// exCleanRef strips the leading and trailing ASCII white space and the
// tabs and newlines inside a URL, as browsers do.
func exCleanRef(s string) string {
	s = strings.Trim(s, " \t\n\r\f")
	if strings.ContainsAny(s, "\t\n\r") {
		s = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(s)
	}
	return s
}

var exURLParser = whatwg.NewParser(whatwg.WithPercentEncodeSinglePercentSign())

// parseHTTPURL parses an absolute http(s) URL by the WHATWG rules.
func parseHTTPURL(s string) (*whatwg.Url, error) {
	u, err := exURLParser.Parse(exCleanRef(s))
	if err != nil {
		return nil, err
	}
	if !exIsHTTP(u) {
		return nil, fmt.Errorf("%q is not an http(s) URL", s)
	}
	return u, nil
}

func exIsHTTP(u *whatwg.Url) bool {
	s := u.Scheme()
	return (s == "http" || s == "https") && u.Hostname() != ""
}

func exAttr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func exAttrOr(n *html.Node, key string) string {
	v, _ := exAttr(n, key)
	return v
}

// exHasToken reports whether the comma- or space-separated list s holds
// tok, ignoring case.
func exHasToken(s, tok string) bool {
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if strings.EqualFold(f, tok) {
			return true
		}
	}
	return false
}

// exCut cuts s to at most MaxCaptionBytes at a character boundary.
func exCut(s string) string {
	if len(s) <= MaxCaptionBytes {
		return s
	}
	i := MaxCaptionBytes
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}
