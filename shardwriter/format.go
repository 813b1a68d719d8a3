package shardwriter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Layout of a dataset under its prefix (DESIGN.md, "Shard" and "Commit"):
//
//	shards/{writer}-{seq:06d}.tar.zst   the data object: one zstd stream of a POSIX tar
//	shards/{writer}-{seq:06d}.json      the sidecar; its existence is the commit
//	shards/sizes.json                   open_clip's shard name → sample count
//	dataset.json                        summary rebuilt from the sidecars
const (
	ShardsDir     = "shards/"
	DataSuffix    = ".tar.zst"
	SidecarSuffix = ".json"
	SizesKey      = ShardsDir + "sizes.json"
	DatasetKey    = "dataset.json"

	// SidecarFormat names the sidecar schema; readers refuse others.
	SidecarFormat = "clipstream.shard/v1"
)

// MaxWriterIDLen bounds writer ids.
const MaxWriterIDLen = 64

// CheckWriterID accepts ids of letters, digits, '_' and '-' (no '.', which
// would end a WebDataset key, no '/'), not starting with '-'.
func CheckWriterID(id string) error {
	if id == "" || len(id) > MaxWriterIDLen || id[0] == '-' {
		return fmt.Errorf("shardwriter: writer id %q: want 1-%d of [A-Za-z0-9_-], not starting with '-'", id, MaxWriterIDLen)
	}
	for _, r := range id {
		if !isKeyRune(r) {
			return fmt.Errorf("shardwriter: writer id %q: character %q not allowed (want [A-Za-z0-9_-])", id, r)
		}
	}
	return nil
}

func isKeyRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
}

// MaxKeyLen bounds sample keys.
const MaxKeyLen = 200

// CheckKey accepts sample keys of [A-Za-z0-9_-]: no '/', no '.', so that
// every WebDataset reader splits KEY.ext the same way.
func CheckKey(key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: key %q: want 1-%d characters", ErrInvalidSample, key, MaxKeyLen)
	}
	for _, r := range key {
		if !isKeyRune(r) {
			return fmt.Errorf("%w: key %q: character %q not allowed (want [A-Za-z0-9_-])", ErrInvalidSample, key, r)
		}
	}
	return nil
}

// ShardBase is "{writer}-{seq:06d}", the common stem of a shard's objects.
func ShardBase(writer string, seq int) string { return fmt.Sprintf("%s-%06d", writer, seq) }

// DataKey and SidecarKey are the object keys of shard (writer, seq) under a
// dataset prefix ("" or ending in "/").
func DataKey(prefix, writer string, seq int) string {
	return prefix + ShardsDir + ShardBase(writer, seq) + DataSuffix
}

// SidecarKey: see DataKey.
func SidecarKey(prefix, writer string, seq int) string {
	return prefix + ShardsDir + ShardBase(writer, seq) + SidecarSuffix
}

// ParseShardName splits "{writer}-{seq}.tar.zst" or "{writer}-{seq}.json"
// (a base name, no directory) into its parts; ok is false for other names.
func ParseShardName(name string) (writer string, seq int, isSidecar, ok bool) {
	var stem string
	switch {
	case strings.HasSuffix(name, DataSuffix):
		stem = strings.TrimSuffix(name, DataSuffix)
	case strings.HasSuffix(name, SidecarSuffix):
		stem = strings.TrimSuffix(name, SidecarSuffix)
		isSidecar = true
	default:
		return "", 0, false, false
	}
	i := strings.LastIndexByte(stem, '-')
	if i <= 0 || len(stem)-i-1 < 6 {
		return "", 0, false, false
	}
	n, err := strconv.Atoi(stem[i+1:])
	if err != nil || n < 0 || CheckWriterID(stem[:i]) != nil {
		return "", 0, false, false
	}
	return stem[:i], n, isSidecar, true
}

// Sidecar is the commit record of one shard.
type Sidecar struct {
	Format      string           `json:"format"`
	Shard       string           `json:"shard"` // data object's base name
	Writer      string           `json:"writer"`
	Seq         int              `json:"seq"`
	Samples     int              `json:"samples"`
	Bytes       int64            `json:"bytes"`  // size of the data object
	SHA256      string           `json:"sha256"` // of the data object, hex
	FirstKey    string           `json:"first_key"`
	LastKey     string           `json:"last_key"`
	Created     time.Time        `json:"created"`
	TarBytes    int64            `json:"tar_bytes"`    // uncompressed
	MemberBytes map[string]int64 `json:"member_bytes"` // uncompressed payload bytes per extension
	Stats       Stats            `json:"stats"`
}

// Stats are the per-shard counts the producer (the crawl) reports: how many
// URLs ended in each status, and a capped histogram of error messages, as
// img2dataset's _stats.json.
type Stats struct {
	Status map[string]int `json:"status,omitempty"`
	Errors map[string]int `json:"errors,omitempty"`
}

// MaxSidecarSize bounds what ParseSidecar reads.
const MaxSidecarSize = 1 << 20

// ParseSidecar reads and checks one sidecar. name is the sidecar's base
// name, checked against the fields.
func ParseSidecar(name string, r io.Reader) (*Sidecar, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxSidecarSize+1))
	if err != nil {
		return nil, fmt.Errorf("sidecar %s: %w", name, err)
	}
	if len(b) > MaxSidecarSize {
		return nil, fmt.Errorf("%w: sidecar %s is over %d bytes", ErrTooLarge, name, MaxSidecarSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var sc Sidecar
	if err := dec.Decode(&sc); err != nil {
		return nil, fmt.Errorf("%w: sidecar %s is not valid JSON: %v", ErrCorrupt, name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: sidecar %s has data after the JSON object", ErrCorrupt, name)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: sidecar %s: %s", ErrCorrupt, name, fmt.Sprintf(format, args...))
	}
	if sc.Format != SidecarFormat {
		return nil, bad("format %q, want %q", sc.Format, SidecarFormat)
	}
	writer, seq, isSidecar, ok := ParseShardName(name)
	if !ok || !isSidecar {
		return nil, bad("not a sidecar name")
	}
	if sc.Writer != writer || sc.Seq != seq || sc.Shard != ShardBase(writer, seq)+DataSuffix {
		return nil, bad("names shard %q (writer %q seq %d), want %s", sc.Shard, sc.Writer, sc.Seq, ShardBase(writer, seq)+DataSuffix)
	}
	if sc.Samples <= 0 || sc.Bytes <= 0 || sc.TarBytes <= 0 {
		return nil, bad("samples %d, bytes %d, tar bytes %d must be positive", sc.Samples, sc.Bytes, sc.TarBytes)
	}
	if len(sc.SHA256) != 64 || strings.Trim(sc.SHA256, "0123456789abcdef") != "" {
		return nil, bad("sha256 %q is not 64 lower-case hex digits", sc.SHA256)
	}
	if CheckKey(sc.FirstKey) != nil || CheckKey(sc.LastKey) != nil || sc.FirstKey > sc.LastKey {
		return nil, bad("first key %q / last key %q", sc.FirstKey, sc.LastKey)
	}
	return &sc, nil
}

// Key assigned to the n-th sample of shard (writer, seq) when the producer
// gives none: unique in the dataset, and sorting in write order within a
// writer.
func autoKey(writer string, seq, n int) string {
	return fmt.Sprintf("%s-%06d-%06d", writer, seq, n)
}
