package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// unescapeHTML is a port of Python's html.unescape (CPython 3.11), which
// open_clip's basic_clean applies twice. It follows the same regular
// expression,
//
//	&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)
//
// and the same replacement rules: the HTML 5 table of named references
// (longest prefix wins for names without ';'), the Windows-1252 remapping of
// numeric references 0x80–0x9F, U+FFFD for 0, surrogates and values above
// U+10FFFF, and the empty string for the code points HTML 5 calls invalid.
// Go's html.UnescapeString differs on the last rule and on non-alphanumeric
// names, which is why it is not used.
func unescapeHTML(s string) string {
	if strings.IndexByte(s, '&') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		amp := strings.IndexByte(s, '&')
		if amp < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:amp])
		s = s[amp:]
		repl, n := charref(s[1:])
		if n == 0 {
			b.WriteByte('&')
			s = s[1:]
			continue
		}
		b.WriteString(repl)
		s = s[1+n:]
	}
}

// charref matches one reference body (the text after '&') and returns its
// replacement and the number of bytes it consumed; n == 0 means no match.
func charref(s string) (repl string, n int) {
	if s == "" {
		return "", 0
	}
	if s[0] == '#' {
		return numericCharref(s)
	}
	// [^\t\n\f <&#;]{1,32};?  counted in code points, as Python does.
	runes := 0
	for n < len(s) && runes < 32 {
		r, size := utf8.DecodeRuneInString(s[n:])
		if r == '\t' || r == '\n' || r == '\f' || r == ' ' || r == '<' || r == '&' || r == '#' || r == ';' {
			break
		}
		n += size
		runes++
	}
	if n == 0 {
		return "", 0
	}
	if n < len(s) && s[n] == ';' {
		n++
	}
	name := s[:n]
	if v, ok := html5Entities[name]; ok {
		return v, n
	}
	// Longest prefix of at least 2 code points that is a known name.
	bounds := make([]int, 0, 34)
	for i := range name {
		bounds = append(bounds, i)
	}
	for k := len(bounds) - 1; k >= 2; k-- {
		if v, ok := html5Entities[name[:bounds[k]]]; ok {
			return v + name[bounds[k]:], n
		}
	}
	return "&" + name, n
}

// numericCharref handles "#123;" and "#x7B;" bodies.
func numericCharref(s string) (string, int) {
	i, base := 1, 10
	if len(s) > 1 && (s[1] == 'x' || s[1] == 'X') {
		i, base = 2, 16
	}
	start := i
	const limit = 0x110000 // anything above is U+FFFD; stop growing there
	num := 0
	for i < len(s) {
		d := digitValue(s[i], base)
		if d < 0 {
			break
		}
		if num < limit {
			num = num*base + d
		}
		i++
	}
	if i == start {
		return "", 0
	}
	if i < len(s) && s[i] == ';' {
		i++
	}
	if r, ok := invalidCharrefs[num]; ok {
		return string(r), i
	}
	if (num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF {
		return "\uFFFD", i
	}
	if invalidCodepoint(num) {
		return "", i
	}
	return string(rune(num)), i
}

func digitValue(c byte, base int) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case base == 16 && c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case base == 16 && c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// invalidCharrefs is Python's html._invalid_charrefs.
var invalidCharrefs = map[int]rune{
	0x00: '\uFFFD', 0x0d: '\r',
	0x80: '\u20ac', 0x81: '\x81', 0x82: '\u201a', 0x83: '\u0192', 0x84: '\u201e',
	0x85: '\u2026', 0x86: '\u2020', 0x87: '\u2021', 0x88: '\u02c6', 0x89: '\u2030',
	0x8a: '\u0160', 0x8b: '\u2039', 0x8c: '\u0152', 0x8d: '\x8d', 0x8e: '\u017d',
	0x8f: '\x8f', 0x90: '\x90', 0x91: '\u2018', 0x92: '\u2019', 0x93: '\u201c',
	0x94: '\u201d', 0x95: '\u2022', 0x96: '\u2013', 0x97: '\u2014', 0x98: '\u02dc',
	0x99: '\u2122', 0x9a: '\u0161', 0x9b: '\u203a', 0x9c: '\u0153', 0x9d: '\x9d',
	0x9e: '\u017e', 0x9f: '\u0178',
}

// invalidCodepoint is Python's html._invalid_codepoints.
func invalidCodepoint(n int) bool {
	switch {
	case n >= 0x1 && n <= 0x8, n == 0xb, n >= 0xe && n <= 0x1f, n >= 0x7f && n <= 0x9f:
		return true
	case n >= 0xfdd0 && n <= 0xfdef:
		return true
	case n&0xfffe == 0xfffe && n <= 0x10ffff:
		return true
	}
	return false
}
