package shardwriter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
)

// smallShard writes a real three-sample shard and returns its data object
// and sidecar bytes.
func smallShard(f *testing.F) (data, sidecar []byte) {
	ctx := context.Background()
	store, err := storage.Open(ctx, f.TempDir(), storage.Options{})
	if err != nil {
		f.Fatal(err)
	}
	w, err := shardwriter.New(ctx, store, shardwriter.Options{WriterID: "z"})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 3 {
		s := sample(i)
		s.Image = s.Image[:40]
		if err := w.Write(ctx, s); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		f.Fatal(err)
	}
	read := func(key string) []byte {
		rc, err := store.Get(ctx, key)
		if err != nil {
			f.Fatal(err)
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		return b
	}
	return read("shards/z-000000.tar.zst"), read("shards/z-000000.json")
}

// FuzzReader: any bytes as a shard give records or an error — never a
// panic, never more memory than the limits allow.
func FuzzReader(f *testing.F) {
	data, _ := smallShard(f)
	f.Add(data)
	f.Add(data[:len(data)/2])
	enc, _ := zstd.NewWriter(nil)
	f.Add(enc.EncodeAll([]byte("not a tar at all"), nil))
	f.Add(enc.EncodeAll(make([]byte, 2048), nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := shardwriter.NewReader("fuzz", bytes.NewReader(b), shardwriter.ReaderOptions{MaxMemberSize: 1 << 20, MaxWindow: 1 << 20})
		if err != nil {
			return
		}
		defer r.Close()
		for range 10000 {
			rec, err := r.Next()
			if err == io.EOF {
				r.Finish()
				return
			}
			if err != nil {
				if !errors.Is(err, shardwriter.ErrCorrupt) && !errors.Is(err, shardwriter.ErrTooLarge) {
					t.Fatalf("error %v is neither ErrCorrupt nor ErrTooLarge", err)
				}
				return
			}
			if rec.Key == "" || len(rec.Members) == 0 {
				t.Fatalf("empty record %+v", rec)
			}
		}
	})
}

// FuzzSidecar: ParseSidecar never panics; what it accepts survives a
// marshal/parse round trip unchanged.
func FuzzSidecar(f *testing.F) {
	_, sc := smallShard(f)
	f.Add("z-000000.json", sc)
	f.Add("z-000000.json", []byte(`{"format":"clipstream.shard/v1"}`))
	f.Add("x.json", []byte(`not json`))
	f.Add("z-000000.json", bytes.Repeat([]byte("["), 10000))
	f.Fuzz(func(t *testing.T, name string, b []byte) {
		got, err := shardwriter.ParseSidecar(name, bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, shardwriter.ErrCorrupt) && !errors.Is(err, shardwriter.ErrTooLarge) {
				t.Fatalf("error %v is neither ErrCorrupt nor ErrTooLarge", err)
			}
			return
		}
		again, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		back, err := shardwriter.ParseSidecar(name, bytes.NewReader(again))
		if err != nil {
			t.Fatalf("re-parse of accepted sidecar: %v", err)
		}
		if !reflect.DeepEqual(normal(got), normal(back)) {
			t.Fatalf("round trip changed the sidecar:\n%+v\n%+v", got, back)
		}
	})
}

// normal makes nil and empty maps compare equal.
func normal(sc *shardwriter.Sidecar) shardwriter.Sidecar {
	c := *sc
	if len(c.MemberBytes) == 0 {
		c.MemberBytes = nil
	}
	if len(c.Stats.Status) == 0 {
		c.Stats.Status = nil
	}
	if len(c.Stats.Errors) == 0 {
		c.Stats.Errors = nil
	}
	c.Created = c.Created.UTC()
	return c
}
