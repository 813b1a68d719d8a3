package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// Store is an object store: named byte sequences under slash-separated keys.
//
// Every method takes a context and returns promptly once it is cancelled.
// Writes are all-or-nothing: until Put or PutIfAbsent returns nil, no reader
// can observe the object (or any part of it) under its key.
type Store interface {
	// Put stores the bytes of r under key, replacing any object there.
	// size is the exact length of r, or -1 when it is not known; a reader
	// that ends before size bytes is an error and stores nothing.
	Put(ctx context.Context, key string, r io.Reader, size int64) error

	// PutIfAbsent is Put that fails with ErrExists when key already holds an
	// object. The check and the create are one atomic step: of many
	// concurrent callers for one key, exactly one succeeds.
	PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error

	// Get opens the object under key for reading. A missing object is
	// reported here (ErrNotExist), not on the first Read.
	Get(ctx context.Context, key string) (io.ReadCloser, error)

	// GetRange opens length bytes of the object starting at offset off.
	// length -1 reads to the end. A range that runs past the end is cut
	// short at the end; an offset past the end is ErrInvalidRange.
	GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error)

	// Stat describes the object under key.
	Stat(ctx context.Context, key string) (ObjectInfo, error)

	// List yields every object whose key starts with prefix, in
	// lexicographic order of keys, streaming: it never holds the whole
	// listing in memory. Breaking out of the loop stops the listing. An
	// error is yielded once, as the last element.
	List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error]

	// Delete removes the object under key. Deleting a missing object is not
	// an error.
	Delete(ctx context.Context, key string) error

	// URL is the store's location, as given to Open, without credentials.
	URL() string

	// Close releases what the store holds. It does not delete anything.
	Close() error
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key     string    // key relative to the store's root
	Size    int64     // bytes
	ModTime time.Time // when the object was last written
}

// Options tune a store. The zero value gives the defaults of DefaultOptions.
type Options struct {
	// PartSize is the multipart part size for s3:// (minimum 5 MiB, default
	// 16 MiB). A streaming Put holds about two parts in memory: the part
	// being read and the part being sent.
	PartSize int64

	// MaxRetries bounds the attempts of one request to s3:// on a transient
	// failure (5xx, 429, connection reset, timeout); attempts back off
	// exponentially from 200 ms with jitter, capped at 1 s per wait.
	// Default 6.
	MaxRetries int

	// IdleTimeout fails a request to s3:// whose connection moves no byte
	// for this long (a server that stops answering). It is retried like any
	// transient failure. Default 30 s.
	IdleTimeout time.Duration

	// Endpoint overrides AWS_ENDPOINT_URL for s3://, e.g.
	// "http://127.0.0.1:9000".
	Endpoint string

	// Logger receives retry and clean-up messages; nil discards them.
	Logger *slog.Logger
}

