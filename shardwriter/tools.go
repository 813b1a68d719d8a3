package shardwriter

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/clipstream/clipstream/storage"
)

// Committed yields the sidecar of every committed shard under prefix, in
// name order. It reads sidecars only, never data objects. A sidecar that
// does not parse is yielded as an error naming it; the iteration goes on.
func Committed(ctx context.Context, store storage.Store, prefix string) iter.Seq2[*Sidecar, error] {
	return func(yield func(*Sidecar, error) bool) {
		for info, err := range store.List(ctx, prefix+ShardsDir) {
			if err != nil {
				yield(nil, fmt.Errorf("shardwriter: list %s: %w", prefix+ShardsDir, err))
				return
			}
			name := path.Base(info.Key)
			if _, _, isSidecar, ok := ParseShardName(name); !ok || !isSidecar || info.Key != prefix+ShardsDir+name {
				continue
			}
			sc, err := readSidecar(ctx, store, info.Key)
			if err != nil {
				err = &SidecarError{Name: name, Err: err}
			}
			if !yield(sc, err) {
				return
			}
		}
	}
}

// SidecarError is a sidecar that could not be read or parsed.
type SidecarError struct {
	Name string // base name, e.g. "w0-000001.json"
	Err  error
}

func (e *SidecarError) Error() string { return e.Err.Error() }

// Unwrap returns the cause (ErrCorrupt, ErrTooLarge, a storage error).
func (e *SidecarError) Unwrap() error { return e.Err }

func readSidecar(ctx context.Context, store storage.Store, key string) (*Sidecar, error) {
	rc, err := store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("shardwriter: read sidecar: %w", err)
	}
	defer rc.Close()
	return ParseSidecar(path.Base(key), rc)
}

// Summary is dataset.json: what the sidecars add up to.
type Summary struct {
	Format      string           `json:"format"`
	Shards      int              `json:"shards"`
	Samples     int64            `json:"samples"`
	Bytes       int64            `json:"bytes"`
	TarBytes    int64            `json:"tar_bytes"`
	MemberBytes map[string]int64 `json:"member_bytes"`
	Writers     []string         `json:"writers"`
	Stats       Stats            `json:"stats"`
	// Fingerprint is the SHA-256 of the sorted "name sha256\n" lines of
	// the committed shards: equal fingerprints mean the same corpus.
	Fingerprint string    `json:"fingerprint"`
	Updated     time.Time `json:"updated"`
	// BadSidecars names sidecars that did not parse (they are not counted).
	BadSidecars []string `json:"bad_sidecars,omitempty"`
}

// SummaryFormat names the dataset.json schema.
const SummaryFormat = "clipstream.dataset/v1"

// Summarize adds up the committed shards under prefix.
func Summarize(ctx context.Context, store storage.Store, prefix string) (*Summary, map[string]int, error) {
	sum := &Summary{Format: SummaryFormat, MemberBytes: map[string]int64{}, Updated: time.Now().UTC()}
	sizes := map[string]int{}
	writers := map[string]bool{}
	fp := sha256.New()
	for sc, err := range Committed(ctx, store, prefix) {
		if err != nil {
			if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTooLarge) {
				sum.BadSidecars = append(sum.BadSidecars, err.Error())
				continue
			}
			return nil, nil, err
		}
		sum.Shards++
		sum.Samples += int64(sc.Samples)
		sum.Bytes += sc.Bytes
		sum.TarBytes += sc.TarBytes
		for k, v := range sc.MemberBytes {
			sum.MemberBytes[k] += v
		}
		for k, v := range sc.Stats.Status {
			if sum.Stats.Status == nil {
				sum.Stats.Status = map[string]int{}
			}
			sum.Stats.Status[k] += v
		}
		for k, v := range sc.Stats.Errors {
			if sum.Stats.Errors == nil {
				sum.Stats.Errors = map[string]int{}
			}
			sum.Stats.Errors[k] += v
		}
		writers[sc.Writer] = true
		sizes[sc.Shard] = sc.Samples
		fmt.Fprintf(fp, "%s %s\n", sc.Shard, sc.SHA256) // Committed yields in name order
	}
	for w := range writers {
		sum.Writers = append(sum.Writers, w)
	}
	slices.Sort(sum.Writers)
	sum.Fingerprint = hex.EncodeToString(fp.Sum(nil))
	return sum, sizes, nil
}

