// Package fastjpeg decodes sequential (baseline and extended, Huffman,
// 8-bit) JPEG images into planar Y, Cb, Cr or grey sample buffers that a
// Decoder reuses from image to image. It is the loader's hot path: the
// colour conversion and chroma upsampling are left to the caller, which
// folds them into its resampling.
//
// What it does not decode (progressive, arithmetic-coded, 12-bit, CMYK,
// YCCK, Adobe RGB) it refuses with ErrUnsupported, and the caller falls
// back to image/jpeg. Its header checks are those of image/jpeg or
// stricter, so any image it decodes, image.DecodeConfig accepts with the
// same size.
//
// The entropy decoder follows stb_image's design (a 64-bit bit buffer
// refilled eight bytes at a time when no 0xFF byte is near, a 10-bit
// lookup table per Huffman table, and a table that decodes a short AC
// code and its value in one step); the inverse DCT is stb_image's integer
// version of libjpeg's jidctint (accurate to within one grey level of the
// exact transform; image/jpeg's differs from it by at most one).
package fastjpeg

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrUnsupported: a valid JPEG this package does not decode; use
// image/jpeg.
var ErrUnsupported = errors.New("fastjpeg: unsupported JPEG variant")

// ErrTooLarge: the frame header claims more pixels than the limit given
// to Decode; nothing was allocated for it.
var ErrTooLarge = errors.New("fastjpeg: image too large")

// A FormatError reports that the input is not a valid JPEG.
type FormatError string

func (e FormatError) Error() string { return "fastjpeg: invalid JPEG: " + string(e) }

// Plane is one component's samples, row-major. Only the first W samples
// of the first H rows belong to the image; the buffer is padded to whole
// blocks.
type Plane struct {
	Pix    []byte
	Stride int
	W, H   int
	// SubX, SubY: image pixels per sample, horizontally and vertically
	// (2, 2 for the chroma of a 4:2:0 image; 1, 1 for luma).
	SubX, SubY int
}

// Image is a decoded JPEG: one plane (grey) or three (Y, Cb, Cr with
// JFIF's full-range equations and centred chroma siting). Its buffers
// belong to the Decoder and are overwritten by the next Decode.
type Image struct {
	Width, Height int
	Planes        []Plane
}

type component struct {
	id     uint8
	h, v   int
	tq     uint8
	td, ta uint8 // Huffman table selectors of the current scan
	pred   int32
	bw, bh int // blocks per row and per column in the padded MCU grid
	w, hgt int // samples that belong to the image
	done   bool
}

// Decoder decodes JPEGs, reusing its buffers. It is not safe for
// concurrent use; use one per goroutine.
type Decoder struct {
	nComp       int
	width       int
	height      int
	extended    bool // SOF1: table ids up to 3
	comp        [3]component
	hmax, vmax  int
	mcusX       int
	mcusY       int
	ri          int
	jfif        bool
	adobeValid  bool
	adobeXform  uint8
	quant       [4][64]int32 // natural order
	huff        [2][4]huffTable
	huffDefined [2][4]bool
	pix         [3][]byte
	planes      [3]Plane
	img         Image
	blk         [64]int32
	br          bitReader
}

const (
	mSOF0 = 0xc0
	mSOF1 = 0xc1
	mSOF2 = 0xc2
	mDHT  = 0xc4
	mRST0 = 0xd0
	mRST7 = 0xd7
	mSOI  = 0xd8
	mEOI  = 0xd9
	mSOS  = 0xda
	mDQT  = 0xdb
	mDRI  = 0xdd
	mAPP0 = 0xe0
	mAP14 = 0xee
	mAP15 = 0xef
	mCOM  = 0xfe
)

