package crawl

import (
	"net/http"
	"strings"
)

// optOutDirectives are the X-Robots-Tag directives that keep an image out
// of the corpus, as img2dataset's disallowed_header_directives, plus "none"
// (which means noindex, nofollow).
var optOutDirectives = map[string]bool{
	"noai": true, "noimageai": true, "noindex": true, "noimageindex": true, "none": true,
}

// valuedDirectives take a value after a colon, so "name: value" is not a
// user-agent scope.
var valuedDirectives = map[string]bool{
	"unavailable_after": true, "max-snippet": true, "max-image-preview": true, "max-video-preview": true,
}

// xRobotsOptOut returns the X-Robots-Tag directive of h that opts the
// response out for product token token, or "". Every X-Robots-Tag header is
// read; each is a comma-separated list of directives, and "bot: d1, d2"
// scopes the directives after it to the user agent "bot" (until the next
// scope). Unscoped directives and those scoped to token (case-insensitive)
// count.
func xRobotsOptOut(h http.Header, token string) string {
	token = strings.ToLower(token)
	for _, v := range h.Values("X-Robots-Tag") {
		scope := ""
		for piece := range strings.SplitSeq(v, ",") {
			piece = strings.TrimSpace(piece)
			d := piece
			if i := strings.IndexByte(piece, ':'); i >= 0 {
				name := strings.ToLower(strings.TrimSpace(piece[:i]))
				if !valuedDirectives[name] {
					scope = productToken(name)
					switch scope {
					case "":
						scope = name
					case "*":
						scope = ""
					}
					d = strings.TrimSpace(piece[i+1:])
				}
			}
			d = strings.ToLower(d)
			if optOutDirectives[d] && (scope == "" || scope == token) {
				if scope != "" {
					return scope + ": " + d
				}
				return d
			}
		}
	}
	return ""
}
