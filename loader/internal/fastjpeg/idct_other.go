//go:build !amd64 || purego

package fastjpeg

const useAVX2 = false

func idctAVX2(blk *[64]int32, dst *byte, stride int) { panic("unreachable") }
