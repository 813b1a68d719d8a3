//go:build !linux

package crawl

// The slow-connections test needs many loopback addresses (Linux).
const slowSiteEnv = "CLIPSTREAM_SLOW_SITE_HELPER"

func serveSlowSite() int { return 1 }
