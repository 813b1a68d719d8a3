package crawl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/nlnwa/gowarc/v3"

	"github.com/clipstream/clipstream/storage"
)

// WATOptions configures ReadWAT. The zero value is cc2dataset's rule.
type WATOptions struct {
	// KeepEmptyAlt also yields IMG@/src links whose alt is missing or
	// blank, with an empty caption (cc2dataset's image_only mode).
	KeepEmptyAlt bool
	// Partition takes only the pairs whose image URL falls in this part.
	Partition Partition
	// Storage opens storage URLs (s3://, file://).
	Storage storage.Options
	// MaxRecordBytes bounds the JSON of one metadata record; a larger
	// record is skipped as bad. Default 64 MiB (Common Crawl's are rarely
	// over 1 MiB).
	MaxRecordBytes int64
	// MaxBadRecordMessages bounds WATStats.BadRecordMessages; default 20.
	MaxBadRecordMessages int
	// Logger receives a warning per bad record (up to
	// MaxBadRecordMessages); nil discards them.
	Logger *slog.Logger
}

// WATStats counts what a WAT file held.
type WATStats struct {
	Records    int64 // WARC records read
	Metadata   int64 // metadata records (the ones with JSON envelopes)
	HTMLPages  int64 // responses with HTML-Metadata
	ImageLinks int64 // IMG@/src links
	Pairs      int64 // pairs yielded
	NoAlt      int64 // image links without alt text (skipped unless KeepEmptyAlt)
	BadURL     int64 // image links whose URL is not, or does not resolve to, http(s)
	// OutOfPartition counts good pairs left to other partitions.
	OutOfPartition int64
	// BadRecords counts metadata records skipped: JSON that does not
	// parse, or over MaxRecordBytes.
	BadRecords        int64
	BadRecordMessages []string
}

// ReadWAT reads a Common Crawl WAT file (.warc.wat.gz: WARC records, each
// its own gzip member; plain and whole-file gzip work too) at loc — a local
// path or a storage URL — and calls fn with a Pair for every IMG@/src link
// with a non-blank alt, as cc2dataset extracts them: from every metadata
// record's Envelope.Payload-Metadata.HTTP-Response-Metadata.HTML-Metadata.
// Links, the link's url resolved (WHATWG rules) against the page's
// Head.Base, itself resolved against the record's WARC-Target-URI, or
// against the target URI; only http(s) URLs are kept, fragments dropped.
// PageURL is the target URI; Source is "wat:" + loc; alt is cut to
// MaxCaptionBytes. Records are read one at a time: memory is bounded by
// MaxRecordBytes whatever the file's size.
//
// A record whose JSON does not parse is counted and skipped. A file that is
// not WARC, or is cut short, ends with an error naming it, after the pairs
// of the records before the damage.
func ReadWAT(ctx context.Context, loc string, opts WATOptions, fn PairFunc) (WATStats, error) {
	rc, err := inOpenStream(ctx, loc, opts.Storage)
	if err != nil {
		return WATStats{}, err
	}
	defer rc.Close()
	return ReadWATFrom(ctx, rc, loc, opts, fn)
}

