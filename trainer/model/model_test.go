package model

import (
	"fmt"
	"testing"
)

// TestPatchify: every image value lands at its place in the patch rows
// (values encode their position, so drops and duplicates show), for
// batches cut across goroutines and not.
func TestPatchify(t *testing.T) {
	for _, c := range []struct{ B, S, p int }{{1, 32, 8}, {3, 64, 8}, {40, 96, 32}, {17, 224, 32}} {
		t.Run(fmt.Sprintf("B=%d/S=%d/p=%d", c.B, c.S, c.p), func(t *testing.T) {
			B, S, p := c.B, c.S, c.p
			img := make([]float32, B*3*S*S)
			for i := range img {
				img[i] = float32(i)
			}
			dst := make([]float32, len(img))
			for i := range dst {
				dst[i] = -1
			}
			patchify(dst, img, B, S, p)
			G := S / p
			for b := range B {
				for c := range 3 {
					for y := range S {
						for x := range S {
							want := img[((b*3+c)*S+y)*S+x]
							row := (b*G+y/p)*G + x/p
							got := dst[row*3*p*p+(c*p+y%p)*p+x%p]
							if got != want {
								t.Fatalf("image %d channel %d pixel (%d,%d): %v in its patch slot, want %v", b, c, y, x, got, want)
							}
						}
					}
				}
			}
		})
	}
}
