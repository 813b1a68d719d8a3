// Package crawl owns finding image/alt-text pairs and turning them into
// clean samples: it is the first stage of the data flow (crawl → dedup →
// shardwriter → storage → loader → trainer). It does not write shards and
// does not decide what is a duplicate; it computes the hashes dedup defines.
//
// Sources yield Pairs (pair.go) through a PairFunc:
//   - CrawlPages crawls web pages with colly from seeds within allowed
//     domains, bounded depth and page count, a bounded queue and a
//     LimitRule per domain; ExtractHTML takes every <img> with alt text
//     (srcset, data-src; title and figcaption as recorded fallbacks),
//     resolved against <base href> or the page;
//   - ReadURLList reads the URL lists img2dataset reads (txt, csv, tsv,
//     jsonl, parquet, optionally gzipped), locally or from storage;
//   - ReadWAT reads Common Crawl WAT files (IMG@/src links with their alt).
//
// Partition splits every input deterministically (by image URL, or by host
// for page crawls), so that N processes each take a disjoint part.
//
// The Fetcher (fetch.go) turns Pairs into Samples politely: per-host queues
// with one request in flight and a delay between requests, robots.txt per
// RFC 9309 for pages and images (product token "clipstream"), Crawl-delay,
// X-Robots-Tag opt-outs checked before any body is read, Retry-After and
// capped backoff, parking of failing hosts, timeouts and body limits, and
// no connection to loopback, private, link-local or metadata addresses,
// checked on the resolved address at dial time, redirects included, unless
// AllowPrivate. Images are checked from their headers before decoding
// (pixel limits), decoded (JPEG, PNG, GIF, WebP), resized as img2dataset
// does and stored as JPEG; captions are cleaned and filtered. Every pair
// tried ends with a Status: ok or one error kind.
package crawl
