//go:build !race

package fastpng

const raceEnabled = false
