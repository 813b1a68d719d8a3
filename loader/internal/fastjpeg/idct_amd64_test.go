//go:build amd64 && !purego

package fastjpeg

import (
	"math/rand/v2"
	"testing"
)

// idctAVX2 gives exactly the bytes of the portable idct, saturating
// values included, and zeroes the block.
func TestIDCTAVX2Exact(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2 here")
	}
	defer func() { useAVX2 = true }()
	r := rand.New(rand.NewPCG(1, 2))
	const stride = 13
	for n := range 20000 {
		var blk [64]int32
		scale := []int32{4, 64, 1024, 4000}[n%4]
		for i := range blk {
			if r.IntN(3) == 0 || i == 0 {
				blk[i] = r.Int32N(2*scale+1) - scale
			}
		}
		a, b := blk, blk
		var got, want [8*stride + 8]byte
		useAVX2 = true
		idct(&a, 64, got[:], stride)
		useAVX2 = false
		idct(&b, 64, want[:], stride)
		if got != want {
			t.Fatalf("block %v:\navx2     %v\nportable %v", blk, got, want)
		}
		if a != [64]int32{} || b != [64]int32{} {
			t.Fatal("block not zeroed")
		}
	}
}
