package dedup

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		// Re-executed by TestCrashBeforeCommit: write, commit some, and
		// die by SIGKILL without closing the index.
		runCrashChild(dir)
		return
	}
	goleak.VerifyTestMain(m)
}
