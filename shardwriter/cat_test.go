package shardwriter_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
)

func TestShardByName(t *testing.T) {
	store := newStore(t)
	ctx := context.Background()
	w, err := shardwriter.New(ctx, store, shardwriter.Options{Prefix: "ds/", WriterID: "c", MaxSamples: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 7 { // shards c-000000, c-000001 (3 each), c-000002 (1)
		if err := w.Write(ctx, sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, "ds/shards/c-000007.tar.zst", strings.NewReader("orphan"), 6); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name     string
		arg      string
		wantSeq  int
		wantErr  error  // nil: the shard is found
		wantText string // in the error
	}{
		{"stem", "c-000001", 1, nil, ""},
		{"data name", "c-000001.tar.zst", 1, nil, ""},
		{"sidecar name", "c-000002.json", 2, nil, ""},
		{"under shards/", "shards/c-000000.tar.zst", 0, nil, ""},
		{"empty", "", 0, shardwriter.ErrBadShardName, ""},
		{"short seq", "c-1", 0, shardwriter.ErrBadShardName, ""},
		{"traversal", "../c-000001", 0, shardwriter.ErrBadShardName, ""},
		{"other directory", "x/c-000001", 0, shardwriter.ErrBadShardName, ""},
		{"other extension", "c-000001.tar", 0, shardwriter.ErrBadShardName, ""},
		{"sizes.json", "sizes.json", 0, shardwriter.ErrBadShardName, ""},
		{"missing", "c-000009", 0, storage.ErrNotExist, "no shard c-000009"},
		{"orphan", "c-000007.tar.zst", 0, storage.ErrNotExist, "not committed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := shardwriter.ShardByName(ctx, store, "ds/", tc.arg)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantText) {
					t.Fatalf("err = %v, want %v containing %q", err, tc.wantErr, tc.wantText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sc.Seq != tc.wantSeq || sc.Writer != "c" {
				t.Fatalf("got shard %s, want seq %d", sc.Shard, tc.wantSeq)
			}
			// The sidecar reads its shard back whole.
			n := 0
			err = shardwriter.ReadShard(ctx, store, "ds/", sc, shardwriter.ReaderOptions{}, func(rec *shardwriter.Record) error {
				want := sample(3*tc.wantSeq + n)
				if !bytes.Equal(rec.Members["jpg"], want.Image) || string(rec.Members["txt"]) != want.Caption {
					t.Errorf("sample %d of %s differs", n, sc.Shard)
				}
				n++
				return nil
			})
			if err != nil || n != sc.Samples {
				t.Fatalf("read %d samples of %d: %v", n, sc.Samples, err)
			}
		})
	}
}

func TestShardByNameBadSidecar(t *testing.T) {
	store := newStore(t)
	put(t, store, "shards/c-000000.json", "{not json")
	_, err := shardwriter.ShardByName(context.Background(), store, "", "c-000000")
	if !errors.Is(err, shardwriter.ErrCorrupt) || !strings.Contains(err.Error(), "c-000000.json") {
		t.Fatalf("err = %v, want ErrCorrupt naming the sidecar", err)
	}
}
