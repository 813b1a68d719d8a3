// Command clipstream builds a web-scale image/alt-text corpus on object
// storage and trains CLIP on it: it crawls image/alt-text pairs, writes them
// as crash-safe zstd WebDataset shards to a local directory or any
// S3-compatible store, streams the shards into training on CPU or CUDA, and
// resumes training from checkpoints kept in the same store.
//
// Usage:
//
//	clipstream [--log-level debug|info|warn|error] [--log-format text|json] <verb> [flags]
//
// Verbs (run 'clipstream <verb> --help' for each one's flags and an example):
//
//	crawl          find image/alt-text pairs, fetch them politely, dedup them, write shards
//	shards ls      list committed shards
//	shards verify  re-read every committed shard and check it against its sidecar
//	shards gc      remove orphan shard data objects
//	shards stats   print dataset totals, rebuild dataset.json and sizes.json
//	shards cat     print the captions and metadata of one shard
//	dedup stats    counts per kind and size on disk of a crawl's dedup index
//	train          train CLIP on shards streamed from storage, checkpointing to storage
//	bench          time training steps on synthetic batches: samples/s, TFLOP/s, MFU
//	eval           zero-shot and retrieval evaluation of a checkpoint
//	plot           draw a run's loss, learning-rate and evaluation curves as a PNG
//	demo           the whole pipeline on the embedded defaults: crawl, dedup, shard, train, resume, evaluate
//	fixtures fetch pull the full emoji corpora of four vendors with npm (for benchmarks)
//	fixture-site   serve the fixture web site on loopback
//	version        print the version, VCS revision, Go version and platform
//
// Results go to stdout; logs go to stderr through log/slog, as text or JSON.
//
// Exit codes:
//
//	0    success
//	1    failure (the message on stderr says what failed)
//	2    usage error: unknown verb, bad flag or bad argument; nothing was done
//	130  interrupted by SIGINT or SIGTERM
//
// The package holds only the command line: flags, output and the wiring of
// the other packages; the work itself lives in those packages.
package main
