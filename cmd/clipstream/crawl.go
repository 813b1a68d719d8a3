package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"

	"github.com/clipstream/clipstream/crawl"
	"github.com/clipstream/clipstream/dedup"
	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
)

// crawlOptions are the flags of 'clipstream crawl'.
type crawlOptions struct {
	Out       string // store URL of the dataset
	Index     string // dedup index directory
	WriterID  string
	Partition string // "i/N"

	Seeds          []string
	AllowedDomains []string
	MaxDepth       int
	MaxPages       int
	Lists          []string
	ListFormat     string
	URLColumn      string
	CaptionColumn  string
	WATs           []string
	Inputs         []string // positional: told apart by form

	Workers      int
	HostDelay    time.Duration
	AllowPrivate bool
	ContactURL   string
	RetryFailed  bool

	ResizeMode  string
	ImageSize   int
	JPEGQuality int
	MinSide     int
	MaxAspect   float64
	MinCaption  int

	ShardSamples int
	Radius       int
	DedupCacheMB int
	Decontam     string // directory of evaluation images

	CPUProfile string // file for a pprof CPU profile of the run
	MemProfile string // file for a pprof heap profile at the end of the run
}

func (o *crawlOptions) addFlags(fs *pflag.FlagSet) {
	d := crawl.DefaultOptions()
	fs.StringVar(&o.Out, "out", "", "store `URL` of the corpus (a directory, file:///dir or s3://bucket/prefix)")
	fs.StringVar(&o.Index, "index", "", "`DIR` of the dedup index and crawl progress (local disk); default OUT.index for a local --out, ./clipstream-index otherwise")
	fs.StringVar(&o.WriterID, "writer-id", "", "`ID` naming this process's shards; default w0, or pI with --partition I/N")
	fs.StringVar(&o.Partition, "partition", "", "take part `i/N` of every input, so N processes split one crawl (e.g. 0/4)")
	fs.StringArrayVar(&o.Seeds, "seed", nil, "crawl web pages starting from `URL` (repeatable)")
	fs.StringArrayVar(&o.AllowedDomains, "allow-domain", nil, "follow links only within `HOST` (repeatable; default: the seeds' hosts)")
	fs.IntVar(&o.MaxDepth, "max-depth", 3, "follow links at most `N` deep from a seed")
	fs.IntVar(&o.MaxPages, "max-pages", 1000, "fetch at most `N` pages")
	fs.StringArrayVar(&o.Lists, "url-list", nil, "read pairs from the URL list `FILE` (txt, csv, tsv, jsonl, parquet, optionally .gz; local or a store URL; repeatable)")
	fs.StringVar(&o.ListFormat, "list-format", "", "`FORMAT` of the URL lists when the name does not tell (txt|csv|tsv|jsonl|parquet)")
	fs.StringVar(&o.URLColumn, "url-col", "url", "`COLUMN` of the URL lists holding the image URL")
	fs.StringVar(&o.CaptionColumn, "caption-col", "caption", "`COLUMN` of the URL lists holding the caption")
	fs.StringArrayVar(&o.WATs, "wat", nil, "read IMG links and their alt text from the Common Crawl WAT `FILE` (local or a store URL; repeatable)")
	fs.IntVar(&o.Workers, "workers", d.Workers, "fetch up to `N` images at once over all hosts")
	fs.DurationVar(&o.HostDelay, "host-delay", d.HostDelay, "wait at least `DURATION` between two requests to one host")
	fs.BoolVar(&o.AllowPrivate, "allow-private", false, "allow requests to loopback, private and link-local addresses (for local test sites)")
	fs.StringVar(&o.ContactURL, "contact-url", "", "`URL` in the User-Agent where site owners can reach you")
	fs.BoolVar(&o.RetryFailed, "retry-failed", false, "fetch again the URLs that failed in an earlier run (others already done are still skipped)")
	fs.StringVar(&o.ResizeMode, "resize-mode", string(d.Image.Mode), "`MODE` of resizing: no, border, keep_ratio, keep_ratio_largest, center_crop")
	fs.IntVar(&o.ImageSize, "image-size", d.Image.Size, "target size in `PX` of the resize")
	fs.IntVar(&o.JPEGQuality, "jpeg-quality", d.Image.Quality, "JPEG `QUALITY` of resized images")
	fs.IntVar(&o.MinSide, "min-side", d.Image.MinSide, "drop images whose shorter side is under `PX`")
	fs.Float64Var(&o.MaxAspect, "max-aspect", d.Image.MaxAspectRatio, "drop images whose aspect ratio is over `R`")
	fs.IntVar(&o.MinCaption, "min-caption", d.Caption.MinChars, "drop captions shorter than `N` characters")
	fs.IntVar(&o.ShardSamples, "shard-samples", 10_000, "start a new shard after `N` samples")
	fs.IntVar(&o.Radius, "dedup-radius", dedup.DefaultOptions().NearRadius, "near-duplicate Hamming `RADIUS` of the 64-bit perceptual hash (0-10; fixed when the index is created)")
	fs.IntVar(&o.DedupCacheMB, "dedup-cache", int(dedup.DefaultOptions().BlockCacheSize>>20), "`MIB` of the dedup index's block cache; a larger one speeds near-duplicate lookups in a big index (about 1.5x at radius 8 against 10M samples with 1024)")
	fs.StringVar(&o.Decontam, "decontaminate", "", "drop samples within the near-duplicate radius of any image in `DIR` (an evaluation set)")
	fs.StringVar(&o.CPUProfile, "cpu-profile", "", "write a pprof CPU profile of the whole run to `FILE` (go tool pprof FILE)")
	fs.StringVar(&o.MemProfile, "mem-profile", "", "write a pprof heap profile (allocations over the run, and what is in use at its end) to `FILE`")
}

