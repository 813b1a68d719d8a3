package storage_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/clipstream/clipstream/internal/s3test"
	"github.com/clipstream/clipstream/storage"
	"github.com/clipstream/clipstream/storage/storagetest"
)

// s3TestOptions: the smallest part size, so multipart paths run on small
// objects, and short timeouts.
func s3TestOptions() storage.Options {
	return storage.Options{PartSize: 5 << 20, IdleTimeout: 5 * time.Second}
}

func openS3(t testing.TB, url string, opts storage.Options) storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestS3Conformance(t *testing.T) {
	bucket := s3test.NewBucket(t)
	n := 0
	storagetest.Run(t, func(t *testing.T) storage.Store {
		n++
		return openS3(t, "s3://"+bucket+"/"+s3test.RandomName("p"), s3TestOptions())
	})
}

// TestS3BucketRoot runs the suite on a store at the root of a bucket.
func TestS3BucketRoot(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return openS3(t, "s3://"+s3test.NewBucket(t), s3TestOptions())
	})
}

// TestS3Permanent: errors that retrying cannot fix fail at once, name the
// URL and never show the secret.
func TestS3Permanent(t *testing.T) {
	s3test.Require(t)
	bucket := s3test.NewBucket(t)
	const secret = "not-the-secret-0123456789abcdef"
	tests := []struct {
		name    string
		url     string
		env     map[string]string
		wantErr error
	}{
		{"bad-secret", "s3://" + bucket + "/x", map[string]string{"AWS_SECRET_ACCESS_KEY": secret}, storage.ErrPermission},
		{"bad-key-id", "s3://" + bucket + "/x", map[string]string{"AWS_ACCESS_KEY_ID": "nobody", "AWS_SECRET_ACCESS_KEY": secret}, storage.ErrPermission},
		{"missing-bucket", "s3://no-such-bucket-" + s3test.RandomName("") + "/x", nil, storage.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			start := time.Now()
			_, err := storage.Open(context.Background(), tc.url, storage.Options{})
			elapsed := time.Since(start)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("open: got %v, want %v", err, tc.wantErr)
			}
			if elapsed > 2*time.Second {
				t.Errorf("permanent failure took %v; it must not be retried", elapsed)
			}
			msg := err.Error()
			if !strings.Contains(msg, strings.TrimSuffix(tc.url, "/x")) {
				t.Errorf("error %q does not name the URL", msg)
			}
			if strings.Contains(msg, secret) || strings.Contains(msg, os.Getenv("AWS_SECRET_ACCESS_KEY")) {
				t.Errorf("error %q shows the secret", msg)
			}
			t.Logf("%s after %v: %v", tc.name, elapsed.Round(time.Millisecond), err)
		})
	}
}

// leaveUpload begins a multipart upload of key in bucket and sends one
// part, as a writer killed in the middle of a Put leaves it.
func leaveUpload(t *testing.T, bucket, key string) string {
	t.Helper()
	core := minio.Core{Client: s3test.AdminClient(t)}
	id, err := core.NewMultipartUpload(t.Context(), bucket, key, minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	part := strings.Repeat("x", 5<<20)
	if _, err := core.PutObjectPart(t.Context(), bucket, key, id, 1, strings.NewReader(part), int64(len(part)), minio.PutObjectPartOptions{}); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestS3IncompleteUploads: uploads a killed writer left are listed under
// their store-relative keys (only those under the prefix asked for, only
// this store's), and aborting them frees them; aborting twice is no error.
func TestS3IncompleteUploads(t *testing.T) {
	bucket := s3test.NewBucket(t)
	prefix := s3test.RandomName("p")
	s := openS3(t, "s3://"+bucket+"/"+prefix, s3TestOptions())
	ab, ok := s.(storage.UploadAborter)
	if !ok {
		t.Fatal("the s3 store does not implement UploadAborter")
	}
	id1 := leaveUpload(t, bucket, prefix+"/shards/a-000001.tar.zst")
	id2 := leaveUpload(t, bucket, prefix+"/other/b")
	leaveUpload(t, bucket, "c") // another store's (the bucket root's)
	list := func(p string) []storage.IncompleteUpload {
		var us []storage.IncompleteUpload
		for u, err := range ab.IncompleteUploads(t.Context(), p) {
			if err != nil {
				t.Fatal(err)
			}
			us = append(us, u)
		}
		return us
	}
	// MinIO lists uploads by exact key only (AWS S3 by any prefix), so
	// ask for each key.
	sh := list("shards/a-000001.tar.zst")
	if len(sh) != 1 || sh[0].Key != "shards/a-000001.tar.zst" || sh[0].ID != id1 || time.Since(sh[0].Initiated) > time.Hour {
		t.Fatalf("shards/a-000001.tar.zst: %+v, want its one upload (%s)", sh, id1)
	}
	ob := list("other/b")
	if len(ob) != 1 || ob[0].ID != id2 {
		t.Fatalf("other/b: %+v, want its one upload (%s)", ob, id2)
	}
	if n := list("c"); len(n) != 0 {
		t.Fatalf("c: %+v, want none (another store's upload is not this one's)", n)
	}
	all := append(sh, ob...)
	for _, u := range all {
		if err := ab.AbortUpload(t.Context(), u); err != nil {
			t.Fatalf("abort %+v: %v", u, err)
		}
	}
	if left := append(list("shards/a-000001.tar.zst"), list("other/b")...); len(left) != 0 {
		t.Errorf("after aborting, %+v left", left)
	}
	if err := ab.AbortUpload(t.Context(), storage.IncompleteUpload{Key: "other/b", ID: id2}); err != nil {
		t.Errorf("aborting an aborted upload: %v", err)
	}
	if err := ab.AbortUpload(t.Context(), storage.IncompleteUpload{Key: "../x", ID: id2}); err == nil {
		t.Error("aborting under an invalid key: no error")
	}
}
