package dedup

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Badger key layout. Every key starts with one family byte:
//
//	'M' name                      meta: "Mversion" (1 byte), "Mradius" (1 byte),
//	                              "Mbands" (1 byte), "Mepoch" (8 bytes, big-endian),
//	                              "Mlowinfo" (1 byte: the LowInfoBits the buckets
//	                              were filled with; absent in indexes written
//	                              before it was stored)
//	'u' SHA-256(normalised URL)   → entry
//	's' SHA-256(image bytes)      → entry
//	'p' PairHash(caption, image)  → entry
//	'n' pHash (8 bytes)           → entry; the exact pHash record
//	'm' band rotated hash         → empty; multi-index bucket member: band
//	                              index (1 byte), the hash rotated left so
//	                              that the band's bits come first (8 bytes,
//	                              big-endian), so a bucket is a key range
//	                              (layout version 2; version 1 had the band's
//	                              bits, then the hash, and radius+1 bands)
//	'c' sample key                → empty; the sample's shard has committed
//	'h' shard name                → key list; a shard prepared, not yet committed
//	'f' SHA-256(normalised URL)   → progress: the crawl's last outcome for the URL (progress.go)
//	'g' SHA-256(normalised URL)   → page log: a page crawl's queued or done page (pages.go)
//
// An entry value is: format byte 1, uvarint epoch, the sample key.
const (
	famMeta      = 'M'
	famURL       = 'u'
	famExact     = 's'
	famPair      = 'p'
	famPHash     = 'n'
	famMIH       = 'm'
	famCommitted = 'c'
	famPrepared  = 'h'

	entryFormat = 1
	// layoutVersion 2: bucket keys hold the rotated hash and the number of
	// bands is stored ("Mbands"). Version 1 indexes are migrated at Open.
	layoutVersion = 2
)

var (
	metaVersion = []byte("Mversion")
	metaRadius  = []byte("Mradius")
	metaBands   = []byte("Mbands")
	metaEpoch   = []byte("Mepoch")
	metaLowInfo = []byte("Mlowinfo")
)

// entry is what a recorded key maps to: the sample that recorded it and the
// epoch (Open count) of the run that recorded it.
type entry struct {
	Epoch uint64
	Key   string
}

func encodeEntry(e entry) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(e.Key))
	b = append(b, entryFormat)
	b = binary.AppendUvarint(b, e.Epoch)
	return append(b, e.Key...)
}

// decodeEntry parses an entry value read from disk; anything malformed is
// ErrCorrupt, never a panic.
func decodeEntry(b []byte) (entry, error) {
	if len(b) < 2 || b[0] != entryFormat {
		return entry{}, fmt.Errorf("%w: entry value %x: bad format byte", ErrCorrupt, b[:min(len(b), 16)])
	}
	ep, n := binary.Uvarint(b[1:])
	if n <= 0 {
		return entry{}, fmt.Errorf("%w: entry value %x: bad epoch", ErrCorrupt, b[:min(len(b), 16)])
	}
	k := b[1+n:]
	if len(k) == 0 || len(k) > MaxKeyLen {
		return entry{}, fmt.Errorf("%w: entry value: sample key of %d bytes", ErrCorrupt, len(k))
	}
	return entry{Epoch: ep, Key: string(k)}, nil
}

func hashKey(fam byte, h SHA256) []byte {
	k := make([]byte, 33)
	k[0] = fam
	copy(k[1:], h[:])
	return k
}

func phashKey(h PHash) []byte {
	k := make([]byte, 9)
	k[0] = famPHash
	binary.BigEndian.PutUint64(k[1:], uint64(h))
	return k
}

func committedKey(sample string) []byte { return append([]byte{famCommitted}, sample...) }

func preparedKey(shard string) []byte { return append([]byte{famPrepared}, shard...) }

// band is one multi-index substring: bits [start, start+n) of the hash,
// counted from the most significant bit.
type band struct{ start, n uint }

// splitBands splits 64 bits into m disjoint, contiguous substrings, the
// first 64 mod m one bit longer.
func splitBands(m int) []band {
	out := make([]band, m)
	start := uint(0)
	for i := range uint(m) {
		n := 64 / uint(m)
		if i < 64%uint(m) {
			n++
		}
		out[i] = band{start, n}
		start += n
	}
	return out
}

// sub returns the band's bits of h, right-aligned.
func (b band) sub(h PHash) uint64 { return (uint64(h) << b.start) >> (64 - b.n) }

// rotated is h rotated left so that the band's bits come first: the order
// of the band's bucket keys.
func (b band) rotated(h PHash) uint64 { return bits.RotateLeft64(uint64(h), int(b.start)) }

// mihKey is the bucket key of h in band i: 'm', i, and h rotated left by
// the band's start, big-endian. A band's bucket for value v is the key range
// whose rotated hash starts with the band's n bits equal to v
// (bucketStart), so a bucket lookup is one seek.
func mihKey(i int, b band, h PHash) []byte {
	k := make([]byte, 2, 10)
	k[0], k[1] = famMIH, byte(i)
	return binary.BigEndian.AppendUint64(k, b.rotated(h))
}

// bucketStart is the first possible key of band i's bucket for band value v.
func bucketStart(dst []byte, i int, b band, v uint64) []byte {
	dst = append(dst[:0], famMIH, byte(i))
	return binary.BigEndian.AppendUint64(dst, v<<(64-b.n))
}

// decodeMIHKey returns the full hash of a bucket key and the band's value
// it is filed under, checking that the key is as long as the layout says.
func decodeMIHKey(k []byte, bs []band) (h PHash, v uint64, err error) {
	if len(k) != 10 || k[0] != famMIH || int(k[1]) >= len(bs) {
		return 0, 0, fmt.Errorf("%w: bucket key %x", ErrCorrupt, k[:min(len(k), 24)])
	}
	b := bs[k[1]]
	r := binary.BigEndian.Uint64(k[2:])
	return PHash(bits.RotateLeft64(r, -int(b.start))), r >> (64 - b.n), nil
}

func encodeKeyList(keys []string) []byte {
	b := binary.AppendUvarint(nil, uint64(len(keys)))
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	return b
}

func decodeKeyList(b []byte) ([]string, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: key list: bad count", ErrCorrupt)
	}
	b = b[w:]
	out := make([]string, 0, n)
	for range n {
		l, w := binary.Uvarint(b)
		if w <= 0 || l > uint64(len(b)-w) {
			return nil, fmt.Errorf("%w: key list: bad length", ErrCorrupt)
		}
		out = append(out, string(b[w:w+int(l)]))
		b = b[w+int(l):]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: key list: %d trailing bytes", ErrCorrupt, len(b))
	}
	return out, nil
}
