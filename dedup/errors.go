package dedup

import "errors"

// Sentinel errors. Functions wrap them with context (the directory, the URL,
// the key), so test them with errors.Is.
var (
	// ErrBadURL means a URL could not be parsed or is not absolute
	// (it has no scheme or no host).
	ErrBadURL = errors.New("dedup: bad URL")

	// ErrEmptyImage means an image with no pixels was given to ComputePHash.
	ErrEmptyImage = errors.New("dedup: empty image")

	// ErrBadPHash means a string is not 16 hexadecimal digits.
	ErrBadPHash = errors.New("dedup: bad perceptual hash")

	// ErrBadSample means a Sample cannot be checked: its key is empty or too
	// long, or a field an enabled kind needs is missing.
	ErrBadSample = errors.New("dedup: bad sample")

	// ErrBadOptions means Options failed validation (for example a radius
	// outside 0..MaxRadius).
	ErrBadOptions = errors.New("dedup: bad options")

	// ErrRadiusTooLarge means the index on disk was built for a smaller
	// near-duplicate radius than the one asked for. Multi-index hashing splits
	// the hash into radius+1 substrings when the index is created, so a larger
	// radius needs a new index.
	ErrRadiusTooLarge = errors.New("dedup: radius larger than the index was built for")

	// ErrOldLayout means the index was written with an older on-disk layout
	// that this version migrates only when it opens the index read-write.
	ErrOldLayout = errors.New("dedup: index has an older layout")

	// ErrLocked means the index directory is held by another process (or by
	// another Index in this process).
	ErrLocked = errors.New("dedup: index directory is locked by another process")

	// ErrCorrupt means the index directory exists but cannot be read as an
	// index: truncated or damaged Badger files, or a record this package
	// cannot decode.
	ErrCorrupt = errors.New("dedup: index is corrupt")

	// ErrReadOnly means a write was attempted on an index opened read-only.
	ErrReadOnly = errors.New("dedup: index is read-only")

	// ErrClosed means the Index was used after Close.
	ErrClosed = errors.New("dedup: index is closed")
)
