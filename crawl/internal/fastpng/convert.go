// The conversions below follow Go's image/png (reader.go, readImagePass):
// Copyright 2009 The Go Authors. All rights reserved. Use of this source code
// is governed by a BSD-style license that can be found in Go's LICENSE file.

package fastpng

import (
	"image"
)

// output is the image being decoded, with its concrete type at hand.
type output struct {
	img      image.Image
	pix      []byte // the image's Pix
	stride   int
	width    int
	paletted *image.Paletted
}

// newImage allocates the image type image/png decodes h to.
func newImage(h *header) output {
	r := image.Rect(0, 0, h.width, h.height)
	var o output
	switch h.cb {
	case cbG1, cbG2, cbG4, cbG8:
		if h.useTransparent {
			m := image.NewNRGBA(r)
			o.img, o.pix, o.stride = m, m.Pix, m.Stride
		} else {
			m := image.NewGray(r)
			o.img, o.pix, o.stride = m, m.Pix, m.Stride
		}
	case cbGA8, cbTCA8:
		m := image.NewNRGBA(r)
		o.img, o.pix, o.stride = m, m.Pix, m.Stride
	case cbTC8:
		if h.useTransparent {
			m := image.NewNRGBA(r)
			o.img, o.pix, o.stride = m, m.Pix, m.Stride
		} else {
			m := image.NewRGBA(r)
			o.img, o.pix, o.stride = m, m.Pix, m.Stride
		}
	case cbP1, cbP2, cbP4, cbP8:
		m := image.NewPaletted(r, h.palette)
		o.img, o.pix, o.stride, o.paletted = m, m.Pix, m.Stride, m
	case cbG16:
		if h.useTransparent {
			m := image.NewNRGBA64(r)
			o.img, o.pix, o.stride = m, m.Pix, m.Stride
		} else {
			m := image.NewGray16(r)
			o.img, o.pix, o.stride = m, m.Pix, m.Stride
		}
	case cbGA16, cbTCA16:
		m := image.NewNRGBA64(r)
		o.img, o.pix, o.stride = m, m.Pix, m.Stride
	case cbTC16:
		if h.useTransparent {
			m := image.NewNRGBA64(r)
			o.img, o.pix, o.stride = m, m.Pix, m.Stride
		} else {
			m := image.NewRGBA64(r)
			o.img, o.pix, o.stride = m, m.Pix, m.Stride
		}
	}
	o.width = h.width
	return o
}

