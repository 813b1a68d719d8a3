package storage_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

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
