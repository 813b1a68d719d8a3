package dedup

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// The page log: a page crawl's frontier and the pages it fetched, so that a
// rerun of an interrupted crawl continues it (the crawl package's PageLog,
// which *Index implements without either package importing the other).
// Keys are famPage + SHA-256 of the normalised page URL; a value is: format
// byte 1, the state (pageQueued or pageDone), the depth (uvarint), the URL
// as queued (uvarint length, bytes), and for a done page the crawl's record
// of its pairs (the rest).
const (
	famPage    = 'g'
	pageFormat = 1
	pageQueued = 'q'
	pageDone   = 'd'
	// maxPageURL bounds a page URL in the log.
	maxPageURL = 1 << 16
)

// QueuePage implements the page log: it records rawURL as queued at depth
// unless some run queued it before, atomically, and reports whether it did.
func (x *Index) QueuePage(ctx context.Context, rawURL string, depth int) (bool, error) {
	if err := x.writable(); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if depth < 0 || len(rawURL) > maxPageURL {
		return false, fmt.Errorf("%w: queue page %.200q at depth %d", ErrBadSample, rawURL, depth)
	}
	h, err := URLHash(rawURL)
	if err != nil {
		return false, fmt.Errorf("%w: queue page %q: %v", ErrBadSample, rawURL, err)
	}
	key := hashKey(famPage, h)
	v := encodePage(pageRecord{state: pageQueued, depth: depth, url: rawURL})
	// Badger's conflict detection is off (see Open): the read and the
	// write are made one step by the key's lock stripe, as in Check.
	defer x.lockPage(h)()
	isNew := false
	err = x.db.Update(func(txn *badger.Txn) error {
		_, err := txn.Get(key)
		if err == nil {
			return nil
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		isNew = true
		return txn.Set(key, v)
	})
	if err != nil {
		return false, fmt.Errorf("dedup: queue page %q in %s: %w", rawURL, x.dir, err)
	}
	return isNew, nil
}

// lockPage takes the lock stripe of page h and returns its unlock.
func (x *Index) lockPage(h SHA256) func() {
	m := &x.locks[binary.BigEndian.Uint64(h[:8])%lockStripes]
	m.Lock()
	return m.Unlock
}

// PageDone implements the page log: rawURL was fetched and yielded pairs
// (the crawl's record of them). Like MarkURL it is not synced on its own:
// a crash may forget the last pages done, and the rerun fetches them again.
func (x *Index) PageDone(ctx context.Context, rawURL string, pairs []byte) error {
	if err := x.writable(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(rawURL) > maxPageURL {
		return fmt.Errorf("%w: page done %.200q", ErrBadSample, rawURL)
	}
	h, err := URLHash(rawURL)
	if err != nil {
		return fmt.Errorf("%w: page done %q: %v", ErrBadSample, rawURL, err)
	}
	key := hashKey(famPage, h)
	defer x.lockPage(h)()
	err = x.db.Update(func(txn *badger.Txn) error {
		depth := 0
		it, err := txn.Get(key)
		switch {
		case err == nil:
			if err := it.Value(func(v []byte) error {
				p, err := decodePage(v)
				depth = p.depth
				return err
			}); err != nil {
				return err
			}
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		return txn.Set(key, encodePage(pageRecord{state: pageDone, depth: depth, url: rawURL, pairs: pairs}))
	})
	if err != nil {
		return fmt.Errorf("dedup: page done %q in %s: %w", rawURL, x.dir, err)
	}
	return nil
}

// Pages implements the page log: fn gets every page any run queued, in the
// order of the URL hashes, until it returns false. A malformed record is
// ErrCorrupt. The pairs slice is valid only during the call (it is reused).
func (x *Index) Pages(ctx context.Context, fn func(url string, depth int, done bool, pairs []byte) bool) error {
	if x.closed.Load() {
		return ErrClosed
	}
	err := x.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{famPage}, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		var buf []byte
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			v, err := it.Item().ValueCopy(buf[:0]) // a value is valid only inside Value
			if err != nil {
				return err
			}
			buf = v
			p, err := decodePage(v)
			if err != nil {
				return err
			}
			if !fn(p.url, p.depth, p.state == pageDone, p.pairs) {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("dedup: page log in %s: %w", x.dir, err)
	}
	return nil
}

// pageRecord is a decoded page log value.
type pageRecord struct {
	state byte
	depth int
	url   string
	pairs []byte
}

func encodePage(p pageRecord) []byte {
	v := make([]byte, 0, 2+2*binary.MaxVarintLen64+len(p.url)+len(p.pairs))
	v = append(v, pageFormat, p.state)
	v = binary.AppendUvarint(v, uint64(p.depth))
	v = binary.AppendUvarint(v, uint64(len(p.url)))
	v = append(v, p.url...)
	return append(v, p.pairs...)
}

// decodePage parses a page record read from disk; anything malformed is
// ErrCorrupt, never a panic. The pairs alias b.
func decodePage(b []byte) (pageRecord, error) {
	bad := func(what string) (pageRecord, error) {
		return pageRecord{}, fmt.Errorf("%w: page record %x: %s", ErrCorrupt, b[:min(len(b), 16)], what)
	}
	if len(b) < 4 || b[0] != pageFormat || (b[1] != pageQueued && b[1] != pageDone) {
		return bad("bad format or state")
	}
	d, n := binary.Uvarint(b[2:])
	if n <= 0 || d > 1<<20 {
		return bad("bad depth")
	}
	rest := b[2+n:]
	l, m := binary.Uvarint(rest)
	if m <= 0 || l == 0 || l > maxPageURL || uint64(len(rest)-m) < l {
		return bad("bad URL length")
	}
	p := pageRecord{state: b[1], depth: int(d), url: string(rest[m : m+int(l)])}
	if pairs := rest[m+int(l):]; len(pairs) > 0 {
		if p.state != pageDone {
			return bad("pairs on a page not done")
		}
		p.pairs = pairs
	}
	return p, nil
}
