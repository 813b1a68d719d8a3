package tokenizer

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// CLIP's vocabulary and context, as in open_clip's SimpleTokenizer.
const (
	VocabSize     = 49408 // 256 bytes, 256 bytes+"</w>", 48894 merges, 2 specials
	ContextLength = 77    // ids per caption, start and end tokens included
	StartOfText   = 49406 // "<start_of_text>"
	EndOfText     = 49407 // "<end_of_text>"
)

// ErrShortContext is returned when a destination cannot hold even the start
// and end tokens.
var ErrShortContext = errors.New("tokenizer: context shorter than 2 tokens")

// cacheLimit bounds the pre-token cache; it is emptied when it fills, so
// adversarial input costs time, never unbounded memory.
const cacheLimit = 1 << 16

// cacheWordLimit is the longest pre-token (bytes) worth caching.
const cacheWordLimit = 64

// Tokenizer turns captions into CLIP token ids. It is safe for concurrent use.
type Tokenizer struct {
	v *vocab

	mu    sync.RWMutex
	cache map[string][]int32 // pre-token -> BPE ids
}

// New loads the embedded merges file. It fails only if that file is corrupt.
func New() (*Tokenizer, error) {
	v, err := loadVocab(mergesGz)
	if err != nil {
		return nil, err
	}
	return &Tokenizer{v: v, cache: make(map[string][]int32)}, nil
}

// Encode returns the BPE ids of Clean(text), without start and end tokens and
// without truncation: open_clip's SimpleTokenizer.encode.
func (t *Tokenizer) Encode(text string) []int32 {
	return t.encode(nil, Clean(text), -1)
}

// encode appends the ids of cleaned text to dst, stopping once dst holds at
// least limit ids (limit < 0: no limit).
func (t *Tokenizer) encode(dst []int32, cleaned string, limit int) []int32 {
	var scratch []int32
	preTokens(cleaned, func(word string) bool {
		if limit >= 0 && len(dst) >= limit {
			return false
		}
		// open_clip's BPE cache maps the exact special-token texts to
		// themselves; a case-folded variant such as "<ſtart_of_text>" is
		// split by the pattern the same way but goes through BPE.
		switch word {
		case "<start_of_text>":
			dst = append(dst, StartOfText)
			return true
		case "<end_of_text>":
			dst = append(dst, EndOfText)
			return true
		}
		t.mu.RLock()
		ids, ok := t.cache[word]
		t.mu.RUnlock()
		if ok {
			dst = append(dst, ids...)
			return true
		}
		start := len(dst)
		dst, scratch = t.v.bpe(dst, word, scratch)
		if len(word) > cacheWordLimit {
			return true
		}
		t.mu.Lock()
		if len(t.cache) >= cacheLimit {
			clear(t.cache)
		}
		t.cache[strings.Clone(word)] = append([]int32(nil), dst[start:]...)
		t.mu.Unlock()
		return true
	})
	return dst
}

// Tokenize returns the ContextLength ids open_clip's tokenizer gives text:
// start token, BPE ids, end token, zero padding; a caption too long keeps
// its first ContextLength-1 tokens and ends with the end token.
func (t *Tokenizer) Tokenize(text string) []int32 {
	dst := make([]int32, ContextLength)
	_ = t.TokenizeTo(dst, text) // cannot fail: len(dst) >= 2
	return dst
}

// TokenizeTo writes text's ids into dst, using len(dst) as the context
// length, so a loader can fill a batch buffer in place. It overwrites all of
// dst.
func (t *Tokenizer) TokenizeTo(dst []int32, text string) error {
	n := len(dst)
	if n < 2 {
		return fmt.Errorf("%w: got %d", ErrShortContext, n)
	}
	ids := make([]int32, 1, n+8)
	ids[0] = StartOfText
	ids = t.encode(ids, Clean(text), n)
	if len(ids) >= n {
		ids = ids[:n-1]
	}
	ids = append(ids, EndOfText)
	clear(dst[copy(dst, ids):])
	return nil
}

// Decode is open_clip's SimpleTokenizer.decode: token texts joined, mapped
// back to bytes, decoded as UTF-8 with replacement, "</w>" read as a space.
// Ids outside the vocabulary are skipped.
func (t *Tokenizer) Decode(ids []int32) string {
	runes, _ := byteRunes()
	var fromRune [512]int16
	for i := range fromRune {
		fromRune[i] = -1
	}
	for b, r := range runes {
		fromRune[r] = int16(b)
	}
	var raw []byte
	for _, id := range ids {
		if id < 0 || int(id) >= len(t.v.tokens) {
			continue
		}
		for _, r := range t.v.tokens[id] {
			if r < 512 && fromRune[r] >= 0 {
				raw = append(raw, byte(fromRune[r]))
			} else {
				raw = utf8.AppendRune(raw, r)
			}
		}
	}
	return strings.ReplaceAll(toValidUTF8(string(raw)), "</w>", " ")
}
