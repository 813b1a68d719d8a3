package shardwriter

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"path"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"

	"github.com/clipstream/clipstream/storage"
)

// Sample is what the writer stores for one image/text pair.
type Sample struct {
	// Key names the sample's members (KEY.jpg, KEY.txt, KEY.json). Empty
	// lets the writer assign "{writer}-{seq}-{n}". A given key must be of
	// [A-Za-z0-9_-] and sort after the writer's previous key.
	Key string
	// Image is the encoded image, stored as is.
	Image []byte
	// ImageExt is the image member's extension; default "jpg".
	ImageExt string
	// Caption is stored as KEY.txt: valid UTF-8 without NUL bytes.
	Caption string
	// Meta is stored as KEY.json: a JSON object, or nil for "{}".
	Meta json.RawMessage
}

// Commit tells the producer which samples became part of the corpus.
type Commit struct {
	Sidecar *Sidecar
	Keys    []string // in write order
}

// Options configure a Writer. Zero fields take the defaults of
// DefaultOptions.
type Options struct {
	// Prefix is the dataset's location inside the store: "" or "a/b/".
	Prefix string
	// WriterID names this writer's shards; unique among the writers that
	// run at the same time on one dataset (a process, a machine, a
	// partition). Default "w0".
	WriterID string
	// MaxSamples and MaxBytes rotate the shard at whichever comes first;
	// MaxBytes counts compressed bytes. Defaults 10,000 and 1 GiB.
	MaxSamples int
	MaxBytes   int64
	// MaxMemberSize refuses members larger than this (default 32 MiB).
	MaxMemberSize int
	// ZstdLevel is 1 (fastest) to 4 (best); default 1: JPEG does not
	// compress and the text members compress well at any level. Level 1
	// also skips entropy coding of literals (see EncoderOptions).
	ZstdLevel int
	// ZstdConcurrency is the encoder's goroutine count (default 1).
	ZstdConcurrency int
	// BeforeCommit runs when a shard's data object is complete, just
	// before its sidecar is created, with the shard's base name
	// ("{writer}-{seq}") and keys: the place to tell the dedup index which
	// samples the shard is about to commit (dedup.Index.Prepare), so a
	// crash between the two can be settled later. An error stops the
	// writer, and the shard is not committed.
	BeforeCommit func(ctx context.Context, shard string, keys []string) error
	// OnCommit runs after each shard's sidecar was created, in commit
	// order: the place to tell the dedup index that the shard's samples
	// are in the corpus. An error from it stops the writer (the shard
	// itself stays committed).
	OnCommit func(ctx context.Context, c Commit) error
	// Logger receives one line per committed shard; nil discards.
	Logger *slog.Logger
}

// DefaultOptions returns the defaults used for zero fields.
func DefaultOptions() Options {
	return Options{
		WriterID:        "w0",
		MaxSamples:      10_000,
		MaxBytes:        1 << 30,
		MaxMemberSize:   32 << 20,
		ZstdLevel:       1,
		ZstdConcurrency: 1,
	}
}

