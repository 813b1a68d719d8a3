package dedup

import (
	"fmt"
	"net/url"
	"strings"
)

// NormalizeURL returns the form of an absolute URL that the URL kind compares:
//
//   - scheme and host lower-cased, trailing dots of the host dropped;
//   - the default port dropped (80 for http, 443 for https);
//   - the fragment dropped;
//   - an empty path of an http(s) URL written as "/";
//   - percent-encoding normalised in path and query: escapes of unreserved
//     characters (A-Z a-z 0-9 - . _ ~) decoded, other escapes written with
//     upper-case hex digits, and bytes that may not appear raw (space,
//     controls, non-ASCII, a '%' not starting an escape) escaped.
//
// Reserved characters ('/', '?', '&', '=', '+', ...) are left as they are,
// escaped or not, because escaping them can change what the server returns.
// Query parameters are not sorted for the same reason. Userinfo is kept.
//
// A URL that does not parse, or has no scheme or no host, gives ErrBadURL.
// NormalizeURL is idempotent: NormalizeURL(NormalizeURL(u)) == NormalizeURL(u).
func NormalizeURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrBadURL, raw, err)
	}
	if u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("%w: %q is not absolute", ErrBadURL, raw)
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	host = strings.TrimRight(host, ".") // all of them: "a.." must not become "a." and then "a"
	if host == "" {
		return "", fmt.Errorf("%w: %q has an empty host", ErrBadURL, raw)
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") { // IPv6 literal
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}

	var b strings.Builder
	b.Grow(len(raw) + 8)
	b.WriteString(scheme)
	b.WriteString("://")
	if u.User != nil {
		b.WriteString(normalizeEscapes(u.User.String()))
		b.WriteByte('@')
	}
	b.WriteString(host)
	path := u.EscapedPath()
	if path == "" && (scheme == "http" || scheme == "https") {
		path = "/"
	}
	b.WriteString(normalizeEscapes(path))
	if u.RawQuery != "" || u.ForceQuery {
		b.WriteByte('?')
		b.WriteString(normalizeEscapes(u.RawQuery))
	}
	// url.Parse accepts some hosts it cannot parse once rebuilt (a bare
	// "::0" is read as host ":" and port "0"): such a URL has no normal
	// form.
	out := b.String()
	if _, err := url.Parse(out); err != nil {
		return "", fmt.Errorf("%w: %q: its host %q is not valid", ErrBadURL, raw, u.Host)
	}
	return out, nil
}

// normalizeEscapes rewrites the percent-encoding of an already escaped URL
// component as NormalizeURL describes. It never decodes a reserved character.
func normalizeEscapes(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			v := unhex(s[i+1])<<4 | unhex(s[i+2])
			if isUnreserved(v) {
				b.WriteByte(v)
			} else {
				writeEscape(&b, v)
			}
			i += 2
		case c == '%':
			writeEscape(&b, c)
		case c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' ||
			c == '^' || c == '`' || c == '{' || c == '|' || c == '}':
			writeEscape(&b, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func writeEscape(b *strings.Builder, c byte) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('%')
	b.WriteByte(hex[c>>4])
	b.WriteByte(hex[c&15])
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
