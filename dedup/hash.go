package dedup

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// SHA256 is the exact-image hash: SHA-256 of the stored (encoded) image bytes.
type SHA256 [32]byte

// SumSHA256 hashes the stored bytes of an image.
func SumSHA256(b []byte) SHA256 { return sha256.Sum256(b) }

// IsZero reports whether h is the zero value, which Check reads as "no hash".
func (h SHA256) IsZero() bool { return h == SHA256{} }

// String returns the 64 lower-case hex digits of h.
func (h SHA256) String() string { return hex.EncodeToString(h[:]) }

// ParseSHA256 parses 64 hex digits.
func ParseSHA256(s string) (SHA256, error) {
	var h SHA256
	if len(s) != 64 {
		return h, fmt.Errorf("dedup: SHA-256 %q: want 64 hex digits, got %d characters", s, len(s))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("dedup: SHA-256 %q: %w", s, err)
	}
	return h, nil
}

// NormalizeCaption returns the form of a caption that the pair kind compares:
// Unicode NFKC, lower-cased, runs of white space collapsed to one space,
// leading and trailing space removed. Punctuation is kept.
func NormalizeCaption(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(norm.NFKC.String(s))), " ")
}

// PairHash is the pair-kind key: SHA-256 of the normalised caption, a zero
// byte and the image's SHA-256. The image hash has a fixed length at the end,
// so no two (caption, image) pairs share the hashed bytes.
func PairHash(caption string, image SHA256) SHA256 {
	d := sha256.New()
	d.Write([]byte(NormalizeCaption(caption)))
	d.Write([]byte{0})
	d.Write(image[:])
	var h SHA256
	d.Sum(h[:0])
	return h
}

// URLHash is the URL-kind key: SHA-256 of NormalizeURL(raw).
func URLHash(raw string) (SHA256, error) {
	n, err := NormalizeURL(raw)
	if err != nil {
		return SHA256{}, err
	}
	return sha256.Sum256([]byte(n)), nil
}

// PHash is a 64-bit DCT perceptual hash (see ComputePHash). Bit 63 is the
// top-left (DC) coefficient, bit 0 the coefficient at row 7, column 7, so
// String gives the same 16 hex digits as str(imagehash.phash(img)).
type PHash uint64

// String returns 16 lower-case hex digits, as imagehash prints a hash.
func (h PHash) String() string { return fmt.Sprintf("%016x", uint64(h)) }

// Distance returns the Hamming distance between two hashes.
func (h PHash) Distance(o PHash) int { return bits.OnesCount64(uint64(h ^ o)) }

// Bits returns the number of bits set. A pHash of an image with no ties
// around the median has exactly 32; fewer means flat, low-information images.
func (h PHash) Bits() int { return bits.OnesCount64(uint64(h)) }

// ParsePHash parses 16 hex digits (imagehash's str form).
func ParsePHash(s string) (PHash, error) {
	if len(s) != 16 {
		return 0, fmt.Errorf("%w: %q: want 16 hex digits", ErrBadPHash, s)
	}
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q: %w", ErrBadPHash, s, err)
	}
	return PHash(v), nil
}
