package dedup

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// The progress log: what the crawl did with each URL it tried, so that a
// rerun of the same crawl fetches nothing twice and --retry-failed retries
// only the failures. Keys are famProgress + SHA-256 of the normalised URL;
// a value is: format byte 1, the status (uvarint length, bytes), and the
// sample key the outcome refers to (the rest; may be empty).
const famProgress = 'f'

// Outcomes of a URL that refer to a sample (see MarkURL).
const (
	// StatusKept: the URL gave a sample that was kept; sampleKey is its
	// key. The URL counts as done once that sample's shard has committed.
	StatusKept = "ok"
	// StatusDuplicate: the URL gave a sample that duplicated another;
	// sampleKey is the original's key. Done once the original committed.
	StatusDuplicate = "duplicate"
)

const progressFormat = 1

// MarkURL records the outcome of fetching rawURL: StatusKept or
// StatusDuplicate with the sample key they refer to, or any other status (a
// failure such as "timeout" or "robots_disallowed") with an empty key. A
// later mark replaces an earlier one. It is not synced on its own: a crash
// may forget the last marks, and the rerun then fetches those URLs again.
func (x *Index) MarkURL(ctx context.Context, rawURL, status, sampleKey string) error {
	if err := x.writable(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if status == "" || len(status) > 256 || len(sampleKey) > MaxKeyLen {
		return fmt.Errorf("%w: mark %q: status %q / key of %d bytes", ErrBadSample, rawURL, status, len(sampleKey))
	}
	if (status == StatusKept || status == StatusDuplicate) && sampleKey == "" {
		return fmt.Errorf("%w: mark %q: status %q needs a sample key", ErrBadSample, rawURL, status)
	}
	h, err := URLHash(rawURL)
	if err != nil {
		return fmt.Errorf("%w: mark %q: %v", ErrBadSample, rawURL, err)
	}
	v := make([]byte, 0, 2+len(status)+len(sampleKey))
	v = append(v, progressFormat)
	v = binary.AppendUvarint(v, uint64(len(status)))
	v = append(v, status...)
	v = append(v, sampleKey...)
	err = x.db.Update(func(txn *badger.Txn) error { return txn.Set(hashKey(famProgress, h), v) })
	if err != nil {
		return fmt.Errorf("dedup: mark %q in %s: %w", rawURL, x.dir, err)
	}
	return nil
}

// URLProgress is what the progress log knows of a URL.
type URLProgress struct {
	Tried     bool   // the URL was tried by some run
	Status    string // its last outcome
	SampleKey string // for StatusKept and StatusDuplicate
	Committed bool   // that sample's shard has committed
}

// Done reports whether a rerun should skip the URL: its sample (or the
// original it duplicated) is in the corpus, or it failed and failures are
// not to be retried.
func (p URLProgress) Done(retryFailed bool) bool {
	switch {
	case !p.Tried:
		return false
	case p.Status == StatusKept || p.Status == StatusDuplicate:
		return p.Committed
	default:
		return !retryFailed
	}
}

// URLState reads the progress log for rawURL. A URL that does not parse
// has never been tried (the crawl records it under its own error status
// only if it could be normalised).
func (x *Index) URLState(ctx context.Context, rawURL string) (URLProgress, error) {
	if x.closed.Load() {
		return URLProgress{}, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return URLProgress{}, err
	}
	h, err := URLHash(rawURL)
	if err != nil {
		return URLProgress{}, nil
	}
	var p URLProgress
	err = x.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(hashKey(famProgress, h))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := it.Value(func(v []byte) error { return decodeProgress(v, &p) }); err != nil {
			return err
		}
		if p.SampleKey == "" {
			return nil
		}
		_, err = txn.Get(committedKey(p.SampleKey))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		p.Committed = err == nil
		return err
	})
	if err != nil {
		return URLProgress{}, fmt.Errorf("dedup: url state %q in %s: %w", rawURL, x.dir, err)
	}
	return p, nil
}

// decodeProgress parses a progress value read from disk; anything malformed
// is ErrCorrupt, never a panic.
func decodeProgress(b []byte, p *URLProgress) error {
	if len(b) < 2 || b[0] != progressFormat {
		return fmt.Errorf("%w: progress value %x: bad format byte", ErrCorrupt, b[:min(len(b), 16)])
	}
	n, w := binary.Uvarint(b[1:])
	if w <= 0 || n == 0 || n > 256 || uint64(len(b)-1-w) < n {
		return fmt.Errorf("%w: progress value %x: bad status length", ErrCorrupt, b[:min(len(b), 16)])
	}
	rest := b[1+w:]
	p.Tried = true
	p.Status = string(rest[:n])
	p.SampleKey = string(rest[n:])
	if len(p.SampleKey) > MaxKeyLen {
		return fmt.Errorf("%w: progress value: sample key of %d bytes", ErrCorrupt, len(p.SampleKey))
	}
	return nil
}
