// The encoder below follows Go's image/jpeg (writer.go): Copyright 2011 The
// Go Authors. All rights reserved. Use of this source code is governed by a
// BSD-style license that can be found in Go's LICENSE file.

package crawl

import (
	"image"
	"image/color"
	"sync"
)

// encodeJPEGRecon encodes the opaque RGBA image m as baseline 4:2:0 JPEG at
// quality (1..100), byte for byte as jpeg.Encode does (same quantisation and
// Huffman tables, same DCT, same rounding), and returns with it the image
// that jpeg.Decode makes of those bytes: a 4:2:0 YCbCr image whose planes
// are the inverse DCT of the dequantised coefficients, level-shifted and
// clipped, exactly as the decoder reconstructs them. So the pHash of the
// stored JPEG needs no second decode. The tests compare both results with
// the standard library's.
//
// It writes into a buffer of its own (no bufio, no interface calls per
// byte) and replaces the division of every coefficient by a multiplication
// that gives the same quotient.
func encodeJPEGRecon(m *image.RGBA, quality int) ([]byte, *image.YCbCr) {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	e := jpegEncoders.Get().(*jpegEncoder)
	defer jpegEncoders.Put(e)
	e.setQuality(quality)
	// Sized as the decoder allocates: whole 16×16 MCUs.
	mxx, myy := (w+15)/16, (h+15)/16
	rec := &image.YCbCr{
		YStride:        16 * mxx,
		CStride:        8 * mxx,
		SubsampleRatio: image.YCbCrSubsampleRatio420,
		Rect:           image.Rect(0, 0, w, h),
	}
	ySize, cSize := 16*mxx*16*myy, 8*mxx*8*myy
	planes := make([]uint8, ySize+2*cSize)
	rec.Y, rec.Cb, rec.Cr = planes[:ySize:ySize], planes[ySize:ySize+cSize:ySize+cSize], planes[ySize+cSize:]

	e.out = make([]byte, 0, 1024+w*h/2)
	e.acc, e.nBits = 0, 0
	e.out = append(e.out, 0xff, 0xd8)
	e.writeHeaders(w, h)
	e.out = append(e.out, jpegSOSHeaderYCbCr...)
	var (
		blk                         jpegBlock
		cb, cr                      [4]jpegBlock
		prevDCY, prevDCCb, prevDCCr int32
	)
	for my := 0; my < myy; my++ {
		for mx := 0; mx < mxx; mx++ {
			x, y := b.Min.X+16*mx, b.Min.Y+16*my
			for i := 0; i < 4; i++ {
				xOff, yOff := (i&1)*8, (i&2)*4
				rgbaBlockToYCbCr(m, x+xOff, y+yOff, &blk, &cb[i], &cr[i])
				prevDCY = e.writeBlock(&blk, 0, prevDCY)
				reconstructBlock(&blk, &e.quant[0], rec.Y[(16*my+yOff)*rec.YStride+16*mx+xOff:], rec.YStride)
			}
			co := 8*my*rec.CStride + 8*mx
			jpegScale(&blk, &cb)
			prevDCCb = e.writeBlock(&blk, 1, prevDCCb)
			reconstructBlock(&blk, &e.quant[1], rec.Cb[co:], rec.CStride)
			jpegScale(&blk, &cr)
			prevDCCr = e.writeBlock(&blk, 1, prevDCCr)
			reconstructBlock(&blk, &e.quant[1], rec.Cr[co:], rec.CStride)
		}
	}
	e.finishBits()
	e.out = append(e.out, 0xff, 0xd9)
	out := e.out
	e.out = nil
	return out, rec
}

var jpegEncoders = sync.Pool{New: func() any { return new(jpegEncoder) }}

type jpegEncoder struct {
	out     []byte
	acc     uint64 // pending bits, left-aligned
	nBits   uint32 // how many (under 32 between calls)
	quality int
	// quant are the scaled quantisation tables in zig-zag order; recip[q][zig]
	// is ceil(2^32 / (8·quant[q][zig])), for division by multiplication.
	quant [2][jpegBlockSize]uint8
	recip [2][jpegBlockSize]uint64
}

// setQuality scales the tables as jpeg.Encode does.
func (e *jpegEncoder) setQuality(quality int) {
	quality = min(max(quality, 1), 100)
	if e.quality == quality {
		return
	}
	e.quality = quality
	var s int
	if quality < 50 {
		s = 5000 / quality
	} else {
		s = 200 - quality*2
	}
	for i := range e.quant {
		for j := range e.quant[i] {
			x := (int(jpegUnscaledQuant[i][j])*s + 50) / 100
			x = min(max(x, 1), 255)
			e.quant[i][j] = uint8(x)
			d := uint64(8 * x)
			e.recip[i][j] = (1<<32 + d - 1) / d
		}
	}
}

