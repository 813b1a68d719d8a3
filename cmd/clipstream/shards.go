package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
)

// datasetPrefix is the dataset's prefix inside the store opened at --data:
// the URL names the dataset itself, so shards live at URL/shards/.
const datasetPrefix = ""

// shardsOptions are the flags every 'clipstream shards' verb takes.
type shardsOptions struct {
	Data string // store URL of the dataset (the PREFIX that holds shards/)
}

func (o *shardsOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Data, "data", "", "store `URL` of the dataset: the prefix that holds shards/ (a directory, file:///dir or s3://bucket/prefix)")
}

// shardsLsOptions are the flags of 'clipstream shards ls'.
type shardsLsOptions struct {
	JSON bool // one sidecar per line as JSON
}

func (o *shardsLsOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.JSON, "json", false, "print each shard's sidecar as one JSON object a line, and no header or total")
}

// shardsGCOptions are the flags of 'clipstream shards gc'.
type shardsGCOptions struct {
	Grace  time.Duration // orphans younger than this are left alone
	Delete bool          // remove; otherwise only list
}

func (o *shardsGCOptions) addFlags(fs *pflag.FlagSet) {
	o.Grace = time.Hour
	fs.DurationVar(&o.Grace, "grace", o.Grace, "leave alone orphans written less than `DURATION` ago: they may be shards still being committed")
	fs.BoolVar(&o.Delete, "delete", false, "remove the orphans (without it, gc only lists what it would remove)")
}

// shardsStatsOptions are the flags of 'clipstream shards stats'.
type shardsStatsOptions struct {
	JSON bool // print the summary as dataset.json holds it
}

func (o *shardsStatsOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.JSON, "json", false, "print the summary as JSON (what dataset.json now holds)")
}

// shardsCatOptions are the flags of 'clipstream shards cat'.
type shardsCatOptions struct {
	Images string // directory to extract images into; "" extracts none
	Limit  int    // print at most this many samples; 0: all
	Shard  string // the shard to print
}

func (o *shardsCatOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Images, "images", "", "also extract the shard's images into `DIR` as DIR/KEY.EXT (DIR is created)")
	fs.IntVar(&o.Limit, "limit", 0, "stop after `N` samples (0: all; the shard's checksum is then not checked)")
}

func newShardsCmd(e *env) *cobra.Command {
	var opts shardsOptions
	cmd := &cobra.Command{
		Use:   "shards",
		Short: "Inspect, verify and clean the shards of a dataset",
		Long: `A dataset is a set of zstd-compressed WebDataset tar shards under PREFIX/shards/
(KEY.jpg, KEY.txt, KEY.json per sample). A shard exists only once its JSON sidecar
(sample count, byte size, SHA-256, first and last key, stats) has been committed after
the data object was complete, so a crash never leaves a partial shard visible. The
shards verbs read and maintain such a dataset on any store; --data names the dataset
itself (the PREFIX), e.g. ./corpus or s3://bucket/corpus:

  ls      list the committed shards with their sample counts
  verify  re-read every committed shard and check it against its sidecar
  gc      remove orphan data objects (no sidecar) older than a grace period
  stats   print dataset totals, rebuilding dataset.json and sizes.json from the sidecars
  cat     print the captions and metadata of one shard, optionally extracting images

A local directory given to --data must exist; the verbs never create one.`,
		Example: `  clipstream shards ls --data s3://my-bucket/corpus
  clipstream shards verify --data ./corpus`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE,
	}
	opts.addFlags(cmd.PersistentFlags())
	cmd.AddCommand(
		newShardsLsCmd(e, &opts),
		newShardsVerifyCmd(e, &opts),
		newShardsGCCmd(e, &opts),
		newShardsStatsCmd(e, &opts),
		newShardsCatCmd(e, &opts),
	)
	return cmd
}

