package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Clean returns the text the BPE sees: open_clip's `clean="lower"` pipeline,
//
//	whitespace_clean(basic_clean(text)).lower()
//	basic_clean(text) = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
//
// with ftfy.fix_text replaced by the deterministic subset in fixText (see the
// package documentation for what is left out). Invalid UTF-8 is first
// decoded the way Python's bytes.decode("utf-8", errors="replace") does.
func Clean(text string) string {
	text = toValidUTF8(text)
	text = fixText(text)
	text = unescapeHTML(unescapeHTML(text))
	text = strings.Join(strings.FieldsFunc(text, pyIsSpace), " ")
	return pyLower(text)
}

// pyIsSpace is Python's str.isspace for one code point: White_Space plus
// U+001C..U+001F, which Python counts (bidi class B/S) and Go does not.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// toValidUTF8 replaces each maximal ill-formed subsequence with U+FFFD, as
// Python's UTF-8 decoder with errors="replace" does (Unicode's "maximal
// subpart" practice). strings.ToValidUTF8 would instead merge a whole run of
// bad bytes into one U+FFFD, and ranging over the string would emit one per
// byte even inside a truncated sequence.
func toValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError || size > 1 {
			b.WriteString(s[i : i+size])
			i += size
			continue
		}
		b.WriteRune(utf8.RuneError)
		i += maximalSubpart(s[i:])
	}
	return b.String()
}

// maximalSubpart returns the length (≥ 1) of the ill-formed sequence at the
// start of s: a valid lead byte followed by as many valid continuation bytes
// as fit before the first byte that breaks the sequence.
func maximalSubpart(s string) int {
	c := s[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF) // range of the first continuation byte
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(s); k++ {
		b := s[n]
		if k == 0 && (b < lo || b > hi) || k > 0 && (b < 0x80 || b > 0xBF) {
			break
		}
		n++
	}
	return n
}

// fixText is the subset of ftfy.fix_text (ftfy 6.3, default config) that is
// a pure character mapping, in ftfy's order and repeated, as ftfy does, until
// nothing changes: fix_c1_controls, fix_latin_ligatures, fix_character_width,
// uncurl_quotes, remove_terminal_escapes, remove_control_chars, then NFC.
func fixText(s string) string {
	if isPlainASCII(s) {
		return s // every step below is the identity on printable ASCII
	}
	for range 8 { // a fixed point is normally reached on the second pass
		next := s
		next = strings.Map(fixC1Control, next)
		next = fixLatinLigatures(next)
		next = fixCharacterWidth(next)
		next = strings.Map(uncurlQuote, next)
		next = removeTerminalEscapes(next)
		next = strings.Map(removeControlChar, next)
		next = norm.NFC.String(next)
		if next == s {
			break
		}
		s = next
	}
	return s
}

// isPlainASCII reports whether s is ASCII without control characters other
// than tab, line feed, form feed and carriage return.
func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || c == 0x7f || (c < 0x20 && c != '\t' && c != '\n' && c != '\f' && c != '\r') {
			return false
		}
	}
	return true
}

// fixC1Control is ftfy's fix_c1_controls: a C1 control U+0080..U+009F is
// read as the byte it would be in Windows-1252 ("sloppy": bytes Windows-1252
// leaves undefined stay as they are).
func fixC1Control(r rune) rune {
	if r >= 0x80 && r <= 0x9f {
		if c := c1Windows1252[r-0x80]; c != 0 {
			return c
		}
	}
	return r
}

// c1Windows1252 maps U+0080..U+009F to the character the same byte means in
// Windows-1252; 0 marks the five bytes Windows-1252 leaves undefined.
var c1Windows1252 = [32]rune{
	0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
	0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
}

// fixLatinLigatures is ftfy's fix_latin_ligatures.
func fixLatinLigatures(s string) string { return replaceRunes(s, latinLigature) }

func latinLigature(r rune) (string, bool) {
	s, ok := latinLigatures[r]
	return s, ok
}

// latinLigatures is ftfy.chardata.LIGATURES.
var latinLigatures = map[rune]string{
	'Ĳ': "IJ", 'ĳ': "ij", 'ŉ': "ʼn", 'Ǳ': "DZ", 'ǲ': "Dz", 'ǳ': "dz",
	'Ǆ': "DŽ", 'ǅ': "Dž", 'ǆ': "dž", 'Ǉ': "LJ", 'ǈ': "Lj", 'ǉ': "lj",
	'Ǌ': "NJ", 'ǋ': "Nj", 'ǌ': "nj", 'ﬀ': "ff", 'ﬁ': "fi", 'ﬂ': "fl",
	'ﬃ': "ffi", 'ﬄ': "ffl", 'ﬅ': "ſt", 'ﬆ': "st",
}