// writeHeaders writes DQT, SOF0 (3 components, 4:2:0) and DHT as
// jpeg.Encode does.
func (e *jpegEncoder) writeHeaders(w, h int) {
	e.out = append(e.out, 0xff, 0xdb, 0, 2+2*(1+jpegBlockSize))
	for i := range e.quant {
		e.out = append(e.out, uint8(i))
		e.out = append(e.out, e.quant[i][:]...)
	}
	e.out = append(e.out, 0xff, 0xc0, 0, 8+3*3, 8, uint8(h>>8), uint8(h), uint8(w>>8), uint8(w), 3,
		1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1)
	n := 2
	for _, s := range jpegHuffmanSpec {
		n += 1 + 16 + len(s.value)
	}
	e.out = append(e.out, 0xff, 0xc4, uint8(n>>8), uint8(n))
	for i, s := range jpegHuffmanSpec {
		e.out = append(e.out, "\x00\x10\x01\x11"[i])
		e.out = append(e.out, s.count[:]...)
		e.out = append(e.out, s.value...)
	}
}

// jpegSOSHeaderYCbCr: SOS, 3 components, Y on tables 0, Cb and Cr on 1,
// spectral selection 0..63.
var jpegSOSHeaderYCbCr = []byte{0xff, 0xda, 0x00, 0x0c, 0x03, 0x01, 0x00, 0x02, 0x11, 0x03, 0x11, 0x00, 0x3f, 0x00}

// div is a/d rounded half away from zero, as image/jpeg's div, for
// d = 8·quant[q][zig], computed with recip: for 0 ≤ n < 2^21 and d < 2^12,
// (n·ceil(2^32/d)) >> 32 is floor(n/d). FDCT outputs are far below 2^21;
// larger numerators take the division.
func (e *jpegEncoder) div(a int32, q, zig int) int32 {
	d := 8 * int32(e.quant[q][zig])
	neg := a < 0
	if neg {
		a = -a
	}
	n := a + d>>1
	var v int32
	if n < 1<<21 {
		v = int32((uint64(n) * e.recip[q][zig]) >> 32)
	} else {
		v = n / d
	}
	if neg {
		return -v
	}
	return v
}

// writeBlock transforms, quantises and emits one block (natural order) and
// leaves in b the quantised coefficients (natural order), for
// reconstructBlock. It returns the quantised DC.
func (e *jpegEncoder) writeBlock(b *jpegBlock, q int, prevDC int32) int32 {
	jpegFDCT(b)
	dc := e.div(b[0], q, 0)
	b[0] = dc
	e.emitHuffRLE(&jpegHuffmanLUT[2*q], 0, dc-prevDC)
	h, run := &jpegHuffmanLUT[2*q+1], int32(0)
	for zig := 1; zig < jpegBlockSize; zig++ {
		k := jpegUnzig[zig]
		ac := e.div(b[k], q, zig)
		b[k] = ac
		if ac == 0 {
			run++
			continue
		}
		for run > 15 {
			e.emitHuff(h, 0xf0)
			run -= 16
		}
		e.emitHuffRLE(h, run, ac)
		run = 0
	}
	if run > 0 {
		e.emitHuff(h, 0x00)
	}
	return dc
}

// reconstructBlock is what image/jpeg's decoder does with a block of
// quantised coefficients (natural order): dequantise, inverse DCT, level
// shift by 128, clip, store 8×8 at dst with stride.
func reconstructBlock(b *jpegBlock, quant *[jpegBlockSize]uint8, dst []uint8, stride int) {
	for zig := 0; zig < jpegBlockSize; zig++ {
		b[jpegUnzig[zig]] *= int32(quant[zig])
	}
	jpegIDCT(b)
	for y := 0; y < 8; y++ {
		row := dst[y*stride : y*stride+8 : y*stride+8]
		for x := range row {
			c := b[8*y+x]
			switch {
			case c < -128:
				row[x] = 0
			case c > 127:
				row[x] = 255
			default:
				row[x] = uint8(c + 128)
			}
		}
	}
}

