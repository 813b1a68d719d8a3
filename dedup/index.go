package dedup

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/bits-and-blooms/bloom/v3"
	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Kind says why a sample is a duplicate.
type Kind uint8

const (
	KindNone  Kind = iota // not a duplicate
	KindURL               // same normalised image URL
	KindExact             // same SHA-256 of the image bytes
	KindPair              // same normalised caption and same image bytes
	KindNear              // pHash within the near-duplicate radius
)

var kindNames = [...]string{"none", "url", "exact", "pair", "near"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Sample is what Check needs to know about one crawled sample.
type Sample struct {
	// Key is the sample's key in the dataset (unique, at most MaxKeyLen
	// bytes). Verdicts name originals by it, and Commit takes it.
	Key string
	// URL of the image; empty skips the URL kind for this sample.
	URL string
	// Caption, for the pair kind.
	Caption string
	// SHA256 of the stored image bytes; zero skips the exact and pair kinds.
	SHA256 SHA256
	// PHash of the decoded image (ComputePHash), used when HasPHash is set.
	PHash    PHash
	HasPHash bool
}

// Verdict is Check's answer.
type Verdict struct {
	// Keep is true when the sample is new; it has then been recorded.
	Keep bool
	// Kind of duplicate when Keep is false.
	Kind Kind
	// Original is the key of the sample this one duplicates.
	Original string
	// Distance is the Hamming distance to the original's pHash (KindNear).
	Distance int
}

// Index is the persistent duplicate index. It is safe for concurrent use.
type Index struct {
	dir    string
	opts   Options
	db     *badger.DB
	epoch  uint64
	radius int // query radius (Options.NearRadius)
	built  int // radius the index was created with

	bands     []band     // the stored multi-index bands ("Mbands" of them)
	probes    [][]uint64 // per band, the masks a query at radius probes
	lockBands []band     // radius+1 pigeonhole bands the lock stripes use

	locks [lockStripes]sync.Mutex
	seed  maphash.Seed

	bloomMu sync.Mutex
	bloom   *bloom.BloomFilter // nil when Options.Bloom is off

	closed   atomic.Bool
	checks   atomic.Int64
	kept     atomic.Int64
	dupCount [5]atomic.Int64
}

const lockStripes = 1024

// Open opens (creating it if needed) the index in dir. It fails with
// ErrLocked when another process holds dir, and with ErrCorrupt when dir
// holds files that cannot be read as an index; both errors name dir.
//
// Each writable Open starts a new epoch: entries recorded by earlier runs
// count only once Commit has marked their sample (see the package
// documentation).
func Open(ctx context.Context, dir string, opts Options) (*Index, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bo := badger.DefaultOptions(dir).
		WithLogger(badgerLogger{log}).
		WithReadOnly(opts.ReadOnly).
		WithSyncWrites(opts.SyncWrites).
		WithDetectConflicts(false). // Check serialises on lock stripes instead
		WithNumVersionsToKeep(1).
		WithMemTableSize(opts.MemTableSize).
		WithBlockCacheSize(opts.BlockCacheSize).
		WithIndexCacheSize(16 << 20).
		WithValueThreshold(1 << 10).
		WithCompactL0OnClose(true).
		WithChecksumVerificationMode(options.OnTableRead)
	if opts.ReadOnly {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("dedup: open index %s: %w", dir, err)
		}
	}
	if err := checkTables(dir); err != nil {
		return nil, err
	}
	db, err := openBadger(bo)
	if err != nil {
		return nil, classifyOpenError(dir, err)
	}
	x := &Index{dir: dir, opts: opts, db: db, radius: opts.NearRadius, seed: maphash.MakeSeed()}
	if err := x.initMeta(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if opts.Bloom {
		if err := x.loadBloom(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	return x, nil
}

// openBadger turns a panic inside badger.Open (it has some on damaged
// files) into an error.
func openBadger(bo badger.Options) (db *badger.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("%w: badger panicked: %v", ErrCorrupt, r)
		}
	}()
	return badger.Open(bo)
}

func classifyOpenError(dir string, err error) error {
	switch {
	case errors.Is(err, ErrCorrupt):
		return fmt.Errorf("dedup: open index %s: %w", dir, err)
	case strings.Contains(err.Error(), "Cannot acquire directory lock"),
		strings.Contains(err.Error(), "resource temporarily unavailable"):
		return fmt.Errorf("%w: %s: %w", ErrLocked, dir, err)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("dedup: open index %s: %w", dir, err)
	default:
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, dir, err)
	}
}

