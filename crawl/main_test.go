package crawl

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind. It is the one
// TestMain of package crawl: add options here, do not add a second.
func TestMain(m *testing.M) {
	if os.Getenv(slowSiteEnv) != "" {
		os.Exit(serveSlowSite())
	}
	goleak.VerifyTestMain(m)
}
