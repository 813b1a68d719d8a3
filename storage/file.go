package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// tmpDirName is the directory under a file:// root that holds writes in
// progress. It is never listed; keys cannot start with it.
const tmpDirName = ".clipstream-tmp"

// staleTmpAge is how old an abandoned temporary file must be before Open
// removes it (a crashed writer's leftovers).
const staleTmpAge = 24 * time.Hour

type fileStore struct {
	root string // absolute, cleaned
	tmp  string // root/tmpDirName
	log  *slog.Logger
}

func openFile(root string, opts Options) (*fileStore, error) {
	s := &fileStore{root: root, tmp: filepath.Join(root, tmpDirName), log: opts.Logger}
	if err := os.MkdirAll(s.tmp, 0o755); err != nil {
		return nil, &Error{Op: "open", URL: s.URL(), Err: err}
	}
	s.removeStaleTmp()
	return s, nil
}

func (s *fileStore) URL() string { return "file://" + filepath.ToSlash(s.root) }

func (s *fileStore) Close() error { return nil }

func (s *fileStore) keyURL(key string) string { return s.URL() + "/" + key }

// removeStaleTmp deletes temporary files left by writers that died.
func (s *fileStore) removeStaleTmp() {
	entries, err := os.ReadDir(s.tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		info, err := e.Info()
		if err == nil && time.Since(info.ModTime()) > staleTmpAge {
			if os.Remove(filepath.Join(s.tmp, e.Name())) == nil {
				s.log.Info("removed stale temporary file", "store", s.URL(), "name", e.Name())
			}
		}
	}
}

// path maps a key to its file, refusing keys that are invalid or reserved.
func (s *fileStore) path(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	if key == tmpDirName || strings.HasPrefix(key, tmpDirName+"/") {
		return "", fmt.Errorf("%w: key %q is reserved by the file store", ErrInvalidKey, key)
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

func (s *fileStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	return s.put(ctx, "put", key, r, size, false)
}

func (s *fileStore) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	return s.put(ctx, "put-if-absent", key, r, size, true)
}

// put writes r to a temporary file, fsyncs it, and then moves it into place:
// by rename (replace) or by hard link (create only; link fails atomically
// when the name exists). The parent directory is fsynced after, so the new
// name survives a crash.
func (s *fileStore) put(ctx context.Context, op, key string, r io.Reader, size int64, exclusive bool) (err error) {
	fail := func(e error) error { return &Error{Op: op, URL: s.keyURL(key), Err: e} }
	dst, err := s.path(key)
	if err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if exclusive {
		// Cheap early answer; the link below is what decides.
		if _, err := os.Lstat(dst); err == nil {
			return fail(ErrExists)
		}
	}
	f, err := os.CreateTemp(s.tmp, "put-*")
	if err != nil {
		// The temp directory may have been removed underneath us.
		if mkErr := os.MkdirAll(s.tmp, 0o755); mkErr != nil {
			return fail(err)
		}
		if f, err = os.CreateTemp(s.tmp, "put-*"); err != nil {
			return fail(err)
		}
	}
	tmpName := f.Name()
	defer func() {
		if f != nil {
			f.Close()
		}
		os.Remove(tmpName)
	}()

	if err := copyBody(ctx, f, r, size); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		f = nil
		return fail(err)
	}
	f = nil

	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if exclusive {
		if err := os.Link(tmpName, dst); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fail(ErrExists)
			}
			return fail(err)
		}
	} else {
		if fi, err := os.Lstat(dst); err == nil && fi.IsDir() {
			return fail(fmt.Errorf("a directory of keys already uses this name"))
		}
		if err := os.Rename(tmpName, dst); err != nil {
			return fail(err)
		}
	}
	if err := syncDir(dir); err != nil {
		return fail(err)
	}
	return nil
}

