package crawl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"

	"github.com/clipstream/clipstream/storage"
)

// Inputs (URL lists and WAT files) are named by a location: a local path,
// or a storage URL (file:///dir/name, s3://bucket/prefix/name) whose last
// path segment is the object's key in the store at the URL before it.

// inSplitLocation splits a storage URL into the store's URL and the key.
// ok is false for a plain local path.
func inSplitLocation(loc string) (storeURL, key string, ok bool, err error) {
	if !strings.Contains(loc, "://") {
		return "", "", false, nil
	}
	i := strings.LastIndexByte(loc, '/')
	if i < 0 || i+1 >= len(loc) || strings.HasSuffix(loc[:i+1], "://") {
		return "", "", false, fmt.Errorf("crawl: input %q: want a storage URL ending in an object name, e.g. s3://bucket/dir/list.csv", loc)
	}
	return loc[:i], loc[i+1:], true, nil
}

// inOpenStore opens the store holding loc. For file:// it first checks that
// the directory exists, since opening a file store creates it.
func inOpenStore(ctx context.Context, storeURL string, opts storage.Options) (storage.Store, error) {
	if u, err := url.Parse(storeURL); err == nil && u.Scheme == "file" {
		if fi, err := os.Stat(filepath.FromSlash(u.Path)); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("crawl: open %s: %w", storeURL, fs.ErrNotExist)
		}
	}
	return storage.Open(ctx, storeURL, opts)
}

// inMultiCloser closes an object and then its store.
type inMultiCloser struct {
	io.Reader
	closers []io.Closer
}

func (m *inMultiCloser) Close() error {
	var errs []error
	for _, c := range m.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// inOpenStream opens loc for reading from the start.
func inOpenStream(ctx context.Context, loc string, opts storage.Options) (io.ReadCloser, error) {
	storeURL, key, ok, err := inSplitLocation(loc)
	if err != nil {
		return nil, err
	}
	if !ok {
		f, err := os.Open(loc)
		if err != nil {
			return nil, fmt.Errorf("crawl: open input: %w", err)
		}
		return f, nil
	}
	st, err := inOpenStore(ctx, storeURL, opts)
	if err != nil {
		return nil, err
	}
	rc, err := st.Get(ctx, key)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("crawl: open input %s: %w", loc, err)
	}
	return &inMultiCloser{Reader: rc, closers: []io.Closer{rc, st}}, nil
}

// inReaderAt is random access to an input, for parquet.
type inReaderAt interface {
	io.ReaderAt
	io.Closer
}

// inOpenAt opens loc for random access and returns its size. remote is set
// for a storage URL (where each read is a request).
func inOpenAt(ctx context.Context, loc string, opts storage.Options) (r inReaderAt, size int64, remote bool, err error) {
	storeURL, key, ok, err := inSplitLocation(loc)
	if err != nil {
		return nil, 0, false, err
	}
	if !ok {
		f, err := os.Open(loc)
		if err != nil {
			return nil, 0, false, fmt.Errorf("crawl: open input: %w", err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, false, fmt.Errorf("crawl: open input: %w", err)
		}
		return f, fi.Size(), false, nil
	}
	st, err := inOpenStore(ctx, storeURL, opts)
	if err != nil {
		return nil, 0, false, err
	}
	info, err := st.Stat(ctx, key)
	if err != nil {
		st.Close()
		return nil, 0, false, fmt.Errorf("crawl: open input %s: %w", loc, err)
	}
	return &inStoreReaderAt{ctx: ctx, st: st, key: key, size: info.Size}, info.Size, true, nil
}

// inStoreReaderAt reads ranges of a stored object.
type inStoreReaderAt struct {
	ctx  context.Context
	st   storage.Store
	key  string
	size int64
}

func (r *inStoreReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("crawl: read %s at negative offset", r.key)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > r.size-off {
		n = r.size - off
	}
	rc, err := r.st.GetRange(r.ctx, r.key, off, n)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	m, err := io.ReadFull(rc, p[:n])
	if err != nil {
		return m, err
	}
	if m < len(p) {
		return m, io.EOF
	}
	return m, nil
}

func (r *inStoreReaderAt) Close() error { return r.st.Close() }

// inDecompress returns r decompressed if it starts with the gzip magic
// (one or many members, as .gz files and WAT files are), else r itself,
// buffered.
func inDecompress(r io.Reader) (io.Reader, func() error, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return bufio.NewReaderSize(zr, 64<<10), zr.Close, nil
	}
	return br, func() error { return nil }, nil
}

// inCtxReader fails reads once ctx is done.
type inCtxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c inCtxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