// openDataset opens the store at --data. These verbs read an existing
// dataset, so a local directory that does not exist is an error here,
// where storage.Open would create it.
func openDataset(ctx context.Context, opts shardsOptions, log *slog.Logger) (storage.Store, error) {
	if opts.Data == "" {
		return nil, usageErrorf("--data is required: the store URL of the dataset (a directory, file:///dir or s3://bucket/prefix)")
	}
	if dir, ok := localDir(opts.Data); ok {
		fi, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("--data %s: no such directory", opts.Data)
		case err != nil:
			return nil, fmt.Errorf("--data %s: %w", opts.Data, err)
		case !fi.IsDir():
			return nil, fmt.Errorf("--data %s: not a directory", opts.Data)
		}
	}
	log.Debug("opening store", "url", opts.Data)
	store, err := storage.Open(ctx, opts.Data, storage.Options{Logger: log})
	if err != nil {
		if errors.Is(err, storage.ErrBadURL) {
			return nil, &usageError{err: fmt.Errorf("--data: %w", err)}
		}
		return nil, err
	}
	return store, nil
}

// localDir returns the directory a file-store URL names, as storage.Open
// reads it: a plain path, or file:///abs/dir. Malformed file URLs are left
// to storage.Open to report.
func localDir(raw string) (string, bool) {
	if !strings.Contains(raw, "://") {
		return raw, true
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "file" || (u.Host != "" && u.Host != "localhost") || !filepath.IsAbs(u.Path) {
		return "", false
	}
	return u.Path, true
}

// withDataset opens the dataset at --data, runs fn on it and closes it.
func withDataset(ctx context.Context, opts shardsOptions, log *slog.Logger, fn func(storage.Store) error) (err error) {
	store, err := openDataset(ctx, opts, log)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := store.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close store: %w", cerr))
		}
	}()
	return fn(store)
}

func newShardsLsCmd(e *env, opts *shardsOptions) *cobra.Command {
	var lsOpts shardsLsOptions
	cmd := &cobra.Command{
		Use:   "ls [flags]",
		Short: "List committed shards with their sample counts",
		Long: `ls lists the committed shards of the dataset at --data in name order (each writer's
shards in write order), one line each:

  SHARD  SAMPLES  BYTES  FIRST_KEY..LAST_KEY  CREATED

followed by a total line. BYTES is the compressed size of the data object. With --json
it prints each shard's sidecar as one JSON object a line instead, with no header or
total.

ls reads only sidecars: data objects without a sidecar (orphans of an interrupted
writer, see 'clipstream shards gc') are not shards. A sidecar that cannot be read is
reported on stderr and makes ls exit with code 1 after listing the others.`,
		Example: `  clipstream shards ls --data s3://my-bucket/corpus
  clipstream shards ls --data ./corpus --json | jq -r .shard`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runShardsLs(cmd.Context(), *opts, lsOpts, e.stdout, e.log)
		},
	}
	lsOpts.addFlags(cmd.Flags())
	return cmd
}

const lsLineFormat = "%-20s %9v %12v  %-35s  %s\n"

// runShardsLs lists the committed shards on w.
func runShardsLs(ctx context.Context, opts shardsOptions, lsOpts shardsLsOptions, w io.Writer, log *slog.Logger) error {
	return withDataset(ctx, opts, log, func(store storage.Store) error {
		enc := json.NewEncoder(w)
		if !lsOpts.JSON {
			fmt.Fprintf(w, lsLineFormat, "SHARD", "SAMPLES", "BYTES", "KEYS", "CREATED")
		}
		var shards, bad int
		var samples, size int64
		for sc, err := range shardwriter.Committed(ctx, store, datasetPrefix) {
			if err != nil {
				if !isBadSidecar(err) {
					return err
				}
				log.Error("unreadable sidecar", "err", err)
				bad++
				continue
			}
			shards++
			samples += int64(sc.Samples)
			size += sc.Bytes
			if lsOpts.JSON {
				if err := enc.Encode(sc); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintf(w, lsLineFormat, sc.Shard, sc.Samples, sc.Bytes, sc.FirstKey+".."+sc.LastKey, sc.Created.UTC().Format(time.RFC3339))
		}
		if !lsOpts.JSON {
			fmt.Fprintf(w, "total: %d shards, %d samples, %s\n", shards, samples, formatBytes(size))
		}
		if bad > 0 {
			return fmt.Errorf("%d sidecar(s) could not be read (named above) and are not listed; 'clipstream shards verify' checks the dataset", bad)
		}
		return nil
	})
}

// isBadSidecar tells a sidecar that does not parse (reported, and the
// listing goes on) from a failure of the listing itself.
func isBadSidecar(err error) bool {
	return errors.Is(err, shardwriter.ErrCorrupt) || errors.Is(err, shardwriter.ErrTooLarge) || errors.Is(err, storage.ErrNotExist)
}

func newShardsVerifyCmd(e *env, opts *shardsOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "verify [flags]",
		Short: "Re-read every committed shard and check it against its sidecar",
		Long: `verify re-reads every committed shard of the dataset at --data and checks that the zstd
stream and the tar are valid, that the size, sample count, SHA-256 and first and last
keys match the sidecar, that keys are valid and sorted, and that every key has its three
members (image, .txt, .json).

Each problem is printed as "FAIL SHARD: what is wrong". If there is any, verify exits
with code 1 and names the failing shards on stderr; otherwise it prints
"N shards, M samples verified". Orphan data objects (no sidecar) are not shards and are
not checked; 'clipstream shards gc' removes them.`,
		Example: `  clipstream shards verify --data ./corpus
  clipstream shards verify --data s3://my-bucket/corpus || echo "corpus is damaged"`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runShardsVerify(cmd.Context(), *opts, e.stdout, e.log)
		},
	}
}