// initMeta checks or writes the layout version, radius, band count and
// low-information threshold, migrates a version 1 layout, and starts a new
// epoch.
func (x *Index) initMeta(ctx context.Context) error {
	var version, radius, nbands, epoch, lowInfo []byte
	err := x.db.View(func(txn *badger.Txn) error {
		var err error
		if version, err = getCopy(txn, metaVersion); err != nil {
			return err
		}
		if radius, err = getCopy(txn, metaRadius); err != nil {
			return err
		}
		if nbands, err = getCopy(txn, metaBands); err != nil {
			return err
		}
		if lowInfo, err = getCopy(txn, metaLowInfo); err != nil {
			return err
		}
		epoch, err = getCopy(txn, metaEpoch)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: %s: read meta: %w", ErrCorrupt, x.dir, err)
	}
	fresh := version == nil
	switch {
	case fresh && x.opts.ReadOnly:
		x.setLayout(x.radius, x.newBands(x.radius))
		return nil
	case fresh:
		if !x.isEmpty() {
			return fmt.Errorf("%w: %s: Badger store without dedup meta", ErrCorrupt, x.dir)
		}
		radius = []byte{byte(x.radius)}
	case len(version) != 1 || (version[0] != layoutVersion && version[0] != 1):
		return fmt.Errorf("%w: %s: layout version %x, want %d", ErrCorrupt, x.dir, version, layoutVersion)
	case len(radius) != 1 || int(radius[0]) > MaxRadius:
		return fmt.Errorf("%w: %s: bad stored radius %x", ErrCorrupt, x.dir, radius)
	case len(epoch) != 8:
		return fmt.Errorf("%w: %s: bad stored epoch %x", ErrCorrupt, x.dir, epoch)
	case lowInfo != nil && (len(lowInfo) != 1 || int(lowInfo[0]) > 32-MaxRadius):
		return fmt.Errorf("%w: %s: bad stored low-information threshold %x", ErrCorrupt, x.dir, lowInfo)
	}
	// The buckets hold exactly the hashes with at least LowInfoBits bits
	// set; a query with another threshold would look for some in the wrong
	// place and miss them.
	if lowInfo != nil && int(lowInfo[0]) != x.opts.LowInfoBits {
		return fmt.Errorf("%w: %s was built with LowInfoBits %d, asked for %d (the threshold of an index cannot change)",
			ErrBadOptions, x.dir, lowInfo[0], x.opts.LowInfoBits)
	}
	built := int(radius[0])
	if x.radius > built {
		return fmt.Errorf("%w: %s was built for radius %d, asked for %d", ErrRadiusTooLarge, x.dir, built, x.radius)
	}
	migrate := !fresh && version[0] == 1
	m := x.newBands(built)
	switch {
	case migrate && x.opts.ReadOnly:
		return fmt.Errorf("%w: %s has layout version 1 (radius+1 bucket bands); open it once read-write to migrate it to version %d",
			ErrOldLayout, x.dir, layoutVersion)
	case migrate, fresh:
	case len(nbands) != 1 || checkBands(int(nbands[0]), built) != nil:
		return fmt.Errorf("%w: %s: bad stored band count %x for radius %d", ErrCorrupt, x.dir, nbands, built)
	default:
		m = int(nbands[0])
	}
	x.setLayout(built, m)
	if epoch != nil {
		x.epoch = binary.BigEndian.Uint64(epoch)
	}
	if x.opts.ReadOnly {
		return nil
	}
	if migrate {
		if err := x.migrateV1(ctx); err != nil {
			return err
		}
	}
	x.epoch++
	err = x.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(metaVersion, []byte{layoutVersion}); err != nil {
			return err
		}
		if err := txn.Set(metaRadius, radius); err != nil {
			return err
		}
		if err := txn.Set(metaBands, []byte{byte(m)}); err != nil {
			return err
		}
		// An index from before the threshold was stored takes the one it
		// is opened with now: the caller's word for what it was built with.
		if err := txn.Set(metaLowInfo, []byte{byte(x.opts.LowInfoBits)}); err != nil {
			return err
		}
		return txn.Set(metaEpoch, binary.BigEndian.AppendUint64(nil, x.epoch))
	})
	if err == nil {
		err = x.db.Sync()
	}
	if err != nil {
		return fmt.Errorf("dedup: %s: write meta: %w", x.dir, err)
	}
	return nil
}

