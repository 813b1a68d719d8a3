package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/clipstream/clipstream/storage"
)

const (
	// demoKey is the object the demo writes and reads back.
	demoKey = "demo/hello.txt"
	// demoPrefix is the prefix the demo lists.
	demoPrefix = "demo/"
	// demoContent is what the demo writes under demoKey.
	demoContent = "hello from clipstream: this object was written by 'clipstream demo'\n"
	// demoRangeOff and demoRangeLen pick the bytes the ranged read asks for
	// ("clipstream").
	demoRangeOff, demoRangeLen = 11, 10
)

// demoOptions are the flags of 'clipstream demo'.
type demoOptions struct {
	Out string // store URL
}

func (o *demoOptions) addFlags(fs *pflag.FlagSet) {
	o.Out = "./clipstream-demo"
	fs.StringVar(&o.Out, "out", o.Out, "store `URL` to write to: a directory, file:///abs/dir or s3://bucket/prefix")
}

func newDemoCmd(e *env) *cobra.Command {
	var opts demoOptions
	cmd := &cobra.Command{
		Use:   "demo [flags]",
		Short: "Run what exists of the pipeline end to end (today: object storage only)",
		Long: `demo runs what exists of the clipstream pipeline against a store and prints one line per
step. Today that is only the storage layer: crawling, shard writing and training are
not implemented yet, and demo will become the full pipeline demo (crawl a small site,
write shards, train a few steps) as they land.

What it does now, against the store at --out:
  1. opens the store (a local directory is created if missing; for s3:// the bucket must
     exist and credentials come from the environment);
  2. writes the small object demo/hello.txt with a put-if-absent (if it is already
     there, from an earlier run, it says so and goes on);
  3. reads it back whole, then reads a byte range of it, and checks both;
  4. stats it and lists the prefix demo/.
Running it again is safe: nothing is overwritten.`,
		Example: `  # local directory (the default is ./clipstream-demo)
  clipstream demo
  clipstream demo --out /tmp/clipstream-demo

  # an S3-compatible store, e.g. a local MinIO
  AWS_ENDPOINT_URL=http://127.0.0.1:9000 AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... \
    clipstream demo --out s3://my-bucket/clipstream-demo`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), opts, e.stdout, e.log)
		},
	}
	opts.addFlags(cmd.Flags())
	return cmd
}

// runDemo exercises the store at opts.Out and reports each step on w.
func runDemo(ctx context.Context, opts demoOptions, w io.Writer, log *slog.Logger) (err error) {
	step := func(name, format string, args ...any) {
		fmt.Fprintf(w, "%-10s %s\n", name, fmt.Sprintf(format, args...))
	}

	if err := ctx.Err(); err != nil {
		return err
	}
	log.Debug("opening store", "url", opts.Out)
	store, err := storage.Open(ctx, opts.Out, storage.Options{Logger: log})
	if err != nil {
		if errors.Is(err, storage.ErrBadURL) {
			return &usageError{err: fmt.Errorf("--out: %w", err)}
		}
		return err
	}
	defer func() {
		if cerr := store.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close store: %w", cerr))
		}
	}()
	step("open", "store %s", store.URL())

	// Put, unless an earlier run already did.
	if err := ctx.Err(); err != nil {
		return err
	}
	err = store.PutIfAbsent(ctx, demoKey, strings.NewReader(demoContent), int64(len(demoContent)))
	switch {
	case err == nil:
		step("put", "%s: wrote %d bytes (put-if-absent)", demoKey, len(demoContent))
	case errors.Is(err, storage.ErrExists):
		step("put", "%s: already exists (from an earlier run), keeping it", demoKey)
	default:
		return fmt.Errorf("put %s: %w", demoKey, err)
	}

	// Read it back whole.
	if err := ctx.Err(); err != nil {
		return err
	}
	got, err := readObject(ctx, store, demoKey, 0, -1)
	if err != nil {
		return fmt.Errorf("get %s: %w", demoKey, err)
	}
	if !bytes.Equal(got, []byte(demoContent)) {
		return fmt.Errorf("get %s: read back %d bytes %q, want the %d bytes the demo writes %q (if another program wrote this object, remove it or choose another --out)",
			demoKey, len(got), got, len(demoContent), demoContent)
	}
	step("get", "%s: read %d bytes, as written: %q", demoKey, len(got), strings.TrimSpace(string(got)))

	// Read a range of it.
	if err := ctx.Err(); err != nil {
		return err
	}
	part, err := readObject(ctx, store, demoKey, demoRangeOff, demoRangeLen)
	if err != nil {
		return fmt.Errorf("get range of %s: %w", demoKey, err)
	}
	want := demoContent[demoRangeOff : demoRangeOff+demoRangeLen]
	if string(part) != want {
		return fmt.Errorf("get range [%d, %d) of %s: read %q, want %q",
			demoRangeOff, demoRangeOff+demoRangeLen, demoKey, part, want)
	}
	step("get-range", "%s: bytes [%d, %d) are %q, as written", demoKey, demoRangeOff, demoRangeOff+demoRangeLen, part)

	// Stat it.
	if err := ctx.Err(); err != nil {
		return err
	}
	info, err := store.Stat(ctx, demoKey)
	if err != nil {
		return fmt.Errorf("stat %s: %w", demoKey, err)
	}
	if info.Size != int64(len(demoContent)) {
		return fmt.Errorf("stat %s: size %d, want %d", demoKey, info.Size, len(demoContent))
	}
	step("stat", "%s: %d bytes, last written %s", demoKey, info.Size, info.ModTime.UTC().Format(time.RFC3339))

	// List the prefix.
	n, found := 0, false
	for obj, err := range store.List(ctx, demoPrefix) {
		if err != nil {
			return fmt.Errorf("list %s: %w", demoPrefix, err)
		}
		n++
		found = found || obj.Key == demoKey
		step("list", "%s (%d bytes)", obj.Key, obj.Size)
	}
	if !found {
		return fmt.Errorf("list %s: %s is missing from the listing", demoPrefix, demoKey)
	}
	step("list", "%d object(s) under %s", n, demoPrefix)

	step("next", "crawl, shards and train are not yet implemented; demo will run them here once they exist")
	return nil
}

// readObject reads length bytes of key from off (length -1: to the end),
// using Get for a whole object and GetRange otherwise.
func readObject(ctx context.Context, store storage.Store, key string, off, length int64) ([]byte, error) {
	var rc io.ReadCloser
	var err error
	if off == 0 && length < 0 {
		rc, err = store.Get(ctx, key)
	} else {
		rc, err = store.GetRange(ctx, key, off, length)
	}
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return b, err
}
