package crawl

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path"
	"strings"

	"github.com/clipstream/clipstream/storage"
)

// ListFormat is the format of a URL list.
type ListFormat string

// URL-list formats, as img2dataset reads them. Any of them but parquet may
// be gzip-compressed (told by the gzip magic, whatever the name).
const (
	ListTXT     ListFormat = "txt"     // one URL per line, no header, no caption
	ListCSV     ListFormat = "csv"     // comma-separated, header row first
	ListTSV     ListFormat = "tsv"     // tab-separated, header row first
	ListJSONL   ListFormat = "jsonl"   // one JSON object per line
	ListJSON    ListFormat = "json"    // one JSON array of objects
	ListParquet ListFormat = "parquet" // Apache Parquet, one row per URL
)

// ErrListFormat is returned when the format of a URL list is unknown, or
// when a list lacks a column it was asked for.
var ErrListFormat = errors.New("crawl: URL list format")

// ListOptions configures ReadURLList. The zero value reads the format the
// file name tells, URLs from column "url" and captions from "caption", and
// carries every other column into Pair.Extra.
type ListOptions struct {
	// Format; "" tells it from the name: .txt .csv .tsv .jsonl (.ndjson)
	// .json .parquet, each optionally followed by .gz.
	Format ListFormat
	// URLColumn names the URL column (img2dataset's url_col); default "url".
	URLColumn string
	// CaptionColumn names the caption column (caption_col); default
	// "caption". A csv, tsv or parquet list must have it unless NoCaption;
	// a JSON object without it has an empty caption.
	CaptionColumn string
	// NoCaption reads no caption: every pair's caption is empty.
	NoCaption bool
	// ExtraColumns lists the columns carried into Pair.Extra
	// (save_additional_columns); nil means every column but the URL and
	// caption columns. Columns missing from a row are left out.
	ExtraColumns []string
	// NoExtra carries no column into Pair.Extra.
	NoExtra bool
	// Partition takes only the rows whose URL falls in this part.
	Partition Partition
	// Storage opens storage URLs (s3://, file://).
	Storage storage.Options
	// MaxLineBytes bounds one line (txt, jsonl) or one record (csv, tsv, a
	// JSON array element); default 1 MiB. A longer line is a bad row; a
	// longer csv record or JSON element ends the file with an error, since
	// where it ends cannot be known.
	MaxLineBytes int
	// MaxBadRowMessages bounds ListStats.BadRowMessages and the bad rows
	// logged; default 20.
	MaxBadRowMessages int
	// Logger receives a warning per bad row (up to MaxBadRowMessages); nil
	// discards them.
	Logger *slog.Logger
}