// Decode decodes data, refusing (ErrTooLarge) a frame of more than
// maxPixels pixels before allocating for it. The returned Image is valid
// until the next call.
func (d *Decoder) Decode(data []byte, maxPixels int) (*Image, error) {
	d.nComp, d.ri, d.jfif, d.adobeValid = 0, 0, false, false
	d.huffDefined = [2][4]bool{}
	d.blk = [64]int32{}
	if len(data) < 2 || data[0] != 0xff || data[1] != mSOI {
		return nil, FormatError("missing SOI marker")
	}
	p := 2
	for {
		if p+1 >= len(data) {
			return nil, FormatError("truncated before the image data ended")
		}
		if data[p] != 0xff { // extraneous data, skipped as image/jpeg does
			p++
			continue
		}
		marker := data[p+1]
		if marker == 0 {
			p += 2
			continue
		}
		if marker == 0xff { // fill byte
			p++
			continue
		}
		p += 2
		if marker == mEOI {
			return nil, FormatError("EOI before the image data")
		}
		if mRST0 <= marker && marker <= mRST7 {
			continue
		}
		if p+2 > len(data) {
			return nil, FormatError("truncated segment")
		}
		n := int(data[p])<<8 | int(data[p+1]) - 2
		p += 2
		if n < 0 {
			return nil, FormatError("short segment length")
		}
		if p+n > len(data) {
			return nil, FormatError("truncated segment")
		}
		seg := data[p : p+n]
		p += n
		var err error
		switch marker {
		case mSOF0, mSOF1:
			err = d.processSOF(seg, marker == mSOF1, maxPixels)
		case mSOF2:
			// Validate the header as image/jpeg would, then step aside.
			if err = d.processSOF(seg, false, maxPixels); err == nil {
				err = fmt.Errorf("%w: progressive", ErrUnsupported)
			}
		case mDHT:
			err = d.processDHT(seg)
		case mDQT:
			err = d.processDQT(seg)
		case mDRI:
			if len(seg) != 2 {
				err = FormatError("DRI has wrong length")
			} else {
				d.ri = int(seg[0])<<8 | int(seg[1])
			}
		case mSOS:
			p, err = d.processSOS(seg, data, p)
			if err == nil && d.allDone() {
				return d.image(), nil
			}
		case mAPP0:
			d.jfif = len(seg) >= 5 && string(seg[:5]) == "JFIF\x00"
		case mAP14:
			if len(seg) >= 12 && string(seg[:5]) == "Adobe" {
				d.adobeValid, d.adobeXform = true, seg[11]
			}
		default:
			if !(mAPP0 <= marker && marker <= mAP15 || marker == mCOM) {
				if marker < 0xc0 {
					err = FormatError("unknown marker")
				} else {
					err = fmt.Errorf("%w: marker %#x", ErrUnsupported, marker)
				}
			}
		}
		if err != nil {
			return nil, err
		}
	}
}

// Trim drops the plane buffers larger than limit bytes, so that one huge
// image does not keep its memory for the Decoder's lifetime.
func (d *Decoder) Trim(limit int) {
	for i := range d.pix {
		if cap(d.pix[i]) > limit {
			d.pix[i] = nil
		}
	}
}

func (d *Decoder) allDone() bool {
	for i := range d.nComp {
		if !d.comp[i].done {
			return false
		}
	}
	return true
}

func (d *Decoder) image() *Image {
	for i := range d.nComp {
		c := &d.comp[i]
		d.planes[i] = Plane{Pix: d.pix[i], Stride: c.bw * 8, W: c.w, H: c.hgt, SubX: d.hmax / c.h, SubY: d.vmax / c.v}
	}
	d.img = Image{Width: d.width, Height: d.height, Planes: d.planes[:d.nComp]}
	return &d.img
}

