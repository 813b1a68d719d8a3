package dedup

import (
	"context"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// Commit marks the samples with these keys as in the dataset: their shard's
// sidecar exists. Their entries then stay live in every later run. Commit
// syncs to disk before it returns. Committing a key twice, or a key that
// was never checked, is harmless.
func (x *Index) Commit(ctx context.Context, keys []string) error {
	if err := x.writable(); err != nil {
		return err
	}
	wb := x.db.NewWriteBatch()
	defer wb.Cancel()
	for i, k := range keys {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if k == "" || len(k) > MaxKeyLen {
			return fmt.Errorf("%w: commit: key of %d bytes", ErrBadSample, len(k))
		}
		if err := wb.Set(committedKey(k), nil); err != nil {
			return fmt.Errorf("dedup: commit in %s: %w", x.dir, err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("dedup: commit in %s: %w", x.dir, err)
	}
	if err := x.db.Sync(); err != nil {
		return fmt.Errorf("dedup: commit in %s: sync: %w", x.dir, err)
	}
	return nil
}

// Prepare records that shard will hold these sample keys. The shard writer
// calls it before it creates the shard's sidecar, and CommitShard after; if
// the process dies between the two, Recover asks the store whether the
// shard made it.
func (x *Index) Prepare(ctx context.Context, shard string, keys []string) error {
	if err := x.writable(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if shard == "" || len(shard) > MaxKeyLen {
		return fmt.Errorf("%w: prepare: shard name of %d bytes", ErrBadSample, len(shard))
	}
	err := x.db.Update(func(txn *badger.Txn) error {
		return txn.Set(preparedKey(shard), encodeKeyList(keys))
	})
	if err == nil {
		err = x.db.Sync()
	}
	if err != nil {
		return fmt.Errorf("dedup: prepare %s in %s: %w", shard, x.dir, err)
	}
	return nil
}

// CommitShard commits the keys a Prepare recorded for shard and forgets the
// preparation. A shard that was not prepared is an error wrapping
// ErrBadSample.
func (x *Index) CommitShard(ctx context.Context, shard string) error {
	keys, err := x.prepared(shard)
	if err != nil {
		return err
	}
	if keys == nil {
		return fmt.Errorf("%w: commit shard %s: not prepared", ErrBadSample, shard)
	}
	if err := x.Commit(ctx, keys); err != nil {
		return err
	}
	return x.dropPrepared(shard)
}

// Recover settles shards that were prepared but neither committed nor
// dropped, which only a crash leaves behind. For each, committed reports
// whether the shard's sidecar exists in the store: if so its keys are
// committed, if not the preparation is dropped and its samples, still
// pending from an old epoch, block nothing. Call it after Open and before
// the first Check. It returns how many shards it committed and dropped.
func (x *Index) Recover(ctx context.Context, committed func(ctx context.Context, shard string) (bool, error)) (nCommitted, nDropped int, err error) {
	if err := x.writable(); err != nil {
		return 0, 0, err
	}
	var shards []string
	err = x.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{famPrepared}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			shards = append(shards, string(it.Item().Key()[1:]))
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("dedup: recover in %s: %w", x.dir, err)
	}
	for _, s := range shards {
		ok, err := committed(ctx, s)
		if err != nil {
			return nCommitted, nDropped, fmt.Errorf("dedup: recover shard %s: %w", s, err)
		}
		if ok {
			if err := x.CommitShard(ctx, s); err != nil {
				return nCommitted, nDropped, err
			}
			nCommitted++
			continue
		}
		if err := x.dropPrepared(s); err != nil {
			return nCommitted, nDropped, err
		}
		nDropped++
	}
	return nCommitted, nDropped, nil
}

func (x *Index) prepared(shard string) ([]string, error) {
	var keys []string
	err := x.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(preparedKey(shard))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error {
			keys, err = decodeKeyList(v)
			if keys == nil && err == nil {
				keys = []string{}
			}
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("dedup: shard %s in %s: %w", shard, x.dir, err)
	}
	return keys, nil
}

func (x *Index) dropPrepared(shard string) error {
	err := x.db.Update(func(txn *badger.Txn) error { return txn.Delete(preparedKey(shard)) })
	if err != nil {
		return fmt.Errorf("dedup: drop prepared shard %s in %s: %w", shard, x.dir, err)
	}
	return nil
}

func (x *Index) writable() error {
	if x.closed.Load() {
		return ErrClosed
	}
	if x.opts.ReadOnly {
		return ErrReadOnly
	}
	return nil
}