func (o ListOptions) withDefaults() ListOptions {
	if o.URLColumn == "" {
		o.URLColumn = "url"
	}
	if o.CaptionColumn == "" {
		o.CaptionColumn = "caption"
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = 1 << 20
	}
	if o.MaxBadRowMessages <= 0 {
		o.MaxBadRowMessages = 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// ListStats counts what a URL list held.
type ListStats struct {
	Rows           int64 // data rows read (not the header, not blank lines)
	Pairs          int64 // pairs yielded
	BadRows        int64 // rows skipped as malformed
	OutOfPartition int64 // good rows left to other partitions
	// BadRowMessages are the first messages about bad rows, each naming
	// the file and the line ("list.csv:17: …") or row ("list.parquet: row
	// 17: …").
	BadRowMessages []string
}

// ListFormatOf tells a list's format from its name, ignoring a .gz suffix.
func ListFormatOf(name string) (ListFormat, error) {
	base := strings.ToLower(path.Base(strings.ReplaceAll(name, "\\", "/")))
	base = strings.TrimSuffix(base, ".gz")
	switch path.Ext(base) {
	case ".txt":
		return ListTXT, nil
	case ".csv":
		return ListCSV, nil
	case ".tsv":
		return ListTSV, nil
	case ".jsonl", ".ndjson":
		return ListJSONL, nil
	case ".json":
		return ListJSON, nil
	case ".parquet":
		return ListParquet, nil
	}
	return "", fmt.Errorf("%w: cannot tell the format of %q from its name; name it (txt, csv, tsv, jsonl, json, parquet)", ErrListFormat, name)
}

// ReadURLList reads the URL list at loc (a local path, or a storage URL such
// as s3://bucket/lists/part-0.parquet) and calls fn with a Pair for every
// good row in its partition, in file order. It streams: only the current
// row (for parquet, the current batch of rows of one row group) is in
// memory. A bad row — no URL, a URL that is not absolute http(s), a wrong
// number of fields, malformed JSON, a line over MaxLineBytes — is counted,
// reported in ListStats and the log with the file and line, and skipped.
// Each pair's Source is "list:" + loc.
//
// It returns the first error of fn, of the context, or of reading the file
// (which then names it). ListStats holds what was read until then.
func ReadURLList(ctx context.Context, loc string, opts ListOptions, fn PairFunc) (ListStats, error) {
	format := opts.Format
	if format == "" {
		f, err := ListFormatOf(loc)
		if err != nil {
			return ListStats{}, err
		}
		format = f
	}
	opts.Format = format
	if format == ListParquet {
		r, size, remote, err := inOpenAt(ctx, loc, opts.Storage)
		if err != nil {
			return ListStats{}, err
		}
		defer r.Close()
		return readParquetList(ctx, r, size, remote, loc, opts, fn)
	}
	rc, err := inOpenStream(ctx, loc, opts.Storage)
	if err != nil {
		return ListStats{}, err
	}
	defer rc.Close()
	return ReadURLListFrom(ctx, rc, loc, opts, fn)
}

// ReadURLListFrom is ReadURLList on a stream; name is used for the format
// (when opts.Format is "") and in messages. Parquet needs random access:
// r must then be an io.ReaderAt and io.Seeker (an *os.File, a
// *bytes.Reader).
func ReadURLListFrom(ctx context.Context, r io.Reader, name string, opts ListOptions, fn PairFunc) (ListStats, error) {
	opts = opts.withDefaults()
	if opts.Format == "" {
		f, err := ListFormatOf(name)
		if err != nil {
			return ListStats{}, err
		}
		opts.Format = f
	}
	if err := opts.Partition.Validate(); err != nil {
		return ListStats{}, err
	}
	if opts.Format == ListParquet {
		ra, ok := r.(io.ReaderAt)
		sk, ok2 := r.(io.Seeker)
		if !ok || !ok2 {
			return ListStats{}, fmt.Errorf("%w: %s: parquet needs a file or other io.ReaderAt", ErrListFormat, name)
		}
		size, err := sk.Seek(0, io.SeekEnd)
		if err != nil {
			return ListStats{}, fmt.Errorf("crawl: %s: %w", name, err)
		}
		return readParquetList(ctx, ra, size, false, name, opts, fn)
	}
	s := &ulState{ctx: ctx, name: name, opts: opts, fn: fn}
	dr, closeZ, err := inDecompress(inCtxReader{ctx, r})
	if err != nil {
		return s.stats, fmt.Errorf("crawl: read %s: %w", name, err)
	}
	switch opts.Format {
	case ListTXT:
		err = s.readTXT(dr)
	case ListCSV:
		err = s.readCSV(dr, ',')
	case ListTSV:
		err = s.readCSV(dr, '\t')
	case ListJSONL:
		err = s.readJSONL(dr)
	case ListJSON:
		err = s.readJSON(dr)
	default:
		err = fmt.Errorf("%w: unknown format %q", ErrListFormat, opts.Format)
	}
	if cerr := closeZ(); err == nil && cerr != nil {
		err = fmt.Errorf("crawl: read %s: %w", name, cerr)
	}
	return s.stats, err
}

// ulState is one list being read.
type ulState struct {
	ctx   context.Context
	name  string
	opts  ListOptions
	fn    PairFunc
	stats ListStats
}

// ulStop wraps an error that ends the list: fn's or the context's.
type ulStop struct{ err error }

func (e ulStop) Error() string { return e.err.Error() }
func (e ulStop) Unwrap() error { return e.err }

// bad records a bad row; where is "17" (a line) or " row 17" style text.
func (s *ulState) bad(where string, format string, args ...any) {
	s.stats.BadRows++
	msg := s.name + ":" + where + ": " + fmt.Sprintf(format, args...)
	if len(s.stats.BadRowMessages) < s.opts.MaxBadRowMessages {
		s.stats.BadRowMessages = append(s.stats.BadRowMessages, msg)
		s.opts.Logger.Warn("bad row in URL list", "msg", msg)
	} else if len(s.stats.BadRowMessages) == s.opts.MaxBadRowMessages && s.stats.BadRows == int64(s.opts.MaxBadRowMessages)+1 {
		s.opts.Logger.Warn("further bad rows in URL list are counted, not logged", "file", s.name)
	}
}

// row handles one parsed row: it checks the URL, applies the partition and
// calls fn. A returned error ends the list.
func (s *ulState) row(where, rawURL, caption string, extra []byte) error {
	s.stats.Rows++
	if s.stats.Rows%1024 == 0 {
		if err := s.ctx.Err(); err != nil {
			return err
		}
	}
	u := strings.TrimSpace(rawURL)
	if u == "" {
		s.bad(where, "empty URL")
		return nil
	}
	if !ulIsHTTPURL(u) {
		s.bad(where, "URL %q is not an absolute http(s) URL", ulShort(u))
		return nil
	}
	if !s.opts.Partition.OwnsImageURL(u) {
		s.stats.OutOfPartition++
		return nil
	}
	p := Pair{ImageURL: u, Caption: caption, Source: "list:" + s.name}
	if caption != "" {
		p.CaptionSource = FromAlt
	}
	if len(extra) > 0 {
		p.Extra = bytes.Clone(extra)
	}
	if err := s.fn(p); err != nil {
		return ulStop{err}
	}
	s.stats.Pairs++
	return nil
}

// finish turns the error that ended a list into what Read returns.
func (s *ulState) finish(err error) error {
	var stop ulStop
	if errors.As(err, &stop) {
		return stop.err
	}
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("crawl: read %s: %w", s.name, err)
}

func ulIsHTTPURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return false
	}
	return strings.EqualFold(u.Scheme, "http") || strings.EqualFold(u.Scheme, "https")
}

