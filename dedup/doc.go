// Package dedup owns the Badger index that decides what is a duplicate: by
// normalised URL, by exact content hash, by perceptual near-duplicate
// (64-bit pHash within a Hamming radius, multi-index hashing) and by
// caption+image pair. It also defines the perceptual hash the crawl computes.
//
// It sits between crawl and shardwriter in the data flow and fetches nothing.
//
// # Checking a sample
//
// An Index is opened on a directory (Open) and used by many goroutines. Its
// one call, Check, looks a Sample up and, when it duplicates nothing,
// records it, atomically: of samples offered concurrently that duplicate
// each other, exactly one is kept. The kinds (each switchable in Options):
//
//   - URL: SHA-256 of NormalizeURL(url);
//   - exact: SHA-256 of the stored image bytes;
//   - pair: PairHash(caption, image SHA-256), NormalizeCaption applied first;
//     it only matters when exact is off;
//   - near: pHash (ComputePHash, imagehash-compatible) within NearRadius
//     (default 4, at most 10).
//
// Atomicity comes from lock striping, not from Badger's conflict detection
// (which is off): Check locks the stripes of every key it will read or
// write, in order, then runs one Badger transaction. For the near kind the
// locked stripes include one per band of the hash split into radius+1
// bands; two hashes within the radius agree on one of those bands
// (pigeonhole), so their Checks serialise.
//
// CheckBatch is the bulk path: per chunk of up to 1024 samples it takes all
// their stripes, looks them up in one read transaction (and against the
// chunk's own kept samples) and writes the kept ones in one transaction,
// with the same verdicts as Check one sample after another.
//
// # Near duplicates: multi-index hashing
//
// The index is built for a radius r (stored in the directory; a larger
// radius later needs a new index, ErrRadiusTooLarge). Each stored hash is
// split into m disjoint runs of bits (bands, Options.NearBands; 3 from
// radius 2 up); for each band one key 'm' band rotated-hash goes into
// Badger, so a band's bucket (the hashes with given bits in that band) is
// one key range. Writing r = s·m + a (0 ≤ a < m), a hash within r of the
// query is within s of it on one of the first a+1 bands or within s-1 on
// one of the others (Norouzi et al., multi-index hashing), so a query
// seeks to the bucket of every band value within that sub-radius of its
// own, key only, and verifies each candidate by popcount: the search is
// exact, checked against a brute-force scan in TestRecallAgainstBruteForce
// for radii 0 to 10. With 3 bands of 21–22 bits a bucket holds about
// n/2^21 hashes; a query makes 45 seeks at radius 4 and 696 at radius 8,
// nearly independent of n (mih.go). Layout version 1 used m = r+1 bands
// searched exactly, whose buckets grow with n (n/8192 at radius 4,
// n/128..n/256 at radius 8); Open migrates such an index.
//
// # Low-information hashes
//
// The pHash sets a bit for each of 64 DCT coefficients above their median,
// so an image without ties has exactly 32 bits set. Flat images (all black:
// hash 0; all white or any single colour: only the DC bit) and near-flat
// ones have many coefficients tied at zero and few bits set. Put in the
// buckets, they would all share the all-zero bands and make one giant
// bucket that every sparse query scans. So a hash with fewer than
// Options.LowInfoBits (default 12) bits set is low-information: it is
// recorded only under its exact value ('n' hash) and matched only by
// equality, never entered in a bucket. The second all-black image is a
// duplicate (distance 0) of the first at the cost of one point lookup,
// however many flat images are stored (TestLowInformationHashes). What is
// given up: two distinct low-information hashes within the radius of each
// other are not near-duplicates. Because LowInfoBits ≤ 32-2·MaxRadius, no
// hash with 32 bits set is within the radius of a low-information one, so
// normal images lose nothing. The index stores the threshold its buckets
// were filled with, and refuses to open with another (ErrBadOptions).
//
// # Durability: pending and committed samples
//
// A sample Check keeps is pending: its shard has not committed. The
// protocol with the shard writer:
//
//  1. Every writable Open starts a new epoch (a counter stored in the
//     index, synced before Open returns). Check records entries tagged
//     with the epoch and the sample key.
//  2. Before creating a shard's sidecar, the shard writer calls
//     Prepare(shard, keys); after the sidecar exists, CommitShard(shard).
//     (Commit(keys) alone is the same without the crash window cover.)
//     Committing writes a 'c' record per sample key and syncs.
//  3. An entry is live, and blocks duplicates, when it is of the current
//     epoch (pending in this run) or its sample key is committed. Entries
//     of an older epoch whose sample never committed are ignored, and the
//     rerun's sample overwrites them.
//  4. After a crash, Recover(isCommitted) settles shards prepared but not
//     committed: it asks the caller, who can see the store, whether each
//     shard's sidecar exists, commits those that do and drops the rest.
//
// So a crash at any instant leaves: committed samples known for ever;
// samples of shards that never committed free to be stored by the rerun
// (TestCrashBeforeCommit kills a process with SIGKILL mid-run and checks
// both). Checks need no fsync (Options.SyncWrites is off): losing a pending
// record in a crash loses nothing, as its shard cannot have committed
// before Commit synced.
//
// Within one run, a sample whose shard write fails stays pending and keeps
// blocking its duplicates until the next Open.
//
// # Bad input
//
// Open names the directory in every error: ErrLocked when another process
// (or another Index) holds it, ErrCorrupt when files are damaged. Badger
// panics, in goroutines no caller can recover, on tables whose trailer
// lengths point outside the file and on a damaged key registry, so Open
// checks those itself first; table checksums are verified at open.
package dedup
