// Package loader owns streaming committed shards into training batches:
// listing sidecars, the deterministic epoch order (a pure function of seed,
// epoch and sidecar list), rank split, prefetch, decode/augment/tokenise,
// batch buffers and the resume state {seed, epoch, position}.
//
// It knows storage and the shard format, and tokenises captions through a
// Tokenizer interface it defines; it never imports the trainer.
//
// Not yet implemented: see the loader issue.
package loader