// ulShort cuts a value for a message.
func ulShort(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// ulLineReader reads lines of bounded length.
type ulLineReader struct {
	br   *bufio.Reader
	max  int
	buf  []byte
	line int64
}

func newULLineReader(r io.Reader, max int) *ulLineReader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	return &ulLineReader{br: br, max: max}
}

// next returns the next line without its line ending. tooLong reports a
// line over the bound (its bytes are skipped). err is io.EOF at the end.
func (l *ulLineReader) next() (line []byte, tooLong bool, err error) {
	l.buf = l.buf[:0]
	for {
		frag, err := l.br.ReadSlice('\n')
		if !tooLong {
			if len(l.buf)+len(frag) > l.max+2 {
				tooLong = true
				l.buf = l.buf[:0]
			} else {
				l.buf = append(l.buf, frag...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil && (err != io.EOF || (len(l.buf) == 0 && len(frag) == 0 && !tooLong)) {
			return nil, false, err
		}
		l.line++
		b := bytes.TrimSuffix(l.buf, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
		if !tooLong && len(b) > l.max {
			tooLong = true
		}
		return b, tooLong, nil
	}
}

// ulLimitReader fails once more than max bytes were read since the last
// reset: it bounds one csv record or JSON element.
type ulLimitReader struct {
	r   io.Reader
	n   int64
	max int64
}

var errULRecordTooLong = errors.New("record too long")

func (l *ulLimitReader) Read(p []byte) (int, error) {
	if l.n > l.max {
		return 0, errULRecordTooLong
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	return n, err
}

func (l *ulLimitReader) reset() { l.n = 0 }