// RebuildSummary recomputes shards/sizes.json (open_clip's shard name →
// sample count) and dataset.json from the sidecars and writes both. Each is
// replaced whole, so a reader sees an old or a new one. Writers that close
// at the same time may overwrite each other's summary with an older view,
// so after writing, RebuildSummary reads both objects back and lists the
// sidecars again; while they disagree it writes again. The last writer to
// finish thus leaves a summary of every shard committed before it checked.
func RebuildSummary(ctx context.Context, store storage.Store, prefix string) (*Summary, error) {
	const maxRounds = 8
	for range maxRounds {
		sum, sizes, err := Summarize(ctx, store, prefix)
		if err != nil {
			return nil, err
		}
		for _, obj := range []struct {
			key string
			v   any
		}{{prefix + SizesKey, sizes}, {prefix + DatasetKey, sum}} {
			b, err := json.MarshalIndent(obj.v, "", "  ")
			if err != nil {
				return nil, err
			}
			if err := store.Put(ctx, obj.key, bytes.NewReader(b), int64(len(b))); err != nil {
				return nil, fmt.Errorf("shardwriter: write %s: %w", obj.key, err)
			}
		}
		fresh, freshSizes, err := Summarize(ctx, store, prefix)
		if err != nil {
			return nil, err
		}
		stored, storedSizes, err := readSummary(ctx, store, prefix)
		if err != nil {
			return nil, err
		}
		if stored.Fingerprint == fresh.Fingerprint && maps.Equal(storedSizes, freshSizes) {
			return stored, nil
		}
	}
	return nil, fmt.Errorf("shardwriter: the summary of %q kept changing under %d rewrites; run 'clipstream shards stats' when the writers are done", prefix, maxRounds)
}

// readSummary reads dataset.json and shards/sizes.json back.
func readSummary(ctx context.Context, store storage.Store, prefix string) (*Summary, map[string]int, error) {
	var sum Summary
	sizes := map[string]int{}
	for _, obj := range []struct {
		key string
		v   any
	}{{prefix + DatasetKey, &sum}, {prefix + SizesKey, &sizes}} {
		rc, err := store.Get(ctx, obj.key)
		if err != nil {
			return nil, nil, fmt.Errorf("shardwriter: read %s: %w", obj.key, err)
		}
		err = json.NewDecoder(io.LimitReader(rc, 256<<20)).Decode(obj.v)
		rc.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, obj.key, err)
		}
	}
	return &sum, sizes, nil
}

// ReadShard opens the data object of a committed shard and checks, as it is
// read, that its bytes match the sidecar: fn sees every record, and the
// returned error reports any mismatch in size, SHA-256, count, key order or
// first/last key, or a sample without its image, caption or metadata.
func ReadShard(ctx context.Context, store storage.Store, prefix string, sc *Sidecar, opts ReaderOptions, fn func(*Record) error) error {
	key := prefix + ShardsDir + sc.Shard
	rc, err := store.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("shard %s: %w", sc.Shard, err)
	}
	defer rc.Close()
	h := sha256.New()
	counted := &countWriter{w: h}
	r, err := NewReader(sc.Shard, io.TeeReader(rc, counted), opts)
	if err != nil {
		return err
	}
	defer r.Close()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: shard %s: %s", ErrCorrupt, sc.Shard, fmt.Sprintf(format, args...))
	}
	n := 0
	prev := ""
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if n == 0 && rec.Key != sc.FirstKey {
			return bad("first key %q, sidecar says %q", rec.Key, sc.FirstKey)
		}
		if rec.Key <= prev {
			return bad("key %q does not sort after %q", rec.Key, prev)
		}
		if CheckKey(rec.Key) != nil {
			return bad("key %q is not a valid sample key", rec.Key)
		}
		if len(rec.Members) != 3 || rec.Members["txt"] == nil || rec.Members["json"] == nil {
			return bad("sample %q has members %v; want an image, txt and json", rec.Key, memberNames(rec))
		}
		if !json.Valid(rec.Members["json"]) {
			return bad("sample %q: metadata member is not valid JSON", rec.Key)
		}
		prev = rec.Key
		n++
		if fn != nil {
			if err := fn(rec); err != nil {
				return err
			}
		}
	}
	if err := r.Finish(); err != nil {
		return err
	}
	// Drain what follows the zstd frame so the hash covers the whole object.
	if _, err := io.Copy(io.Discard, io.TeeReader(rc, counted)); err != nil {
		return fmt.Errorf("shard %s: %w", sc.Shard, err)
	}
	if n != sc.Samples {
		return bad("%d samples, sidecar says %d", n, sc.Samples)
	}
	if prev != sc.LastKey {
		return bad("last key %q, sidecar says %q", prev, sc.LastKey)
	}
	if counted.n != sc.Bytes {
		return bad("%d bytes, sidecar says %d", counted.n, sc.Bytes)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sc.SHA256 {
		return bad("sha256 %s, sidecar says %s", got, sc.SHA256)
	}
	return nil
}

func memberNames(rec *Record) []string {
	var names []string
	for ext := range rec.Members {
		names = append(names, ext)
	}
	slices.Sort(names)
	return names
}

// Problem is one thing Verify found wrong.
type Problem struct {
	Shard string // sidecar or shard name
	Err   error
}

