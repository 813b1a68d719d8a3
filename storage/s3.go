package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// putIDMeta is user metadata attached to every conditional put: a random
// token that lets a writer recognise its own object when the response to
// its successful create was lost and the retry answered "already exists".
const putIDMeta = "Clipstream-Put-Id"

type s3Store struct {
	client    *minio.Client
	core      minio.Core
	bucket    string
	prefix    string // "" or ending in "/"
	endpoint  string // scheme://host, for messages
	opts      Options
	log       *slog.Logger
	secret    string       // only to scrub it from server messages
	bufs      chan *[]byte // free part buffers, kept across GCs
	transport *http.Transport
}

func openS3(ctx context.Context, u *url.URL, opts Options) (*s3Store, error) {
	storeURL := "s3://" + u.Host + u.Path
	fail := func(e error) error { return &Error{Op: "open", URL: storeURL, Err: e} }
	bucket := u.Host
	if bucket == "" {
		return nil, fail(fmt.Errorf("%w: no bucket (want s3://bucket/prefix)", ErrBadURL))
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		if err := CheckKey(prefix); err != nil {
			return nil, fail(fmt.Errorf("%w: prefix: %v", ErrBadURL, err))
		}
		prefix += "/"
	}

	endpoint := opts.Endpoint
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL_S3")
	}
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL")
	}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	lookup := minio.BucketLookupPath
	if endpoint == "" {
		endpoint = "https://s3.amazonaws.com"
		if region != "" {
			endpoint = "https://s3." + region + ".amazonaws.com"
		}
		lookup = minio.BucketLookupAuto
	}
	if !strings.Contains(endpoint, "://") {
		endpoint = "https://" + endpoint
	}
	ep, err := url.Parse(endpoint)
	if err != nil || ep.Host == "" || (ep.Scheme != "http" && ep.Scheme != "https") {
		return nil, fail(fmt.Errorf("%w: endpoint %q is not http(s)://host[:port]", ErrBadURL, redactURL(endpoint)))
	}

	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{},
	})
	v, _ := creds.GetWithContext(nil)
	secure := ep.Scheme == "https"
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fail(err)
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	idle := opts.IdleTimeout
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		ic := &idleConn{Conn: c, idle: idle}
		ic.lastMove.Store(time.Now().UnixNano())
		return ic, nil
	}
	tr.ResponseHeaderTimeout = idle
	client, err := minio.New(ep.Host, &minio.Options{
		Creds:        creds,
		Secure:       secure,
		Transport:    tr,
		Region:       region,
		BucketLookup: lookup,
		MaxRetries:   opts.MaxRetries,
	})
	if err != nil {
		return nil, fail(err)
	}
	s := &s3Store{
		client:    client,
		core:      minio.Core{Client: client},
		bucket:    bucket,
		prefix:    prefix,
		endpoint:  ep.Scheme + "://" + ep.Host,
		opts:      opts,
		log:       opts.Logger,
		secret:    v.SecretAccessKey,
		transport: tr,
	}
	s.bufs = make(chan *[]byte, maxFreeBufs)

	ok, err := client.BucketExists(ctx, bucket)
	if err != nil || !ok {
		tr.CloseIdleConnections()
		if err != nil {
			return nil, fail(s.mapErr(err))
		}
		return nil, fail(fmt.Errorf("%w: bucket %q not found at %s", ErrNotExist, bucket, s.endpoint))
	}
	return s, nil
}

// maxFreeBufs bounds the part buffers a store keeps between puts: an idle
// store holds at most this many PartSize buffers.
const maxFreeBufs = 4

func (s *s3Store) getBuf() *[]byte {
	select {
	case b := <-s.bufs:
		return b
	default:
		b := make([]byte, s.opts.PartSize)
		return &b
	}
}

func (s *s3Store) putBuf(b *[]byte) {
	select {
	case s.bufs <- b:
	default: // enough kept; let it go
	}
}

func (s *s3Store) URL() string {
	return "s3://" + s.bucket + "/" + strings.TrimSuffix(s.prefix, "/")
}

func (s *s3Store) keyURL(key string) string { return "s3://" + s.bucket + "/" + s.prefix + key }

func (s *s3Store) Close() error {
	s.transport.CloseIdleConnections()
	return nil
}

