//go:build race

package main

// raceEnabled: the race detector slows training ~10x, so the demo test
// trains only a few steps under it and checks the pipeline, not learning.
const raceEnabled = true
