package shardwriter

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// ReaderOptions bound what a Reader accepts from a shard it did not write.
type ReaderOptions struct {
	// MaxMemberSize is the largest member payload read (default 64 MiB);
	// a larger one is ErrTooLarge. Memory per sample is at most a few times
	// this.
	MaxMemberSize int64
	// MaxWindow caps the zstd window (default 64 MiB), so a hostile frame
	// cannot ask for unbounded memory.
	MaxWindow uint64
}

func (o ReaderOptions) withDefaults() ReaderOptions {
	if o.MaxMemberSize <= 0 {
		o.MaxMemberSize = 64 << 20
	}
	if o.MaxWindow == 0 {
		o.MaxWindow = 64 << 20
	}
	return o
}

// Record is one sample as read back from a shard: its members by extension
// ("jpg", "txt", "json", ...).
type Record struct {
	Key     string
	Members map[string][]byte
}

// Reader reads the samples of one shard: a zstd stream of a POSIX tar whose
// members are grouped by key in WebDataset style (key = the member name up
// to the first '.' of its last path component; extension = the rest).
type Reader struct {
	name string
	zr   *zstd.Decoder
	tr   *tar.Reader
	opts ReaderOptions

	pending *tar.Header // a header read ahead that starts the next record
	seen    int
	err     error
}

// NewReader reads a shard from r; name is used in errors. Close releases
// the decoder.
func NewReader(name string, r io.Reader, opts ReaderOptions) (*Reader, error) {
	opts = opts.withDefaults()
	zr, err := zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxWindow(opts.MaxWindow),
		zstd.WithDecoderMaxMemory(uint64(opts.MaxMemberSize)*4+(64<<20)))
	if err != nil {
		return nil, fmt.Errorf("%w: shard %s: %v", ErrCorrupt, name, err)
	}
	return &Reader{name: name, zr: zr, tr: tar.NewReader(zr), opts: opts}, nil
}

// Close releases the decoder's resources.
func (r *Reader) Close() { r.zr.Close() }

func (r *Reader) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: shard %s (after %d samples): %s", ErrCorrupt, r.name, r.seen, fmt.Sprintf(format, args...))
}

// Finish reads what follows the tar's end: it must be zero padding up to
// the end of a complete zstd frame (whose checksum the decoder verifies).
func (r *Reader) Finish() error {
	buf := make([]byte, 32<<10)
	var total int64
	for {
		n, err := r.zr.Read(buf)
		for _, b := range buf[:n] {
			if b != 0 {
				return r.corrupt("data after the end of the tar archive")
			}
		}
		total += int64(n)
		if total > 1<<20 {
			return r.corrupt("over 1 MiB of padding after the end of the tar archive")
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return r.corrupt("after the end of the tar archive: %v", err)
		}
	}
}

// Next returns the next record, or io.EOF after the last. Any other error
// is permanent for this reader.
func (r *Reader) Next() (*Record, error) {
	if r.err != nil {
		return nil, r.err
	}
	rec, err := r.next()
	if err != nil {
		r.err = err
		return nil, err
	}
	r.seen++
	return rec, nil
}

func (r *Reader) next() (*Record, error) {
	var rec *Record
	for {
		hdr := r.pending
		r.pending = nil
		if hdr == nil {
			var err error
			hdr, err = r.tr.Next()
			if err == io.EOF {
				if rec == nil {
					return nil, io.EOF
				}
				return rec, nil
			}
			if err != nil {
				return nil, r.corrupt("%v", err)
			}
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
		case tar.TypeDir, tar.TypeXGlobalHeader:
			continue
		default:
			return nil, r.corrupt("member %q has type %q; want regular files", hdr.Name, hdr.Typeflag)
		}
		base := hdr.Name
		if i := strings.LastIndexByte(base, '/'); i >= 0 {
			base = base[i+1:]
		}
		if strings.HasPrefix(base, "__") {
			continue // WebDataset skips __*__ members
		}
		dot := strings.IndexByte(base, '.')
		if dot <= 0 || dot == len(base)-1 {
			return nil, r.corrupt("member %q has no KEY.ext name", hdr.Name)
		}
		key := hdr.Name[:len(hdr.Name)-len(base)+dot]
		ext := strings.ToLower(base[dot+1:])
		if rec != nil && key != rec.Key {
			r.pending = hdr
			return rec, nil
		}
		if rec == nil {
			rec = &Record{Key: key, Members: make(map[string][]byte, 3)}
		}
		if _, dup := rec.Members[ext]; dup {
			return nil, r.corrupt("key %q has two %q members", key, ext)
		}
		if hdr.Size < 0 || hdr.Size > r.opts.MaxMemberSize {
			return nil, fmt.Errorf("%w: shard %s: member %q is %d bytes, over the limit of %d", ErrTooLarge, r.name, hdr.Name, hdr.Size, r.opts.MaxMemberSize)
		}
		var buf bytes.Buffer
		buf.Grow(int(hdr.Size))
		if _, err := io.Copy(&buf, r.tr); err != nil {
			if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
				return nil, fmt.Errorf("%w: shard %s: %v", ErrTooLarge, r.name, err)
			}
			return nil, r.corrupt("member %q: %v", hdr.Name, err)
		}
		rec.Members[ext] = buf.Bytes()
	}
}
