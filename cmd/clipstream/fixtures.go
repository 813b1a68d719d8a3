package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/clipstream/clipstream/fixtures"
)

// fixturesFetchOptions are the flags of 'clipstream fixtures fetch'.
type fixturesFetchOptions struct {
	CacheDir string
	Vendors  []string
}

func (o *fixturesFetchOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.CacheDir, "cache-dir", "", "`DIR` to put the corpora in (default: the clipstream cache, fixtures/)")
	fs.StringSliceVar(&o.Vendors, "vendor", nil, "fetch only these `VENDORS` (google, twitter, apple, facebook; default all)")
}

func newFixturesCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fixtures",
		Short: "Fetch the full emoji corpora used by the benchmarks",
		Long: `The repository carries a small corpus (646 emoji images of two vendors) for the tests
and the demo. The benchmarks use the full corpora of all four vendors of the npm
packages emoji-datasource-{google,twitter,apple,facebook} (about 3,800 64 px images
each, with names and categories); 'fixtures fetch' pulls them with npm into a cache.

  fetch   download and unpack the corpora (reused when already there)

Only the Google (Apache-2.0) and Twitter (CC-BY-4.0) images may be redistributed;
the Apple and Facebook images stay in your local cache.`,
		Example: `  clipstream fixtures fetch
  clipstream fixtures fetch --vendor google,twitter`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE,
	}
	var fo fixturesFetchOptions
	fetch := &cobra.Command{
		Use:   "fetch [flags]",
		Short: "Download the full emoji corpora with npm into the cache",
		Long: `fetch runs 'npm pack' for each vendor's package at a pinned version, unpacks it into
the cache and writes a manifest.json per vendor. It prints one line per vendor: the
directory of its images and how many there are. It needs npm on PATH.`,
		Example: `  clipstream fixtures fetch --cache-dir ./emoji`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runFixturesFetch(cmd.Context(), fo, e.stdout, e.stderr)
		},
	}
	fo.addFlags(fetch.Flags())
	cmd.AddCommand(fetch)
	return cmd
}

func runFixturesFetch(ctx context.Context, o fixturesFetchOptions, stdout, stderr io.Writer) error {
	got, err := fixtures.Fetch(ctx, fixtures.FetchOptions{CacheDir: o.CacheDir, Vendors: o.Vendors, Log: stderr})
	if err != nil {
		return err
	}
	for _, c := range got {
		fmt.Fprintf(stdout, "%-9s %s  %d images  (manifest %s)\n", c.Vendor, c.ImageDir, c.Images, c.Manifest)
	}
	return nil
}

// fixtureSiteOptions are the flags of 'clipstream fixture-site'.
type fixtureSiteOptions struct {
	Addr      string
	Hostile   bool
	Listeners int
	Delay     int // Crawl-delay in robots.txt, seconds
}

func (o *fixtureSiteOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT` (loopback)")
	fs.BoolVar(&o.Hostile, "hostile", false, "also serve the /hostile/ tree: every bad-input case of the crawl tests")
	fs.IntVar(&o.Listeners, "listeners", 1, "listen on `N` loopback addresses (127.0.0.1..127.0.0.N) and spread the images over them")
	fs.IntVar(&o.Delay, "crawl-delay", 0, "Crawl-delay `SECONDS` written to robots.txt (0: none)")
}

func newFixtureSiteCmd(e *env) *cobra.Command {
	var o fixtureSiteOptions
	cmd := &cobra.Command{
		Use:   "fixture-site [flags]",
		Short: "Serve the fixture web site (the committed emoji corpus) on loopback",
		Long: `fixture-site serves the committed emoji corpus as a small web site: an index, paginated
category pages showing the images as <img alt> (with srcset, data-src, figure/figcaption
and title variants, relative URLs and <base href>), and robots.txt. With --hostile it
adds every bad-input case the crawl is tested against (broken and lying images, a
decompression bomb, a trickling server, resets, redirect loops, rate limits, opt-out
headers). It serves until interrupted; crawl it with --allow-private.`,
		Example: `  clipstream fixture-site --addr 127.0.0.1:8080 &
  clipstream crawl --out ./corpus --seed http://127.0.0.1:8080/ --allow-private`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runFixtureSite(cmd.Context(), o, e.stdout, e.log)
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

func runFixtureSite(ctx context.Context, o fixtureSiteOptions, stdout io.Writer, log *slog.Logger) error {
	opts := fixtures.Options{Addr: o.Addr, Hostile: o.Hostile, Listeners: o.Listeners}
	opts.CrawlDelay = secondsDuration(o.Delay)
	site, err := fixtures.StartSite(ctx, opts)
	if err != nil {
		return err
	}
	defer site.Close()
	fmt.Fprintf(stdout, "serving %d images on %d pages at %s\n", len(site.Samples()), len(site.Pages()), site.URL)
	log.Info("fixture site up; interrupt to stop", "urls", site.URLs)
	<-ctx.Done()
	return ctx.Err()
}

func secondsDuration(s int) time.Duration { return time.Duration(s) * time.Second }