// runShardsVerify verifies every committed shard and reports on w.
func runShardsVerify(ctx context.Context, opts shardsOptions, w io.Writer, log *slog.Logger) error {
	return withDataset(ctx, opts, log, func(store storage.Store) error {
		start := time.Now()
		log.Info("verifying shards", "store", store.URL())
		problems, shards, samples, err := shardwriter.Verify(ctx, store, datasetPrefix)
		for _, p := range problems {
			fmt.Fprintf(w, "FAIL %s: %v\n", p.Shard, p.Err)
		}
		if err != nil {
			return fmt.Errorf("verify %s: %w", store.URL(), err)
		}
		log.Info("verified", "shards", shards, "samples", samples, "problems", len(problems), "elapsed", time.Since(start).Round(time.Millisecond))
		if len(problems) > 0 {
			fmt.Fprintf(w, "%d shards, %d samples verified; %d problem(s)\n", shards, samples, len(problems))
			return fmt.Errorf("%d problem(s) in %s", len(problems), problemNames(problems))
		}
		fmt.Fprintf(w, "%d shards, %d samples verified\n", shards, samples)
		return nil
	})
}

// problemNames names the shards of problems, at most ten of them.
func problemNames(problems []shardwriter.Problem) string {
	const maxNames = 10
	var names []string
	for _, p := range problems {
		if len(names) == maxNames {
			names = append(names, fmt.Sprintf("and %d more", len(problems)-maxNames))
			break
		}
		names = append(names, p.Shard)
	}
	return strings.Join(names, ", ")
}

func newShardsGCCmd(e *env, opts *shardsOptions) *cobra.Command {
	var gcOpts shardsGCOptions
	cmd := &cobra.Command{
		Use:   "gc [flags]",
		Short: "Remove orphan shard data objects and incomplete uploads left by interrupted writers",
		Long: `gc finds the data objects under --data/shards/ that have no committed sidecar (orphans
of writers that crashed or were killed before committing) and are older than --grace.
Younger ones may be shards still being committed and are left alone. Committed shards
are never touched.

On s3:// it also finds the incomplete multipart uploads of shard data older than
--grace (the parts a writer killed in the middle of an upload left: invisible, but
stored and billed) and aborts them. It lists them under shards/ (AWS S3 answers for the
whole prefix) and asks for the next shard of every writer (MinIO answers only for one
key; it also expires stale uploads itself after 24 hours by default).

gc is a dry run by default: it prints "would remove KEY" for each orphan and a total.
With --delete it removes them and prints "removed KEY" for each (and "aborted
incomplete upload of KEY" for uploads).`,
		Example: `  # list the orphans that would be removed
  clipstream shards gc --data s3://my-bucket/corpus

  # remove orphans older than ten minutes
  clipstream shards gc --data ./corpus --grace 10m --delete`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runShardsGC(cmd.Context(), *opts, gcOpts, e.stdout, e.log)
		},
	}
	gcOpts.addFlags(cmd.Flags())
	return cmd
}

