//go:build amd64 && !purego

package fastjpeg

// useAVX2 selects idctAVX2, which gives exactly idct's bytes (the same
// integer arithmetic, 8 columns or rows at a time).
var useAVX2 = hasAVX2()

func hasAVX2() bool

// idctAVX2 is idct's full transform of blk into the 8×8 bytes at dst
// (rows stride apart; 7·stride+8 bytes must be there), zeroing blk.
//
//go:noescape
func idctAVX2(blk *[64]int32, dst *byte, stride int)
