package gpu

import (
	"bytes"
	"fmt"
	"testing"
)

func TestParallelCopy(t *testing.T) {
	for _, n := range []int{0, 1, 63, copyChunk - 1, copyChunk, 3*copyChunk + 17, 9*copyChunk + 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			src := make([]byte, n)
			for i := range src {
				src[i] = byte(i*7 + i>>8) // position-encoding: a dropped or moved piece shows
			}
			dst := bytes.Repeat([]byte{0xee}, n+8)
			parallelCopy(dst, src)
			if !bytes.Equal(dst[:n], src) {
				t.Fatal("copy differs from the source")
			}
			if !bytes.Equal(dst[n:], bytes.Repeat([]byte{0xee}, 8)) {
				t.Fatal("copy wrote past the source's length")
			}
		})
	}
}

func BenchmarkStagingCopy(b *testing.B) {
	for _, size := range []int{1 << 20, 32 << 20} {
		src, dst := make([]byte, size), make([]byte, size)
		b.Run(fmt.Sprintf("copy/%dMiB", size>>20), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				copy(dst, src)
			}
		})
		b.Run(fmt.Sprintf("parallel/%dMiB", size>>20), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				parallelCopy(dst, src)
			}
		})
	}
}