// mapErr turns a minio-go error into one that carries our sentinels and no
// secret. The original S3 code and message stay in the text.
func (s *s3Store) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) {
		return errors.New(s.scrub(err.Error()))
	}
	msg := s.scrub(fmt.Sprintf("%s (%s, HTTP %d)", resp.Message, resp.Code, resp.StatusCode))
	switch resp.Code {
	case "NoSuchKey", "NoSuchBucket", "NotFound":
		return fmt.Errorf("%w: %s", ErrNotExist, msg)
	case "PreconditionFailed":
		return fmt.Errorf("%w: %s", ErrExists, msg)
	case "InvalidRange":
		return fmt.Errorf("%w: %s", ErrInvalidRange, msg)
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
		"InvalidToken", "AllAccessDisabled", "AccountProblem", "InvalidSecurity":
		return fmt.Errorf("%w: %s", ErrPermission, msg)
	}
	switch resp.StatusCode {
	case http.StatusNotFound:
		return fmt.Errorf("%w: %s", ErrNotExist, msg)
	case http.StatusForbidden, http.StatusUnauthorized:
		return fmt.Errorf("%w: %s", ErrPermission, msg)
	case http.StatusPreconditionFailed:
		return fmt.Errorf("%w: %s", ErrExists, msg)
	}
	return errors.New(msg)
}

func (s *s3Store) scrub(msg string) string {
	if s.secret != "" {
		msg = strings.ReplaceAll(msg, s.secret, "REDACTED")
	}
	return msg
}

func (s *s3Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	return s.put(ctx, "put", key, r, size, false)
}

func (s *s3Store) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	return s.put(ctx, "put-if-absent", key, r, size, true)
}

// put reads up to one part into a pooled buffer. An object that fits is sent
// in one PUT whose body can be replayed, so minio-go retries it on transient
// failures. A larger one streams as a multipart upload (multipart), which is
// invisible until completed and aborted on failure. Memory: two PartSize
// buffers per Put in flight (see multipart), plus up to four kept free.
func (s *s3Store) put(ctx context.Context, op, key string, r io.Reader, size int64, exclusive bool) error {
	fail := func(e error) error { return &Error{Op: op, URL: s.keyURL(key), Err: e} }
	if err := CheckKey(key); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	bp := s.getBuf()
	defer s.putBuf(bp)
	buf := *bp
	src := io.Reader(ctxReader{ctx: ctx, r: r})
	if size >= 0 {
		src = &exactReader{r: src, left: size}
	}
	n, err := io.ReadFull(src, buf)
	whole := false
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		whole = true
	case err != nil:
		return fail(s.bodyErr(ctx, err))
	case size == int64(n):
		whole = true
	case size < 0:
		// Exactly one buffer read; peek whether more follows.
		var one [1]byte
		m, perr := io.ReadFull(src, one[:])
		if perr == io.EOF {
			whole = true
		} else if perr != nil {
			return fail(s.bodyErr(ctx, perr))
		} else {
			src = io.MultiReader(bytes.NewReader(one[:m]), src)
		}
	}

	popts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	var putID string
	if exclusive {
		var b [16]byte
		_, _ = rand.Read(b[:])
		putID = hex.EncodeToString(b[:])
		popts.UserMetadata = map[string]string{putIDMeta: putID}
		popts.SetMatchETagExcept("*")
	}
	obj := s.prefix + key
	if whole {
		popts.DisableMultipart = true
		_, err = s.client.PutObject(ctx, s.bucket, obj, bytes.NewReader(buf[:n]), int64(n), popts)
	} else {
		err = s.multipart(ctx, obj, buf, n, src, popts)
	}
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fail(ctxErr)
	}
	var short *shortBodyError
	if errors.As(err, &short) {
		return fail(fmt.Errorf("%w: %v", ErrShortBody, short))
	}
	var be *bodyError
	if errors.As(err, &be) {
		return fail(be.err)
	}
	mapped := s.mapErr(err)
	if exclusive && errors.Is(mapped, ErrExists) && s.isOwnPut(ctx, obj, putID) {
		// Our create succeeded; only its response was lost and the retry
		// met our own object.
		return nil
	}
	return fail(mapped)
}

// bodyError marks a failure of the caller's reader, as opposed to the store.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return e.err.Error() }

func (s *s3Store) bodyErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var short *shortBodyError
	if errors.As(err, &short) {
		return fmt.Errorf("%w: %v", ErrShortBody, short)
	}
	return err
}

