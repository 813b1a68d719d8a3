package main

import (
	"context"
	"path"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/clipstream/clipstream/internal/s3test"
	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
)

// TestShardsGCUploads: on s3://, a writer killed in the middle of its next
// shard's upload leaves an incomplete multipart upload; gc lists it in a
// dry run, aborts it with --delete, and leaves the committed shards alone.
func TestShardsGCUploads(t *testing.T) {
	bucket := s3test.NewBucket(t)
	data := "s3://" + bucket + "/corpus"
	ctx := context.Background()
	store, err := storage.Open(ctx, data, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	w, err := shardwriter.New(ctx, store, shardwriter.Options{WriterID: "w0", MaxSamples: 4})
	if err != nil {
		t.Fatal(err)
	}
	for id := range 10 {
		if err := w.Write(ctx, testSample(id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	high := -1
	for info, err := range store.List(ctx, shardwriter.ShardsDir) {
		if err != nil {
			t.Fatal(err)
		}
		if wr, seq, _, ok := shardwriter.ParseShardName(path.Base(info.Key)); ok && wr == "w0" && seq > high {
			high = seq
		}
	}
	key := shardwriter.DataKey("", "w0", high+1)
	core := minio.Core{Client: s3test.AdminClient(t)}
	id, err := core.NewMultipartUpload(ctx, bucket, "corpus/"+key, minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	part := strings.Repeat("p", 5<<20)
	if _, err := core.PutObjectPart(ctx, bucket, "corpus/"+key, id, 1, strings.NewReader(part), int64(len(part)), minio.PutObjectPartOptions{}); err != nil {
		t.Fatal(err)
	}
	uploads := func() int {
		n := 0
		for _, err := range store.(storage.UploadAborter).IncompleteUploads(ctx, key) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}
	for _, step := range []struct {
		args []string
		want []string
		left int
	}{
		{nil, []string{"0 incomplete upload(s) would be aborted"}, 1}, // younger than the default grace
		{[]string{"--grace", "0s"}, []string{"would abort incomplete upload of " + key, "1 incomplete upload(s) would be aborted"}, 1},
		{[]string{"--grace", "0s", "--delete"}, []string{"aborted incomplete upload of " + key, "aborted 1 incomplete upload(s)"}, 0},
		{[]string{"--grace", "0s", "--delete"}, []string{"aborted 0 incomplete upload(s)"}, 0},
	} {
		code, stdout, stderr := runCLI(t, t.Context(), append([]string{"shards", "gc", "--data", data}, step.args...)...)
		if code != exitOK {
			t.Fatalf("gc %v: exit %d\n%s%s", step.args, code, stdout, stderr)
		}
		for _, want := range step.want {
			if !strings.Contains(stdout, want) {
				t.Errorf("gc %v: stdout lacks %q:\n%s", step.args, want, stdout)
			}
		}
		if n := uploads(); n != step.left {
			t.Errorf("gc %v: %d incomplete uploads left, want %d", step.args, n, step.left)
		}
	}
	if code, stdout, stderr := runCLI(t, t.Context(), "shards", "verify", "--data", data); code != exitOK || !strings.Contains(stdout, "10 samples verified") {
		t.Errorf("verify after gc: exit %d\n%s%s", code, stdout, stderr)
	}
}
