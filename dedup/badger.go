package dedup

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/bits-and-blooms/bloom/v3"
	badger "github.com/dgraph-io/badger/v4"
)

// badgerLogger routes Badger's log lines to slog: errors and warnings at
// their level, info and debug at debug.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) msg(format string, args ...any) string {
	return strings.TrimSpace(fmt.Sprintf(format, args...))
}

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(b.msg(f, a...), "component", "badger")
}

func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn(b.msg(f, a...), "component", "badger")
}

func (b badgerLogger) Infof(f string, a ...any) {
	b.l.Debug(b.msg(f, a...), "component", "badger")
}

func (b badgerLogger) Debugf(f string, a ...any) {
	b.l.Debug(b.msg(f, a...), "component", "badger")
}

// loadBloom builds the Bloom filter from the URL and exact keys on disk.
// Stale (never committed) keys are added too: a false "maybe" costs one
// Badger lookup, never a wrong verdict.
func (x *Index) loadBloom(ctx context.Context) error {
	x.bloom = bloom.NewWithEstimates(x.opts.BloomExpected, x.opts.BloomFPRate)
	for _, fam := range []byte{famURL, famExact} {
		err := x.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{fam}})
			defer it.Close()
			n := 0
			for it.Rewind(); it.Valid(); it.Next() {
				if n++; n%65536 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
				x.bloom.Add(it.Item().Key())
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("dedup: %s: load Bloom filter: %w", x.dir, err)
		}
	}
	return nil
}

func (x *Index) bloomMayHave(k []byte) bool {
	if x.bloom == nil || (k[0] != famURL && k[0] != famExact) {
		return true
	}
	x.bloomMu.Lock()
	defer x.bloomMu.Unlock()
	return x.bloom.Test(k)
}

func (x *Index) bloomAdd(p plan) {
	if x.bloom == nil {
		return
	}
	x.bloomMu.Lock()
	defer x.bloomMu.Unlock()
	for _, k := range [][]byte{p.url, p.exact} {
		if k != nil {
			x.bloom.Add(k)
		}
	}
}

// checkTables checks the trailer of every Badger table (.sst) in dir before
// Badger opens them: Badger reads the index through lengths stored at the
// end of the file and panics, in a goroutine no caller can recover, when
// they point outside the file. With the lengths in bounds, Badger's own
// checksums (verified at open: OnTableRead) catch the rest.
//
// Trailer: ... index | index length (4) | checksum | checksum length (4).
func checkTables(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dedup: open index %s: %w", dir, err)
	}
	for _, e := range ents {
		if e.Name() == "KEYREGISTRY" {
			if err := checkKeyRegistry(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("%w: %s: KEYREGISTRY: %w", ErrCorrupt, dir, err)
			}
			continue
		}
		if !strings.HasSuffix(e.Name(), ".sst") || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if err := checkTableTrailer(path); err != nil {
			return fmt.Errorf("%w: %s: table %s: %w", ErrCorrupt, dir, e.Name(), err)
		}
	}
	return nil
}

func checkTableTrailer(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	size := info.Size()
	var b [4]byte
	if size < 8 {
		return fmt.Errorf("%d bytes, too short", size)
	}
	if _, err := f.ReadAt(b[:], size-4); err != nil {
		return err
	}
	chk := int64(binary.BigEndian.Uint32(b[:]))
	if chk > size-8 {
		return fmt.Errorf("checksum length %d outside a %d-byte file", chk, size)
	}
	if _, err := f.ReadAt(b[:], size-8-chk); err != nil {
		return err
	}
	idx := int64(binary.BigEndian.Uint32(b[:]))
	if idx > size-8-chk {
		return fmt.Errorf("index length %d outside a %d-byte file", idx, size)
	}
	return nil
}

// checkKeyRegistry checks the unencrypted key registry's header (a 16-byte
// IV, then the text "Hello Badger"): Badger leaks goroutines when it fails
// on a damaged one.
func checkKeyRegistry(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var b [28]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if string(b[16:]) != "Hello Badger" {
		return errors.New("bad header (an encrypted or damaged registry)")
	}
	return nil
}