// multipart uploads buf[:n] and then the rest of src as a multipart upload.
// It reads the next part into a second buffer while the current one is
// being sent, so reading and sending overlap; memory is two PartSize
// buffers. Each part's body is a replayable slice, so minio-go retries a
// part on transient failures. The conditional header of popts goes on both
// the initiate and the complete request: S3 decides If-None-Match when the
// upload completes, which is what makes concurrent exclusive uploads race
// correctly (minio-go's own streaming upload drops the header on complete).
// On any failure the upload is aborted, with a context of its own so that a
// cancelled put still cleans up.
func (s *s3Store) multipart(ctx context.Context, obj string, buf []byte, n int, src io.Reader, popts minio.PutObjectOptions) (err error) {
	uploadID, err := s.core.NewMultipartUpload(ctx, s.bucket, obj, popts)
	if err != nil {
		return err
	}
	defer func() {
		if err == nil {
			return
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*s.opts.IdleTimeout)
		defer cancel()
		if aerr := s.core.AbortMultipartUpload(actx, s.bucket, obj, uploadID); aerr != nil {
			s.log.Warn("storage: abort multipart upload", "url", "s3://"+s.bucket+"/"+obj, "err", s.mapErr(aerr))
		}
	}()
	bp := s.getBuf()
	defer s.putBuf(bp)
	cur, next := buf[:n], *bp
	type result struct {
		part minio.ObjectPart
		err  error
	}
	upload := func(num int, b []byte) <-chan result {
		ch := make(chan result, 1)
		go func() {
			part, err := s.core.PutObjectPart(ctx, s.bucket, obj, uploadID, num, bytes.NewReader(b), int64(len(b)), minio.PutObjectPartOptions{})
			ch <- result{part, err}
		}()
		return ch
	}
	var parts []minio.CompletePart
	for num := 1; ; num++ {
		if num > 10000 {
			return fmt.Errorf("object larger than 10000 parts of %d bytes; raise the part size", len(buf))
		}
		sent := upload(num, cur)
		m, rerr := io.ReadFull(src, next) // overlaps the upload
		res := <-sent
		if res.err != nil {
			return res.err
		}
		parts = append(parts, minio.CompletePart{PartNumber: num, ETag: res.part.ETag})
		if rerr == io.EOF {
			break
		}
		if rerr != nil && rerr != io.ErrUnexpectedEOF {
			return &bodyError{err: s.bodyErr(ctx, rerr)}
		}
		cur, next = next[:m], cur[:cap(cur)]
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err = s.core.CompleteMultipartUpload(ctx, s.bucket, obj, uploadID, parts, popts)
	return err
}

// isOwnPut reports whether the object under obj carries our put token.
func (s *s3Store) isOwnPut(ctx context.Context, obj, putID string) bool {
	info, err := s.client.StatObject(ctx, s.bucket, obj, minio.StatObjectOptions{})
	if err != nil {
		return false
	}
	for k, v := range info.UserMetadata {
		if strings.EqualFold(k, putIDMeta) || strings.EqualFold(k, "X-Amz-Meta-"+putIDMeta) {
			return v == putID
		}
	}
	return false
}

// exactReader passes through exactly left bytes and reports a short body as
// an error rather than a clean EOF, so a multipart upload is aborted.
type exactReader struct {
	r    io.Reader
	left int64
}

type shortBodyError struct{ missing int64 }

func (e *shortBodyError) Error() string { return fmt.Sprintf("%d bytes missing", e.missing) }

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		return n, &shortBodyError{missing: e.left}
	}
	if e.left == 0 && err == nil {
		return n, io.EOF
	}
	return n, err
}

func (s *s3Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	return s.getRange(ctx, "get", key, 0, -1)
}

func (s *s3Store) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	return s.getRange(ctx, "get-range", key, off, length)
}

