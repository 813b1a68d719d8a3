package shardwriter_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// newBucket makes an empty bucket on the test S3 server that
// scripts/minio.sh started, removed after the test. Without a server the
// test skips, except in CI or with CLIPSTREAM_REQUIRE_S3=1.
func newBucket(t testing.TB) string {
	t.Helper()
	ep := os.Getenv("AWS_ENDPOINT_URL")
	if ep == "" || os.Getenv("CLIPSTREAM_TEST_S3") == "" {
		if os.Getenv("CI") != "" || os.Getenv("CLIPSTREAM_REQUIRE_S3") != "" {
			t.Fatal("no test S3 server: run the tests through scripts/test.sh")
		}
		t.Skip("no test S3 server; run through scripts/minio.sh run go test ./...")
	}
	tr, err := minio.DefaultTransport(false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := minio.New(strings.TrimPrefix(ep, "http://"), &minio.Options{
		Creds:     credentials.NewStaticV4(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
		Region:    os.Getenv("AWS_REGION"),
		Transport: tr,
	})
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	bucket := "cs-sw-" + hex.EncodeToString(b[:])
	if err := c.MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = c.RemoveBucketWithOptions(ctx, bucket, minio.RemoveBucketOptions{ForceDelete: true})
	})
	return bucket
}
