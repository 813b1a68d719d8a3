package main

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// crawlOptions are the flags of 'clipstream crawl'. How inputs (seed pages,
// URL lists, WAT files) are named on the command line is not settled yet;
// they arrive as positional arguments for now.
type crawlOptions struct {
	Out          string   // store URL the shards are written under
	Partition    string   // "i/N": this process's part of every input
	RetryFailed  bool     // retry only URLs that failed before
	AllowPrivate bool     // allow loopback/private addresses (test sites)
	Inputs       []string // positional arguments
}

func (o *crawlOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Out, "out", "", "store `URL` the corpus is written under (a directory, file:///dir or s3://bucket/prefix)")
	fs.StringVar(&o.Partition, "partition", "", "take part `i/N` of every input, so N processes split one crawl (e.g. 0/4)")
	fs.BoolVar(&o.RetryFailed, "retry-failed", false, "fetch again only the URLs that failed in an earlier run")
	fs.BoolVar(&o.AllowPrivate, "allow-private", false, "allow requests to loopback, private and link-local addresses (for local test sites)")
}

func newCrawlCmd(e *env) *cobra.Command {
	var opts crawlOptions
	cmd := &cobra.Command{
		Use:   "crawl [flags] [INPUT...]",
		Short: "Find image/alt-text pairs, fetch them politely and write them as shards (not yet implemented)",
		Long: `NOT YET IMPLEMENTED: running it exits with code 3.

crawl will build a corpus: it finds image/alt-text pairs, fetches the images politely,
turns them into clean samples and writes them, deduplicated, as committed shards under
--out. Sources of pairs:
  - web pages, crawled from seed URLs within allowed domains to a bounded depth and page
    count, taking every <img> with alt text (srcset and data-src too; title or figcaption
    as a recorded fallback);
  - URL lists in the formats img2dataset reads (txt, csv, tsv, jsonl, parquet, optionally
    gzipped), with the URL and caption columns named by flags;
  - Common Crawl WAT files, local or from storage.

Fetching keeps one request in flight per host, at least 1 s apart by default, honours
robots.txt (RFC 9309, with clipstream's own product token), Crawl-delay, X-Robots-Tag
noai/noimageai, Retry-After and backoff, and never contacts loopback, private,
link-local or metadata addresses unless --allow-private. Images are checked from their
headers before decoding, resized as img2dataset does (border to 256 px by default) and
stored as JPEG; captions are cleaned and filtered.

Progress is kept in the store's index, so stopping and rerunning the same command
continues where it stopped and fetches nothing twice; --retry-failed retries only the
URLs that failed. --partition i/N splits every input deterministically so that N
processes on N machines each take a disjoint part.`,
		Example: `  # crawl pages from a seed list into a local corpus
  clipstream crawl --out ./corpus seeds.txt

  # one of four machines sharing a crawl into S3
  clipstream crawl --out s3://my-bucket/corpus --partition 2/4 urls.parquet`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Inputs = args
			return runCrawl(cmd.Context(), opts, e.log)
		},
	}
	opts.addFlags(cmd.Flags())
	return cmd
}

// runCrawl will run a crawl. It is not implemented yet.
func runCrawl(_ context.Context, opts crawlOptions, log *slog.Logger) error {
	log.Debug("crawl", "out", opts.Out, "partition", opts.Partition, "inputs", len(opts.Inputs))
	return errNotImplemented
}
