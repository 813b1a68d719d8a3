//go:build amd64 && !purego

package loader

import (
	"math"
	"testing"
)

// The AVX2 kernels agree with the portable ones to within float32
// rounding, for output sizes with and without a tail of fewer than 8,
// in both modes, on photo-like JPEGs and a grey one.
func TestAVX2MatchesPortable(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2+FMA here")
	}
	defer func() { useAVX2 = true }()
	images := [][]byte{photoJPEG(t, 1, 256), photoJPEG(t, 2, 97), testJPEG(t, 3, 61, 200), grayJPEG(t, 40, 33)}
	for _, size := range []int{224, 37, 8, 5} {
		for _, train := range []bool{true, false} {
			for i, data := range images {
				var out [2][]float32
				for k, avx := range []bool{true, false} {
					useAVX2 = avx
					tr := newTransformer(size, train, 1<<24)
					out[k] = make([]float32, 3*size*size)
					if err := tr.apply(out[k], data, newRNG(uint64(i))); err != nil {
						t.Fatal(err)
					}
				}
				for j := range out[0] {
					if d := math.Abs(float64(out[0][j] - out[1][j])); d > 2e-4 {
						t.Fatalf("size %d train %v image %d: value %d: avx2 %v, portable %v", size, train, i, j, out[0][j], out[1][j])
					}
				}
			}
		}
	}
}
