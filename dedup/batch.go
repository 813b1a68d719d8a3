package dedup

import (
	"context"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// maxChunk is the most samples CheckBatch checks under one set of locks.
const maxChunk = 1024

// CheckBatch checks samples in order, with the verdicts that many calls of
// Check one after another would give: a sample that duplicates an earlier
// one of the batch is its duplicate. It is the bulk path: per chunk of up
// to 1024 samples it takes the lock stripes of all of them, looks them all
// up in one read transaction and records the kept ones in one write
// transaction, so it pays one commit per chunk instead of one per sample.
// The lookups run on one goroutine, and they, not the commits, dominate a
// Check at a million samples: CheckBatch is not faster than Checks from
// parallel goroutines there (bench/RESULTS.md). Check and CheckBatch calls
// running at the same time stay atomic with each other, as Checks do; a
// chunk holds most stripes, so it briefly stalls concurrent Checks.
//
// Every sample is validated before any is checked: a bad one fails the
// whole batch with ErrBadSample and nothing is recorded. On a later error
// the verdicts of the chunks already recorded are returned with it; the
// chunk that failed recorded nothing.
func (x *Index) CheckBatch(ctx context.Context, samples []Sample) ([]Verdict, error) {
	if err := x.writable(); err != nil {
		return nil, err
	}
	plans := make([]plan, len(samples))
	for i, s := range samples {
		p, err := x.plan(s)
		if err != nil {
			return nil, err
		}
		plans[i] = p
	}
	// Keep a chunk's writes within half of one Badger transaction's limit
	// (15% of a memtable); recordSize overestimates each entry.
	budget := 15 * x.opts.MemTableSize / 100 / 2
	out := make([]Verdict, 0, len(samples))
	for len(plans) > 0 {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		n, size := 0, int64(0)
		for n < len(plans) && n < maxChunk {
			sz := x.recordSize(plans[n])
			if n > 0 && size+sz > budget {
				break
			}
			n, size = n+1, size+sz
		}
		vs, err := x.checkChunk(plans[:n])
		if err != nil {
			return out, fmt.Errorf("dedup: check batch of %d in %s: %w", len(samples), x.dir, err)
		}
		out = append(out, vs...)
		plans = plans[n:]
	}
	return out, nil
}

// checkChunk checks and records plans as one unit: the stripes of all of
// them held throughout, lookups in one snapshot (which sees every write
// finished before the locks were taken, and the chunk's own kept samples
// through batchMem), then one write transaction.
func (x *Index) checkChunk(plans []plan) ([]Verdict, error) {
	var held [lockStripes]bool
	for _, p := range plans {
		for _, i := range p.stripes {
			held[i] = true
		}
	}
	// In increasing order, as every Check takes them.
	var stripes []int
	for i, h := range held {
		if h {
			stripes = append(stripes, i)
		}
	}
	x.lock(stripes)
	defer x.unlock(stripes)

	vs := make([]Verdict, len(plans))
	mem := &batchMem{points: map[string]string{}}
	err := x.db.View(func(txn *badger.Txn) error {
		for i, p := range plans {
			v, err := x.lookup(txn, p, mem)
			if err != nil {
				return fmt.Errorf("sample %q: %w", p.s.Key, err)
			}
			vs[i] = v
			if v.Keep {
				mem.add(p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = x.db.Update(func(txn *badger.Txn) error {
		for i, p := range plans {
			if vs[i].Keep {
				if err := x.record(txn, p); err != nil {
					return fmt.Errorf("sample %q: %w", p.s.Key, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, p := range plans {
		x.checks.Add(1)
		if vs[i].Keep {
			x.kept.Add(1)
			x.bloomAdd(p)
		} else {
			x.dupCount[vs[i].Kind].Add(1)
		}
	}
	return vs, nil
}

// recordSize overestimates what recording p adds to a Badger transaction:
// each entry's key and value plus 128 bytes, more than Badger's per-entry
// overhead and skiplist node, so that a chunk within the byte budget is
// also within Badger's entry count limit.
func (x *Index) recordSize(p plan) int64 {
	const overhead = 128
	val := int64(1 + 10 + len(p.s.Key))
	var n int64
	for _, k := range [][]byte{p.url, p.exact, p.pair} {
		if k != nil {
			n += int64(len(k)) + val + overhead
		}
	}
	if p.near {
		n += 9 + val + overhead
		if !p.lowInfo {
			n += int64(len(x.bands)) * (10 + overhead)
		}
	}
	return n
}

// batchMem is what a CheckBatch chunk has kept so far, not yet written.
type batchMem struct {
	points map[string]string // URL, exact, pair and pHash keys → sample key
	near   []nearRec         // kept hashes that go into buckets
}

type nearRec struct {
	h   PHash
	key string
}

func (m *batchMem) add(p plan) {
	for _, k := range [][]byte{p.url, p.exact, p.pair} {
		if k != nil {
			m.points[string(k)] = p.s.Key
		}
	}
	if p.near {
		m.points[string(phashKey(p.s.PHash))] = p.s.Key
		if !p.lowInfo {
			m.near = append(m.near, nearRec{p.s.PHash, p.s.Key})
		}
	}
}

func (m *batchMem) point(k []byte) (string, bool) {
	if m == nil {
		return "", false
	}
	s, ok := m.points[string(k)]
	return s, ok
}

// nearest is Index.nearest over the chunk's kept hashes, by linear scan.
func (m *batchMem) nearest(h PHash, lowInfo bool, radius int) (string, int, bool) {
	if k, ok := m.point(phashKey(h)); ok {
		return k, 0, true
	}
	if m == nil || lowInfo || radius == 0 {
		return "", 0, false
	}
	best, bestD := "", radius+1
	for _, r := range m.near {
		if d := h.Distance(r.h); d < bestD {
			best, bestD = r.key, d
		}
	}
	return best, bestD, bestD <= radius
}