// runShardsGC lists or removes orphan data objects and reports on w.
func runShardsGC(ctx context.Context, opts shardsOptions, gcOpts shardsGCOptions, w io.Writer, log *slog.Logger) error {
	if gcOpts.Grace < 0 {
		return usageErrorf("--grace %s: must not be negative", gcOpts.Grace)
	}
	return withDataset(ctx, opts, log, func(store storage.Store) error {
		orphans, err := shardwriter.GC(ctx, store, datasetPrefix, gcOpts.Grace, !gcOpts.Delete)
		var size int64
		now := time.Now()
		for _, o := range orphans {
			verb := "would remove"
			if o.Removed {
				verb = "removed"
			}
			size += o.Size
			fmt.Fprintf(w, "%s %s (%d bytes, written %s, %s ago)\n", verb, o.Key, o.Size,
				o.ModTime.UTC().Format(time.RFC3339), now.Sub(o.ModTime).Round(time.Second))
		}
		if err != nil {
			return err
		}
		if gcOpts.Delete {
			fmt.Fprintf(w, "removed %d orphan(s), %s\n", len(orphans), formatBytes(size))
		} else {
			fmt.Fprintf(w, "%d orphan(s), %s would be removed (dry run: pass --delete to remove them)\n", len(orphans), formatBytes(size))
		}
		uploads, err := shardwriter.GCUploads(ctx, store, datasetPrefix, gcOpts.Grace, !gcOpts.Delete)
		for _, u := range uploads {
			verb := "would abort"
			if u.Aborted {
				verb = "aborted"
			}
			fmt.Fprintf(w, "%s incomplete upload of %s (begun %s, %s ago)\n", verb, u.Key,
				u.Initiated.UTC().Format(time.RFC3339), now.Sub(u.Initiated).Round(time.Second))
		}
		if err != nil {
			return err
		}
		if _, ok := store.(storage.UploadAborter); ok {
			if gcOpts.Delete {
				fmt.Fprintf(w, "aborted %d incomplete upload(s)\n", len(uploads))
			} else {
				fmt.Fprintf(w, "%d incomplete upload(s) would be aborted\n", len(uploads))
			}
		}
		log.Info("gc done", "orphans", len(orphans), "uploads", len(uploads), "grace", gcOpts.Grace, "deleted", gcOpts.Delete)
		return nil
	})
}

func newShardsStatsCmd(e *env, opts *shardsOptions) *cobra.Command {
	var statsOpts shardsStatsOptions
	cmd := &cobra.Command{
		Use:   "stats [flags]",
		Short: "Print dataset totals and rebuild dataset.json and sizes.json",
		Long: `stats reads every sidecar of the dataset at --data, prints its totals (shards, samples,
compressed and tar bytes, the compression ratio tar bytes / bytes, bytes per member
extension, writers, crawl status counts and the most common errors, and the fingerprint
of the shard list) and rewrites PREFIX/dataset.json (the dataset summary) and
PREFIX/shards/sizes.json (shard name to sample count, as open_clip's --train-data reads
it) from them. With --json it prints the summary as dataset.json now holds it.

Sidecars that cannot be read are named and not counted, and stats then exits with
code 1 (after rewriting both files).`,
		Example: `  clipstream shards stats --data ./corpus
  clipstream shards stats --data s3://my-bucket/corpus --json | jq .samples`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runShardsStats(cmd.Context(), *opts, statsOpts, e.stdout, e.log)
		},
	}
	statsOpts.addFlags(cmd.Flags())
	return cmd
}

// runShardsStats rebuilds the dataset summary and prints it on w.
func runShardsStats(ctx context.Context, opts shardsOptions, statsOpts shardsStatsOptions, w io.Writer, log *slog.Logger) error {
	return withDataset(ctx, opts, log, func(store storage.Store) error {
		sum, err := shardwriter.RebuildSummary(ctx, store, datasetPrefix)
		if err != nil {
			return err
		}
		base := strings.TrimSuffix(store.URL(), "/") + "/" + datasetPrefix
		rewrote := fmt.Sprintf("rewrote %s%s and %s%s", base, shardwriter.SizesKey, base, shardwriter.DatasetKey)
		if statsOpts.JSON {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			if err := enc.Encode(sum); err != nil {
				return err
			}
			log.Info(rewrote)
		} else {
			printSummary(w, sum)
			fmt.Fprintln(w, rewrote)
		}
		if n := len(sum.BadSidecars); n > 0 {
			return fmt.Errorf("%d sidecar(s) could not be read and were not counted: %s", n, strings.Join(sum.BadSidecars, "; "))
		}
		return nil
	})
}