func (o Options) withDefaults() (Options, error) {
	d := DefaultOptions()
	if o.WriterID == "" {
		o.WriterID = d.WriterID
	}
	if o.MaxSamples <= 0 {
		o.MaxSamples = d.MaxSamples
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = d.MaxBytes
	}
	if o.MaxMemberSize <= 0 {
		o.MaxMemberSize = d.MaxMemberSize
	}
	if o.ZstdLevel <= 0 {
		o.ZstdLevel = d.ZstdLevel
	}
	if o.ZstdConcurrency <= 0 {
		o.ZstdConcurrency = d.ZstdConcurrency
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := CheckWriterID(o.WriterID); err != nil {
		return o, err
	}
	if o.ZstdLevel > 4 {
		return o, fmt.Errorf("shardwriter: zstd level %d: want 1-4", o.ZstdLevel)
	}
	if o.Prefix != "" && !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	return o, nil
}

// Writer streams samples into shards of one dataset. It is safe for
// concurrent use; samples keep the order in which Write calls return.
//
// A shard streams straight into the store as it is written (no shard is
// held in memory: tar → zstd → storage put through a pipe) and is committed
// when it rotates or at Close: first the data object is completed, then its
// sidecar is created with put-if-absent. Until then nothing of it is
// visible to readers, and a crash leaves at most an orphan data object
// that `shards gc` removes.
type Writer struct {
	store storage.Store
	opts  Options
	ctx   context.Context // for the background puts

	mu      sync.Mutex
	nextSeq int
	lastKey string
	cur     *openShard
	stats   Stats // reported since the last commit
	err     error // sticky: the writer stopped
	closed  bool
}

type openShard struct {
	seq         int
	created     time.Time
	pw          *io.PipeWriter
	putDone     chan error
	sha         hash.Hash
	compressed  countWriter
	tarBytes    countWriter
	zw          *zstd.Encoder
	tw          *tar.Writer
	keys        []string
	memberBytes map[string]int64
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// New opens a writer. It lists the writer's existing shards (committed or
// orphaned) and continues numbering after the highest, so a restarted
// writer never reuses a name. ctx bounds the writer's whole life: its
// background uploads stop when it is cancelled.
func New(ctx context.Context, store storage.Store, opts Options) (*Writer, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	next := 0
	for info, err := range store.List(ctx, opts.Prefix+ShardsDir+opts.WriterID+"-") {
		if err != nil {
			return nil, fmt.Errorf("shardwriter: list shards of writer %s: %w", opts.WriterID, err)
		}
		writer, seq, _, ok := ParseShardName(path.Base(info.Key))
		if ok && writer == opts.WriterID && seq >= next {
			next = seq + 1
		}
	}
	return &Writer{store: store, opts: opts, ctx: ctx, nextSeq: next}, nil
}

// NextSeq is the sequence number the next shard will get.
func (w *Writer) NextSeq() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.nextSeq
}

// NextKey is the key Write will assign to the next sample given without
// one, if no other Write comes first: a producer that records samples
// elsewhere (the dedup index) before writing them learns their key here.
func (w *Writer) NextKey() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cur != nil {
		return autoKey(w.opts.WriterID, w.cur.seq, len(w.cur.keys))
	}
	return autoKey(w.opts.WriterID, w.nextSeq, 0)
}

// checkSample refuses what the format cannot hold; the writer is unchanged.
func (w *Writer) checkSample(s *Sample) error {
	if len(s.Image) == 0 {
		return fmt.Errorf("%w: sample %q has no image", ErrInvalidSample, s.Key)
	}
	if len(s.Image) > w.opts.MaxMemberSize {
		return fmt.Errorf("%w: sample %q: image of %d bytes is over the limit of %d", ErrInvalidSample, s.Key, len(s.Image), w.opts.MaxMemberSize)
	}
	if s.ImageExt == "" {
		s.ImageExt = "jpg"
	}
	if s.ImageExt == "txt" || s.ImageExt == "json" || strings.Trim(s.ImageExt, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		return fmt.Errorf("%w: sample %q: image extension %q", ErrInvalidSample, s.Key, s.ImageExt)
	}
	if !utf8.ValidString(s.Caption) || strings.IndexByte(s.Caption, 0) >= 0 {
		return fmt.Errorf("%w: sample %q: caption is not UTF-8 text without NUL bytes", ErrInvalidSample, s.Key)
	}
	if len(s.Caption) > w.opts.MaxMemberSize || len(s.Meta) > w.opts.MaxMemberSize {
		return fmt.Errorf("%w: sample %q: caption or metadata over the limit of %d bytes", ErrInvalidSample, s.Key, w.opts.MaxMemberSize)
	}
	if len(s.Meta) > 0 {
		trimmed := bytes.TrimSpace(s.Meta)
		if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
			return fmt.Errorf("%w: sample %q: metadata is not a JSON object", ErrInvalidSample, s.Key)
		}
	}
	if s.Key != "" {
		if err := CheckKey(s.Key); err != nil {
			return err
		}
		if s.Key <= w.lastKey {
			return fmt.Errorf("%w: key %q does not sort after the previous key %q", ErrInvalidSample, s.Key, w.lastKey)
		}
	}
	return nil
}

