package shardwriter

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/clipstream/clipstream/storage"
)

// ErrBadShardName: a shard name that is not "{writer}-{seq:06d}", with or
// without the ".tar.zst" or ".json" extension.
var ErrBadShardName = errors.New("shardwriter: bad shard name")

// ShardByName returns the sidecar of the committed shard called name under
// prefix, for reading that one shard with ReadShard. name is the shard's
// base name with or without an extension ("w0-000001", "w0-000001.tar.zst"
// or "w0-000001.json"), optionally under "shards/". A name of another form
// is ErrBadShardName. A shard that is not committed wraps
// storage.ErrNotExist; the error says whether its data object exists
// without a sidecar (an orphan, or a shard still being written).
func ShardByName(ctx context.Context, store storage.Store, prefix, name string) (*Sidecar, error) {
	stem := strings.TrimPrefix(name, ShardsDir)
	if s, ok := strings.CutSuffix(stem, DataSuffix); ok {
		stem = s
	} else if s, ok := strings.CutSuffix(stem, SidecarSuffix); ok {
		stem = s
	}
	writer, seq, _, ok := ParseShardName(stem + SidecarSuffix)
	if !ok || ShardBase(writer, seq) != stem {
		return nil, fmt.Errorf("%w: %q: want {writer}-{seq:06d}, e.g. w0-000001 or w0-000001%s", ErrBadShardName, name, DataSuffix)
	}
	key := SidecarKey(prefix, writer, seq)
	rc, err := store.Get(ctx, key)
	if errors.Is(err, storage.ErrNotExist) {
		if _, serr := store.Stat(ctx, DataKey(prefix, writer, seq)); serr == nil {
			return nil, fmt.Errorf("shardwriter: shard %s is not committed: its data object has no sidecar (an orphan, or a shard still being written): %w", stem, err)
		}
		return nil, fmt.Errorf("shardwriter: no shard %s: %w", stem, err)
	}
	if err != nil {
		return nil, fmt.Errorf("shardwriter: read sidecar of %s: %w", stem, err)
	}
	defer rc.Close()
	return ParseSidecar(stem+SidecarSuffix, rc)
}