// newBands is the band count a new index built for radius r gets.
func (x *Index) newBands(r int) int {
	if x.opts.NearBands != 0 {
		return x.opts.NearBands
	}
	return autoBands(r)
}

func (x *Index) setLayout(built, m int) {
	x.built = built
	x.bands = splitBands(m)
	x.probes = probeMasks(x.bands, x.radius)
	x.lockBands = splitBands(x.radius + 1)
}

// migrateV1 rebuilds the multi-index buckets of a layout version 1 index
// (radius+1 bands, band bits then hash in the key) from its pHash records.
// It is idempotent: a crash part way leaves version 1 in the meta, and the
// next Open drops every bucket key and starts again.
func (x *Index) migrateV1(ctx context.Context) error {
	log := x.opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log.Info("dedup: migrating index to layout version 2", "dir", x.dir, "bands", len(x.bands))
	if err := x.db.DropPrefix([]byte{famMIH}); err != nil {
		return fmt.Errorf("dedup: %s: migrate layout 1: drop buckets: %w", x.dir, err)
	}
	wb := x.db.NewWriteBatch()
	defer wb.Cancel()
	n := 0
	err := x.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{famPHash}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if n++; n%65536 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			k := it.Item().Key()
			if len(k) != 9 {
				return fmt.Errorf("%w: pHash key %x", ErrCorrupt, k)
			}
			h := PHash(binary.BigEndian.Uint64(k[1:]))
			if h.Bits() < x.opts.LowInfoBits {
				continue
			}
			for i, b := range x.bands {
				if err := wb.Set(mihKey(i, b, h), nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil {
		err = wb.Flush()
	}
	if err != nil {
		return fmt.Errorf("dedup: %s: migrate layout 1: %w", x.dir, err)
	}
	log.Info("dedup: migrated index to layout version 2", "dir", x.dir, "phashes", n)
	return nil
}

func (x *Index) isEmpty() bool {
	empty := true
	_ = x.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		it.Rewind()
		empty = !it.Valid()
		return nil
	})
	return empty
}

func getCopy(txn *badger.Txn, k []byte) ([]byte, error) {
	it, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return it.ValueCopy(nil)
}

// Close flushes and closes the index. Pending (uncommitted) entries stay on
// disk but stop blocking anything once the index is reopened.
func (x *Index) Close() error {
	if !x.closed.CompareAndSwap(false, true) {
		return nil
	}
	if err := x.db.Close(); err != nil {
		return fmt.Errorf("dedup: close index %s: %w", x.dir, err)
	}
	return nil
}

// Dir returns the directory the index was opened on.
func (x *Index) Dir() string { return x.dir }

// Epoch returns this run's epoch: 1 for the first writable Open of a
// directory, one more for each later one.
func (x *Index) Epoch() uint64 { return x.epoch }

// Check looks sample s up and, if it duplicates nothing live, records it as
// pending under every enabled kind, atomically: of concurrent Checks of
// samples that duplicate each other, exactly one is kept. Kinds are tried
// in the order URL, exact, pair, near; the verdict names the first that
// matched. A sample that duplicates something is not recorded.
func (x *Index) Check(ctx context.Context, s Sample) (Verdict, error) {
	if x.closed.Load() {
		return Verdict{}, ErrClosed
	}
	if x.opts.ReadOnly {
		return Verdict{}, fmt.Errorf("check %q: %w", s.Key, ErrReadOnly)
	}
	if err := ctx.Err(); err != nil {
		return Verdict{}, err
	}
	p, err := x.plan(s)
	if err != nil {
		return Verdict{}, err
	}
	x.lock(p.stripes)
	defer x.unlock(p.stripes)

	var v Verdict
	err = x.db.Update(func(txn *badger.Txn) error {
		var err error
		v, err = x.lookup(txn, p, nil)
		if err != nil || !v.Keep {
			return err
		}
		return x.record(txn, p)
	})
	if err != nil {
		return Verdict{}, fmt.Errorf("dedup: check %q in %s: %w", s.Key, x.dir, err)
	}
	x.checks.Add(1)
	if v.Keep {
		x.kept.Add(1)
		x.bloomAdd(p)
	} else {
		x.dupCount[v.Kind].Add(1)
	}
	return v, nil
}

