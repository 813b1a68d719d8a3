package crawl

import (
	"html"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

// CaptionOptions bounds and filters captions; DefaultCaptionOptions gives
// the defaults.
type CaptionOptions struct {
	// MinChars and MaxChars bound the cleaned caption's length in
	// characters (runes). LAION dropped alts under 5 characters.
	MinChars, MaxChars int
	// KeepBoilerplate turns off the boilerplate filter (file names, camera
	// names, "image", "logo", digits only, URLs, hex ids).
	KeepBoilerplate bool
}

// DefaultCaptionOptions: 5 to 1000 characters, boilerplate dropped.
func DefaultCaptionOptions() CaptionOptions {
	return CaptionOptions{MinChars: 5, MaxChars: 1000}
}

// CleanCaption turns raw alt text into a clean caption, or rejects it with
// an *Error of kind StatusCaptionRejected. In order:
//
//  1. invalid UTF-8 is repaired: each byte that is not part of a valid
//     sequence is read as Windows-1252 (the usual source of such bytes:
//     "Caf\xe9" becomes "Café"); bytes that code nothing there are dropped;
//  2. HTML entities are decoded (&amp; &eacute; &#233; &#xE9;), once;
//  3. control characters are removed (tab, newline and the like become
//     spaces), and so are invisible format characters that carry no text
//     (zero-width space, BOM, word joiner, bidirectional overrides); the
//     zero-width joiners that build emoji are kept;
//  4. white space is folded: runs become one ASCII space, the ends trimmed;
//  5. Unicode NFC normalisation;
//  6. length bounds (opts.MinChars, opts.MaxChars, in runes);
//  7. boilerplate is dropped: text with no letter at all (digits, dates,
//     punctuation, emoji only), file names (IMG_1234.jpg, photo.png), camera
//     and generic names with a number (DSC01234, IMG 20200101, image 3),
//     generic words alone ("image", "logo", "photo", "thumbnail", "click
//     here", ...), URLs and hexadecimal ids.
func CleanCaption(raw string, opts CaptionOptions) (string, error) {
	s := repairUTF8(raw)
	if strings.IndexByte(s, '&') >= 0 {
		s = html.UnescapeString(s)
	}
	s = stripControls(s)
	s = strings.Join(strings.Fields(s), " ")
	s = norm.NFC.String(s)
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return "", newError(StatusCaptionRejected, "empty caption")
	}
	if opts.MinChars > 0 && n < opts.MinChars {
		return "", newError(StatusCaptionRejected, "caption %q too short: %d characters < %d", s, n, opts.MinChars)
	}
	if opts.MaxChars > 0 && n > opts.MaxChars {
		return "", newError(StatusCaptionRejected, "caption too long: %d characters > %d", n, opts.MaxChars)
	}
	if !opts.KeepBoilerplate {
		if why := boilerplate(s); why != "" {
			return "", newError(StatusCaptionRejected, "caption %q is boilerplate (%s)", s, why)
		}
	}
	return s, nil
}

// repairUTF8 keeps valid UTF-8 sequences and reads every other byte as
// Windows-1252.
func repairUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			if c := charmap.Windows1252.DecodeByte(s[i]); c != utf8.RuneError {
				b.WriteRune(c)
			}
			i++
			continue
		}
		b.WriteString(s[i : i+size])
		i += size
	}
	return b.String()
}

