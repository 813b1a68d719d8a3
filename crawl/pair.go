package crawl

import "encoding/json"

// CaptionSource says where a pair's text came from.
type CaptionSource string

// Caption sources, best first.
const (
	FromAlt        CaptionSource = "alt"        // <img alt>, a list's caption column, a WAT alt
	FromTitle      CaptionSource = "title"      // <img title>, used when alt is missing
	FromFigcaption CaptionSource = "figcaption" // the enclosing <figure>'s caption, when alt is missing
)

// Pair is a candidate image/text pair found by a source, before anything
// is fetched: what the sources (pages, URL lists, WAT files) yield and the
// fetcher consumes.
type Pair struct {
	ImageURL      string          // absolute http(s) URL, resolved against <base href> or the page
	PageURL       string          // the page the pair was found on; "" for URL lists
	Caption       string          // raw text as found; cleaned later
	CaptionSource CaptionSource   // where Caption came from
	Source        string          // which input yielded it: "page", "list:FILE", "wat:FILE"
	Extra         json.RawMessage // a URL list's extra columns, as a JSON object; nil if none
}
