// Package datasettest writes small committed datasets for tests: samples
// through the real shardwriter into any store URL.
package datasettest

import (
	"context"
	"testing"

	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
)

// Write commits samples as a dataset at url, perShard samples a shard,
// failing t on any error.
func Write(t testing.TB, url string, samples []shardwriter.Sample, perShard int) {
	t.Helper()
	ctx := context.Background()
	store, err := storage.Open(ctx, url, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	w, err := shardwriter.New(ctx, store, shardwriter.Options{MaxSamples: perShard})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range samples {
		if err := w.Write(ctx, s); err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
