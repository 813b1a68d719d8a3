// Package s3test gives tests of every package the S3 server that
// scripts/minio.sh starts: its endpoint, an admin client, and throwaway
// buckets. Tests skip without a server, except in CI (CI set) or with
// CLIPSTREAM_REQUIRE_S3=1, where a missing server fails them.
package s3test

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
	"go.uber.org/goleak"
)

// Require returns the endpoint of the test S3 server, or skips (fails in
// CI) when there is none.
func Require(t testing.TB) string {
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

// Available reports whether a test S3 server runs, for benchmarks that
// measure it when it is there.
func Available() bool {
	return os.Getenv("AWS_ENDPOINT_URL") != "" && os.Getenv("CLIPSTREAM_TEST_S3") != ""
}

// AdminClient talks to the test server directly with the root
// credentials, for set-up and for looking behind a store's back. Its idle
// connections are closed when the test ends.
func AdminClient(t testing.TB) *minio.Client {
	t.Helper()
	endpoint := Require(t)
	secure := strings.HasPrefix(endpoint, "https://")
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := minio.New(strings.TrimPrefix(strings.TrimPrefix(endpoint, "http://"), "https://"), &minio.Options{
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

// RandomName returns prefix followed by 12 random hex digits.
func RandomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// NewBucket makes an empty bucket that is removed, with its contents,
// after the test.
func NewBucket(t testing.TB) string {
	t.Helper()
	c := AdminClient(t)
	bucket := RandomName("cs-test-")
	if err := c.MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{}); err != nil {
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

// ToxiproxyLeaks are the goleak options for test binaries that put
// toxiproxy (a test tool) in front of the server: it leaves the pipes of
// links whose proxy was stopped blocked on channel sends. They are its
// goroutines, not ours.
func ToxiproxyLeaks() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2.(*ToxicLink).read"),
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2/toxics.(*ToxicStub).Run"),
	}
}