func newCrawlCmd(e *env) *cobra.Command {
	var opts crawlOptions
	cmd := &cobra.Command{
		Use:   "crawl --out URL [flags] [INPUT...]",
		Short: "Find image/alt-text pairs, fetch them politely and write them as deduplicated shards",
		Long: `crawl builds a corpus: it finds image/alt-text pairs, fetches the images politely, turns
them into clean samples, drops duplicates and writes the rest as committed shards under
--out. Sources of pairs (any mix):
  --seed URL       web pages, crawled within the allowed domains to --max-depth and
                   --max-pages, taking every <img> with alt text (srcset and data-src too;
                   title or figcaption as a recorded fallback);
  --url-list FILE  URL lists as img2dataset reads them (txt, csv, tsv, jsonl, parquet,
                   optionally gzipped), columns named by --url-col and --caption-col;
  --wat FILE       Common Crawl WAT files (IMG@/src links with their alt).
Positional INPUTs are told apart by form: http(s):// URLs are seeds, names ending in
.wat or .wat.gz are WAT files, anything else is a URL list.

Fetching keeps one request in flight per host, --host-delay apart, honours robots.txt
(RFC 9309, product token "clipstream") for pages and images, Crawl-delay, X-Robots-Tag
noai/noimageai, Retry-After and backoff, and never contacts loopback, private,
link-local or metadata addresses unless --allow-private. Images are checked from their
headers before decoding, resized as img2dataset does and stored as JPEG; captions are
cleaned and filtered.

Every sample is checked against the dedup index (--index): by URL, exact image, near-
duplicate image (perceptual hash within --dedup-radius) and caption+image pair. A
sample is in the corpus once its shard is committed; the index learns it then, so a
crash loses nothing a rerun does not redo. The index also keeps what happened to every
URL and every page (the page crawl's queue, and the pairs of each page fetched): rerunning
the same command continues where it stopped and fetches nothing twice; --retry-failed
fetches the failed images again. --partition i/N splits every input
deterministically so that N processes each take a disjoint part (give each its own
--index; shards are named by --writer-id, default pI).

--cpu-profile FILE writes a pprof CPU profile of the run, of this process only (read
it with go tool pprof FILE); --mem-profile FILE writes a heap profile when it ends.

SIGINT or SIGTERM stops fetching, commits the shard in progress and exits 130.
The summary goes to stdout; logs go to stderr.`,
		Example: `  # crawl a site into a local corpus
  clipstream crawl --out ./corpus --seed https://example.org/gallery/ --max-depth 2

  # an img2dataset-style URL list, one of four machines, into S3
  clipstream crawl --out s3://my-bucket/corpus --index ./idx-2 --partition 2/4 \
      --url-list s3://my-bucket/lists/urls.parquet --url-col URL --caption-col TEXT`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Inputs = args
			return runCrawl(cmd.Context(), opts, e.stdout, e.log)
		},
	}
	opts.addFlags(cmd.Flags())
	return cmd
}

