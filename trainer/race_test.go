//go:build race

package trainer

// raceEnabled: the race detector slows the CPU kernels ~10×, so the
// learning test (a minute of training) is skipped under it.
const raceEnabled = true