// fixCharacterWidth is ftfy's fix_character_width: U+3000 becomes a space
// and each of U+FF01..U+FFEF becomes its NFKC form.
func fixCharacterWidth(s string) string { return replaceRunes(s, standardWidth) }

func standardWidth(r rune) (string, bool) {
	if r == 0x3000 {
		return " ", true
	}
	if r >= 0xFF01 && r <= 0xFFEF {
		if w := norm.NFKC.String(string(r)); w != string(r) {
			return w, true
		}
	}
	return "", false
}

// replaceRunes replaces each rune for which repl reports true.
func replaceRunes(s string, repl func(rune) (string, bool)) string {
	var b strings.Builder
	changed := false
	for i, r := range s {
		w, ok := repl(r)
		if !ok {
			if changed {
				b.WriteRune(r)
			}
			continue
		}
		if !changed {
			b.Grow(len(s) + 8)
			b.WriteString(s[:i])
			changed = true
		}
		b.WriteString(w)
	}
	if !changed {
		return s
	}
	return b.String()
}

// uncurlQuote is ftfy's uncurl_quotes: [\u02bc\u2018-\u201b] become ' and
// [\u201c-\u201f] become ".
func uncurlQuote(r rune) rune {
	switch {
	case r == 0x02BC || (r >= 0x2018 && r <= 0x201B):
		return '\''
	case r >= 0x201C && r <= 0x201F:
		return '"'
	}
	return r
}

// removeTerminalEscapes is ftfy's remove_terminal_escapes:
// the regular expression \033\[((?:\d|;)*)([a-zA-Z]) replaced by nothing.
// (\d is Unicode Nd in Python.)
func removeTerminalEscapes(s string) string {
	if strings.IndexByte(s, 0x1b) < 0 {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "\x1b[")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		j := i + 2
		for j < len(s) {
			r, size := utf8.DecodeRuneInString(s[j:])
			if r != ';' && !unicode.Is(unicode.Nd, r) {
				break
			}
			j += size
		}
		if j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
			s = s[j+1:]
			continue
		}
		b.WriteString(s[i : i+1])
		s = s[i+1:]
	}
}

// removeControlChar is ftfy's remove_control_chars: it deletes U+0000–0008,
// U+000B, U+000E–001F, U+007F, U+206A–206F, U+FEFF and U+FFF9–FFFC.
func removeControlChar(r rune) rune {
	switch {
	case r <= 0x08, r == 0x0b, r >= 0x0e && r <= 0x1f, r == 0x7f,
		r >= 0x206a && r <= 0x206f, r == 0xfeff, r >= 0xfff9 && r <= 0xfffc:
		return -1
	}
	return r
}

// pyLower is Python's str.lower: Unicode's full lower-case mapping. It
// differs from strings.ToLower in two places: U+0130 (İ) becomes "i̇"
// (two code points), and Σ becomes final ς at the end of a word
// (the Final_Sigma context of Unicode's SpecialCasing).
func pyLower(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	runes := []rune(s)
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i, r := range runes {
		switch r {
		case 0x0130:
			b.WriteString("i\u0307")
		case 0x03A3:
			if finalSigma(runes, i) {
				b.WriteRune(0x03C2)
			} else {
				b.WriteRune(0x03C3)
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma is CPython's handle_capital_sigma: the sigma at i follows a
// cased letter (skipping case-ignorable ones) and no cased letter follows.
func finalSigma(runes []rune, i int) bool {
	j := i - 1
	for j >= 0 && caseIgnorable(runes[j]) {
		j--
	}
	if j < 0 || !cased(runes[j]) {
		return false
	}
	j = i + 1
	for j < len(runes) && caseIgnorable(runes[j]) {
		j++
	}
	return j == len(runes) || !cased(runes[j])
}

// cased is Unicode's Cased property: Lowercase, Uppercase or Lt.
func cased(r rune) bool {
	return unicode.IsLower(r) || unicode.IsUpper(r) || unicode.IsTitle(r) ||
		unicode.Is(unicode.Other_Lowercase, r) || unicode.Is(unicode.Other_Uppercase, r)
}

// caseIgnorable is Unicode's Case_Ignorable property: Mn, Me, Cf, Lm, Sk and
// the Word_Break classes MidLetter, MidNumLet and Single_Quote.
func caseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0x00B7, 0x0387, 0x055F, 0x05F4, 0x2018, 0x2019, 0x2024,
		0x2027, 0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}