// plan is everything Check derives from a sample before touching the store.
type plan struct {
	s       Sample
	url     []byte // nil when the kind is off or the sample has no URL
	exact   []byte
	pair    []byte
	near    bool
	lowInfo bool
	stripes []int
}

func (x *Index) plan(s Sample) (plan, error) {
	p := plan{s: s}
	if s.Key == "" || len(s.Key) > MaxKeyLen {
		return p, fmt.Errorf("%w: key of %d bytes (want 1..%d)", ErrBadSample, len(s.Key), MaxKeyLen)
	}
	if x.opts.URL && s.URL != "" {
		h, err := URLHash(s.URL)
		if err != nil {
			return p, fmt.Errorf("sample %q: %w", s.Key, err)
		}
		p.url = hashKey(famURL, h)
	}
	if !s.SHA256.IsZero() {
		if x.opts.Exact {
			p.exact = hashKey(famExact, s.SHA256)
		}
		if x.opts.Pair {
			p.pair = hashKey(famPair, PairHash(s.Caption, s.SHA256))
		}
	}
	if x.opts.Near && s.HasPHash {
		p.near = true
		p.lowInfo = s.PHash.Bits() < x.opts.LowInfoBits
	}
	// Lock stripes: every point key, and for the near kind each of the
	// radius+1 pigeonhole bands' values. Two hashes within the radius agree
	// on one of those bands, so their Checks serialise; equal hashes share
	// the pHash record.
	var fps []uint64
	for _, k := range [][]byte{p.url, p.exact, p.pair} {
		if k != nil {
			fps = append(fps, maphash.Bytes(x.seed, k))
		}
	}
	if p.near {
		fps = append(fps, maphash.Bytes(x.seed, phashKey(s.PHash)))
		if !p.lowInfo {
			var k []byte
			for i, b := range x.lockBands {
				k = lockKey(k, i, b, s.PHash)
				fps = append(fps, maphash.Bytes(x.seed, k))
			}
		}
	}
	p.stripes = make([]int, len(fps))
	for i, f := range fps {
		p.stripes[i] = int(f % lockStripes)
	}
	slices.Sort(p.stripes)
	p.stripes = slices.Compact(p.stripes)
	return p, nil
}

func (x *Index) lock(stripes []int) {
	for _, i := range stripes {
		x.locks[i].Lock()
	}
}

func (x *Index) unlock(stripes []int) {
	for _, i := range slices.Backward(stripes) {
		x.locks[i].Unlock()
	}
}

// lookup answers the verdict without writing. mem, when not nil, holds the
// samples an unfinished CheckBatch chunk has kept: they count as recorded.
func (x *Index) lookup(txn *badger.Txn, p plan, mem *batchMem) (Verdict, error) {
	for _, c := range []struct {
		key  []byte
		kind Kind
	}{{p.url, KindURL}, {p.exact, KindExact}, {p.pair, KindPair}} {
		if c.key == nil {
			continue
		}
		if k, ok := mem.point(c.key); ok {
			return Verdict{Kind: c.kind, Original: k}, nil
		}
		if !x.bloomMayHave(c.key) {
			continue
		}
		e, ok, err := x.liveEntry(txn, c.key)
		if err != nil {
			return Verdict{}, err
		}
		if ok {
			return Verdict{Kind: c.kind, Original: e.Key}, nil
		}
	}
	if p.near {
		e, d, ok, err := x.nearest(txn, p.s.PHash, p.lowInfo)
		if err != nil {
			return Verdict{}, err
		}
		if k, md, mok := mem.nearest(p.s.PHash, p.lowInfo, x.radius); mok && (!ok || md < d) {
			e, d, ok = entry{Key: k}, md, true
		}
		if ok {
			return Verdict{Kind: KindNear, Original: e.Key, Distance: d}, nil
		}
	}
	return Verdict{Keep: true}, nil
}

// liveEntry reads the entry at k and reports whether it is live: recorded
// in this run's epoch, or by a sample whose shard has committed.
func (x *Index) liveEntry(txn *badger.Txn, k []byte) (entry, bool, error) {
	it, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return entry{}, false, nil
	}
	if err != nil {
		return entry{}, false, err
	}
	var e entry
	err = it.Value(func(v []byte) error {
		var err error
		e, err = decodeEntry(v)
		return err
	})
	if err != nil {
		return entry{}, false, fmt.Errorf("key %x: %w", k, err)
	}
	if e.Epoch == x.epoch {
		return e, true, nil
	}
	_, err = txn.Get(committedKey(e.Key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return e, false, nil
	}
	if err != nil {
		return entry{}, false, err
	}
	return e, true, nil
}

