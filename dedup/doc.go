// Package dedup owns the Badger index that decides what is a duplicate: by
// normalised URL, by exact content hash, by perceptual near-duplicate
// (64-bit pHash within a Hamming radius, multi-index hashing) and by
// caption+image pair. It also defines the perceptual hash the crawl computes.
//
// It sits between crawl and shardwriter in the data flow and fetches nothing.
//
// Not yet implemented: see the dedup issue.
package dedup