// stripControls replaces control characters that separate words with a
// space and removes the other controls and invisible format characters.
func stripControls(s string) string {
	clean := true
	for _, r := range s {
		if dropRune(r) || (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0)) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r' || r == 0x85:
			b.WriteByte(' ')
		case unicode.IsControl(r), dropRune(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// dropRune: invisible format characters that carry no text, and
// noncharacters. ZWNJ/ZWJ (U+200C, U+200D) and variation selectors stay:
// they shape scripts and emoji.
func dropRune(r rune) bool {
	switch {
	case r == 0xad: // soft hyphen
	case r == 0x200b, r == 0x200e, r == 0x200f: // zero-width space, LRM, RLM
	case r >= 0x202a && r <= 0x202e: // bidi embeddings and overrides
	case r >= 0x2060 && r <= 0x2064: // word joiner, invisible operators
	case r >= 0x2066 && r <= 0x2069: // bidi isolates
	case r == 0xfeff: // BOM / zero-width no-break space
	case r == 0xfffe, r == 0xffff, r >= 0xfdd0 && r <= 0xfdef: // noncharacters
	default:
		return false
	}
	return true
}

var (
	imageExt = `(?:jpe?g|jfif|png|gif|webp|bmp|tiff?|svg|avif|heic|heif|ico)`
	// A file name: one "word" of name characters ending in an image extension.
	reFileName = regexp.MustCompile(`(?i)^[\p{L}\p{N}_\-.~+()\[\] ]{0,200}\.` + imageExt + `$`)
	// Camera and generic names followed by a number: DSC01234, IMG_2020-01-01
	// 10.22, image (3), photo 12.
	reCameraName = regexp.MustCompile(`(?i)^(?:img|dsc[nf]?|dcim|pict?|pxl|mvimg|sam|gopr|gp|p|image|images|photo|picture|screenshot|screen shot|scan|untitled|unnamed|file|download|thumb|thumbnail|capture|whatsapp image|fig|figure)[\s_\-.]*[(\[]?\d[\d_\-.:\s]*[)\]]?(?:\s*\(\d+\))?$`)
	reHexID      = regexp.MustCompile(`(?i)^[0-9a-f]{8,}(?:[-_][0-9a-f]{4,})*$`)
	reURL        = regexp.MustCompile(`(?i)^(?:https?://|www\.)\S+$`)
)

// genericWords are alts that say nothing about the image. Compared after
// lower-casing and trimming punctuation.
var genericWords = map[string]bool{
	"image": true, "images": true, "img": true, "picture": true, "pic": true, "photo": true,
	"photograph": true, "photos": true, "logo": true, "site logo": true, "company logo": true,
	"icon": true, "banner": true, "thumbnail": true, "thumb": true, "placeholder": true,
	"placeholder image": true, "spacer": true, "avatar": true, "user avatar": true,
	"profile picture": true, "profile photo": true, "profile image": true, "untitled": true,
	"unnamed": true, "null": true, "undefined": true, "none": true, "alt": true, "alt text": true,
	"click here": true, "click to enlarge": true, "loading": true, "loading...": true,
	"no image": true, "no image available": true, "image not found": true, "image not available": true,
	"default": true, "default image": true, "blank": true, "pixel": true, "transparent": true,
	"advertisement": true, "ad": true, "button": true, "arrow": true, "header": true,
	"header image": true, "footer": true, "background": true, "background image": true,
	"graphic": true, "figure": true, "screenshot": true, "featured image": true,
	"product image": true, "main image": true, "hero image": true, "spinner": true,
	"gif": true, "jpg": true, "jpeg": true, "png": true, "webp": true, "svg": true,
	"photo credit": true, "image credit": true, "more": true, "read more": true,
	"download": true, "file": true, "share": true, "facebook": true, "twitter": true,
	"instagram": true, "pinterest": true, "linkedin": true, "youtube": true, "rss": true,
	"search": true, "menu": true, "close": true, "next": true, "previous": true, "prev": true,
	"home": true, "cart": true, "play": true, "pause": true,
}

// boilerplate returns why s is boilerplate, or "".
func boilerplate(s string) string {
	hasLetter := false
	for _, r := range s {
		if unicode.IsLetter(r) {
			hasLetter = true
			break
		}
	}
	if !hasLetter {
		return "no letters"
	}
	if reURL.MatchString(s) {
		return "a URL"
	}
	if reFileName.MatchString(s) {
		return "a file name"
	}
	if reCameraName.MatchString(s) {
		return "a camera or generic file name"
	}
	if reHexID.MatchString(s) && strings.ContainsAny(s, "0123456789") {
		return "a hexadecimal id"
	}
	l := strings.ToLower(strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsSpace(r)
	}))
	if genericWords[l] {
		return "a generic word"
	}
	return ""
}
