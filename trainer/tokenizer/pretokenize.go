package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// preTokens calls fn with each pre-token of cleaned text, in order, until fn
// returns false. It implements open_clip's pattern, which the regex module
// compiles with IGNORECASE:
//
//	<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//
// as a scanner, not with Go's regexp, because three details of the regex
// module must be reproduced exactly (TestRuneClasses pins them):
//   - IGNORECASE folds the literals, so "'ſ" (long s) matches 's; the text is
//     already lower-case, and ſ is the only other rune that folds onto one of
//     the literals' letters;
//   - IGNORECASE makes U+0345 (combining ypogegrammeni, which folds to ι)
//     fall in neither [\p{L}] nor [^\s\p{L}\p{N}], so it is skipped; Go's
//     (?i) would put it in \p{L};
//   - its Unicode database is newer than Go's (regexExtraLetters/Numbers).
//
// Alternation is leftmost-first, as in Python: at each position the first
// alternative that matches wins, and the punctuation run is greedy (it does
// not stop at ' or <).
func preTokens(s string, fn func(tok string) bool) {
	for i := 0; i < len(s); {
		if n := literalAt(s[i:]); n > 0 {
			if !fn(s[i : i+n]) {
				return
			}
			i += n
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		j := i + size
		switch runeClass(r) {
		case classLetter:
			for j < len(s) {
				r, size := utf8.DecodeRuneInString(s[j:])
				if runeClass(r) != classLetter {
					break
				}
				j += size
			}
		case classNumber:
			// a single digit
		case classOther:
			for j < len(s) {
				r, size := utf8.DecodeRuneInString(s[j:])
				if runeClass(r) != classOther {
					break
				}
				j += size
			}
		default: // whitespace, or a rune no alternative matches
			i = j
			continue
		}
		if !fn(s[i:j]) {
			return
		}
		i = j
	}
}

type class uint8

const (
	classNone   class = iota // matched by no alternative: skipped
	classSpace               // \s
	classLetter              // \p{L}
	classNumber              // \p{N}
	classOther               // [^\s\p{L}\p{N}]
)

func runeClass(r rune) class {
	if r < utf8.RuneSelf {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
			return classLetter
		case '0' <= r && r <= '9':
			return classNumber
		case r == ' ', '\t' <= r && r <= '\r':
			return classSpace
		}
		return classOther
	}
	switch {
	case r == 0x0345:
		return classNone
	case unicode.IsSpace(r): // the White_Space property, as regex's \s
		return classSpace
	case unicode.IsLetter(r) || unicode.Is(regexExtraLetters, r):
		return classLetter
	case unicode.IsNumber(r) || unicode.Is(regexExtraNumbers, r):
		return classNumber
	}
	return classOther
}

// literals are the pattern's first nine alternatives, in order.
var literals = []string{"<start_of_text>", "<end_of_text>", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}

// literalAt returns the length of the literal alternative matching at the
// start of s, or 0.
func literalAt(s string) int {
	if s == "" || (s[0] != '<' && s[0] != '\'') {
		return 0
	}
	for _, lit := range literals {
		if n := hasFoldPrefix(s, lit); n > 0 {
			return n
		}
	}
	return 0
}

// hasFoldPrefix reports the byte length of the prefix of s that equals lit
// under simple case folding (lit is lower-case ASCII), or 0.
func hasFoldPrefix(s, lit string) int {
	if strings.HasPrefix(s, lit) {
		return len(lit)
	}
	i := 0
	for k := 0; k < len(lit); k++ {
		if i >= len(s) {
			return 0
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !foldEqual(r, rune(lit[k])) {
			return 0
		}
		i += size
	}
	return i
}

// foldEqual reports whether r and the ASCII rune c are equal under Unicode
// simple case folding.
func foldEqual(r, c rune) bool {
	if r == c {
		return true
	}
	for f := unicode.SimpleFold(c); f != c; f = unicode.SimpleFold(f) {
		if f == r {
			return true
		}
	}
	return false
}