// nearest finds the live stored pHash closest to h within the radius. A
// low-information h is matched only exactly. Bucket search: see mih.go.
func (x *Index) nearest(txn *badger.Txn, h PHash, lowInfo bool) (entry, int, bool, error) {
	if e, ok, err := x.liveEntry(txn, phashKey(h)); err != nil || ok {
		return e, 0, ok, err
	}
	if lowInfo || x.radius == 0 {
		return entry{}, 0, false, nil
	}
	var (
		best  entry
		bestD = x.radius + 1
		seen  map[PHash]bool // candidates looked up and found stale
		key   = make([]byte, 0, 10)
		pvs   []uint64
	)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{famMIH}})
	defer it.Close()
	// Probes go in key order, band by band and by value within a band, so
	// the iterator only moves forward, and a probe below where the last
	// seek or scan stopped is an empty bucket that needs no seek (most of
	// them while the index is small).
	for i, b := range x.bands {
		v := b.sub(h)
		pvs = pvs[:0]
		for _, mask := range x.probes[i] {
			pvs = append(pvs, v^mask)
		}
		slices.Sort(pvs)
		sought := false
		for _, pv := range pvs {
			if sought {
				if !it.Valid() {
					return best, bestD, bestD <= x.radius, nil // no more buckets
				}
				k := it.Item().Key()
				if len(k) != 10 {
					return entry{}, 0, false, fmt.Errorf("%w: bucket key %x", ErrCorrupt, k)
				}
				if int(k[1]) > i || binary.BigEndian.Uint64(k[2:])>>(64-b.n) > pv {
					continue // the bucket of pv is empty
				}
			}
			it.Seek(bucketStart(key, i, b, pv))
			sought = true
			for ; it.Valid(); it.Next() {
				k := it.Item().Key()
				if len(k) < 2 || k[1] != byte(i) {
					break
				}
				c, cv, err := decodeMIHKey(k, x.bands)
				if err != nil {
					return entry{}, 0, false, err
				}
				if cv != pv {
					break
				}
				d := h.Distance(c)
				if d >= bestD || d == 0 || seen[c] {
					continue
				}
				e, ok, err := x.liveEntry(txn, phashKey(c))
				if err != nil {
					return entry{}, 0, false, err
				}
				if !ok {
					if seen == nil {
						seen = map[PHash]bool{}
					}
					seen[c] = true
					continue
				}
				best, bestD = e, d
				if d == 1 { // distance 0 was the exact record
					return best, bestD, true, nil
				}
			}
		}
	}
	return best, bestD, bestD <= x.radius, nil
}

// record writes the sample's keys as pending in this epoch.
func (x *Index) record(txn *badger.Txn, p plan) error { return x.recordTo(txn.Set, p) }

// recordTo writes the sample's keys through set.
func (x *Index) recordTo(set func(k, v []byte) error, p plan) error {
	val := encodeEntry(entry{Epoch: x.epoch, Key: p.s.Key})
	for _, k := range [][]byte{p.url, p.exact, p.pair} {
		if k != nil {
			if err := set(k, val); err != nil {
				return err
			}
		}
	}
	if !p.near {
		return nil
	}
	if err := set(phashKey(p.s.PHash), val); err != nil {
		return err
	}
	if p.lowInfo {
		return nil
	}
	for i, b := range x.bands {
		if err := set(mihKey(i, b, p.s.PHash), nil); err != nil {
			return err
		}
	}
	return nil
}

// Nearest returns the key and distance of the live stored pHash closest to
// h within the index's radius, without recording anything. ok is false
// when there is none. A low-information h is matched only exactly.
func (x *Index) Nearest(ctx context.Context, h PHash) (key string, distance int, ok bool, err error) {
	if x.closed.Load() {
		return "", 0, false, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return "", 0, false, err
	}
	err = x.db.View(func(txn *badger.Txn) error {
		e, d, found, err := x.nearest(txn, h, h.Bits() < x.opts.LowInfoBits)
		key, distance, ok = e.Key, d, found
		return err
	})
	if err != nil {
		return "", 0, false, fmt.Errorf("dedup: nearest %s in %s: %w", h, x.dir, err)
	}
	if !ok {
		return "", 0, false, nil
	}
	return key, distance, true, nil
}
