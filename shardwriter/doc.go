// Package shardwriter owns the corpus on storage: WebDataset tar members
// (KEY.jpg, KEY.txt, KEY.json), zstd compression, shard rotation, the commit
// protocol (a shard exists only once its sidecar JSON was created with
// put-if-absent after the data object was complete), and the shard tools
// (ls, verify, gc, stats, cat).
//
// It knows storage and the shard format; it never decodes images.
//
// Not yet implemented: see the shard writer issue.
package shardwriter