// processSOF checks the frame header with image/jpeg's rules, then sizes
// the planes.
func (d *Decoder) processSOF(seg []byte, extended bool, maxPixels int) error {
	if d.nComp != 0 {
		return FormatError("multiple SOF markers")
	}
	switch len(seg) {
	case 6 + 3*1, 6 + 3*3:
	case 6 + 3*4:
		return fmt.Errorf("%w: four components", ErrUnsupported)
	default:
		return fmt.Errorf("%w: number of components", ErrUnsupported)
	}
	if seg[0] != 8 {
		return fmt.Errorf("%w: precision %d", ErrUnsupported, seg[0])
	}
	nComp := (len(seg) - 6) / 3
	d.height = int(seg[1])<<8 | int(seg[2])
	d.width = int(seg[3])<<8 | int(seg[4])
	if int(seg[5]) != nComp {
		return FormatError("SOF has wrong length")
	}
	for i := range nComp {
		c := &d.comp[i]
		*c = component{id: seg[6+3*i], tq: seg[8+3*i]}
		for j := range i {
			if d.comp[j].id == c.id {
				return FormatError("repeated component identifier")
			}
		}
		if c.tq > 3 {
			return FormatError("bad Tq value")
		}
		hv := seg[7+3*i]
		h, v := int(hv>>4), int(hv&0x0f)
		if h < 1 || 4 < h || v < 1 || 4 < v {
			return FormatError("luma/chroma subsampling ratio")
		}
		if h == 3 || v == 3 {
			return fmt.Errorf("%w: subsampling ratio", ErrUnsupported)
		}
		if nComp == 1 {
			h, v = 1, 1
		} else {
			switch i {
			case 0:
				if v == 4 {
					return fmt.Errorf("%w: subsampling ratio", ErrUnsupported)
				}
			case 1:
				if d.comp[0].h%h != 0 || d.comp[0].v%v != 0 {
					return fmt.Errorf("%w: subsampling ratio", ErrUnsupported)
				}
			case 2:
				if d.comp[1].h != h || d.comp[1].v != v {
					return fmt.Errorf("%w: subsampling ratio", ErrUnsupported)
				}
			}
		}
		c.h, c.v = h, v
	}
	d.nComp = nComp
	if nComp == 3 && !d.jfif && (d.adobeValid && d.adobeXform == 0 || d.comp[0].id == 'R' && d.comp[1].id == 'G' && d.comp[2].id == 'B') {
		return fmt.Errorf("%w: RGB", ErrUnsupported)
	}
	if d.width == 0 || d.height == 0 {
		return fmt.Errorf("%w: %d×%d frame (DNL)", ErrUnsupported, d.width, d.height)
	}
	if int64(d.width)*int64(d.height) > int64(maxPixels) {
		return fmt.Errorf("%w: %d×%d pixels, limit %d", ErrTooLarge, d.width, d.height, maxPixels)
	}
	d.extended = extended
	d.hmax, d.vmax = 1, 1
	for i := range nComp {
		d.hmax, d.vmax = max(d.hmax, d.comp[i].h), max(d.vmax, d.comp[i].v)
	}
	d.mcusX = (d.width + 8*d.hmax - 1) / (8 * d.hmax)
	d.mcusY = (d.height + 8*d.vmax - 1) / (8 * d.vmax)
	for i := range nComp {
		c := &d.comp[i]
		c.bw, c.bh = d.mcusX*c.h, d.mcusY*c.v
		c.w = (d.width*c.h + d.hmax - 1) / d.hmax
		c.hgt = (d.height*c.v + d.vmax - 1) / d.vmax
		n := c.bw * 8 * c.bh * 8
		if cap(d.pix[i]) < n {
			d.pix[i] = make([]byte, n)
		}
		d.pix[i] = d.pix[i][:n]
	}
	return nil
}

func (d *Decoder) processDQT(seg []byte) error {
	for len(seg) > 0 {
		pq, tq := seg[0]>>4, seg[0]&0x0f
		seg = seg[1:]
		if tq > 3 {
			return FormatError("bad Tq value")
		}
		q := &d.quant[tq]
		switch pq {
		case 0:
			if len(seg) < 64 {
				return FormatError("DQT has wrong length")
			}
			for i := range 64 {
				q[unzig[i]] = int32(seg[i])
			}
			seg = seg[64:]
		case 1:
			if len(seg) < 128 {
				return FormatError("DQT has wrong length")
			}
			for i := range 64 {
				q[unzig[i]] = int32(seg[2*i])<<8 | int32(seg[2*i+1])
			}
			seg = seg[128:]
		default:
			return FormatError("bad Pq value")
		}
	}
	return nil
}

func (d *Decoder) processDHT(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return FormatError("DHT has wrong length")
		}
		tc, th := seg[0]>>4, seg[0]&0x0f
		if tc > 1 || th > 3 {
			return FormatError("bad Huffman table class or id")
		}
		var counts [17]int
		total := 0
		for i := 1; i <= 16; i++ {
			counts[i] = int(seg[i])
			total += counts[i]
		}
		seg = seg[17:]
		if total == 0 || total > 256 || len(seg) < total {
			return FormatError("DHT has wrong length")
		}
		h := &d.huff[tc][th]
		if err := h.build(&counts, seg[:total], tc == 1); err != nil {
			return err
		}
		d.huffDefined[tc][th] = true
		seg = seg[total:]
	}
	return nil
}

