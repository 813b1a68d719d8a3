//go:build race

package fastpng

// raceEnabled: under the race detector sync.Pool drops some of what is put
// in it, so allocation counts are not meaningful.
const raceEnabled = true