// Write adds one sample to the current shard, starting a shard if none is
// open and committing it when it is full. An ErrInvalidSample leaves the
// writer usable; any other error stops it.
func (w *Writer) Write(ctx context.Context, s Sample) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if err := w.checkSample(&s); err != nil {
		return err
	}
	if w.cur == nil {
		if err := w.startShard(); err != nil {
			return w.fail(err)
		}
	}
	sh := w.cur
	if s.Key == "" {
		s.Key = autoKey(w.opts.WriterID, sh.seq, len(sh.keys))
		if s.Key <= w.lastKey {
			return w.fail(fmt.Errorf("shardwriter: assigned key %q does not sort after %q; give keys explicitly or use one writer id per key scheme", s.Key, w.lastKey))
		}
	}
	meta := []byte(s.Meta)
	if len(meta) == 0 {
		meta = []byte("{}")
	}
	members := [...]struct {
		ext  string
		data []byte
	}{{s.ImageExt, s.Image}, {"txt", []byte(s.Caption)}, {"json", meta}}
	for _, m := range members {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     s.Key + "." + m.ext,
			Mode:     0o644,
			Size:     int64(len(m.data)),
			ModTime:  sh.created,
		}
		if err := sh.tw.WriteHeader(hdr); err != nil {
			return w.fail(w.shardErr(sh, err))
		}
		if _, err := sh.tw.Write(m.data); err != nil {
			return w.fail(w.shardErr(sh, err))
		}
		sh.memberBytes[m.ext] += int64(len(m.data))
	}
	sh.keys = append(sh.keys, s.Key)
	w.lastKey = s.Key
	if len(sh.keys) >= w.opts.MaxSamples || sh.compressed.n >= w.opts.MaxBytes {
		if err := w.commit(ctx); err != nil {
			return w.fail(err)
		}
	}
	return nil
}

// RecordStatus counts one attempted item (a URL) of the producer under
// status ("ok", "timeout", ...) and, for failures, its message in a capped
// histogram; the counts go into the sidecar of the next shard committed.
func (w *Writer) RecordStatus(status, message string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stats.Status == nil {
		w.stats.Status = map[string]int{}
	}
	w.stats.Status[status]++
	if message == "" {
		return
	}
	if w.stats.Errors == nil {
		w.stats.Errors = map[string]int{}
	}
	if len(message) > maxErrorLen {
		message = message[:maxErrorLen]
	}
	if _, ok := w.stats.Errors[message]; !ok && len(w.stats.Errors) >= maxErrorKinds {
		message = "(other)"
	}
	w.stats.Errors[message]++
}

const (
	maxErrorKinds = 100
	maxErrorLen   = 200
)

func (w *Writer) fail(err error) error {
	w.err = err
	w.abortShard(err)
	return err
}

func (w *Writer) shardErr(sh *openShard, err error) error {
	// A write into the pipe fails when the upload failed; its error says
	// more than the pipe's.
	if pe := w.abortShard(err); pe != nil {
		err = pe
	}
	return fmt.Errorf("shardwriter: shard %s: %w", ShardBase(w.opts.WriterID, sh.seq), err)
}

func (w *Writer) startShard() error {
	seq := w.nextSeq
	w.nextSeq++
	pr, pw := io.Pipe()
	sh := &openShard{
		seq:         seq,
		created:     time.Now().UTC().Truncate(time.Second),
		pw:          pw,
		putDone:     make(chan error, 1),
		sha:         sha256.New(),
		memberBytes: map[string]int64{},
	}
	sh.compressed.w = io.MultiWriter(sh.sha, pw)
	zw, err := zstd.NewWriter(&sh.compressed, EncoderOptions(w.opts.ZstdLevel, w.opts.ZstdConcurrency)...)
	if err != nil {
		return err
	}
	sh.zw = zw
	sh.tarBytes.w = zw
	sh.tw = tar.NewWriter(&sh.tarBytes)
	key := DataKey(w.opts.Prefix, w.opts.WriterID, seq)
	go func() {
		err := w.store.PutIfAbsent(w.ctx, key, pr, -1)
		if errors.Is(err, storage.ErrExists) {
			err = fmt.Errorf("shardwriter: %s already exists: is another process writing with writer id %q? %w", key, w.opts.WriterID, err)
		}
		pr.CloseWithError(errOr(err, io.ErrClosedPipe))
		sh.putDone <- err
	}()
	w.cur = sh
	return nil
}

func errOr(err, other error) error {
	if err != nil {
		return err
	}
	return other
}