// row converts the unfiltered bytes of row y into the image. For paletted
// images it returns the largest index in the row (image/png grows the
// palette to cover it), otherwise -1.
func (o *output) row(y int, cdat []byte, h *header) int {
	width := o.width
	dst := o.pix[y*o.stride : y*o.stride+o.stride]
	switch h.cb {
	case cbG1, cbG2, cbG4:
		depth := uint(h.depth)
		perByte := 8 / int(depth)
		mul := [...]uint8{1: 0xff, 2: 0x55, 4: 0x11}[depth]
		shift := 8 - depth
		if h.useTransparent {
			ty := h.transparent[1]
			for x := 0; x < width; x += perByte {
				b := cdat[x/perByte]
				for x2 := 0; x2 < perByte && x+x2 < width; x2++ {
					ycol := (b >> shift) * mul
					acol := uint8(0xff)
					if ycol == ty {
						acol = 0
					}
					p := dst[4*(x+x2) : 4*(x+x2)+4 : 4*(x+x2)+4]
					p[0], p[1], p[2], p[3] = ycol, ycol, ycol, acol
					b <<= depth
				}
			}
		} else {
			for x := 0; x < width; x += perByte {
				b := cdat[x/perByte]
				for x2 := 0; x2 < perByte && x+x2 < width; x2++ {
					dst[x+x2] = (b >> shift) * mul
					b <<= depth
				}
			}
		}
	case cbG8:
		if h.useTransparent {
			ty := h.transparent[1]
			for x, ycol := range cdat[:width] {
				acol := uint8(0xff)
				if ycol == ty {
					acol = 0
				}
				p := dst[4*x : 4*x+4 : 4*x+4]
				p[0], p[1], p[2], p[3] = ycol, ycol, ycol, acol
			}
		} else {
			copy(dst, cdat[:width])
		}
	case cbGA8:
		for x := 0; x < width; x++ {
			s := cdat[2*x : 2*x+2 : 2*x+2]
			p := dst[4*x : 4*x+4 : 4*x+4]
			p[0], p[1], p[2], p[3] = s[0], s[0], s[0], s[1]
		}
	case cbTC8:
		if h.useTransparent {
			tr, tg, tb := h.transparent[1], h.transparent[3], h.transparent[5]
			for x := 0; x < width; x++ {
				s := cdat[3*x : 3*x+3 : 3*x+3]
				p := dst[4*x : 4*x+4 : 4*x+4]
				a := uint8(0xff)
				if s[0] == tr && s[1] == tg && s[2] == tb {
					a = 0
				}
				p[0], p[1], p[2], p[3] = s[0], s[1], s[2], a
			}
		} else {
			for x := 0; x < width; x++ {
				s := cdat[3*x : 3*x+3 : 3*x+3]
				p := dst[4*x : 4*x+4 : 4*x+4]
				p[0], p[1], p[2], p[3] = s[0], s[1], s[2], 0xff
			}
		}
	case cbP1, cbP2, cbP4:
		depth := uint(h.depth)
		perByte := 8 / int(depth)
		shift := 8 - depth
		var max uint8
		for x := 0; x < width; x += perByte {
			b := cdat[x/perByte]
			for x2 := 0; x2 < perByte && x+x2 < width; x2++ {
				idx := b >> shift
				max = maxU8(max, idx)
				dst[x+x2] = idx
				b <<= depth
			}
		}
		return int(max)
	case cbP8:
		copy(dst, cdat[:width])
		if len(o.paletted.Palette) == 256 {
			return -1
		}
		var max uint8
		for _, v := range cdat[:width] {
			max = maxU8(max, v)
		}
		return int(max)
	case cbTCA8:
		copy(dst, cdat[:4*width])
	case cbG16:
		if h.useTransparent {
			t0, t1 := h.transparent[0], h.transparent[1]
			for x := 0; x < width; x++ {
				s := cdat[2*x : 2*x+2 : 2*x+2]
				p := dst[8*x : 8*x+8 : 8*x+8]
				a := uint8(0xff)
				if s[0] == t0 && s[1] == t1 {
					a = 0
				}
				p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7] = s[0], s[1], s[0], s[1], s[0], s[1], a, a
			}
		} else {
			copy(dst, cdat[:2*width])
		}
	case cbGA16:
		for x := 0; x < width; x++ {
			s := cdat[4*x : 4*x+4 : 4*x+4]
			p := dst[8*x : 8*x+8 : 8*x+8]
			p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7] = s[0], s[1], s[0], s[1], s[0], s[1], s[2], s[3]
		}
	case cbTC16:
		if h.useTransparent {
			t := h.transparent
			for x := 0; x < width; x++ {
				s := cdat[6*x : 6*x+6 : 6*x+6]
				p := dst[8*x : 8*x+8 : 8*x+8]
				a := uint8(0xff)
				if s[0] == t[0] && s[1] == t[1] && s[2] == t[2] && s[3] == t[3] && s[4] == t[4] && s[5] == t[5] {
					a = 0
				}
				p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7] = s[0], s[1], s[2], s[3], s[4], s[5], a, a
			}
		} else {
			for x := 0; x < width; x++ {
				s := cdat[6*x : 6*x+6 : 6*x+6]
				p := dst[8*x : 8*x+8 : 8*x+8]
				p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7] = s[0], s[1], s[2], s[3], s[4], s[5], 0xff, 0xff
			}
		}
	case cbTCA16:
		copy(dst, cdat[:8*width])
	}
	return -1
}

func maxU8(a, b uint8) uint8 {
	if b > a {
		return b
	}
	return a
}