// Verify re-reads every committed shard under prefix (see ReadShard) and
// returns what it found wrong, and the number of shards and samples that
// checked out. A non-nil error means the check itself could not run.
func Verify(ctx context.Context, store storage.Store, prefix string) (problems []Problem, shards int, samples int64, err error) {
	for sc, err := range Committed(ctx, store, prefix) {
		if err != nil {
			if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTooLarge) || errors.Is(err, storage.ErrNotExist) {
				name := "sidecar"
				var se *SidecarError
				if errors.As(err, &se) {
					name = se.Name
				}
				problems = append(problems, Problem{Shard: name, Err: err})
				continue
			}
			return problems, shards, samples, err
		}
		if err := ReadShard(ctx, store, prefix, sc, ReaderOptions{}, nil); err != nil {
			if ctx.Err() != nil {
				return problems, shards, samples, ctx.Err()
			}
			problems = append(problems, Problem{Shard: sc.Shard, Err: err})
			continue
		}
		shards++
		samples += int64(sc.Samples)
	}
	return problems, shards, samples, nil
}

// Orphan is a data object without a sidecar.
type Orphan struct {
	Key     string
	Size    int64
	ModTime time.Time
	Removed bool
}

// GC finds data objects under prefix that have no sidecar. Those older than
// grace are removed unless dryRun; younger ones may be shards still being
// committed and are left alone. The listing streams: sidecar and data object
// of one shard are neighbours in key order.
func GC(ctx context.Context, store storage.Store, prefix string, grace time.Duration, dryRun bool) ([]Orphan, error) {
	var orphans []Orphan
	lastSidecar := ""
	now := time.Now()
	for info, err := range store.List(ctx, prefix+ShardsDir) {
		if err != nil {
			return orphans, fmt.Errorf("shardwriter: gc: %w", err)
		}
		name := path.Base(info.Key)
		_, _, isSidecar, ok := ParseShardName(name)
		if !ok || info.Key != prefix+ShardsDir+name {
			continue
		}
		stem := name[:strings.IndexByte(name, '.')]
		if isSidecar {
			lastSidecar = stem
			continue
		}
		if stem == lastSidecar {
			continue
		}
		o := Orphan{Key: info.Key, Size: info.Size, ModTime: info.ModTime}
		if now.Sub(info.ModTime) < grace {
			continue
		}
		if !dryRun {
			// A sidecar created since the listing makes it a shard again.
			if _, err := store.Stat(ctx, prefix+ShardsDir+stem+SidecarSuffix); err == nil {
				continue
			}
			if err := store.Delete(ctx, info.Key); err != nil {
				return orphans, fmt.Errorf("shardwriter: gc: %w", err)
			}
			o.Removed = true
		}
		orphans = append(orphans, o)
	}
	return orphans, nil
}

// StaleUpload is an incomplete upload of a shard data object that GCUploads
// found: the parts a writer killed in the middle of a shard's upload left
// behind, invisible to readers but taking space.
type StaleUpload struct {
	storage.IncompleteUpload
	Aborted bool
}

// GCUploads finds the incomplete uploads of shard data under prefix that
// are older than grace and, unless dryRun, aborts them. It does nothing on
// stores without incomplete uploads (file://, which removes its own stale
// temporary files). It lists the uploads under prefix's shards/, which
// finds them all on servers that list by prefix (AWS S3), and asks for the
// next data key of every writer that has shards there — where a writer
// killed in a shard's upload left it — which finds those on servers that
// list one key at a time (MinIO, which also expires stale uploads itself,
// after 24 hours by default).
func GCUploads(ctx context.Context, store storage.Store, prefix string, grace time.Duration, dryRun bool) ([]StaleUpload, error) {
	ab, ok := store.(storage.UploadAborter)
	if !ok {
		return nil, nil
	}
	next := map[string]int{} // writer → highest sequence seen
	for info, err := range store.List(ctx, prefix+ShardsDir) {
		if err != nil {
			return nil, fmt.Errorf("shardwriter: gc uploads: %w", err)
		}
		name := path.Base(info.Key)
		w, seq, _, ok := ParseShardName(name)
		if !ok || info.Key != prefix+ShardsDir+name {
			continue
		}
		if s, seen := next[w]; !seen || seq > s {
			next[w] = seq
		}
	}
	probes := []string{prefix + ShardsDir}
	writers := slices.Sorted(maps.Keys(next))
	for _, w := range writers {
		probes = append(probes, DataKey(prefix, w, next[w]+1))
	}
	var out []StaleUpload
	seen := map[string]bool{}
	now := time.Now()
	for _, p := range probes {
		for u, err := range ab.IncompleteUploads(ctx, p) {
			if err != nil {
				return out, fmt.Errorf("shardwriter: gc uploads: %w", err)
			}
			if seen[u.ID] || !strings.HasSuffix(u.Key, DataSuffix) || now.Sub(u.Initiated) < grace {
				continue
			}
			seen[u.ID] = true
			su := StaleUpload{IncompleteUpload: u}
			if !dryRun {
				if err := ab.AbortUpload(ctx, u); err != nil {
					return out, fmt.Errorf("shardwriter: gc uploads: %w", err)
				}
				su.Aborted = true
			}
			out = append(out, su)
		}
	}
	return out, nil
}
