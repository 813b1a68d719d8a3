package crawl

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"github.com/clipstream/clipstream/dedup"
)

// ErrBadPartition is returned by ParsePartition for a malformed "i/N".
var ErrBadPartition = errors.New("crawl: bad partition")

// Partition selects one of N disjoint parts of every input, so that N
// processes (a Kubernetes indexed Job, a Slurm array) given "0/N" … "N-1/N"
// and the same inputs each take a different part and together take all of it.
// The zero value is the whole input.
//
// The split is a pure function of one key per item, never of the order of the
// input or of which files a process reads:
//
//   - URL lists and WAT files: the image URL. The key is SHA-256 of
//     dedup.NormalizeURL(url) — the same hash as dedup's URL kind — so the
//     same image found in two inputs (or twice in one) lands in the same
//     part, and a URL that does not normalise is hashed as written.
//   - Page crawls: the host ("name" or "name:port", lower-cased, as in the
//     URL's authority) of the seed and of every page followed. A process
//     crawls only the seeds and follows only the links whose host is its
//     own, and yields every pair on its pages, wherever the image is hosted.
//     Each site is then crawled (and rate-limited) by exactly one process.
//
// The part of a key is ⌊h·N / 2⁶⁴⌋, where h is the first eight bytes of its
// SHA-256 read as a big-endian integer (for a host, SHA-256 of the host
// string). This is uniform for any N and needs no modulo.
type Partition struct {
	Index int // 0 ≤ Index < Count
	Count int // number of parts; 0 or 1 means the whole input
}

// ParsePartition parses "i/N" (as given to --partition), with 0 ≤ i < N.
// The empty string is the whole input.
func ParsePartition(s string) (Partition, error) {
	if s == "" {
		return Partition{}, nil
	}
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		return Partition{}, fmt.Errorf("%w: %q: want i/N, e.g. 0/4", ErrBadPartition, s)
	}
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if err1 != nil || err2 != nil {
		return Partition{}, fmt.Errorf("%w: %q: i and N must be integers", ErrBadPartition, s)
	}
	p := Partition{Index: i, Count: n}
	if err := p.Validate(); err != nil {
		return Partition{}, fmt.Errorf("%w: %q", err, s)
	}
	return p, nil
}

// Validate checks 0 ≤ Index < Count (or the zero value).
func (p Partition) Validate() error {
	if p.Count == 0 && p.Index == 0 {
		return nil
	}
	if p.Count < 1 {
		return fmt.Errorf("%w: N must be at least 1, got %d", ErrBadPartition, p.Count)
	}
	if p.Index < 0 || p.Index >= p.Count {
		return fmt.Errorf("%w: need 0 ≤ i < N, got i=%d N=%d", ErrBadPartition, p.Index, p.Count)
	}
	return nil
}

// Whole reports whether p takes the whole input.
func (p Partition) Whole() bool { return p.Count <= 1 }

// String gives "i/N", or "" for the whole input.
func (p Partition) String() string {
	if p.Whole() {
		return ""
	}
	return strconv.Itoa(p.Index) + "/" + strconv.Itoa(p.Count)
}

// OwnsImageURL reports whether the image URL u belongs to p.
func (p Partition) OwnsImageURL(u string) bool {
	if p.Whole() {
		return true
	}
	return PartOfImageURL(u, p.Count) == p.Index
}

// OwnsHost reports whether pages on host (as in a URL's authority,
// "name" or "name:port") belong to p.
func (p Partition) OwnsHost(host string) bool {
	if p.Whole() {
		return true
	}
	return PartOfHost(host, p.Count) == p.Index
}

// PartOfImageURL returns the part, in [0, n), that the image URL u falls in
// when the input is split n ways (see Partition). n < 1 is taken as 1.
func PartOfImageURL(u string, n int) int {
	if n <= 1 {
		return 0
	}
	h, err := dedup.URLHash(u)
	if err != nil {
		h = sha256.Sum256([]byte(u))
	}
	return partitionBucket(h[:], n)
}

// PartOfHost returns the part, in [0, n), that pages on host fall in when a
// page crawl is split n ways (see Partition). n < 1 is taken as 1.
func PartOfHost(host string, n int) int {
	if n <= 1 {
		return 0
	}
	h := sha256.Sum256([]byte(strings.ToLower(host)))
	return partitionBucket(h[:], n)
}

func partitionBucket(sum []byte, n int) int {
	hi, _ := bits.Mul64(binary.BigEndian.Uint64(sum[:8]), uint64(n))
	return int(hi)
}
