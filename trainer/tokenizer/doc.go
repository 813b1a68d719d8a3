// Package tokenizer is CLIP's byte-level BPE tokenizer, reproducing
// open_clip's SimpleTokenizer (clean="lower") id for id: vocabulary 49408,
// context 77, <start_of_text> 49406 and <end_of_text> 49407, zero padding,
// and truncation that keeps the first 76 tokens and ends with the end token.
// It sits between the loader, which tokenises captions through a small
// interface of its own, and the trainer's text tower.
//
// The merges file is open_clip's bpe_simple_vocab_16e6.txt.gz, embedded
// (MIT; see LICENSE-open_clip). A Tokenizer is safe for concurrent use.
//
// # Pipeline
//
//  1. Bytes that are not valid UTF-8 are decoded as Python's
//     bytes.decode("utf-8", errors="replace") does: one U+FFFD per maximal
//     ill-formed subsequence. open_clip only ever sees Python strings, so
//     this is what a Python loader reading the same bytes would pass it.
//  2. ftfy.fix_text, restricted to its character mappings (below).
//  3. html.unescape twice (an exact port of Python's, with the HTML 5 table
//     in entities_table.go), then strip and fold whitespace runs to one space
//     (Python's str.split, whose whitespace includes U+001C..U+001F).
//  4. Python's str.lower: full lower-casing, so İ gives "i̇" and a final
//     capital sigma gives ς.
//  5. Pre-tokenisation with open_clip's pattern, reproduced by a scanner
//     (pretokenize.go), then BPE per pre-token.
//
// # Difference from open_clip: ftfy
//
// ftfy has no Go port. This package implements the part of ftfy 6's default
// fix_text that is a fixed character mapping, in ftfy's order and to its
// fixed point: fix_c1_controls, fix_latin_ligatures, fix_character_width,
// uncurl_quotes, remove_terminal_escapes, remove_control_chars and NFC
// (fix_line_breaks and fix_surrogates cannot change the ids here). It leaves
// out ftfy's heuristics: mojibake repair (fix_encoding and its helpers) and
// ftfy's own HTML unescaping, which open_clip's double html.unescape makes
// matter only for entities nested three or more deep ("&amp;amp;amp;").
// Text with mojibake such as "cafÃ©" therefore gets other ids than open_clip
// gives it. The golden test lists these captions (5 of 561).
//
// # Unicode versions
//
// Letters and numbers follow the regex module open_clip uses (2026.11.19),
// whose Unicode database is newer than Go's: unicode_table.go adds the code
// points it knows that Go 1.26 (Unicode 15.0) does not. Lower-casing and NFC
// follow Go's and x/text's tables where Python 3.11 follows Unicode 14; they
// differ only for characters assigned since.
//
// # Golden files
//
// testdata/make_golden.py tokenises 561 captions with open_clip and writes
// testdata/tokenizer_golden.json; testdata/gen_entities.py and
// testdata/gen_unicode.py write the generated tables. The Go tests need no
// Python.
package tokenizer