// printSummary writes the dataset summary as aligned "name  value" lines.
func printSummary(w io.Writer, sum *shardwriter.Summary) {
	line := func(name, format string, args ...any) {
		fmt.Fprintf(w, "%-12s %s\n", name, fmt.Sprintf(format, args...))
	}
	line("shards", "%d", sum.Shards)
	line("samples", "%d", sum.Samples)
	line("bytes", "%s compressed", formatBytes(sum.Bytes))
	line("tar bytes", "%s uncompressed", formatBytes(sum.TarBytes))
	if sum.Bytes > 0 {
		line("compression", "%.3f (tar bytes / bytes)", float64(sum.TarBytes)/float64(sum.Bytes))
	} else {
		line("compression", "-")
	}
	var members []string
	for _, ext := range slices.Sorted(maps.Keys(sum.MemberBytes)) {
		members = append(members, fmt.Sprintf(".%s %s", ext, formatBytes(sum.MemberBytes[ext])))
	}
	line("members", "%s", orNone(strings.Join(members, ", ")))
	line("writers", "%s", orNone(strings.Join(sum.Writers, ", ")))
	var status []string
	for _, s := range slices.Sorted(maps.Keys(sum.Stats.Status)) {
		status = append(status, fmt.Sprintf("%s %d", oneLine(s), sum.Stats.Status[s]))
	}
	line("status", "%s", orNone(strings.Join(status, ", ")))
	// The most common error messages, most frequent first.
	const maxErrors = 10
	errs := slices.SortedFunc(maps.Keys(sum.Stats.Errors), func(a, b string) int {
		return cmp.Or(cmp.Compare(sum.Stats.Errors[b], sum.Stats.Errors[a]), strings.Compare(a, b))
	})
	for i, msg := range errs {
		if i == maxErrors {
			line("", "(%d more kinds of error)", len(errs)-maxErrors)
			break
		}
		name := ""
		if i == 0 {
			name = "errors"
		}
		line(name, "%6d  %s", sum.Stats.Errors[msg], oneLine(msg))
	}
	line("fingerprint", "%s", sum.Fingerprint)
	for _, bad := range sum.BadSidecars {
		line("bad sidecar", "%s", oneLine(bad))
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func newShardsCatCmd(e *env, opts *shardsOptions) *cobra.Command {
	var catOpts shardsCatOptions
	cmd := &cobra.Command{
		Use:   "cat [flags] SHARD",
		Short: "Print the captions and metadata of one shard",
		Long: `cat prints the samples of one committed shard of the dataset at --data, one line each:

  KEY<TAB>CAPTION<TAB>METADATA

where CAPTION has backslashes, tabs, newlines and other control characters escaped
(\\, \t, \n, \uXXXX) and METADATA is the sample's JSON on one line. SHARD is a shard
name as 'clipstream shards ls' prints it, with or without its extension: w0-000001 or
w0-000001.tar.zst.

--images DIR also writes each sample's image as DIR/KEY.EXT (DIR is created; nothing
is written outside it). --limit N stops after N samples. The shard is checked against
its sidecar as it is read (as verify does); a mismatch found after some lines were
printed still makes cat exit with code 1.`,
		Example: `  clipstream shards cat --data ./corpus w0-000000
  clipstream shards cat --data s3://my-bucket/corpus --images /tmp/images --limit 20 w0-000003.tar.zst`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			catOpts.Shard = args[0]
			return runShardsCat(cmd.Context(), *opts, catOpts, e.stdout, e.log)
		},
	}
	catOpts.addFlags(cmd.Flags())
	return cmd
}

// errCatLimit stops the reading of a shard once --limit samples printed.
var errCatLimit = errors.New("limit reached")

// runShardsCat prints one shard's samples on w and extracts its images.
func runShardsCat(ctx context.Context, opts shardsOptions, catOpts shardsCatOptions, w io.Writer, log *slog.Logger) error {
	if catOpts.Limit < 0 {
		return usageErrorf("--limit %d: must not be negative", catOpts.Limit)
	}
	return withDataset(ctx, opts, log, func(store storage.Store) (err error) {
		sc, err := shardwriter.ShardByName(ctx, store, datasetPrefix, catOpts.Shard)
		if err != nil {
			if errors.Is(err, shardwriter.ErrBadShardName) {
				return &usageError{err: err}
			}
			return err
		}
		var images *os.Root
		if catOpts.Images != "" {
			if err := os.MkdirAll(catOpts.Images, 0o755); err != nil {
				return fmt.Errorf("--images: %w", err)
			}
			// Writes through the root cannot leave the directory, even by
			// a symbolic link already in it.
			if images, err = os.OpenRoot(catOpts.Images); err != nil {
				return fmt.Errorf("--images: %w", err)
			}
			defer func() {
				if cerr := images.Close(); cerr != nil {
					err = errors.Join(err, fmt.Errorf("--images: %w", cerr))
				}
			}()
		}
		n := 0
		err = shardwriter.ReadShard(ctx, store, datasetPrefix, sc, shardwriter.ReaderOptions{}, func(rec *shardwriter.Record) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if images != nil {
				if err := writeImage(images, rec); err != nil {
					return fmt.Errorf("shard %s: %w", sc.Shard, err)
				}
			}
			if _, err := fmt.Fprintf(w, "%s\t%s\t%s\n", rec.Key, oneLine(string(rec.Members["txt"])), oneLineJSON(rec.Members["json"])); err != nil {
				return err
			}
			n++
			if catOpts.Limit > 0 && n >= catOpts.Limit {
				return errCatLimit
			}
			return nil
		})
		if err != nil && !errors.Is(err, errCatLimit) {
			return err
		}
		if images != nil {
			log.Info("extracted images", "shard", sc.Shard, "images", n, "dir", catOpts.Images)
		}
		return nil
	})
}

