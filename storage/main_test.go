package storage_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/clipstream/clipstream/internal/s3test"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, s3test.ToxiproxyLeaks()...)
}
