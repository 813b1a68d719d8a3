package main

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// shardsOptions are the flags every 'clipstream shards' verb takes.
type shardsOptions struct {
	Data string // store URL of the dataset (the PREFIX that holds shards/)
}

func (o *shardsOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Data, "data", "", "store `URL` of the dataset: the prefix that holds shards/ (a directory, file:///dir or s3://bucket/prefix)")
}

// shardsCatOptions are the flags of 'clipstream shards cat'.
type shardsCatOptions struct {
	Images string // directory to extract images into; "" extracts none
	Shard  string // the shard to print
}

func (o *shardsCatOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Images, "images", "", "also extract the shard's images into `DIR`")
}

func newShardsCmd(e *env) *cobra.Command {
	var opts shardsOptions
	cmd := &cobra.Command{
		Use:   "shards",
		Short: "Inspect, verify and clean the shards of a dataset (not yet implemented)",
		Long: `NOT YET IMPLEMENTED: every shards verb exits with code 3.

A dataset is a set of zstd-compressed WebDataset tar shards under PREFIX/shards/
(KEY.jpg, KEY.txt, KEY.json per sample). A shard exists only once its JSON sidecar
(sample count, byte size, SHA-256, first and last key, stats) has been committed after
the data object was complete, so a crash never leaves a partial shard visible. The
shards verbs read and maintain such a dataset on any store:

  ls      list the committed shards with their sample counts
  verify  re-read every committed shard and check it against its sidecar
  gc      remove orphan data objects (no sidecar) older than a grace period
  stats   print dataset totals, rebuilding dataset.json and sizes.json from the sidecars
  cat     print the captions and metadata of one shard, optionally extracting images`,
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

func newShardsLsCmd(e *env, opts *shardsOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "ls [flags]",
		Short: "List committed shards with their sample counts (not yet implemented)",
		Long: `NOT YET IMPLEMENTED: running it exits with code 3.

ls will list the committed shards of the dataset at --data, one line each with the
shard's name, sample count and byte size, in write order. It reads only sidecars:
data objects without a sidecar (orphans of an interrupted writer) are not shards.`,
		Example: `  clipstream shards ls --data s3://my-bucket/corpus`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runShardsLs(cmd.Context(), *opts, e.log)
		},
	}
}

// runShardsLs will list committed shards. It is not implemented yet.
func runShardsLs(_ context.Context, opts shardsOptions, log *slog.Logger) error {
	log.Debug("shards ls", "data", opts.Data)
	return errNotImplemented
}

func newShardsVerifyCmd(e *env, opts *shardsOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "verify [flags]",
		Short: "Re-read every committed shard and check it against its sidecar (not yet implemented)",
		Long: `NOT YET IMPLEMENTED: running it exits with code 3.

verify will re-read every committed shard of the dataset at --data and check that the
zstd stream and the tar are valid, that the sample count and SHA-256 match the sidecar,
and that every key has its three members (.jpg, .txt, .json). It exits non-zero and
names the shard on any mismatch.`,
		Example: `  clipstream shards verify --data ./corpus`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runShardsVerify(cmd.Context(), *opts, e.log)
		},
	}
}

// runShardsVerify will verify committed shards. It is not implemented yet.
func runShardsVerify(_ context.Context, opts shardsOptions, log *slog.Logger) error {
	log.Debug("shards verify", "data", opts.Data)
	return errNotImplemented
}

func newShardsGCCmd(e *env, opts *shardsOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "gc [flags]",
		Short: "Remove orphan shard data objects left by interrupted writers (not yet implemented)",
		Long: `NOT YET IMPLEMENTED: running it exits with code 3.

gc will find the data objects under --data that have no committed sidecar and are older
than a grace period (orphans of writers that crashed or were killed) and remove them.
It will be a dry run by default, listing what it would remove; committed shards are
never touched.`,
		Example: `  # list the orphans that would be removed
  clipstream shards gc --data s3://my-bucket/corpus`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runShardsGC(cmd.Context(), *opts, e.log)
		},
	}
}

// runShardsGC will remove orphan data objects. It is not implemented yet.
func runShardsGC(_ context.Context, opts shardsOptions, log *slog.Logger) error {
	log.Debug("shards gc", "data", opts.Data)
	return errNotImplemented
}

func newShardsStatsCmd(e *env, opts *shardsOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "stats [flags]",
		Short: "Print dataset totals and rebuild dataset.json and sizes.json (not yet implemented)",
		Long: `NOT YET IMPLEMENTED: running it exits with code 3.

stats will read every sidecar of the dataset at --data, print its totals (shards,
samples, bytes, crawl status counts), and rebuild PREFIX/dataset.json (the dataset
summary) and PREFIX/shards/sizes.json (shard name to sample count, as open_clip's
--train-data reads it) from them.`,
		Example: `  clipstream shards stats --data ./corpus`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runShardsStats(cmd.Context(), *opts, e.log)
		},
	}
}

// runShardsStats will summarise a dataset. It is not implemented yet.
func runShardsStats(_ context.Context, opts shardsOptions, log *slog.Logger) error {
	log.Debug("shards stats", "data", opts.Data)
	return errNotImplemented
}

func newShardsCatCmd(e *env, opts *shardsOptions) *cobra.Command {
	var catOpts shardsCatOptions
	cmd := &cobra.Command{
		Use:   "cat [flags] SHARD",
		Short: "Print the captions and metadata of one shard (not yet implemented)",
		Long: `NOT YET IMPLEMENTED: running it exits with code 3.

cat will print the samples of one shard of the dataset at --data, one per line with its
key, caption and metadata; --images DIR also extracts the images into DIR.`,
		Example: `  clipstream shards cat --data ./corpus --images /tmp/images w0-000000`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			catOpts.Shard = args[0]
			return runShardsCat(cmd.Context(), *opts, catOpts, e.log)
		},
	}
	catOpts.addFlags(cmd.Flags())
	return cmd
}

// runShardsCat will print one shard. It is not implemented yet.
func runShardsCat(_ context.Context, opts shardsOptions, catOpts shardsCatOptions, log *slog.Logger) error {
	log.Debug("shards cat", "data", opts.Data, "shard", catOpts.Shard, "images", catOpts.Images)
	return errNotImplemented
}
