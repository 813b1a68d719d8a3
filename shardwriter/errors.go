package shardwriter

import "errors"

// Sentinel errors; callers branch on them with errors.Is.
var (
	// ErrInvalidSample: a sample the writer refuses (bad key, no image, a
	// member over the size limit, metadata that is not a JSON object). The
	// writer is still usable; nothing was written for that sample.
	ErrInvalidSample = errors.New("shardwriter: invalid sample")
	// ErrCorrupt: a shard or sidecar that does not parse or does not match
	// what its sidecar says.
	ErrCorrupt = errors.New("shardwriter: corrupt shard")
	// ErrTooLarge: a shard member or sidecar over the reader's size limit.
	ErrTooLarge = errors.New("shardwriter: member too large")
	// ErrClosed: the writer was closed or aborted.
	ErrClosed = errors.New("shardwriter: writer closed")
)
