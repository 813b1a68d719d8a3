//go:build race

package crawl

// raceEnabled: the race detector multiplies memory use, which the
// slow-connections test measures.
const raceEnabled = true