func (s *s3Store) getRange(ctx context.Context, op, key string, off, length int64) (io.ReadCloser, error) {
	fail := func(e error) error { return &Error{Op: op, URL: s.keyURL(key), Err: e} }
	if err := CheckKey(key); err != nil {
		return nil, fail(err)
	}
	if off < 0 {
		return nil, fail(fmt.Errorf("%w: negative offset %d", ErrInvalidRange, off))
	}
	if length == 0 {
		// S3 has no empty range; answer from Stat.
		info, err := s.Stat(ctx, key)
		if err != nil {
			return nil, err
		}
		if off > info.Size {
			return nil, fail(fmt.Errorf("%w: offset %d past the end (%d bytes)", ErrInvalidRange, off, info.Size))
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	end := int64(-1) // exclusive; -1 = to the end
	if length > 0 {
		end = off + length
	}
	rd := &s3Reader{s: s, ctx: ctx, obj: s.prefix + key, url: s.keyURL(key), op: op, off: off, end: end}
	if err := rd.open(); err != nil {
		if errors.Is(err, ErrInvalidRange) {
			// S3 refuses a range starting at the end; a store answers
			// with no bytes there.
			if info, serr := s.Stat(ctx, key); serr == nil && off == info.Size {
				return io.NopCloser(bytes.NewReader(nil)), nil
			}
		}
		return nil, fail(err)
	}
	return rd, nil
}

// s3Reader reads an object and, on a transient error mid-body (a reset, a
// stalled connection), reopens it at the byte where it stopped, pinned to
// the same ETag so a replaced object is noticed rather than spliced.
type s3Reader struct {
	s        *s3Store
	ctx      context.Context
	obj, url string
	op       string
	off, end int64 // next byte to read; exclusive end or -1
	etag     string
	body     io.ReadCloser
	resumes  int
}

func (r *s3Reader) open() error {
	var opts minio.GetObjectOptions
	if r.etag != "" {
		_ = opts.SetMatchETag(r.etag)
	}
	switch {
	case r.end > 0:
		if err := opts.SetRange(r.off, r.end-1); err != nil {
			return err
		}
	case r.off > 0:
		if err := opts.SetRange(r.off, 0); err != nil {
			return err
		}
	}
	body, info, _, err := r.s.core.GetObject(r.ctx, r.s.bucket, r.obj, opts)
	if err != nil {
		return r.s.mapErr(err)
	}
	if r.etag == "" {
		r.etag = info.ETag
	}
	r.body = body
	return nil
}

func (r *s3Reader) Read(p []byte) (int, error) {
	for {
		if r.body == nil {
			return 0, &Error{Op: r.op, URL: r.url, Err: errors.New("read after close")}
		}
		if r.end >= 0 && r.off >= r.end {
			return 0, io.EOF
		}
		n, err := r.body.Read(p)
		r.off += int64(n)
		if err == nil || err == io.EOF {
			return n, err
		}
		if n > 0 {
			return n, nil // report the bytes; the error comes back next Read
		}
		if r.ctx.Err() != nil || r.resumes >= r.s.opts.MaxRetries {
			return 0, &Error{Op: r.op, URL: r.url, Err: fmt.Errorf("read at byte %d: %w", r.off, err)}
		}
		r.resumes++
		r.s.log.Warn("storage: resuming read", "url", r.url, "offset", r.off, "attempt", r.resumes, "err", err)
		r.body.Close()
		r.body = nil
		if werr := sleepCtx(r.ctx, backoff(r.resumes)); werr != nil {
			return 0, &Error{Op: r.op, URL: r.url, Err: werr}
		}
		if oerr := r.open(); oerr != nil {
			return 0, &Error{Op: r.op, URL: r.url, Err: fmt.Errorf("resume at byte %d: %w", r.off, oerr)}
		}
	}
}

func (r *s3Reader) Close() error {
	if r.body == nil {
		return nil
	}
	err := r.body.Close()
	r.body = nil
	return err
}

// backoff is the wait before attempt n (1-based): exponential from 200 ms,
// capped at 2 s, with full jitter.
func backoff(n int) time.Duration {
	d := 200 * time.Millisecond << min(n-1, 4)
	d = min(d, 2*time.Second)
	var b [8]byte
	_, _ = rand.Read(b[:])
	j := time.Duration(uint64(b[0])<<8|uint64(b[1])) * d / 65536
	return d/2 + j/2
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (s *s3Store) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	fail := func(e error) error { return &Error{Op: "stat", URL: s.keyURL(key), Err: e} }
	if err := CheckKey(key); err != nil {
		return ObjectInfo{}, fail(err)
	}
	info, err := s.client.StatObject(ctx, s.bucket, s.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, fail(s.mapErr(err))
	}
	return ObjectInfo{Key: key, Size: info.Size, ModTime: info.LastModified}, nil
}

func (s *s3Store) Delete(ctx context.Context, key string) error {
	fail := func(e error) error { return &Error{Op: "delete", URL: s.keyURL(key), Err: e} }
	if err := CheckKey(key); err != nil {
		return fail(err)
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{})
	if err != nil {
		mapped := s.mapErr(err)
		if errors.Is(mapped, ErrNotExist) && !strings.Contains(mapped.Error(), "NoSuchBucket") {
			return nil
		}
		return fail(mapped)
	}
	return nil
}

func (s *s3Store) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := checkPrefix(prefix); err != nil {
			yield(ObjectInfo{}, &Error{Op: "list", URL: s.keyURL(prefix), Err: err})
			return
		}
		lctx, cancel := context.WithCancel(ctx)
		defer cancel()
		ch := s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true})
		defer func() {
			cancel()
			for range ch { // let minio-go's lister goroutine finish
			}
		}()
		for o := range ch {
			if o.Err != nil {
				err := s.mapErr(o.Err)
				if ctx.Err() != nil {
					err = ctx.Err()
				}
				yield(ObjectInfo{}, &Error{Op: "list", URL: s.keyURL(prefix), Err: err})
				return
			}
			if strings.HasSuffix(o.Key, "/") {
				continue // a directory marker, not an object
			}
			if !yield(ObjectInfo{Key: strings.TrimPrefix(o.Key, s.prefix), Size: o.Size, ModTime: o.LastModified}, nil) {
				return
			}
		}
		if err := ctx.Err(); err != nil {
			yield(ObjectInfo{}, &Error{Op: "list", URL: s.keyURL(prefix), Err: err})
		}
	}
}