// emit appends the low nBits bits of bits (nBits ≤ 16) to the bit stream.
// Bits gather in a 64-bit accumulator and go out 32 at a time, a 0 stuffed
// after every 0xff byte.
func (e *jpegEncoder) emit(bits, nBits uint32) {
	e.nBits += nBits
	e.acc |= uint64(bits) << (64 - e.nBits)
	if e.nBits >= 32 {
		v := uint32(e.acc >> 32)
		if x := ^v; (x-0x01010101)&^x&0x80808080 == 0 { // no 0xff byte
			e.out = append(e.out, uint8(v>>24), uint8(v>>16), uint8(v>>8), uint8(v))
		} else {
			e.putBytes(v, 4)
		}
		e.acc <<= 32
		e.nBits -= 32
	}
}

// putBytes appends the top n bytes of v, stuffing.
func (e *jpegEncoder) putBytes(v uint32, n int) {
	for range n {
		c := uint8(v >> 24)
		if c == 0xff {
			e.out = append(e.out, c, 0)
		} else {
			e.out = append(e.out, c)
		}
		v <<= 8
	}
}

// finishBits pads the last byte with 1s and writes it.
func (e *jpegEncoder) finishBits() {
	e.emit(0x7f, 7)
	e.putBytes(uint32(e.acc>>32), int(e.nBits/8))
	e.acc, e.nBits = 0, 0
}

func (e *jpegEncoder) emitHuff(h *[256]uint32, v int32) {
	x := h[v]
	e.emit(x&(1<<24-1), x>>24)
}

// emitHuffRLE emits a run length and a value in JPEG's size/amplitude
// coding.
func (e *jpegEncoder) emitHuffRLE(h *[256]uint32, run, v int32) {
	a, b := v, v
	if a < 0 {
		a, b = -v, v-1
	}
	var nBits uint32
	if a < 0x100 {
		nBits = uint32(jpegBitCount[a])
	} else {
		nBits = 8 + uint32(jpegBitCount[a>>8])
	}
	e.emitHuff(h, run<<4|int32(nBits))
	if nBits > 0 {
		e.emit(uint32(b)&(1<<nBits-1), nBits)
	}
}

// rgbaBlockToYCbCr converts the 8×8 region of m at (px, py), edge pixels
// repeated past the bounds, as image/jpeg's rgbaToYCbCr.
func rgbaBlockToYCbCr(m *image.RGBA, px, py int, yb, cbb, crb *jpegBlock) {
	b := m.Rect
	xmax, ymax := b.Max.X-1, b.Max.Y-1
	for j := 0; j < 8; j++ {
		sy := min(py+j, ymax)
		off := (sy-b.Min.Y)*m.Stride - b.Min.X*4
		if px+7 <= xmax {
			row := m.Pix[off+px*4 : off+px*4+32 : off+px*4+32]
			for i := 0; i < 8; i++ {
				yy, cb, cr := color.RGBToYCbCr(row[4*i], row[4*i+1], row[4*i+2])
				yb[8*j+i], cbb[8*j+i], crb[8*j+i] = int32(yy), int32(cb), int32(cr)
			}
			continue
		}
		for i := 0; i < 8; i++ {
			p := m.Pix[off+min(px+i, xmax)*4:]
			yy, cb, cr := color.RGBToYCbCr(p[0], p[1], p[2])
			yb[8*j+i], cbb[8*j+i], crb[8*j+i] = int32(yy), int32(cb), int32(cr)
		}
	}
}

// jpegScale averages the 16×16 region of the 4 src blocks into dst, as
// image/jpeg's scale.
func jpegScale(dst *jpegBlock, src *[4]jpegBlock) {
	for i := 0; i < 4; i++ {
		dstOff := (i&2)<<4 | (i&1)<<2
		for y := 0; y < 4; y++ {
			for x := 0; x < 4; x++ {
				j := 16*y + 2*x
				sum := src[i][j] + src[i][j+1] + src[i][j+8] + src[i][j+9]
				dst[8*y+x+dstOff] = (sum + 2) >> 2
			}
		}
	}
}

// jpegUnzig maps zig-zag order to natural order.
var jpegUnzig = [jpegBlockSize]int{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
}

// jpegBitCount[v] is the number of bits of v.
var jpegBitCount = func() (t [256]uint8) {
	for v := 1; v < 256; v++ {
		t[v] = t[v/2] + 1
	}
	return t
}()

// jpegUnscaledQuant are the tables of section K.1 of the spec in zig-zag
// order, luminance then chrominance.
var jpegUnscaledQuant = [2][jpegBlockSize]uint8{
	{
		16, 11, 12, 14, 12, 10, 16, 14,
		13, 14, 18, 17, 16, 19, 24, 40,
		26, 24, 22, 22, 24, 49, 35, 37,
		29, 40, 58, 51, 61, 60, 57, 51,
		56, 55, 64, 72, 92, 78, 64, 68,
		87, 69, 55, 56, 80, 109, 81, 87,
		95, 98, 103, 104, 103, 62, 77, 113,
		121, 112, 100, 120, 92, 101, 103, 99,
	},
	{
		17, 18, 18, 24, 21, 24, 47, 26,
		26, 47, 99, 66, 56, 66, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
	},
}

