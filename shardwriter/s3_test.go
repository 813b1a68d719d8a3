package shardwriter_test

import (
	"testing"

	"github.com/clipstream/clipstream/internal/s3test"
)

// newBucket makes an empty bucket on the test S3 server (see s3test).
func newBucket(t testing.TB) string { return s3test.NewBucket(t) }