// abortShard stops the open shard's upload, so nothing of it becomes
// visible, and returns the upload's own error if it had failed first.
func (w *Writer) abortShard(cause error) error {
	sh := w.cur
	if sh == nil {
		return nil
	}
	w.cur = nil
	sh.pw.CloseWithError(fmt.Errorf("shard aborted: %w", cause))
	sh.zw.Close()
	return <-sh.putDone
}

// commit completes the open shard's data object, then creates its sidecar.
func (w *Writer) commit(ctx context.Context) error {
	sh := w.cur
	base := ShardBase(w.opts.WriterID, sh.seq)
	if err := sh.tw.Close(); err != nil {
		return w.shardErr(sh, err)
	}
	if err := sh.zw.Close(); err != nil {
		return w.shardErr(sh, err)
	}
	sh.pw.Close()
	w.cur = nil
	if err := <-sh.putDone; err != nil {
		return fmt.Errorf("shardwriter: shard %s: %w", base, err)
	}
	sc := &Sidecar{
		Format:      SidecarFormat,
		Shard:       base + DataSuffix,
		Writer:      w.opts.WriterID,
		Seq:         sh.seq,
		Samples:     len(sh.keys),
		Bytes:       sh.compressed.n,
		SHA256:      hex.EncodeToString(sh.sha.Sum(nil)),
		FirstKey:    sh.keys[0],
		LastKey:     sh.keys[len(sh.keys)-1],
		Created:     sh.created,
		TarBytes:    sh.tarBytes.n,
		MemberBytes: sh.memberBytes,
		Stats:       w.stats,
	}
	if sc.Stats.Status == nil {
		sc.Stats.Status = map[string]int{}
	}
	b, err := json.MarshalIndent(sc, "", "  ")
	if err != nil {
		return err
	}
	if w.opts.BeforeCommit != nil {
		if err := w.opts.BeforeCommit(ctx, base, sh.keys); err != nil {
			return fmt.Errorf("shardwriter: before commit of %s: %w", base, err)
		}
	}
	key := SidecarKey(w.opts.Prefix, w.opts.WriterID, sh.seq)
	if err := w.store.PutIfAbsent(ctx, key, bytes.NewReader(b), int64(len(b))); err != nil {
		return fmt.Errorf("shardwriter: commit %s: %w", base, err)
	}
	w.stats = Stats{}
	w.opts.Logger.Info("shard committed", "shard", base, "samples", sc.Samples, "bytes", sc.Bytes)
	if w.opts.OnCommit != nil {
		if err := w.opts.OnCommit(ctx, Commit{Sidecar: sc, Keys: sh.keys}); err != nil {
			return fmt.Errorf("shardwriter: after commit of %s: %w", base, err)
		}
	}
	return nil
}

// EncoderOptions are the zstd settings of a shard at level (1-4). At level
// 1 literals are not entropy-coded: they are almost all JPEG bytes, which
// are entropy-coded already, and trying costs most of the encoder's time
// (measured on crawl-like shards: the same shard size, 2.2x the samples
// per CPU-second). Captions and metadata still compress through matches.
func EncoderOptions(level, concurrency int) []zstd.EOption {
	return []zstd.EOption{
		zstd.WithEncoderLevel(zstd.EncoderLevel(level)),
		zstd.WithEncoderConcurrency(concurrency),
		zstd.WithEncoderCRC(true),
		zstd.WithNoEntropyCompression(level <= 1),
	}
}

// Flush commits the open shard now, if it holds any sample.
func (w *Writer) Flush(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.cur == nil {
		return nil
	}
	if err := w.commit(ctx); err != nil {
		return w.fail(err)
	}
	return nil
}

// Close commits the open shard and rewrites the dataset summary
// (shards/sizes.json and dataset.json) from the sidecars. After an error
// the open shard is aborted instead, and the error is returned.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		w.abortShard(w.err)
		return w.err
	}
	if w.cur != nil {
		if err := w.commit(ctx); err != nil {
			return w.fail(err)
		}
	}
	if _, err := RebuildSummary(ctx, w.store, w.opts.Prefix); err != nil {
		w.err = err
		return err
	}
	return nil
}

// Abort discards the open shard (nothing of it becomes visible) and closes
// the writer.
func (w *Writer) Abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.closed = true
		w.abortShard(ErrClosed)
	}
}