// processSOS reads the scan header, then decodes the scan's entropy-coded
// data starting at data[p]; it returns where the data after it starts.
func (d *Decoder) processSOS(seg, data []byte, p int) (int, error) {
	if d.nComp == 0 {
		return p, FormatError("missing SOF marker")
	}
	if len(seg) < 6 || len(seg) != 4+2*int(seg[0]) {
		return p, FormatError("SOS has wrong length")
	}
	ns := int(seg[0])
	if ns > d.nComp {
		return p, FormatError("SOS has too many components")
	}
	maxT := uint8(1)
	if d.extended {
		maxT = 3
	}
	var scomp [3]*component
	for i := range ns {
		id := seg[1+2*i]
		var c *component
		for j := range d.nComp {
			if d.comp[j].id == id {
				c = &d.comp[j]
			}
		}
		if c == nil {
			return p, FormatError("unknown component selector")
		}
		for j := range i {
			if scomp[j] == c {
				return p, FormatError("repeated component selector")
			}
		}
		c.td, c.ta = seg[2+2*i]>>4, seg[2+2*i]&0x0f
		if c.td > maxT || c.ta > maxT {
			return p, FormatError("bad Huffman table selector")
		}
		if !d.huffDefined[0][c.td] || !d.huffDefined[1][c.ta] {
			return p, FormatError("undefined Huffman table")
		}
		c.pred = 0
		scomp[i] = c
	}
	if ss, se, a := seg[1+2*ns], seg[2+2*ns], seg[3+2*ns]; ss != 0 || se != 63 || a != 0 {
		return p, FormatError("bad spectral selection for a sequential scan")
	}
	if ns > 1 {
		blocks := 0
		for i := range ns {
			blocks += scomp[i].h * scomp[i].v
		}
		if blocks > 10 {
			return p, FormatError("too many blocks in an MCU")
		}
	}
	d.br = bitReader{data: data, pos: p}
	if err := d.scan(scomp[:ns]); err != nil {
		return p, err
	}
	for i := range ns {
		scomp[i].done = true
	}
	return d.br.pos, nil
}

// scan decodes the entropy-coded segments of one scan.
func (d *Decoder) scan(sc []*component) error {
	br := &d.br
	blk := &d.blk
	restart := func(mcu int) error {
		if err := br.finish(); err != nil {
			return err
		}
		if err := br.restart(uint8((mcu/d.ri - 1) & 7)); err != nil {
			return err
		}
		for _, c := range sc {
			c.pred = 0
		}
		return nil
	}
	if len(sc) == 1 {
		// Non-interleaved: the MCU is one block, over the component's
		// own extent (A.2.2), not the padded interleaved grid.
		c := sc[0]
		bx, by := (c.w+7)/8, (c.hgt+7)/8
		dc, ac := &d.huff[0][c.td], &d.huff[1][c.ta]
		q := &d.quant[c.tq]
		pix, stride := d.pix[compIndex(d, c)], c.bw*8
		i := 0
		for y := range by {
			for x := range bx {
				if d.ri > 0 && i > 0 && i%d.ri == 0 {
					if err := restart(i); err != nil {
						return err
					}
				}
				i++
				last, err := br.decodeBlock(dc, ac, q, blk, &c.pred)
				if err != nil {
					return err
				}
				idct(blk, last, pix[(y*8)*stride+x*8:], stride)
			}
		}
		return br.finish()
	}
	var pixs [3][]byte
	for i, c := range sc {
		pixs[i] = d.pix[compIndex(d, c)]
	}
	mcu := 0
	for my := range d.mcusY {
		for mx := range d.mcusX {
			if d.ri > 0 && mcu > 0 && mcu%d.ri == 0 {
				if err := restart(mcu); err != nil {
					return err
				}
			}
			mcu++
			for i, c := range sc {
				dc, ac := &d.huff[0][c.td], &d.huff[1][c.ta]
				q := &d.quant[c.tq]
				stride := c.bw * 8
				for v := range c.v {
					for h := range c.h {
						last, err := br.decodeBlock(dc, ac, q, blk, &c.pred)
						if err != nil {
							return err
						}
						bx, by := mx*c.h+h, my*c.v+v
						idct(blk, last, pixs[i][(by*8)*stride+bx*8:], stride)
					}
				}
			}
		}
	}
	return br.finish()
}

func compIndex(d *Decoder, c *component) int {
	for i := range d.comp {
		if &d.comp[i] == c {
			return i
		}
	}
	panic("fastjpeg: component not in decoder")
}

// bitReader reads the entropy-coded data of a scan, MSB first, with the
// 0xFF00 byte stuffing undone. At a marker or the end of the data it
// feeds zero bits and counts them (pad), so that finish can tell whether
// the decoding ran past the segment.
type bitReader struct {
	data []byte
	pos  int
	acc  uint64 // left-aligned: the next bit is bit 63
	n    uint   // valid bits in acc, pad included
	pad  uint   // zero bits fed past the segment's end
	stop bool   // hit a marker or the end of the data
}

