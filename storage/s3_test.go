package storage_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/clipstream/clipstream/storage"
	"github.com/clipstream/clipstream/storage/storagetest"
)

// requireS3 returns the endpoint of the test S3 server that scripts/minio.sh
// started. Without one the test skips, except in CI (CI set) or with
// CLIPSTREAM_REQUIRE_S3=1, where a missing server is a failure.
func requireS3(t testing.TB) string {
	t.Helper()
	ep := os.Getenv("AWS_ENDPOINT_URL")
	if ep == "" || os.Getenv("CLIPSTREAM_TEST_S3") == "" {
		if os.Getenv("CI") != "" || os.Getenv("CLIPSTREAM_REQUIRE_S3") != "" {
			t.Fatal("no test S3 server: run the tests through scripts/test.sh (or scripts/minio.sh run go test ...)")
		}
		t.Skip("no test S3 server; run through scripts/minio.sh run go test ./... to include the S3 tests")
	}
	return ep
}

// adminClient talks to the test server directly, for bucket set-up and for
// looking behind the store's back.
func adminClient(t testing.TB, endpoint string) *minio.Client {
	t.Helper()
	host := strings.TrimPrefix(strings.TrimPrefix(endpoint, "http://"), "https://")
	secure := strings.HasPrefix(endpoint, "https://")
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := minio.New(host, &minio.Options{
		Creds:     credentials.NewStaticV4(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
		Secure:    secure,
		Region:    os.Getenv("AWS_REGION"),
		Transport: tr,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// newBucket makes an empty bucket that is removed, with its contents, after
// the test.
func newBucket(t testing.TB) string {
	t.Helper()
	c := adminClient(t, requireS3(t))
	bucket := randomName("cs-test-")
	ctx := context.Background()
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("make bucket: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.RemoveBucketWithOptions(ctx, bucket, minio.RemoveBucketOptions{ForceDelete: true}); err != nil {
			t.Logf("remove bucket %s: %v", bucket, err)
		}
	})
	return bucket
}

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
	bucket := newBucket(t)
	n := 0
	storagetest.Run(t, func(t *testing.T) storage.Store {
		n++
		return openS3(t, "s3://"+bucket+"/"+randomName("p"), s3TestOptions())
	})
}

// TestS3BucketRoot runs the suite on a store at the root of a bucket.
func TestS3BucketRoot(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return openS3(t, "s3://"+newBucket(t), s3TestOptions())
	})
}

// TestS3Permanent: errors that retrying cannot fix fail at once, name the
// URL and never show the secret.
func TestS3Permanent(t *testing.T) {
	requireS3(t)
	bucket := newBucket(t)
	const secret = "not-the-secret-0123456789abcdef"
	tests := []struct {
		name    string
		url     string
		env     map[string]string
		wantErr error
	}{
		{"bad-secret", "s3://" + bucket + "/x", map[string]string{"AWS_SECRET_ACCESS_KEY": secret}, storage.ErrPermission},
		{"bad-key-id", "s3://" + bucket + "/x", map[string]string{"AWS_ACCESS_KEY_ID": "nobody", "AWS_SECRET_ACCESS_KEY": secret}, storage.ErrPermission},
		{"missing-bucket", "s3://no-such-bucket-" + randomName("") + "/x", nil, storage.ErrNotExist},
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