// ReadWATFrom is ReadWAT on a stream; name is used in Pair.Source and in
// messages.
func ReadWATFrom(ctx context.Context, r io.Reader, name string, opts WATOptions, fn PairFunc) (WATStats, error) {
	if opts.MaxRecordBytes <= 0 {
		opts.MaxRecordBytes = 64 << 20
	}
	if opts.MaxBadRecordMessages <= 0 {
		opts.MaxBadRecordMessages = 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := opts.Partition.Validate(); err != nil {
		return WATStats{}, err
	}
	w := &watState{ctx: ctx, name: name, opts: opts, fn: fn}
	dr, closeZ, err := inDecompress(inCtxReader{ctx, r})
	if err != nil {
		return w.stats, fmt.Errorf("crawl: read %s: %w", name, err)
	}
	err = w.read(dr)
	if cerr := closeZ(); err == nil && cerr != nil {
		err = fmt.Errorf("crawl: read %s: %w", name, cerr)
	}
	return w.stats, err
}

type watState struct {
	ctx   context.Context
	name  string
	opts  WATOptions
	fn    PairFunc
	stats WATStats
	body  bytes.Buffer
}

func (w *watState) read(r io.Reader) error {
	// Lenient on syntax, but the spec policy must be above ErrIgnore: only
	// then does gowarc keep a record's block (in memory up to 4 MiB, then in
	// a temporary file) for it to be read after Next returns.
	wr, err := gowarc.NewWarcFileReaderFromStream(r, 0,
		gowarc.WithSyntaxErrorPolicy(gowarc.ErrIgnore),
		gowarc.WithSpecViolationPolicy(gowarc.ErrWarn),
		gowarc.WithUnknownRecordTypePolicy(gowarc.ErrIgnore),
		gowarc.WithSkipParseBlock(),
		gowarc.WithBufferMaxMemBytes(4<<20),
	)
	if err != nil {
		return fmt.Errorf("crawl: read %s: %w", w.name, err)
	}
	defer wr.Close()
	for {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		rec, err := wr.Next()
		if err == io.EOF {
			rec.Close()
			return nil
		}
		if errors.Is(err, gowarc.ErrNoRecord) && w.stats.Records > 0 {
			// Bytes after the last record that start no record.
			rec.Close()
			w.bad(rec.Offset, "trailing bytes: %v", err)
			return nil
		}
		if err != nil {
			rec.Close()
			if cerr := w.ctx.Err(); cerr != nil {
				return cerr
			}
			return fmt.Errorf("crawl: read %s: WARC record at offset %d (after %d records): %w", w.name, rec.Offset, w.stats.Records, err)
		}
		w.stats.Records++
		ferr := w.record(rec.WarcRecord, rec.Offset)
		rec.Close()
		if ferr != nil {
			return ferr
		}
	}
}

// record handles one WARC record; only fn's error is returned.
func (w *watState) record(rec gowarc.WarcRecord, offset int64) error {
	if rec == nil || rec.Type() != gowarc.Metadata {
		return nil
	}
	ct := strings.ToLower(rec.WarcHeader().Get(gowarc.ContentType))
	if ct != "" && !strings.Contains(ct, "json") {
		return nil
	}
	w.stats.Metadata++
	block, err := rec.Block().RawBytes()
	if err != nil {
		w.bad(offset, "block: %v", err)
		return nil
	}
	w.body.Reset()
	n, err := w.body.ReadFrom(io.LimitReader(block, w.opts.MaxRecordBytes+1))
	if err != nil {
		w.bad(offset, "block: %v", err)
		return nil
	}
	if n > w.opts.MaxRecordBytes {
		w.bad(offset, "metadata record over %d bytes", w.opts.MaxRecordBytes)
		return nil
	}
	var env watEnvelope
	if err := json.Unmarshal(w.body.Bytes(), &env); err != nil {
		w.bad(offset, "JSON: %v", err)
		return nil
	}
	if w.body.Cap() > 4<<20 {
		w.body = bytes.Buffer{} // do not keep one huge record's buffer
	}
	resp := env.Envelope.PayloadMetadata.HTTPResponseMetadata
	if resp == nil || resp.HTMLMetadata == nil {
		return nil
	}
	w.stats.HTMLPages++
	target := env.Envelope.WARCHeaderMetadata.TargetURI
	if target == "" {
		target = rec.WarcHeader().Get(gowarc.WarcTargetURI)
	}
	target = strings.Trim(target, "<> ")
	page, err := parseHTTPURL(target)
	base := page
	if err == nil {
		var b string
		if json.Unmarshal(resp.HTMLMetadata.Head.Base, &b) == nil && strings.TrimSpace(b) != "" {
			if bu, err := page.Parse(exCleanRef(b)); err == nil && exIsHTTP(bu) {
				base = bu
			}
		}
	}
	for _, raw := range resp.HTMLMetadata.Links {
		var l watLink
		if json.Unmarshal(raw, &l) != nil || l.Path != "IMG@/src" {
			continue
		}
		w.stats.ImageLinks++
		if strings.TrimSpace(l.Alt) == "" && !w.opts.KeepEmptyAlt {
			w.stats.NoAlt++
			continue
		}
		if base == nil {
			w.stats.BadURL++
			continue
		}
		u, ok := exResolve(base, l.URL)
		if !ok {
			w.stats.BadURL++
			continue
		}
		if !w.opts.Partition.OwnsImageURL(u) {
			w.stats.OutOfPartition++
			continue
		}
		p := Pair{
			ImageURL: u,
			PageURL:  page.Href(true),
			Caption:  exCut(l.Alt),
			Source:   "wat:" + w.name,
		}
		if p.Caption != "" {
			p.CaptionSource = FromAlt
		}
		if err := w.fn(p); err != nil {
			return err
		}
		w.stats.Pairs++
	}
	return nil
}

func (w *watState) bad(offset int64, format string, args ...any) {
	w.stats.BadRecords++
	msg := fmt.Sprintf("%s: record at offset %d: ", w.name, offset) + fmt.Sprintf(format, args...)
	if len(w.stats.BadRecordMessages) < w.opts.MaxBadRecordMessages {
		w.stats.BadRecordMessages = append(w.stats.BadRecordMessages, msg)
		w.opts.Logger.Warn("bad record in WAT file", "msg", msg)
	}
}

// watEnvelope is the part of a WAT metadata record that is read. Links
// are decoded one by one, so one odd link does not lose the page.
type watEnvelope struct {
	Envelope struct {
		WARCHeaderMetadata struct {
			TargetURI string `json:"WARC-Target-URI"`
		} `json:"WARC-Header-Metadata"`
		PayloadMetadata struct {
			HTTPResponseMetadata *struct {
				HTMLMetadata *struct {
					Head struct {
						Base json.RawMessage `json:"Base"`
					} `json:"Head"`
					Links []json.RawMessage `json:"Links"`
				} `json:"HTML-Metadata"`
			} `json:"HTTP-Response-Metadata"`
		} `json:"Payload-Metadata"`
	} `json:"Envelope"`
}

type watLink struct {
	Path string `json:"path"`
	URL  string `json:"url"`
	Alt  string `json:"alt"`
}
