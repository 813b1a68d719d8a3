package dedup

import (
	"fmt"
	"log/slog"
)

// MaxRadius is the largest near-duplicate Hamming radius an index supports.
// At radius 10 a query over 3 bands of 21–22 bits makes about 3,800 bucket
// lookups, which is as slow as an exact index should be allowed to get.
const MaxRadius = 10

// DefaultRadius is the near-duplicate radius of DefaultOptions.
const DefaultRadius = 4

// MaxKeyLen is the longest sample key Check accepts, in bytes.
const MaxKeyLen = 1024

// Options configures an Index. Start from DefaultOptions and change fields.
type Options struct {
	// Kinds switched on. A kind that is off is neither checked nor recorded.
	URL   bool // normalised image URL
	Exact bool // SHA-256 of the stored image bytes
	Near  bool // pHash within NearRadius
	Pair  bool // normalised caption + SHA-256 of the image

	// NearRadius is the Hamming radius (0..MaxRadius) within which two
	// pHashes are near-duplicates. The index remembers the radius it was
	// created with; reopening it with a larger one fails with
	// ErrRadiusTooLarge, a smaller one is fine.
	NearRadius int

	// NearBands is the number of multi-index bands a new index splits the
	// hash into; 0 picks it from the radius (autoBands: radius+1 up to
	// radius 2, then 3). Each query searches each band within a sub-radius
	// (see mih.go), so any count is exact; fewer bands mean more bucket
	// lookups per query and far fewer candidates. It is fixed when the index
	// is created (stored in it): reopening uses the stored count whatever
	// this says. A count whose queries would need more than 16384 lookups at
	// NearRadius is refused.
	NearBands int

	// LowInfoBits: a pHash with fewer bits set than this is a low-information
	// hash (see the package documentation). It is recorded and matched only
	// exactly, never put in the multi-index buckets. Must be at most
	// 32-MaxRadius so that no hash with 32 bits set can be within MaxRadius
	// of a low-information one. An index keeps the value it was built
	// with; opening it with another is an ErrBadOptions error.
	LowInfoBits int

	// Bloom puts an in-memory Bloom filter in front of the URL and SHA-256
	// lookups. It is rebuilt from the index at Open (a key-only scan) and
	// sized for BloomExpected keys at false-positive rate BloomFPRate: about
	// 1.2 MB per million keys at 1%.
	Bloom         bool
	BloomExpected uint
	BloomFPRate   float64

	// SyncWrites makes every Check fsync before it returns. Off by default:
	// the durability protocol does not need it (a record lost in a crash was
	// pending, and its shard cannot have committed), but Commit always syncs.
	SyncWrites bool

	// ReadOnly opens the index for Stats and lookups only; it can share the
	// directory with other read-only openers but not with a writer.
	ReadOnly bool

	// MemTableSize is Badger's memtable size in bytes; Badger keeps up to
	// five in memory, so memory is about 5 × MemTableSize plus the block
	// cache (BlockCacheSize).
	MemTableSize   int64
	BlockCacheSize int64

	// Logger receives Badger's warnings and the index's own notes. Nil
	// discards them.
	Logger *slog.Logger
}

// DefaultOptions returns the options the crawl uses: every kind on, radius 4,
// low-information hashes below 12 bits set, no Bloom filter (no win at 1M;
// see bench/RESULTS.md), 64 MiB memtables, 64 MiB block cache.
func DefaultOptions() Options {
	return Options{
		URL:            true,
		Exact:          true,
		Near:           true,
		Pair:           true,
		NearRadius:     DefaultRadius,
		LowInfoBits:    12,
		Bloom:          false,
		BloomExpected:  10_000_000,
		BloomFPRate:    0.01,
		MemTableSize:   64 << 20,
		BlockCacheSize: 64 << 20,
	}
}

func (o Options) validate() error {
	if o.NearRadius < 0 || o.NearRadius > MaxRadius {
		return fmt.Errorf("%w: NearRadius %d not in 0..%d", ErrBadOptions, o.NearRadius, MaxRadius)
	}
	if o.NearBands != 0 {
		if err := checkBands(o.NearBands, o.NearRadius); err != nil {
			return err
		}
	}
	if o.LowInfoBits < 0 || o.LowInfoBits > 32-MaxRadius {
		return fmt.Errorf("%w: LowInfoBits %d not in 0..%d", ErrBadOptions, o.LowInfoBits, 32-MaxRadius)
	}
	if o.Bloom && (o.BloomExpected == 0 || o.BloomFPRate <= 0 || o.BloomFPRate >= 1) {
		return fmt.Errorf("%w: Bloom needs BloomExpected > 0 and 0 < BloomFPRate < 1", ErrBadOptions)
	}
	if o.MemTableSize < 1<<20 {
		return fmt.Errorf("%w: MemTableSize %d below 1 MiB", ErrBadOptions, o.MemTableSize)
	}
	if o.BlockCacheSize < 0 {
		return fmt.Errorf("%w: negative BlockCacheSize", ErrBadOptions)
	}
	return nil
}
