package dedup

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"

	badger "github.com/dgraph-io/badger/v4"
)

// Stats describes an index: what is on disk, and what this Index has
// answered since Open.
type Stats struct {
	Dir   string
	Epoch uint64
	// Radius the index was built for, and its number of multi-index bands.
	BuiltRadius, Bands int

	// Records on disk, pending and committed alike.
	URLs, Exact, Pairs, PHashes, BucketEntries int64
	// Committed sample keys, and shards prepared but not yet committed.
	Committed, PreparedShards int64
	// DiskBytes is the size of all files in Dir.
	DiskBytes int64

	// Since Open.
	Checks, Kept int64
	Duplicates   map[Kind]int64
}

// Stats counts the records on disk (a key-only scan of the whole index:
// about a second per ten million records) and the files' size.
func (x *Index) Stats(ctx context.Context) (Stats, error) {
	if x.closed.Load() {
		return Stats{}, ErrClosed
	}
	st := Stats{
		Dir: x.dir, Epoch: x.epoch, BuiltRadius: x.built, Bands: len(x.bands),
		Checks: x.checks.Load(), Kept: x.kept.Load(), Duplicates: map[Kind]int64{},
	}
	for k := KindURL; k <= KindNear; k++ {
		st.Duplicates[k] = x.dupCount[k].Load()
	}
	counters := map[byte]*int64{
		famURL: &st.URLs, famExact: &st.Exact, famPair: &st.Pairs, famPHash: &st.PHashes,
		famMIH: &st.BucketEntries, famCommitted: &st.Committed, famPrepared: &st.PreparedShards,
	}
	err := x.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		n := 0
		for it.Rewind(); it.Valid(); it.Next() {
			if n++; n%65536 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if c := counters[it.Item().Key()[0]]; c != nil {
				*c++
			}
		}
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("dedup: stats of %s: %w", x.dir, err)
	}
	err = filepath.WalkDir(x.dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			st.DiskBytes += info.Size()
		}
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("dedup: stats of %s: %w", x.dir, err)
	}
	return st, nil
}