// fill tops the buffer up to at least 57 bits.
func (b *bitReader) fill() {
	for b.n <= 56 {
		if b.stop {
			b.n += 8
			b.pad += 8
			continue
		}
		if b.pos+8 <= len(b.data) {
			v := binary.BigEndian.Uint64(b.data[b.pos:])
			x := ^v // an 0xFF byte is 0x00 here
			if (x-0x0101010101010101)&^x&0x8080808080808080 == 0 {
				k := (64 - b.n) >> 3
				nn := b.n + 8*k
				b.acc |= (v >> b.n) & (^uint64(0) << (64 - nn))
				b.n = nn
				b.pos += int(k)
				return
			}
		}
		if b.pos >= len(b.data) {
			b.stop = true
			continue
		}
		c := b.data[b.pos]
		if c == 0xff {
			if b.pos+1 >= len(b.data) || b.data[b.pos+1] != 0 {
				b.stop = true // a marker: leave it for the caller
				continue
			}
			b.pos += 2
		} else {
			b.pos++
		}
		b.acc |= uint64(c) << (56 - b.n)
		b.n += 8
	}
}

// finish checks that the segment's decoding did not consume padding.
func (b *bitReader) finish() error {
	if b.n < b.pad {
		if b.pos >= len(b.data) {
			return FormatError("truncated entropy-coded data")
		}
		return FormatError("entropy-coded data ends early (marker inside a segment)")
	}
	return nil
}

// restart drops the buffered bits and steps over the RSTn marker that
// must follow.
func (b *bitReader) restart(n uint8) error {
	b.acc, b.n, b.pad, b.stop = 0, 0, 0, false
	p := b.pos
	for p < len(b.data) && b.data[p] != 0xff { // extraneous bytes
		p++
	}
	for p < len(b.data) && b.data[p] == 0xff {
		p++
	}
	if p >= len(b.data) || b.data[p] != mRST0+n {
		return FormatError("missing restart marker")
	}
	b.pos = p + 1
	return nil
}

// extend turns s received bits v into the signed value they code (F.2.2.1).
func extend(v uint64, s uint) int32 {
	x := int32(v)
	return x + ((x-int32(1)<<(s-1))>>31)&(1-int32(1)<<s)
}

// decodeBlock decodes one block's coefficients, dequantised, into blk in
// natural order (blk must be zero on entry) and returns one past the
// last zig-zag position written (1: DC only).
func (b *bitReader) decodeBlock(dct, act *huffTable, q *[64]int32, blk *[64]int32, pred *int32) (int, error) {
	if b.n < 32 {
		b.fill()
	}
	acc, n := b.acc, b.n
	// DC.
	var s uint
	if e := dct.lut[acc>>(64-lutBits)]; e != 0 {
		l := uint(e >> 8)
		s = uint(e & 0xff)
		acc <<= l
		n -= l
	} else {
		sym, l := dct.slow(acc)
		if l == 0 {
			return 0, FormatError("bad Huffman code")
		}
		s = uint(sym)
		acc <<= l
		n -= l
	}
	if s > 16 {
		return 0, FormatError("bad DC category")
	}
	var diff int32
	if s > 0 {
		diff = extend(acc>>(64-s), s)
		acc <<= s
		n -= s
	}
	*pred += diff
	blk[0] = *pred * q[0]
	// AC.
	k := 1
	for k < 64 {
		if n < 32 {
			b.acc, b.n = acc, n
			b.fill()
			acc, n = b.acc, b.n
		}
		look := acc >> (64 - lutBits)
		if r := act.fastAC[look]; r != 0 {
			k += int(r>>4) & 15
			l := uint(r & 15)
			acc <<= l
			n -= l
			z := unzig[k] & 63
			k++
			blk[z] = int32(r>>8) * q[z]
			continue
		}
		var rs uint8
		var l uint
		if e := act.lut[look]; e != 0 {
			l = uint(e >> 8)
			rs = uint8(e)
		} else {
			rs, l = act.slow(acc)
			if l == 0 {
				return 0, FormatError("bad Huffman code")
			}
		}
		acc <<= l
		n -= l
		r, s := int(rs>>4), uint(rs&15)
		if s == 0 {
			if r != 15 {
				break // EOB
			}
			k += 16
			continue
		}
		k += r
		v := extend(acc>>(64-s), s)
		acc <<= s
		n -= s
		z := unzig[k] & 63
		k++
		blk[z] = v * q[z]
	}
	b.acc, b.n = acc, n
	if k > 64 {
		return 0, FormatError("AC coefficients past the end of a block")
	}
	return k, nil
}

// unzig maps zig-zag order to natural order; the tail catches runs that
// overshoot position 63 in corrupt data (decodeBlock then fails).
var unzig = [80]uint8{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
	63, 63, 63, 63, 63, 63, 63, 63,
	63, 63, 63, 63, 63, 63, 63, 63,
}
