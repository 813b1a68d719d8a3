package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/clipstream/clipstream/dedup"
)

// dedupOptions are the flags every 'clipstream dedup' verb takes.
type dedupOptions struct {
	Index string // directory of the Badger index
}

func (o *dedupOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Index, "index", "", "`DIR` of the dedup index (a Badger directory; the crawl's --index)")
}

// dedupStatsOptions are the flags of 'clipstream dedup stats'.
type dedupStatsOptions struct {
	JSON bool
}

func (o *dedupStatsOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.JSON, "json", false, "print the statistics as one JSON object")
}

func newDedupCmd(e *env) *cobra.Command {
	var opts dedupOptions
	cmd := &cobra.Command{
		Use:   "dedup",
		Short: "Inspect the dedup index a crawl keeps",
		Long: `The crawl checks every sample against a persistent index (Badger, in a local
directory) and keeps it only if it duplicates nothing already in the corpus: by
normalised URL, by exact image (SHA-256), by near-duplicate image (64-bit perceptual
hash within a Hamming radius) and by caption+image pair.

  stats   counts of records per kind, committed samples, size on disk

The index is opened read-only; a crawl running on it at the same time holds its lock,
and stats then fails with a clear error.`,
		Example: `  clipstream dedup stats --index ./corpus-index`,
		Args:    cobra.ArbitraryArgs,
		RunE:    groupRunE,
	}
	opts.addFlags(cmd.PersistentFlags())
	var st dedupStatsOptions
	stats := &cobra.Command{
		Use:   "stats --index DIR [flags]",
		Short: "Print counts per kind and the index's size on disk",
		Long: `stats opens the index read-only and prints what it holds: URL, exact-image, pair and
perceptual-hash records, near-duplicate bucket entries, committed sample keys, shards
prepared but not yet committed (a crash between a shard's data and its sidecar), the
run epoch, the radius the index was built for, and the bytes on disk.`,
		Example: `  clipstream dedup stats --index ./corpus-index
  clipstream dedup stats --index ./corpus-index --json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Index == "" {
				return usageErrorf("--index is required")
			}
			return runDedupStats(cmd.Context(), opts, st, e.stdout)
		},
	}
	st.addFlags(stats.Flags())
	cmd.AddCommand(stats)
	return cmd
}

// runDedupStats prints the statistics of the index in opts.Index.
func runDedupStats(ctx context.Context, opts dedupOptions, st dedupStatsOptions, w io.Writer) error {
	if _, err := os.Stat(opts.Index); err != nil {
		return fmt.Errorf("dedup index %s: %w", opts.Index, err)
	}
	o := dedup.DefaultOptions()
	o.ReadOnly = true
	idx, err := dedup.Open(ctx, opts.Index, o)
	if err != nil {
		return err
	}
	defer idx.Close()
	s, err := idx.Stats(ctx)
	if err != nil {
		return err
	}
	if st.JSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	rows := []struct {
		name string
		v    int64
	}{
		{"urls", s.URLs}, {"exact images", s.Exact}, {"pairs", s.Pairs}, {"perceptual hashes", s.PHashes},
		{"bucket entries", s.BucketEntries}, {"committed samples", s.Committed},
		{"prepared shards", s.PreparedShards}, {"bytes on disk", s.DiskBytes},
	}
	fmt.Fprintf(w, "index %s (epoch %d, built for radius %d)\n", s.Dir, s.Epoch, s.BuiltRadius)
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t  %s\t\n", r.v, r.name)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	kinds := slices.Collect(func(yield func(dedup.Kind) bool) {
		for k := range s.Duplicates {
			if !yield(k) {
				return
			}
		}
	})
	slices.Sort(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "duplicates by %s this run: %d\n", k, s.Duplicates[k])
	}
	return nil
}