// writeImage writes rec's image member as KEY.EXT into dir.
func writeImage(dir *os.Root, rec *shardwriter.Record) error {
	for ext, data := range rec.Members {
		if ext == "txt" || ext == "json" {
			continue
		}
		name := rec.Key + "." + ext
		// The reader accepts only keys of [A-Za-z0-9_-], and extensions
		// never hold a '/'; check again before touching the file system.
		if !filepath.IsLocal(name) || strings.ContainsAny(name, `/\`) || shardwriter.CheckKey(rec.Key) != nil {
			return fmt.Errorf("sample %q: image name %q is not a plain file name", rec.Key, name)
		}
		if err := dir.WriteFile(name, data, 0o644); err != nil {
			return fmt.Errorf("write image of sample %s: %w", rec.Key, err)
		}
	}
	return nil
}

// oneLine escapes s so that it prints on one line and cannot drive a
// terminal: backslash, tab, CR and LF as \\, \t, \r, \n, other control
// characters as \uXXXX, and bytes that are not UTF-8 as \xNN.
func oneLine(s string) string {
	clean := true
	for _, r := range s {
		if r == '\\' || r == utf8.RuneError || unicode.IsControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case unicode.IsControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// oneLineJSON returns the JSON document raw on one line. Control characters
// left in it (valid JSON holds them only inside strings) are written as
// \uXXXX escapes, so it stays the same JSON; what is not valid JSON is
// escaped as text by oneLine.
func oneLineJSON(raw []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return oneLine(string(raw))
	}
	s := buf.String()
	if !strings.ContainsFunc(s, func(r rune) bool { return r == utf8.RuneError || unicode.IsControl(r) }) {
		return s
	}
	var b strings.Builder
	for _, r := range s { // a byte that is not UTF-8 comes as utf8.RuneError
		if r == utf8.RuneError || unicode.IsControl(r) {
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// formatBytes writes n as a byte count with its binary-prefixed size.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%d bytes (%.1f %ciB)", n, float64(n)/float64(div), "KMGTPE"[exp])
}
