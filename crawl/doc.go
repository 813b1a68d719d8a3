// Package crawl owns finding image/alt-text pairs — pages crawled with colly,
// URL lists (txt, csv, tsv, jsonl, parquet) and Common Crawl WAT files — and
// fetching them politely (robots.txt, per-host rate limits, opt-out headers),
// then decoding, validating and resizing the images and cleaning the captions
// into samples.
//
// It is the first stage of the data flow (crawl → dedup → shardwriter →
// storage → loader → trainer). It does not write shards and does not decide
// what is a duplicate; it may use dedup's hash definitions.
//
// Not yet implemented: see the crawl issue.
package crawl
