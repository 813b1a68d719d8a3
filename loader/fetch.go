package loader

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
)

// budget admits blocks while the bytes they hold stay under a limit. A
// block is always admitted when none is resident, so a block larger than
// the whole budget still makes progress (alone).
type budget struct {
	mu       sync.Mutex
	limit    int64
	used     int64
	resident int
	changed  chan struct{}
}

func newBudget(limit int64) *budget { return &budget{limit: limit, changed: make(chan struct{})} }

func (b *budget) acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.resident == 0 || b.used+n <= b.limit {
			b.used += n
			b.resident++
			b.mu.Unlock()
			return nil
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.resident--
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

// shardData is a fetched, verified and parsed shard; recs is nil when the
// shard could not be read (it is skipped).
type shardData struct {
	recs []*shardwriter.Record
}

// block is one block of the epoch order on its way through the pipeline.
type block struct {
	idx    int
	lo, hi int64 // global index range
	slots  []int // flat shard index per slot
	perm   []int32
	pre    []int64
	uniq   map[int]int // flat shard index → position in data
	data   []shardData
	cost   int64
	ready  chan struct{} // closed when every shard of the block is fetched or given up
	left   atomic.Int32  // fetches not finished
	refs   atomic.Int64  // producer hold + tasks in flight
	onFree func()
}

// at returns (slot position in block, sample in shard) of global index i.
func (b *block) at(i int64) (slot, sample int) { return locate(b.pre, b.perm[i-b.lo]) }

func (b *block) unref() {
	if b.refs.Add(-1) == 0 {
		b.data = nil
		b.onFree()
	}
}

// shardCost is what a resident shard is charged against the memory budget:
// its compressed bytes (held while it is verified and parsed) plus its
// uncompressed tar bytes (the parsed records).
func shardCost(sc *shardwriter.Sidecar) int64 { return sc.Bytes + sc.TarBytes }

// fetchShard reads, verifies and parses one shard, retrying storage errors
// and mismatches; a shard that stays unreadable is logged, counted and
// returned with nil records.
func (l *Loader) fetchShard(ctx context.Context, sh *shardEntry) shardData {
	l.met.fetchesInFlight.Add(1)
	defer l.met.fetchesInFlight.Add(-1)
	var err error
	backoff := l.cfg.RetryBackoff
	for attempt := 0; ; attempt++ {
		var raw []byte
		raw, err = l.readVerified(ctx, sh)
		if err == nil {
			var recs []*shardwriter.Record
			recs, err = parseShard(sh.sc, raw)
			if err == nil {
				l.met.shardsFetched.Add(1)
				return shardData{recs: recs}
			}
			break // the bytes are the committed ones: retrying cannot help
		}
		if ctx.Err() != nil {
			return shardData{}
		}
		if errors.Is(err, storage.ErrNotExist) || attempt >= l.cfg.Retries {
			break
		}
		l.met.fetchRetries.Add(1)
		l.log.Debug("loader: retrying shard", "shard", sh.name(), "attempt", attempt+1, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return shardData{}
		}
		backoff = min(backoff*2, 5*time.Second)
	}
	l.met.shardsSkipped.Add(1)
	l.log.Warn("loader: skipping unreadable shard", "shard", sh.name(), "samples", sh.sc.Samples, "err", err)
	return shardData{}
}

// readVerified returns the shard's bytes, from the disk cache or the store,
// checked against the sidecar's size and SHA-256.
func (l *Loader) readVerified(ctx context.Context, sh *shardEntry) ([]byte, error) {
	if l.cache != nil {
		if raw, ok := l.cache.get(sh.cacheName()); ok {
			if verify(sh.sc, raw) == nil {
				l.met.cacheHits.Add(1)
				return raw, nil
			}
			l.cache.remove(sh.cacheName())
		}
	}
	src := l.srcs[sh.src]
	rc, err := src.store.Get(ctx, shardwriter.ShardsDir+sh.sc.Shard)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := bytes.NewBuffer(make([]byte, 0, sh.sc.Bytes+1))
	n, err := io.Copy(buf, io.LimitReader(rc, sh.sc.Bytes+1))
	l.met.bytes.Add(n)
	if err != nil {
		return nil, fmt.Errorf("read shard %s: %w", sh.sc.Shard, err)
	}
	raw := buf.Bytes()
	if err := verify(sh.sc, raw); err != nil {
		return nil, err
	}
	if l.cache != nil {
		l.cache.put(sh.cacheName(), raw)
	}
	return raw, nil
}

func verify(sc *shardwriter.Sidecar, raw []byte) error {
	if int64(len(raw)) != sc.Bytes {
		return fmt.Errorf("%w: shard %s: %d bytes, sidecar says %d", shardwriter.ErrCorrupt, sc.Shard, len(raw), sc.Bytes)
	}
	sum := sha256.Sum256(raw)
	if got := hex.EncodeToString(sum[:]); got != sc.SHA256 {
		return fmt.Errorf("%w: shard %s: sha256 %s, sidecar says %s", shardwriter.ErrCorrupt, sc.Shard, got, sc.SHA256)
	}
	return nil
}

// parseShard splits a verified shard into its records. The count must
// match the sidecar, since the epoch order was computed from it.
func parseShard(sc *shardwriter.Sidecar, raw []byte) ([]*shardwriter.Record, error) {
	r, err := shardwriter.NewReader(sc.Shard, bytes.NewReader(raw), shardwriter.ReaderOptions{})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	recs := make([]*shardwriter.Record, 0, sc.Samples)
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(recs) == sc.Samples {
			return nil, fmt.Errorf("%w: shard %s has more samples than its sidecar's %d", shardwriter.ErrCorrupt, sc.Shard, sc.Samples)
		}
		recs = append(recs, rec)
	}
	if len(recs) != sc.Samples {
		return nil, fmt.Errorf("%w: shard %s: %d samples, sidecar says %d", shardwriter.ErrCorrupt, sc.Shard, len(recs), sc.Samples)
	}
	return recs, nil
}