// copyBody copies r into w: exactly size bytes, or all of r when size < 0.
func copyBody(ctx context.Context, w io.Writer, r io.Reader, size int64) error {
	src := io.Reader(ctxReader{ctx: ctx, r: r})
	if size < 0 {
		_, err := io.Copy(w, src)
		return err
	}
	n, err := io.Copy(w, io.LimitReader(src, size))
	if err != nil {
		return err
	}
	if n < size {
		return fmt.Errorf("%w: got %d of %d bytes", ErrShortBody, n, size)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

func (s *fileStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	return s.GetRange(ctx, key, 0, -1)
}

func (s *fileStore) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	op := "get"
	if off != 0 || length >= 0 {
		op = "get-range"
	}
	fail := func(e error) error { return &Error{Op: op, URL: s.keyURL(key), Err: e} }
	p, err := s.path(key)
	if err != nil {
		return nil, fail(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fail(err)
	}
	if off < 0 {
		return nil, fail(fmt.Errorf("%w: negative offset %d", ErrInvalidRange, off))
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fail(mapFileErr(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fail(err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, fail(ErrNotExist)
	}
	if off > fi.Size() {
		f.Close()
		return nil, fail(fmt.Errorf("%w: offset %d past the end (%d bytes)", ErrInvalidRange, off, fi.Size()))
	}
	if off == 0 && length < 0 {
		return f, nil
	}
	n := fi.Size() - off
	if length >= 0 && length < n {
		n = length
	}
	return &sectionReadCloser{SectionReader: io.NewSectionReader(f, off, n), f: f}, nil
}

type sectionReadCloser struct {
	*io.SectionReader
	f *os.File
}

func (r *sectionReadCloser) Close() error { return r.f.Close() }

func (s *fileStore) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	fail := func(e error) error { return &Error{Op: "stat", URL: s.keyURL(key), Err: e} }
	p, err := s.path(key)
	if err != nil {
		return ObjectInfo{}, fail(err)
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, fail(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return ObjectInfo{}, fail(mapFileErr(err))
	}
	if fi.IsDir() {
		return ObjectInfo{}, fail(ErrNotExist)
	}
	return ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

func (s *fileStore) Delete(ctx context.Context, key string) error {
	fail := func(e error) error { return &Error{Op: "delete", URL: s.keyURL(key), Err: e} }
	p, err := s.path(key)
	if err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) || isNotDir(err) {
		return nil
	}
	if err != nil {
		return fail(err)
	}
	if fi.IsDir() {
		return nil // a "directory" of keys is not an object
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	return nil
}

// List walks the directory tree in key order. Within a directory the
// entries are sorted by their key spelling (a directory "a" sorts as "a/"),
// so the merged stream is in the byte order of full keys, as on S3. Only one
// directory's names per level of depth are in memory at a time.
func (s *fileStore) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := checkPrefix(prefix); err != nil {
			yield(ObjectInfo{}, &Error{Op: "list", URL: s.keyURL(prefix), Err: err})
			return
		}
		// Start at the deepest directory the prefix names completely.
		startDir := ""
		if i := strings.LastIndex(prefix, "/"); i >= 0 {
			startDir = prefix[:i+1]
		}
		err := s.walk(ctx, startDir, prefix, yield)
		if err != nil && !errors.Is(err, errStopWalk) {
			yield(ObjectInfo{}, &Error{Op: "list", URL: s.keyURL(prefix), Err: err})
		}
	}
}

var errStopWalk = errors.New("stop")

// walk lists the directory whose key prefix is dirKey ("" or ending in "/").
func (s *fileStore) walk(ctx context.Context, dirKey, prefix string, yield func(ObjectInfo, error) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(filepath.Join(s.root, filepath.FromSlash(dirKey)))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
			return nil
		}
		return err
	}
	type entry struct {
		key string // full key; directories end in "/"
		e   fs.DirEntry
	}
	list := make([]entry, 0, len(entries))
	for _, e := range entries {
		k := dirKey + e.Name()
		if e.IsDir() {
			if dirKey == "" && e.Name() == tmpDirName {
				continue
			}
			k += "/"
			if !strings.HasPrefix(k, prefix) && !strings.HasPrefix(prefix, k) {
				continue
			}
		} else if !strings.HasPrefix(k, prefix) || !e.Type().IsRegular() {
			continue
		}
		list = append(list, entry{key: k, e: e})
	}
	entries = nil
	slices.SortFunc(list, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	for _, it := range list {
		if it.e.IsDir() {
			if err := s.walk(ctx, it.key, prefix, yield); err != nil {
				return err
			}
			continue
		}
		info, err := it.e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted while we listed
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !yield(ObjectInfo{Key: it.key, Size: info.Size(), ModTime: info.ModTime()}, nil) {
			return errStopWalk
		}
	}
	return nil
}

func mapFileErr(err error) error {
	if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
		return fmt.Errorf("%w (%v)", ErrNotExist, err)
	}
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w (%v)", ErrPermission, err)
	}
	return err
}
