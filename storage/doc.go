// Package storage owns the object-store interface that every other package
// reads and writes through, and its two backends: file:// (a local
// directory, the embedded default) and s3:// (any S3-compatible server,
// through minio-go).
//
// It is the leaf of the data flow (crawl → dedup → shardwriter → storage →
// loader → trainer): it knows nothing of shards, samples or models.
//
// Guarantees common to both backends, checked by the conformance suite in
// storage/storagetest:
//   - a reader never sees half an object: file:// writes a temporary file,
//     fsyncs it and renames (or links) it into place; s3:// uploads large
//     objects as multipart uploads, which become visible only when completed
//     and are aborted on failure;
//   - PutIfAbsent is one atomic create (a hard link on file://, a conditional
//     PUT with If-None-Match: * on s3://): of N concurrent writers exactly one
//     wins and the others get ErrExists;
//   - List streams keys in lexicographic order without holding the listing;
//   - every call stops promptly when its context is cancelled.
//
// On s3://, transient failures (5xx, 429, connection resets, timeouts, a
// connection idle past Options.IdleTimeout) are retried per request with
// capped exponential backoff and jitter; reads resume at the byte they
// stopped at. Permanent failures (bad credentials, a missing bucket, 403)
// fail at once. Errors name the object's URL and never a secret.
package storage