// idleConn fails a read or write when the connection has moved no byte in
// either direction for idle: a server that stops answering becomes a timeout
// error that is retried, instead of a request that hangs for ever. A read
// that waits while the request body is still being written (the HTTP
// transport reads and writes at once) is not idle.
type idleConn struct {
	net.Conn
	idle     time.Duration
	lastMove atomic.Int64 // unix nanoseconds of the last byte moved
}

func (c *idleConn) Read(p []byte) (int, error) {
	for {
		if err := c.Conn.SetReadDeadline(time.Now().Add(c.idle)); err != nil {
			return 0, err
		}
		n, err := c.Conn.Read(p)
		if n > 0 {
			c.lastMove.Store(time.Now().UnixNano())
		}
		var ne net.Error
		if n == 0 && errors.As(err, &ne) && ne.Timeout() &&
			time.Since(time.Unix(0, c.lastMove.Load())) < c.idle {
			continue // the write side is busy; keep waiting
		}
		return n, err
	}
}

func (c *idleConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.lastMove.Store(time.Now().UnixNano())
	}
	return n, err
}

// IncompleteUploads implements UploadAborter.
func (s *s3Store) IncompleteUploads(ctx context.Context, prefix string) iter.Seq2[IncompleteUpload, error] {
	return func(yield func(IncompleteUpload, error) bool) {
		if err := checkPrefix(prefix); err != nil {
			yield(IncompleteUpload{}, &Error{Op: "list uploads", URL: s.keyURL(prefix), Err: err})
			return
		}
		lctx, cancel := context.WithCancel(ctx)
		defer cancel()
		ch := s.client.ListIncompleteUploads(lctx, s.bucket, s.prefix+prefix, true)
		defer func() {
			cancel()
			for range ch { // let minio-go's lister goroutine finish
			}
		}()
		for u := range ch {
			if u.Err != nil {
				err := s.mapErr(u.Err)
				if ctx.Err() != nil {
					err = ctx.Err()
				}
				yield(IncompleteUpload{}, &Error{Op: "list uploads", URL: s.keyURL(prefix), Err: err})
				return
			}
			if !yield(IncompleteUpload{Key: strings.TrimPrefix(u.Key, s.prefix), ID: u.UploadID, Initiated: u.Initiated}, nil) {
				return
			}
		}
		if err := ctx.Err(); err != nil {
			yield(IncompleteUpload{}, &Error{Op: "list uploads", URL: s.keyURL(prefix), Err: err})
		}
	}
}

// AbortUpload implements UploadAborter.
func (s *s3Store) AbortUpload(ctx context.Context, u IncompleteUpload) error {
	if err := CheckKey(u.Key); err != nil {
		return &Error{Op: "abort upload", URL: s.keyURL(u.Key), Err: err}
	}
	if u.ID == "" {
		return &Error{Op: "abort upload", URL: s.keyURL(u.Key), Err: errors.New("no upload id")}
	}
	err := s.core.AbortMultipartUpload(ctx, s.bucket, s.prefix+u.Key, u.ID)
	if err == nil {
		return nil
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && resp.Code == "NoSuchUpload" {
		return nil
	}
	return &Error{Op: "abort upload", URL: s.keyURL(u.Key), Err: s.mapErr(err)}
}

var _ UploadAborter = (*s3Store)(nil)
