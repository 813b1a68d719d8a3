package dedup

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// writeLayoutV1 writes an index as layout version 1 did: radius+1 bands,
// bucket keys 'm', band, the band's bits (whole bytes), the hash. Every
// sample is committed.
func writeLayoutV1(t *testing.T, dir string, radius int, hashes []PHash) {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil).WithMemTableSize(4 << 20).WithValueThreshold(1 << 10))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wb := db.NewWriteBatch()
	defer wb.Cancel()
	set := func(k, v []byte) {
		if err := wb.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	set(metaVersion, []byte{1})
	set(metaRadius, []byte{byte(radius)})
	set(metaEpoch, binary.BigEndian.AppendUint64(nil, 1))
	for i, h := range hashes {
		key := fmt.Sprintf("v1-%05d", i)
		set(phashKey(h), encodeEntry(entry{Epoch: 1, Key: key}))
		set(committedKey(key), nil)
		if h.Bits() < DefaultOptions().LowInfoBits {
			continue
		}
		for j, b := range splitBands(radius + 1) {
			nb := int(b.n+7) / 8
			k := []byte{famMIH, byte(j)}
			v := b.sub(h)
			for p := nb - 1; p >= 0; p-- {
				k = append(k, byte(v>>(8*p)))
			}
			set(binary.BigEndian.AppendUint64(k, uint64(h)), nil)
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenLayoutV1: an index written with layout version 1 is refused
// read-only with ErrOldLayout naming the directory, and migrated by a
// read-write Open, after which its near duplicates are found exactly.
func TestOpenLayoutV1(t *testing.T) {
	for _, radius := range []int{4, 8} {
		t.Run(fmt.Sprintf("radius=%d", radius), func(t *testing.T) {
			const seed = 21
			r := rand.New(rand.NewPCG(seed, uint64(radius)))
			var hashes []PHash
			for range 500 {
				hashes = append(hashes, balancedHash(r))
			}
			hashes = append(hashes, 0, 1<<63) // low-information: not in buckets
			dir := t.TempDir()
			writeLayoutV1(t, dir, radius, hashes)

			o := testOptions()
			o.NearRadius = radius
			o.URL, o.Exact, o.Pair = false, false, false
			ro := o
			ro.ReadOnly = true
			if _, err := Open(context.Background(), dir, ro); !errors.Is(err, ErrOldLayout) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("read-only Open of layout 1 = %v, want ErrOldLayout naming %s", err, dir)
			}
			for open := range 2 { // migrate, then reopen the migrated index
				x, err := Open(context.Background(), dir, o)
				if err != nil {
					t.Fatal(err)
				}
				st, err := x.Stats(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if want := int64(500 * autoBands(radius)); st.Bands != autoBands(radius) || st.BucketEntries != want {
					t.Fatalf("open %d: %d bands, %d bucket entries; want %d, %d", open, st.Bands, st.BucketEntries, autoBands(radius), want)
				}
				for q := range 200 {
					h := flipBits(r, hashes[r.IntN(len(hashes))], q%(radius+3))
					best, want := bruteNearest(hashes, h, radius, o.LowInfoBits)
					_, d, ok, err := x.Nearest(context.Background(), h)
					if err != nil || ok != want || (ok && d != best) {
						t.Fatalf("seed %d open %d query %d: index %d/%v (%v), brute force %d/%v", seed, open, q, d, ok, err, best, want)
					}
				}
				x.Close()
			}
		})
	}
}
