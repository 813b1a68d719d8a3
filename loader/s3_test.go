package loader

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

// requireS3 returns the endpoint of the test S3 server that scripts/minio.sh
// started. Without one the test skips, except in CI (CI set) or with
// CLIPSTREAM_REQUIRE_S3=1, where a missing server is a failure. (The same
// rule as storage/s3_test.go.)
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

// newBucket makes an empty bucket that is removed, with its contents,
// after the test.
func newBucket(t testing.TB) string {
	t.Helper()
	endpoint := requireS3(t)
	host := strings.TrimPrefix(strings.TrimPrefix(endpoint, "http://"), "https://")
	secure := strings.HasPrefix(endpoint, "https://")
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		t.Fatal(err)
	}
	c, err := minio.New(host, &minio.Options{
		Creds:     credentials.NewStaticV4(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
		Secure:    secure,
		Region:    os.Getenv("AWS_REGION"),
		Transport: tr,
	})
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	bucket := "cs-loader-" + hex.EncodeToString(b[:])
	if err := c.MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("make bucket: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.RemoveBucketWithOptions(ctx, bucket, minio.RemoveBucketOptions{ForceDelete: true}); err != nil {
			t.Logf("remove bucket %s: %v", bucket, err)
		}
		tr.CloseIdleConnections()
	})
	return bucket
}

// TestS3Epoch streams a dataset from MinIO with two ranks: every sample
// exactly once, the same batches as the same shards read from file://.
func TestS3Epoch(t *testing.T) {
	bucket := newBucket(t)
	s3url := "s3://" + bucket + "/ds"
	d := writeDataset(t, s3url, "w0", "s", sizes50, 40, 30, nil)
	st := State{Seed: 21, Epoch: 1}
	var all []got
	var l0 *Loader
	for rank := range 2 {
		cfg := testConfig(t, 4, d.url)
		cfg.World, cfg.Rank = 2, rank
		l := newLoader(t, cfg)
		if rank == 0 {
			l0 = l
		}
		all = append(all, run(t, l, st, -1)...)
	}
	checkExactlyOnce(t, all, expectKeys(t, l0, []*dataset{d}, st, 0, 50))
	if m := l0.Metrics(); m.ShardsFetched != int64(len(sizes50)) || m.ShardsSkipped != 0 {
		t.Fatalf("metrics %+v", m)
	}
}