type jpegHuffmanSpecT struct {
	count [16]uint8 // count[i]: codes of length i+1
	value []uint8
}

// jpegHuffmanSpec are the tables of section K.3 of the spec: luminance DC
// and AC, chrominance DC and AC.
var jpegHuffmanSpec = [4]jpegHuffmanSpecT{
	{
		[16]uint8{0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0},
		[]uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
	},
	{
		[16]uint8{0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 125},
		[]uint8{
			0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12,
			0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
			0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08,
			0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
			0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16,
			0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
			0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
			0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
			0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59,
			0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
			0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79,
			0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
			0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,
			0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
			0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6,
			0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
			0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4,
			0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
			0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea,
			0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
			0xf9, 0xfa,
		},
	},
	{
		[16]uint8{0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0},
		[]uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
	},
	{
		[16]uint8{0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 119},
		[]uint8{
			0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21,
			0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
			0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91,
			0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
			0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34,
			0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
			0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38,
			0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
			0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58,
			0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
			0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78,
			0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
			0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96,
			0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
			0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4,
			0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
			0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2,
			0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
			0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9,
			0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
			0xf9, 0xfa,
		},
	},
}

// jpegHuffmanLUT[i][v]: code length in the top 8 bits, code in the low 24.
var jpegHuffmanLUT = func() (t [4][256]uint32) {
	for i, s := range jpegHuffmanSpec {
		code, k := uint32(0), 0
		for n := range s.count {
			for j := uint8(0); j < s.count[n]; j++ {
				t[i][s.value[k]] = uint32(n+1)<<24 | code
				code++
				k++
			}
			code <<= 1
		}
	}
	return t
}()

// ycbcrGray is the 8-bit luma ComputePHash takes from an image (PIL's "L"
// of its RGB: (R·19595 + G·38470 + B·7471 + 2^15) >> 16), computed straight
// from the planes of a YCbCr image with color.YCbCrToRGB, so that
// dedup.ComputePHash(ycbcrGray(m)) == dedup.ComputePHash(toRGBA(m)).
func ycbcrGray(m *image.YCbCr) *image.Gray {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	g := image.NewGray(image.Rect(0, 0, w, h))
	hdiv, vdiv, ok := chromaDivisors(m.SubsampleRatio)
	for y := 0; y < h; y++ {
		out := g.Pix[y*g.Stride : y*g.Stride+w]
		if ok && b.Min == (image.Point{}) {
			hs, vs := shiftOf(hdiv), shiftOf(vdiv)
			yrow := m.Y[y*m.YStride : y*m.YStride+w]
			co := (y >> vs) * m.CStride
			cb, cr := m.Cb[co:co+(w+hdiv-1)/hdiv], m.Cr[co:co+(w+hdiv-1)/hdiv]
			for cx := range cb {
				// color.YCbCrToRGB, its chroma terms shared by the pixels
				// of one chroma sample.
				cb1, cr1 := int32(cb[cx])-128, int32(cr[cx])-128
				rc, gc, bc := 91881*cr1, -22554*cb1-46802*cr1, 116130*cb1
				x0, x1 := cx<<hs, min((cx+1)<<hs, w)
				for x := x0; x < x1; x++ {
					yy := int32(yrow[x]) * 0x10101
					out[x] = pilLuma(clip16(yy+rc), clip16(yy+gc), clip16(yy+bc))
				}
			}
			continue
		}
		for x := range out {
			yi, ci := m.YOffset(b.Min.X+x, b.Min.Y+y), m.COffset(b.Min.X+x, b.Min.Y+y)
			r, gg, bl := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			out[x] = pilLuma(uint32(r), uint32(gg), uint32(bl))
		}
	}
	return g
}

// clip16 is color.YCbCrToRGB's clip of a 16.16 fixed-point channel to 8
// bits.
func clip16(v int32) uint32 {
	if uint32(v)&0xff000000 == 0 {
		return uint32(v>>16) & 0xff
	}
	return uint32(^(v >> 31)) & 0xff
}

// pilLuma is PIL's "L" of 8-bit R, G, B, as dedup.ComputePHash converts.
func pilLuma(r, g, b uint32) uint8 {
	return uint8((r*19595 + g*38470 + b*7471 + 0x8000) >> 16)
}