// crawlSummary is what runCrawl reports.
type crawlSummary struct {
	Tried    atomic.Int64     // pairs handed to the fetcher
	Skipped  atomic.Int64     // pairs a previous run already settled
	Written  int64            // samples written to shards
	Status   map[string]int64 // outcome of every pair tried
	Shards   int              // committed shards in the dataset, all writers
	Samples  int64            // committed samples in the dataset
	Elapsed  time.Duration
	Interrup bool
}

// runCrawl wires the pipeline: sources → progress filter → fetcher → dedup →
// shard writer, with the dedup index told of every commit.
func runCrawl(ctx context.Context, opts crawlOptions, stdout io.Writer, log *slog.Logger) error {
	start := time.Now()
	if opts.Out == "" {
		return usageErrorf("--out is required")
	}
	for _, in := range opts.Inputs {
		switch {
		case strings.HasPrefix(in, "http://") || strings.HasPrefix(in, "https://"):
			opts.Seeds = append(opts.Seeds, in)
		case strings.HasSuffix(in, ".wat") || strings.HasSuffix(in, ".wat.gz"):
			opts.WATs = append(opts.WATs, in)
		default:
			opts.Lists = append(opts.Lists, in)
		}
	}
	if len(opts.Seeds)+len(opts.Lists)+len(opts.WATs) == 0 {
		return usageErrorf("nothing to crawl: give --seed, --url-list, --wat or INPUT arguments")
	}
	part, err := crawl.ParsePartition(opts.Partition)
	if err != nil {
		return usageErrorf("--partition: %v", err)
	}
	if opts.WriterID == "" {
		opts.WriterID = "w0"
		if part.Count > 1 {
			opts.WriterID = fmt.Sprintf("p%d", part.Index)
		}
	}
	if opts.Index == "" {
		opts.Index = "clipstream-index"
		if !strings.Contains(opts.Out, "://") || strings.HasPrefix(opts.Out, "file://") {
			opts.Index = strings.TrimSuffix(strings.TrimPrefix(opts.Out, "file://"), "/") + ".index"
		}
	}
	fopts, err := fetcherOptions(opts)
	if err != nil {
		return err
	}
	stopProfiles, err := startProfiles(opts.CPUProfile, opts.MemProfile)
	if err != nil {
		return err
	}
	defer func() {
		if err := stopProfiles(); err != nil {
			log.Error("writing the profiles failed", "err", err)
		}
	}()

	store, err := storage.Open(ctx, opts.Out, storage.Options{Logger: log})
	if err != nil {
		return err
	}
	defer store.Close()
	dopts := dedup.DefaultOptions()
	dopts.NearRadius = opts.Radius
	if opts.DedupCacheMB > 0 { // 0: the default
		dopts.BlockCacheSize = int64(opts.DedupCacheMB) << 20
	}
	idx, err := dedup.Open(ctx, opts.Index, dopts)
	if err != nil {
		return err
	}
	defer idx.Close()
	// Shards prepared but not known committed when a run died: their
	// sidecar decides.
	nc, nd, err := idx.Recover(ctx, func(ctx context.Context, shard string) (bool, error) {
		_, err := store.Stat(ctx, shardwriter.ShardsDir+shard+shardwriter.SidecarSuffix)
		if errors.Is(err, storage.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return err
	}
	if nc+nd > 0 {
		log.Info("settled shards of an interrupted run", "committed", nc, "dropped", nd)
	}
	var blocked *dedup.Blocklist
	if opts.Decontam != "" {
		if blocked, err = loadBlocklist(opts.Decontam, opts.Radius, log); err != nil {
			return err
		}
	}

	// The writer's lifetime context outlives a cancel of ctx, so that the
	// shard in progress can still be committed on SIGINT.
	wctx, wcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer wcancel()
	w, err := shardwriter.New(wctx, store, shardwriter.Options{
		WriterID:     opts.WriterID,
		MaxSamples:   opts.ShardSamples,
		BeforeCommit: idx.Prepare,
		OnCommit: func(ctx context.Context, c shardwriter.Commit) error {
			return idx.CommitShard(ctx, shardwriter.ShardBase(c.Sidecar.Writer, c.Sidecar.Seq))
		},
		Logger: log,
	})
	if err != nil {
		return err
	}

	fetcher, err := crawl.New(fopts)
	if err != nil {
		w.Abort()
		return err
	}
	defer fetcher.Close()

	sum := &crawlSummary{Status: map[string]int64{}}
	pairs := make(chan crawl.Pair, 1024)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(pairs)
		return readSources(gctx, opts, part, idx, log, func(p crawl.Pair) error {
			if st, err := idx.URLState(gctx, p.ImageURL); err != nil {
				return err
			} else if st.Done(opts.RetryFailed) {
				sum.Skipped.Add(1)
				return nil
			}
			select {
			case pairs <- p:
				sum.Tried.Add(1)
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	lastLog := time.Now()
	g.Go(func() error {
		// out runs on one goroutine: NextKey is the key Write assigns.
		return fetcher.Run(gctx, pairs, func(s crawl.Sample) error {
			status, key, err := keepSample(gctx, s, idx, w, blocked)
			if err != nil {
				return err
			}
			sum.Status[status]++
			if status == string(crawl.StatusOK) {
				sum.Written++
			}
			markStatus, markKey := status, ""
			switch {
			case status == string(crawl.StatusOK):
				markStatus, markKey = dedup.StatusKept, key
			case strings.HasPrefix(status, "duplicate_"):
				markStatus, markKey = dedup.StatusDuplicate, key
			}
			if err := idx.MarkURL(gctx, s.ImageURL, markStatus, markKey); err != nil && !errors.Is(err, dedup.ErrBadSample) {
				return err
			}
			if time.Since(lastLog) > 10*time.Second {
				lastLog = time.Now()
				log.Info("crawling", "tried", sum.Tried.Load(), "written", sum.Written, "skipped", sum.Skipped.Load(),
					"rate", fmt.Sprintf("%.1f/s", float64(sum.Tried.Load())/time.Since(start).Seconds()))
			}
			return nil
		})
	})
	runErr := g.Wait()
	if runErr != nil && ctx.Err() != nil {
		sum.Interrup = true
		runErr = nil // interrupted: commit what is done, then report the cancel
	}
	if runErr != nil {
		w.Abort()
		return runErr
	}
	cctx, ccancel := context.WithTimeout(wctx, 2*time.Minute)
	defer ccancel()
	if err := w.Close(cctx); err != nil {
		return err
	}
	ds, _, err := shardwriter.Summarize(cctx, store, "")
	if err != nil {
		return err
	}
	sum.Shards, sum.Samples, sum.Elapsed = ds.Shards, ds.Samples, time.Since(start)
	printCrawlSummary(stdout, opts, sum)
	if sum.Interrup {
		return ctx.Err()
	}
	return nil
}

// startProfiles starts a CPU profile into cpuFile (unless "") and returns
// the function that stops it and writes a heap profile into memFile (unless
// ""). Both files are created at once, so a bad path fails before the crawl.
func startProfiles(cpuFile, memFile string) (stop func() error, err error) {
	var cpu, mem *os.File
	closeAll := func() {
		for _, f := range []*os.File{cpu, mem} {
			if f != nil {
				f.Close()
			}
		}
	}
	if memFile != "" {
		if mem, err = os.Create(memFile); err != nil {
			return nil, fmt.Errorf("--mem-profile: %w", err)
		}
	}
	if cpuFile != "" {
		if cpu, err = os.Create(cpuFile); err != nil {
			closeAll()
			return nil, fmt.Errorf("--cpu-profile: %w", err)
		}
		if err = pprof.StartCPUProfile(cpu); err != nil {
			closeAll()
			return nil, fmt.Errorf("--cpu-profile: %w", err)
		}
	}
	return func() error {
		var errs []error
		if cpu != nil {
			pprof.StopCPUProfile()
			errs = append(errs, cpu.Close())
		}
		if mem != nil {
			runtime.GC() // in-use figures as of the end of the run
			errs = append(errs, pprof.Lookup("allocs").WriteTo(mem, 0), mem.Close())
		}
		return errors.Join(errs...)
	}, nil
}

// keepSample decides what becomes of one fetched sample and writes it if
// it is kept. It returns the outcome and, for a kept sample, its key; for a
// duplicate, the original's key.
func keepSample(ctx context.Context, s crawl.Sample, idx *dedup.Index, w *shardwriter.Writer, blocked *dedup.Blocklist) (status, key string, err error) {
	if !s.OK() {
		w.RecordStatus(string(s.Status), s.Error)
		return string(s.Status), "", nil
	}
	if blocked != nil {
		if hit, _ := blocked.Match(s.PHash); hit {
			w.RecordStatus("contaminated", "")
			return "contaminated", "", nil
		}
	}
	key = w.NextKey()
	v, err := idx.Check(ctx, s.DedupSample(key))
	if err != nil {
		return "", "", err
	}
	if !v.Keep {
		status = "duplicate_" + v.Kind.String()
		w.RecordStatus(status, "")
		return status, v.Original, nil
	}
	meta, err := json.Marshal(s)
	if err != nil {
		return "", "", err
	}
	err = w.Write(ctx, shardwriter.Sample{Image: s.Image, ImageExt: imageExt(s.Format), Caption: s.Caption, Meta: meta})
	if errors.Is(err, shardwriter.ErrInvalidSample) {
		w.RecordStatus("invalid_sample", err.Error())
		return "invalid_sample", "", nil
	}
	if err != nil {
		return "", "", err
	}
	w.RecordStatus(string(crawl.StatusOK), "")
	return string(crawl.StatusOK), key, nil
}

// imageExt is the WebDataset extension of an image format.
func imageExt(format string) string {
	switch format {
	case "jpeg", "jpg", "":
		return "jpg"
	default:
		return format
	}
}

// readSources feeds every pair of every source to fn, in order: pages, URL
// lists, WAT files.
func readSources(ctx context.Context, opts crawlOptions, part crawl.Partition, pages crawl.PageLog, log *slog.Logger, fn crawl.PairFunc) error {
	if len(opts.Seeds) > 0 {
		po := crawl.DefaultPageOptions()
		po.Seeds = opts.Seeds
		po.AllowedDomains = opts.AllowedDomains
		po.MaxDepth = opts.MaxDepth
		po.MaxPages = opts.MaxPages
		po.Delay = opts.HostDelay
		if opts.HostDelay <= 0 {
			po.Delay, po.RandomDelay = -1, -1
		}
		po.AllowPrivate = opts.AllowPrivate
		po.Partition = part
		po.Log = pages
		po.Logger = log
		if opts.ContactURL != "" {
			po.UserAgent = "clipstream/" + crawl.Version + " (+" + opts.ContactURL + ")"
		}
		st, err := crawl.CrawlPages(ctx, po, fn)
		if err != nil {
			return fmt.Errorf("crawl pages: %w", err)
		}
		log.Info("pages done", "stats", fmt.Sprintf("%+v", st))
	}
	for _, l := range opts.Lists {
		lo := crawl.ListOptions{Format: crawl.ListFormat(opts.ListFormat), URLColumn: opts.URLColumn, CaptionColumn: opts.CaptionColumn, Partition: part, Logger: log}
		st, err := crawl.ReadURLList(ctx, l, lo, fn)
		if err != nil {
			return fmt.Errorf("url list %s: %w", l, err)
		}
		log.Info("url list done", "list", l, "stats", fmt.Sprintf("%+v", st))
	}
	for _, f := range opts.WATs {
		st, err := crawl.ReadWAT(ctx, f, crawl.WATOptions{Partition: part, Logger: log}, fn)
		if err != nil {
			return fmt.Errorf("wat %s: %w", f, err)
		}
		log.Info("wat done", "wat", f, "stats", fmt.Sprintf("%+v", st))
	}
	return nil
}

// fetcherOptions turns the flags into the fetcher's options.
func fetcherOptions(opts crawlOptions) (crawl.Options, error) {
	fo := crawl.DefaultOptions()
	fo.Workers = opts.Workers
	fo.HostDelay = opts.HostDelay
	fo.AllowPrivate = opts.AllowPrivate
	if opts.ContactURL != "" {
		if u, err := url.Parse(opts.ContactURL); err != nil || u.Scheme == "" {
			return fo, usageErrorf("--contact-url %q is not a URL", opts.ContactURL)
		}
		fo.ContactURL = opts.ContactURL
	}
	mode, err := crawl.ParseResizeMode(opts.ResizeMode)
	if err != nil {
		return fo, usageErrorf("--resize-mode: %v", err)
	}
	fo.Image.Mode = mode
	fo.Image.Size = opts.ImageSize
	fo.Image.Quality = opts.JPEGQuality
	fo.Image.MinSide = opts.MinSide
	fo.Image.MaxAspectRatio = opts.MaxAspect
	fo.Caption.MinChars = opts.MinCaption
	if opts.Radius < 0 || opts.Radius > 10 {
		return fo, usageErrorf("--dedup-radius %d: want 0-10", opts.Radius)
	}
	if opts.DedupCacheMB < 0 {
		return fo, usageErrorf("--dedup-cache %d: want a positive number of MiB", opts.DedupCacheMB)
	}
	return fo, nil
}

// loadBlocklist reads the images of an evaluation set from dir.
func loadBlocklist(dir string, radius int, log *slog.Logger) (*dedup.Blocklist, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		return nil, err
	}
	bl, skipped, err := dedup.BlocklistFromFiles(paths, radius)
	if err != nil {
		return nil, fmt.Errorf("--decontaminate %s: %w", dir, err)
	}
	log.Info("decontamination set loaded", "dir", dir, "images", bl.Len(), "not images", skipped)
	if bl.Len() == 0 {
		return nil, fmt.Errorf("--decontaminate %s: no images found", dir)
	}
	return bl, nil
}

func printCrawlSummary(w io.Writer, opts crawlOptions, s *crawlSummary) {
	word := "finished"
	if s.Interrup {
		word = "interrupted; the shard in progress was committed"
	}
	fmt.Fprintf(w, "crawl %s in %v: %d pairs tried, %d skipped as done by an earlier run, %d samples written\n",
		word, s.Elapsed.Round(time.Millisecond), s.Tried.Load(), s.Skipped.Load(), s.Written)
	for _, k := range slices.Sorted(maps.Keys(s.Status)) {
		fmt.Fprintf(w, "  %-24s %d\n", k, s.Status[k])
	}
	fmt.Fprintf(w, "corpus %s: %d committed shards, %d samples (index %s)\n", opts.Out, s.Shards, s.Samples, opts.Index)
}
