package loader

import (
	"sync/atomic"
	"time"
)

// Metrics is a snapshot of a Loader's counters, cumulative over its
// iterators.
type Metrics struct {
	Elapsed       time.Duration // since the first Iter started
	Batches       int64         // batches returned by Next
	Samples       int64         // samples delivered in those batches
	Bytes         int64         // shard bytes read from storage (not the cache)
	SamplesPerSec float64       // Samples / Elapsed
	BytesPerSec   float64       // Bytes / Elapsed
	// Stall is the time callers spent inside Next waiting for a batch:
	// near zero when the loader keeps ahead of the consumer.
	Stall time.Duration
	// FetchWait is the time the pipeline waited for a block's shards to
	// arrive from storage: the latency prefetch did not hide (at least the
	// first block's fetch, at the start of every Iter).
	FetchWait time.Duration

	// Prefetch depth, now: blocks fetched (or being fetched) ahead of the
	// one being consumed, shard fetches in flight, bytes charged against
	// the memory budget.
	PrefetchBlocks  int64
	FetchesInFlight int64
	ResidentBytes   int64

	ShardsFetched int64 // shards read, verified and parsed
	FetchRetries  int64 // storage attempts retried
	CacheHits     int64 // shards served by the disk cache
	// ShardsSkipped: shards that stayed unreadable after the retries
	// (missing, failing, or not matching their sidecar). Their samples
	// are counted in SkippedLost.
	ShardsSkipped int64
	BadSidecars   int64 // sidecars that did not parse, left out of the order

	// Samples skipped, by reason.
	SkippedLost     int64 // in a skipped shard
	SkippedMissing  int64 // no image or no caption member
	SkippedBadImage int64 // does not decode
	SkippedTooLarge int64 // header over Config.MaxPixels
	SkippedBadText  int64 // caption not UTF-8 or refused by the tokenizer
	SkippedTotal    int64 // all of the above
}

type metrics struct {
	started         atomic.Int64 // unix nanos of the first Iter
	batches         atomic.Int64
	samples         atomic.Int64
	bytes           atomic.Int64
	stall           atomic.Int64
	fetchWait       atomic.Int64
	prefetchBlocks  atomic.Int64
	fetchesInFlight atomic.Int64
	residentBytes   atomic.Int64
	shardsFetched   atomic.Int64
	fetchRetries    atomic.Int64
	cacheHits       atomic.Int64
	shardsSkipped   atomic.Int64
	badSidecars     atomic.Int64
	skipLost        atomic.Int64
	skipMissing     atomic.Int64
	skipBadImage    atomic.Int64
	skipTooLarge    atomic.Int64
	skipBadText     atomic.Int64
}

// Metrics returns the loader's counters now.
func (l *Loader) Metrics() Metrics {
	m := &l.met
	out := Metrics{
		Batches:         m.batches.Load(),
		Samples:         m.samples.Load(),
		Bytes:           m.bytes.Load(),
		Stall:           time.Duration(m.stall.Load()),
		FetchWait:       time.Duration(m.fetchWait.Load()),
		PrefetchBlocks:  m.prefetchBlocks.Load(),
		FetchesInFlight: m.fetchesInFlight.Load(),
		ResidentBytes:   m.residentBytes.Load(),
		ShardsFetched:   m.shardsFetched.Load(),
		FetchRetries:    m.fetchRetries.Load(),
		CacheHits:       m.cacheHits.Load(),
		ShardsSkipped:   m.shardsSkipped.Load(),
		BadSidecars:     m.badSidecars.Load(),
		SkippedLost:     m.skipLost.Load(),
		SkippedMissing:  m.skipMissing.Load(),
		SkippedBadImage: m.skipBadImage.Load(),
		SkippedTooLarge: m.skipTooLarge.Load(),
		SkippedBadText:  m.skipBadText.Load(),
	}
	out.SkippedTotal = out.SkippedLost + out.SkippedMissing + out.SkippedBadImage + out.SkippedTooLarge + out.SkippedBadText
	if s := m.started.Load(); s != 0 {
		out.Elapsed = time.Since(time.Unix(0, s))
		if sec := out.Elapsed.Seconds(); sec > 0 {
			out.SamplesPerSec = float64(out.Samples) / sec
			out.BytesPerSec = float64(out.Bytes) / sec
		}
	}
	return out
}
