package dedup

import (
	"errors"
	"fmt"
	"testing"
)

func TestSplitBands(t *testing.T) {
	for m := 1; m <= MaxRadius+1; m++ {
		t.Run(fmt.Sprintf("bands=%d", m), func(t *testing.T) {
			bs := splitBands(m)
			if len(bs) != m {
				t.Fatalf("%d bands", len(bs))
			}
			next := uint(0)
			for i, b := range bs {
				if b.start != next || b.n == 0 {
					t.Fatalf("band %d = %+v, want start %d", i, b, next)
				}
				next += b.n
			}
			if next != 64 {
				t.Fatalf("bands cover %d bits", next)
			}
			// The bands' bits put back together are the hash.
			h := PHash(0xd479e71b151b458c)
			var back uint64
			for _, b := range bs {
				back = back<<b.n | b.sub(h)
			}
			if PHash(back) != h {
				t.Fatalf("reassembled %x, want %s", back, h)
			}
		})
	}
}

func TestEntryRoundTrip(t *testing.T) {
	for _, e := range []entry{{1, "s-0000001"}, {0, "k"}, {1 << 62, "shard-000003/sample-07"}} {
		t.Run(e.Key, func(t *testing.T) {
			got, err := decodeEntry(encodeEntry(e))
			if err != nil || got != e {
				t.Fatalf("round trip %+v -> %+v, %v", e, got, err)
			}
		})
	}
}

// FuzzDecodeEntry: bytes read back from disk never panic the decoder; what
// decodes re-encodes to the same bytes.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry(entry{7, "s-0000007"}))
	f.Add([]byte{1, 0x80})
	f.Add([]byte{2, 1, 'k'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if got := encodeEntry(e); string(got) != string(b) {
			// Non-minimal varints decode but re-encode shorter; the
			// decoded entry must still round-trip.
			if e2, err := decodeEntry(got); err != nil || e2 != e {
				t.Fatalf("%x -> %+v -> %x -> %+v, %v", b, e, got, e2, err)
			}
		}
	})
}

// FuzzMIHKey: every hash's bucket keys decode back to it and to its band
// value, sort inside their bucket's key range, under every band count; and
// arbitrary bytes never panic the decoder.
func FuzzMIHKey(f *testing.F) {
	f.Add(uint64(0xd479e71b151b458c), uint8(4), []byte("m\x00\x12\x34"))
	f.Add(uint64(0), uint8(10), []byte{})
	f.Add(^uint64(0), uint8(0), []byte("m\x05"))
	f.Fuzz(func(t *testing.T, h uint64, m uint8, junk []byte) {
		bs := splitBands(1 + int(m)%(MaxRadius+1))
		for i, b := range bs {
			k := mihKey(i, b, PHash(h))
			got, v, err := decodeMIHKey(k, bs)
			if err != nil || got != PHash(h) || v != b.sub(PHash(h)) {
				t.Fatalf("%d bands, band %d: %x -> %s %x, %v", len(bs), i, k, got, v, err)
			}
			lo := bucketStart(nil, i, b, v)
			if string(k) < string(lo) {
				t.Fatalf("key %x sorts before its bucket's start %x", k, lo)
			}
			if v+1 < 1<<b.n {
				if hi := bucketStart(nil, i, b, v+1); string(k) >= string(hi) {
					t.Fatalf("key %x sorts after the next bucket's start %x", k, hi)
				}
			}
		}
		if _, _, err := decodeMIHKey(junk, bs); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
	})
}

func FuzzDecodeKeyList(f *testing.F) {
	f.Add(encodeKeyList([]string{"a", "bb", ""}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := decodeKeyList(b)
		if err != nil {
			return
		}
		if string(encodeKeyList(keys)) != string(b) {
			if k2, err := decodeKeyList(encodeKeyList(keys)); err != nil || len(k2) != len(keys) {
				t.Fatalf("%x: round trip failed", b)
			}
		}
	})
}
