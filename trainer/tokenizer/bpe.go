package tokenizer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"strings"
)

// mergesGz is open_clip's bpe_simple_vocab_16e6.txt.gz (MIT; see
// LICENSE-open_clip): a header line, then one "left right" merge per line
// in priority order.
//
//go:embed bpe_simple_vocab_16e6.txt.gz
var mergesGz []byte

// numMerges is how many merge lines CLIP uses: lines 1..48894 of the file,
// so that 256 bytes + 256 end-of-word bytes + merges + 2 specials = 49408.
const numMerges = VocabSize - 2*256 - 2

// byteRunes is GPT-2/CLIP's bytes_to_unicode: each byte gets a printable
// rune, and the vocabulary's first 256 entries are those runes in the order
// this function lists the bytes (printable ones first). byteID[b] is the
// vocabulary id of byte b; byteID[b]+256 is the id of "b</w>".
func byteRunes() (runes [256]rune, order [256]byte) {
	n := 0
	var printable [256]bool
	for _, r := range [][2]int{{'!', '~'}, {0xA1, 0xAC}, {0xAE, 0xFF}} {
		for b := r[0]; b <= r[1]; b++ {
			printable[b] = true
			runes[b] = rune(b)
			order[n] = byte(b)
			n++
		}
	}
	extra := 0
	for b := 0; b < 256; b++ {
		if !printable[b] {
			runes[b] = rune(256 + extra)
			extra++
			order[n] = byte(b)
			n++
		}
	}
	return runes, order
}

// vocab is the loaded BPE model.
type vocab struct {
	tokens []string         // id -> token text, as in open_clip's decoder
	byteID [256]int32       // byte -> id of the single-byte token
	merges map[uint64]int32 // (left id, right id) -> rank; the merged id is 512+rank
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// loadVocab parses the gzipped merges file into a vocabulary, checking that
// it has the shape CLIP expects.
func loadVocab(gz []byte) (*vocab, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: open merges: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: read merges: %w", err)
	}
	runes, order := byteRunes()
	v := &vocab{
		tokens: make([]string, 0, VocabSize),
		merges: make(map[uint64]int32, numMerges),
	}
	for i, b := range order {
		v.byteID[b] = int32(i)
		v.tokens = append(v.tokens, string(runes[b]))
	}
	for _, b := range order {
		v.tokens = append(v.tokens, string(runes[b])+"</w>")
	}
	ids := make(map[string]int32, VocabSize)
	for i, t := range v.tokens {
		ids[t] = int32(i)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 1024), 1<<20)
	line := 0
	for sc.Scan() && len(v.merges) < numMerges {
		line++
		if line == 1 {
			continue // version header
		}
		left, right, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.Contains(right, " ") {
			return nil, fmt.Errorf("tokenizer: merges line %d: want two symbols, got %q", line, sc.Text())
		}
		a, okA := ids[left]
		b, okB := ids[right]
		if !okA || !okB {
			return nil, fmt.Errorf("tokenizer: merges line %d: symbol of %q not in vocabulary", line, sc.Text())
		}
		rank := int32(len(v.merges))
		if _, dup := v.merges[pairKey(a, b)]; dup {
			return nil, fmt.Errorf("tokenizer: merges line %d: duplicate pair %q", line, sc.Text())
		}
		v.merges[pairKey(a, b)] = rank
		merged := left + right
		ids[merged] = int32(len(v.tokens))
		v.tokens = append(v.tokens, merged)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokenizer: scan merges: %w", err)
	}
	if len(v.merges) != numMerges {
		return nil, fmt.Errorf("tokenizer: merges file has %d merges, want %d", len(v.merges), numMerges)
	}
	v.tokens = append(v.tokens, "<start_of_text>", "<end_of_text>")
	if len(v.tokens) != VocabSize {
		return nil, fmt.Errorf("tokenizer: vocabulary has %d tokens, want %d", len(v.tokens), VocabSize)
	}
	return v, nil
}

// bpe appends the ids of one pre-token (raw UTF-8 bytes) to dst. It is
// open_clip's SimpleTokenizer.bpe: start from single bytes with "</w>" on the
// last, then repeatedly merge every occurrence, left to right, of the
// adjacent pair with the lowest merge rank, until no pair has a rank.
func (v *vocab) bpe(dst []int32, word string, scratch []int32) ([]int32, []int32) {
	if word == "" {
		return dst, scratch
	}
	syms := scratch[:0]
	for i := 0; i < len(word); i++ {
		syms = append(syms, v.byteID[word[i]])
	}
	syms[len(syms)-1] += 256
	for len(syms) > 1 {
		best := int32(-1)
		for i := 0; i+1 < len(syms); i++ {
			if r, ok := v.merges[pairKey(syms[i], syms[i+1])]; ok && (best < 0 || r < best) {
				best = r
			}
		}
		if best < 0 {
			break
		}
		merged := 512 + best
		out := syms[:0]
		for i := 0; i < len(syms); i++ {
			if i+1 < len(syms) {
				if r, ok := v.merges[pairKey(syms[i], syms[i+1])]; ok && r == best {
					out = append(out, merged)
					i++
					continue
				}
			}
			out = append(out, syms[i])
		}
		syms = out
	}
	return append(dst, syms...), syms
}
