// Package loader streams committed shards into training batches: listing
// sidecars, the deterministic epoch order, the rank split, prefetch,
// decode/augment/tokenise into reused batch buffers, and the resume state
// {seed, epoch, position}.
//
// It knows storage and the shard format, and tokenises captions through the
// Tokenizer interface it defines (trainer/tokenizer satisfies it); it never
// imports the trainer.
//
// # Use
//
//	l, err := loader.New(ctx, loader.Config{
//		Sources:   []loader.Source{{URL: "s3://bucket/corpus"}},
//		BatchSize: 256, Rank: rank, World: world,
//		Tokenizer: tok,
//	})
//	defer l.Close()
//	st := loader.State{Seed: 1} // or the state saved in a checkpoint
//	for {
//		it, err := l.Iter(ctx, st) // the rest of epoch st.Epoch
//		for {
//			b, err := it.Next() // io.EOF at the end of the epoch
//			... train on b.Images [b.N,3,S,S], b.Tokens [b.N,ctx] ...
//			st = b.State // save this with the checkpoint
//			b.Release()
//		}
//		it.Close()
//	}
//
// # Epoch order
//
// The order of an epoch is a pure function of (seed, epoch, the sources'
// committed sidecars sorted by name, weights, BlockShards); see Order.
// Shards (slots, after weights) are permuted; consecutive runs of
// BlockShards slots form blocks whose samples are shuffled together; the
// epoch is the concatenation of the blocks. Only one block, plus what is
// prefetched, is in memory. The generator is SplitMix64, implemented here
// and pinned by reference values, so orders do not change with Go versions.
//
// Mixing: a source of weight w contributes floor(w) copies of each of its
// shards plus round(frac(w)·n) of its n shards, chosen by a permutation
// seeded by (seed, epoch, source) — MosaicML Streaming's "repeat" at shard
// granularity. Weight 1 (the default) is each sample once per epoch.
//
// # Rank split and resume
//
// Global index i of an epoch goes to rank i mod World. A step consumes
// World×BatchSize consecutive global indices, so after every step all ranks
// agree on Position, the count of global samples consumed; Batch.State
// carries it. Resuming needs no replay: block boundaries are found by binary
// search and one block permutation is computed. Because Position is global,
// a run may resume with another World (elastic): the new ranks split the
// remaining indices [Position, N) the same way. State.Order fingerprints the
// order inputs and Iter refuses a state from different inputs
// (ErrOrderChanged), e.g. after new shards were committed.
//
// When the samples left, R, are fewer than World×BatchSize, the last step
// follows Config.Tail: TailShort (default) delivers short batches (a rank
// may get 0 rows when R < World) so every sample is delivered exactly once
// across ranks; TailDrop drops the partial step like drop_last (the dropped
// tail differs every epoch). Either way all ranks take the same number of
// steps, which keeps collective operations in lockstep.
//
// # Reading
//
// Sources are opened with storage.Open and listed with
// shardwriter.Committed (sidecars, never data objects); a sidecar that does
// not parse is left out, logged and counted. Blocks are admitted in order
// while the bytes they hold (each shard: its sidecar's bytes plus tar_bytes)
// stay within MemoryBudget — one block is always admitted, so a budget
// below one block still progresses, one block at a time. Shards are fetched
// whole, FetchConcurrency at a time, and checked against the sidecar's
// size and SHA-256 before use; a failing read is retried (Retries, with
// doubling backoff; a missing object is not retried). A shard that stays
// unreadable is skipped: logged, counted in Metrics.ShardsSkipped, and its
// samples leave no rows (Metrics.SkippedLost). Every rank reads every
// shard of the blocks it walks, since a block's samples go to all ranks.
// With CacheDir set, verified shards are kept on local disk under a size
// limit, evicting the least recently used.
//
// # Decode and transform
//
// Workers goroutines decode images. Baseline JPEGs, nearly all crawled
// images, go through internal/fastjpeg, which checks the frame header's
// pixel count against MaxPixels before allocating and decodes into the
// JPEG's own planes (Y, and Cb and Cr at their subsampling) in buffers the
// worker reuses; progressive and other JPEG variants, and PNG, go through
// the image package (image/jpeg, image/png) after image.DecodeConfig
// checks the pixel count. Training applies open_clip's RandomResizedCrop
// (scale 0.9–1.0, ratio 3/4–4/3, torchvision's ten tries then a clamped
// centre crop); Eval resizes the shorter side to ImageSize and
// centre-crops.
//
// Resampling is bicubic as PIL does it (Keys cubic a = −0.5, kernel
// widened by the downscale factor, i.e. antialiased), separable, with the
// tap tables computed once per image for its crop. It runs on the decoded
// planes: chroma is resampled from its subsampled grid (JFIF's centred
// siting) straight to the output size, so the bicubic filter also does the
// chroma upsampling (PIL decodes with libjpeg's triangular "fancy"
// upsampling, then resizes), and the conversion to RGB, the clamping to
// 0..255 and the normalisation happen once per output pixel, in one pass
// per output row. Unlike PIL it keeps float precision between the passes
// instead of rounding to 8 bits, so values can differ from PIL by about
// one grey level. On amd64 with AVX2 and FMA the passes and the colour
// conversion run as assembly kernels (resample_amd64.s; the purego build
// tag turns them off); they agree with the portable Go within float32
// rounding, so pixels can differ between the two in the last bits only.
// Pixels are normalised with CLIP's mean and std into one contiguous
// float32 NCHW buffer per batch, or with Config.Uint8 rounded into a
// uint8 NCHW buffer, not normalised, for the GPU to normalise; captions
// are tokenised into int32 [batch, ContextLength]. Batch buffers come
// from a pool of BatchPool per iterator and are reused after Release.
//
// The crop of the sample at global index i is drawn from a generator
// seeded by (seed, epoch, i): it does not depend on the world size, the
// worker that ran it or the batch it landed in, so resumed and elastic runs
// see identical pixels.
//
// A corrupt sample (no image or caption member, an image that does not
// decode or is over MaxPixels, a caption that is not UTF-8 or that the
// tokenizer refuses) is skipped: counted by reason in Metrics, and its row
// removed from the batch (rows keep epoch order; Batch.N shrinks). The
// decision depends only on the sample's bytes, so a replay from the same
// state skips the same samples and yields the same batches. A shard lost to
// storage errors is the exception: that depends on the store at the time.
//
// # Concurrency
//
// Each Iter owns its goroutines in an errgroup: one prefetcher (with a
// bounded group of fetches), one producer that walks the rank's indices and
// hands rows to the workers through a bounded channel, and the workers.
// Cancelling the context or calling Close stops them all promptly; Close
// waits for them.
package loader
