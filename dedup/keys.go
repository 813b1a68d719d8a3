package dedup

import (
	"encoding/binary"
	"fmt"
)

// Badger key layout. Every key starts with one family byte:
//
//	'M' name                      meta: "Mversion" (1 byte), "Mradius" (1 byte),
//	                              "Mepoch" (8 bytes, big-endian)
//	'u' SHA-256(normalised URL)   → entry
//	's' SHA-256(image bytes)      → entry
//	'p' PairHash(caption, image)  → entry
//	'n' pHash (8 bytes)           → entry; the exact pHash record
//	'm' band sub hash             → empty; multi-index bucket member:
//	                              band (1 byte), the band's bits of hash
//	                              (ceil(len/8) bytes, big-endian), hash (8 bytes)
//	'c' sample key                → empty; the sample's shard has committed
//	'h' shard name                → key list; a shard prepared, not yet committed
//	'f' SHA-256(normalised URL)   → progress: the crawl's last outcome for the URL (progress.go)
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

	entryFormat   = 1
	layoutVersion = 1
)

var (
	metaVersion = []byte("Mversion")
	metaRadius  = []byte("Mradius")
	metaEpoch   = []byte("Mepoch")
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

// bands splits 64 bits into radius+1 disjoint, contiguous substrings, the
// first 64 mod (radius+1) one bit longer. Two hashes within Hamming distance
// radius agree exactly on at least one of them (pigeonhole).
func bands(radius int) []band {
	m := uint(radius + 1)
	out := make([]band, m)
	start := uint(0)
	for i := range m {
		n := 64 / m
		if i < 64%m {
			n++
		}
		out[i] = band{start, n}
		start += n
	}
	return out
}

func (b band) bytes() int { return int(b.n+7) / 8 }

// sub returns the band's bits of h, right-aligned.
func (b band) sub(h PHash) uint64 { return (uint64(h) << b.start) >> (64 - b.n) }

// bucketPrefix is 'm', the band index and the band's bits of h: the Badger
// key range holding every stored hash that agrees with h on this band.
func bucketPrefix(i int, b band, h PHash) []byte {
	nb := b.bytes()
	k := make([]byte, 2+nb, 2+nb+8)
	k[0], k[1] = famMIH, byte(i)
	v := b.sub(h)
	for j := nb - 1; j >= 0; j-- {
		k[2+j] = byte(v)
		v >>= 8
	}
	return k
}

func mihKey(i int, b band, h PHash) []byte {
	return binary.BigEndian.AppendUint64(bucketPrefix(i, b, h), uint64(h))
}

// decodeMIHKey returns the full hash at the end of a bucket key, checking
// that the key is as long as its band says and that the hash agrees with the
// bucket it is filed under.
func decodeMIHKey(k []byte, bs []band) (PHash, error) {
	if len(k) < 2 || k[0] != famMIH || int(k[1]) >= len(bs) {
		return 0, fmt.Errorf("%w: bucket key %x", ErrCorrupt, k[:min(len(k), 24)])
	}
	i := int(k[1])
	b := bs[i]
	if len(k) != 2+b.bytes()+8 {
		return 0, fmt.Errorf("%w: bucket key %x: length %d", ErrCorrupt, k, len(k))
	}
	h := PHash(binary.BigEndian.Uint64(k[len(k)-8:]))
	if string(bucketPrefix(i, b, h)) != string(k[:len(k)-8]) {
		return 0, fmt.Errorf("%w: bucket key %x: hash not in its bucket", ErrCorrupt, k)
	}
	return h, nil
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
