// Package shardwriter owns the corpus on storage: WebDataset tar members
// (KEY.jpg, KEY.txt, KEY.json), zstd compression, shard rotation, the commit
// protocol (a shard exists only once its sidecar JSON was created with
// put-if-absent after the data object was complete), and the shard tools
// (ls, verify, gc, stats, cat).
//
// It knows storage and the shard format; it never decodes images.
//
// Writing: New lists the writer's existing objects and numbers on after
// them; Write streams each sample's members through tar and zstd straight
// into a storage put (no shard in memory); a full shard (MaxSamples or
// MaxBytes) is committed by completing the data object and then creating
// the sidecar with put-if-absent; OnCommit then tells the producer (the
// dedup index) which keys are in the corpus. A crash at any instant leaves
// committed shards intact and at most one orphan data object per writer,
// which GC removes after a grace period; a rerun redoes exactly the samples
// of uncommitted shards.
//
// Reading: Committed lists sidecars (never data objects), ReadShard streams
// a shard's records and checks them against the sidecar (count, keys, size,
// SHA-256, three members per key); Verify does that for every shard.
// Summaries (shards/sizes.json for open_clip, dataset.json) are rebuilt
// from the sidecars by RebuildSummary.
package shardwriter
