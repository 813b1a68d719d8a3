//go:build amd64 && !purego

package ops

import "testing"

// TestGemmFloat32AVX2 runs TestGemmFloat32's checks on the AVX2 kernel on
// a CPU that would otherwise take the AVX-512 one.
func TestGemmFloat32AVX2(t *testing.T) {
	if !useAVX512 {
		t.Skip("no AVX-512: TestGemmFloat32 already ran the AVX2 kernel")
	}
	useAVX512 = false
	defer func() { useAVX512 = true }()
	checkGemmFloat32(t)
}