// DefaultOptions returns the options used for zero fields.
func DefaultOptions() Options {
	return Options{
		PartSize:    16 << 20,
		MaxRetries:  6,
		IdleTimeout: 30 * time.Second,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.PartSize <= 0 {
		o.PartSize = d.PartSize
	}
	if o.PartSize < 5<<20 {
		o.PartSize = 5 << 20
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = d.MaxRetries
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = d.IdleTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Open opens the store at rawURL:
//
//	file:///abs/dir        a directory on the local file system (created if missing)
//	/abs/dir, ./rel/dir    the same, as a plain path
//	s3://bucket/prefix     an S3 bucket, through minio-go
//
// For s3://, the endpoint comes from opts.Endpoint or AWS_ENDPOINT_URL (path-
// style addressing, for MinIO and other S3-compatible servers) and otherwise
// is AWS's; credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN, or the shared credentials file; the region from
// AWS_REGION. Open checks that the bucket can be reached, so bad credentials
// and a missing bucket fail here.
func Open(ctx context.Context, rawURL string, opts Options) (Store, error) {
	opts = opts.withDefaults()
	if rawURL == "" {
		return nil, fmt.Errorf("storage: open: %w: empty URL", ErrBadURL)
	}
	if !strings.Contains(rawURL, "://") {
		abs, err := filepath.Abs(rawURL)
		if err != nil {
			return nil, fmt.Errorf("storage: open %q: %w", rawURL, err)
		}
		return openFile(abs, opts)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse's messages quote the input, which may hold a password.
		detail := "unparsable URL"
		var ue *url.Error
		if errors.As(err, &ue) && !strings.Contains(rawURL, "@") {
			detail = ue.Err.Error()
		}
		return nil, fmt.Errorf("storage: open %q: %w: %s", redactURL(rawURL), ErrBadURL, detail)
	}
	if u.User != nil {
		return nil, fmt.Errorf("storage: open %q: %w: credentials in the URL are not accepted; use the environment", redactURL(rawURL), ErrBadURL)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("storage: open %q: %w: file URLs take no host (want file:///abs/dir)", rawURL, ErrBadURL)
		}
		if !filepath.IsAbs(u.Path) {
			return nil, fmt.Errorf("storage: open %q: %w: want an absolute path (file:///abs/dir)", rawURL, ErrBadURL)
		}
		return openFile(filepath.Clean(u.Path), opts)
	case "s3":
		return openS3(ctx, u, opts)
	default:
		return nil, fmt.Errorf("storage: open %q: %w: unknown scheme %q (want file:// or s3://)", redactURL(rawURL), ErrBadURL, u.Scheme)
	}
}

// redactURL drops any user information from a URL so it can be printed.
// It cuts from the scheme's "://" to the last '@' of the whole string:
// more than url.Parse's user information when a path, query or fragment
// holds an '@' too, never less, so no password survives however the URL
// is malformed.
func redactURL(raw string) string {
	i := strings.LastIndex(raw, "@")
	j := strings.Index(raw, "://")
	if i < 0 || j < 0 || j > i {
		return raw
	}
	return raw[:j+3] + "REDACTED@" + raw[i+1:]
}

// MaxKeyLen is the longest key accepted, in bytes (S3's limit).
const MaxKeyLen = 1024

// CheckKey reports whether key is a valid object key: non-empty UTF-8 of at
// most MaxKeyLen bytes, slash-separated segments that are neither empty nor
// "." nor "..", and no NUL, backslash or control character. Keys are
// portable: every valid key means the same object on every backend.
func CheckKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: key of %d bytes is longer than %d", ErrInvalidKey, len(key), MaxKeyLen)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("%w: key %q is not valid UTF-8", ErrInvalidKey, key)
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fmt.Errorf("%w: key %q holds a control character or backslash", ErrInvalidKey, key)
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("%w: key %q has an empty path segment", ErrInvalidKey, key)
		case ".", "..":
			return fmt.Errorf("%w: key %q has a %q segment", ErrInvalidKey, key, seg)
		}
	}
	return nil
}

// checkPrefix accepts "" and any prefix of a valid key.
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := CheckKey(strings.TrimSuffix(prefix, "/")); err != nil {
		return fmt.Errorf("prefix %q: %w", prefix, err)
	}
	return nil
}

// ctxReader fails reads once its context is done, so a long copy stops
// promptly on cancel.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// IncompleteUpload is a write that a writer began and never finished: on
// s3://, a multipart upload whose process was killed before it completed
// or aborted it. Its parts are invisible to Get and List but take space
// (and are billed) until aborted. file:// has no such thing: it removes
// its own stale temporary files when opened.
type IncompleteUpload struct {
	Key       string    // the key it would have written, relative to the store's root
	ID        string    // the upload's id
	Initiated time.Time // when the upload began
}

// UploadAborter is implemented by stores whose interrupted writes leave
// incomplete uploads behind (s3://). Callers check for it with a type
// assertion; a store without it has nothing to clean.
type UploadAborter interface {
	// IncompleteUploads yields the incomplete uploads of keys starting
	// with prefix. Some servers (MinIO) list only the uploads of one exact
	// key, so a caller that knows the keys it looks for should pass each
	// as the prefix. An error is yielded once, as the last element.
	IncompleteUploads(ctx context.Context, prefix string) iter.Seq2[IncompleteUpload, error]
	// AbortUpload aborts u, freeing its parts. Aborting an upload that is
	// already gone is not an error.
	AbortUpload(ctx context.Context, u IncompleteUpload) error
}
