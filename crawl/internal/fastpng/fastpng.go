// The chunk rules, the colour conversions and the image types below follow
// Go's image/png (reader.go): Copyright 2009 The Go Authors. All rights
// reserved. Use of this source code is governed by a BSD-style license that
// can be found in Go's LICENSE file.

// Package fastpng decodes PNG images from memory into exactly what Go's
// image/png decodes them to: the same image type for each colour type, bit
// depth and transparency (Gray, Gray16, RGBA, RGBA64, NRGBA, NRGBA64,
// Paletted), the same pixels, the same palette, and an error for the same
// inputs (see "Differences" below for the one quirk). It is faster because
// it:
//
//   - keeps its inflate state (github.com/klauspost/compress/flate with
//     Reset, its 32 KiB window and Huffman tables), row buffers and IDAT
//     buffer from one image to the next, in a pool: image/png allocates a new
//     zlib reader and window for every image;
//   - inflates from a byte slice, through flate's *bytes.Reader fast path,
//     instead of through two bufio layers and a chunk reader;
//   - unfilters with branch-free Paeth and word-at-a-time Sub, Up and Average
//     for 3, 4 and 8 bytes per pixel, and computes the zlib Adler-32 8 bytes
//     at a time;
//   - checks the pixel limit from IHDR before it allocates anything.
//
// Interlaced (Adam7) images are handed to image/png (after the header and
// pixel-limit checks); Stats counts them. Every colour type and bit depth of
// non-interlaced images is decoded here.
//
// # Checks
//
// All of image/png's are kept: the signature, chunk order (IHDR; PLTE and
// tRNS before the first IDAT, in image/png's order; IEND after IDAT), chunk
// lengths, the CRC of every chunk read up to IEND (unknown and trailing IDAT
// chunks included), the zlib header (no preset dictionary), the Adler-32 of
// the inflated data, "not enough pixel data", "too much pixel data", and
// filter types 0–4. Bytes after IEND are ignored, as image/png ignores them.
//
// # Differences
//
// Trailing bytes inside the IDAT data after the end of the zlib stream:
// image/png accepts them only when its 4 KiB read-ahead buffer has already
// pulled them in when the stream ends (that is, when they lie in the same
// 4,096-byte block, counted from the start of the chunk, as the stream's
// last byte), and rejects them ("too much pixel data") otherwise. fastpng
// reproduces that rule for png.Decode reading a *bytes.Reader. image.Decode
// wraps its reader in one more bufio.Reader, whose short reads move those
// block boundaries, so image.Decode may accept or reject such an image where
// png.Decode(bytes.NewReader(b)) and fastpng do the opposite. No encoder
// writes such images. The error messages differ from image/png's; whether
// there is one does not. The differential fuzz test (FuzzDecode) checks all
// of this against png.Decode(bytes.NewReader(b)).
package fastpng

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/flate"
)

// Colour type, as per the PNG spec.
const (
	ctGrayscale      = 0
	ctTrueColor      = 2
	ctPaletted       = 3
	ctGrayscaleAlpha = 4
	ctTrueColorAlpha = 6
)

// A cb is a combination of colour type and bit depth (image/png's).
const (
	cbInvalid = iota
	cbG1
	cbG2
	cbG4
	cbG8
	cbGA8
	cbTC8
	cbP1
	cbP2
	cbP4
	cbP8
	cbTCA8
	cbG16
	cbGA16
	cbTC16
	cbTCA16
)

func cbPaletted(cb int) bool  { return cbP1 <= cb && cb <= cbP8 }
func cbTrueColor(cb int) bool { return cb == cbTC8 || cb == cbTC16 }

// Decoding stage, as image/png's.
const (
	dsStart = iota
	dsSeenIHDR
	dsSeenPLTE
	dsSeentRNS
	dsSeenIDAT
	dsSeenIEND
)

const pngHeader = "\x89PNG\r\n\x1a\n"

// A FormatError reports that the input is not a valid PNG.
type FormatError string

func (e FormatError) Error() string { return "fastpng: invalid format: " + string(e) }

// An UnsupportedError reports a valid PNG feature that image/png does not
// decode either (an unknown compression or filter method, or a bit depth and
// colour type that the spec does not define).
type UnsupportedError string

func (e UnsupportedError) Error() string { return "fastpng: unsupported feature: " + string(e) }

// ErrTooManyPixels is wrapped by the error for an image whose IHDR claims
// more pixels than the caller's limit. Nothing is allocated for it.
var ErrTooManyPixels = errors.New("fastpng: too many pixels")

var (
	errChunkOrder = FormatError("chunk out of order")
	errTruncated  = fmt.Errorf("fastpng: truncated chunk: %w", io.ErrUnexpectedEOF)
)

// Stats counts decodes since the process started.
type Stats struct {
	Native   uint64 // decoded by fastpng (successfully or not)
	Fallback uint64 // interlaced images handed to image/png
}

var nNative, nFallback atomic.Uint64

// ReadStats returns the counts so far.
func ReadStats() Stats { return Stats{Native: nNative.Load(), Fallback: nFallback.Load()} }

// header is what the chunks before the first IDAT say.
type header struct {
	width, height  int
	depth          int
	cb             int
	interlace      int
	palette        color.Palette
	useTransparent bool
	transparent    [6]byte
}

// A Decoder holds the state reused from one image to the next. It is not
// safe for concurrent use; Decode takes one from a pool.
type Decoder struct {
	fr     io.ReadCloser // flate reader, also a flate.Resetter
	br     bytes.Reader
	idat   []byte // the IDAT chunks' data, concatenated (several chunks only)
	lens   []int  // the lengths of the IDAT chunks of the stream
	cr, pr []byte // current and previous row, filter byte first
}

// NewDecoder returns a Decoder with nothing allocated yet.
func NewDecoder() *Decoder { return &Decoder{} }

var pool = sync.Pool{New: func() any { return NewDecoder() }}

// Decode decodes a PNG image held in data, as png.Decode would, with a
// pooled Decoder. Images whose IHDR claims more than maxPixels pixels (which
// must be > 0) fail with ErrTooManyPixels before anything is allocated.
func Decode(data []byte, maxPixels int64) (image.Image, error) {
	d := pool.Get().(*Decoder)
	img, err := d.Decode(data, maxPixels)
	d.trim()
	pool.Put(d)
	return img, err
}

// keepMax is the most buffer space a Decoder keeps between images.
const keepMax = 1 << 20

// trim drops buffers grown for an unusually large image.
func (d *Decoder) trim() {
	if cap(d.idat) > keepMax {
		d.idat = nil
	}
	if cap(d.cr) > keepMax/2 {
		d.cr, d.pr = nil, nil
	}
	d.br.Reset(nil)
}

// chunk returns the data of the chunk whose length field is at data[pos:]
// after checking that it is all there and that its CRC (over type and data)
// is right, and the position of the next chunk.
func chunk(data []byte, pos int, length uint32) (body []byte, next int, err error) {
	end := uint64(pos) + 8 + uint64(length)
	if end+4 > uint64(len(data)) {
		return nil, 0, errTruncated
	}
	if crc32.ChecksumIEEE(data[pos+4:end]) != binary.BigEndian.Uint32(data[end:]) {
		return nil, 0, FormatError("invalid checksum")
	}
	return data[pos+8 : end], int(end) + 4, nil
}

// Decode decodes a PNG image held in data; see the package function.
func (d *Decoder) Decode(data []byte, maxPixels int64) (img image.Image, err error) {
	if maxPixels <= 0 {
		return nil, fmt.Errorf("fastpng: pixel limit %d: want > 0", maxPixels)
	}
	if len(data) < len(pngHeader) {
		return nil, io.ErrUnexpectedEOF
	}
	if string(data[:len(pngHeader)]) != pngHeader {
		return nil, FormatError("not a PNG file")
	}
	var h header
	stage := dsStart
	pos := len(pngHeader)
	for stage != dsSeenIEND {
		if len(data)-pos < 8 {
			return nil, fmt.Errorf("fastpng: truncated chunk header: %w", io.ErrUnexpectedEOF)
		}
		length := binary.BigEndian.Uint32(data[pos:])
		typ := data[pos+4 : pos+8]
		var body []byte
		switch string(typ) {
		case "IHDR":
			if stage != dsStart {
				return nil, errChunkOrder
			}
			stage = dsSeenIHDR
			if length != 13 {
				return nil, FormatError("bad IHDR length")
			}
			if body, pos, err = chunk(data, pos, length); err != nil {
				return nil, err
			}
			if err := h.parseIHDR(body, maxPixels); err != nil {
				return nil, err
			}
			if h.interlace != 0 {
				nFallback.Add(1)
				return png.Decode(bytes.NewReader(data))
			}
			nNative.Add(1)
		case "PLTE":
			if stage != dsSeenIHDR {
				return nil, errChunkOrder
			}
			stage = dsSeenPLTE
			if body, pos, err = chunk(data, pos, length); err != nil {
				return nil, err
			}
			if err := h.parsePLTE(body); err != nil {
				return nil, err
			}
		case "tRNS":
			if cbPaletted(h.cb) {
				if stage != dsSeenPLTE {
					return nil, errChunkOrder
				}
			} else if cbTrueColor(h.cb) {
				if stage != dsSeenIHDR && stage != dsSeenPLTE {
					return nil, errChunkOrder
				}
			} else if stage != dsSeenIHDR {
				return nil, errChunkOrder
			}
			stage = dsSeentRNS
			if body, pos, err = chunk(data, pos, length); err != nil {
				return nil, err
			}
			if err := h.parsetRNS(body); err != nil {
				return nil, err
			}
		case "IDAT":
			if stage < dsSeenIHDR || stage > dsSeenIDAT || (stage == dsSeenIHDR && cbPaletted(h.cb)) {
				return nil, errChunkOrder
			}
			if stage == dsSeenIDAT {
				// A trailing IDAT chunk after the image's data: ignored, as
				// image/png ignores it, but its CRC is checked.
				if length > 0x7fffffff {
					return nil, FormatError(fmt.Sprintf("bad chunk length: %d", length))
				}
				if _, pos, err = chunk(data, pos, length); err != nil {
					return nil, err
				}
				continue
			}
			stage = dsSeenIDAT
			if img, pos, err = d.decodeIDAT(data, pos, &h); err != nil {
				return nil, err
			}
		case "IEND":
			if stage != dsSeenIDAT {
				return nil, errChunkOrder
			}
			stage = dsSeenIEND
			if length != 0 {
				return nil, FormatError("bad IEND length")
			}
			if _, pos, err = chunk(data, pos, length); err != nil {
				return nil, err
			}
		default:
			if length > 0x7fffffff {
				return nil, FormatError(fmt.Sprintf("bad chunk length: %d", length))
			}
			if _, pos, err = chunk(data, pos, length); err != nil {
				return nil, err
			}
		}
	}
	return img, nil
}

func (h *header) parseIHDR(b []byte, maxPixels int64) error {
	if b[10] != 0 {
		return UnsupportedError("compression method")
	}
	if b[11] != 0 {
		return UnsupportedError("filter method")
	}
	if b[12] != 0 && b[12] != 1 {
		return FormatError("invalid interlace method")
	}
	h.interlace = int(b[12])
	w := int32(binary.BigEndian.Uint32(b[0:4]))
	ht := int32(binary.BigEndian.Uint32(b[4:8]))
	if w <= 0 || ht <= 0 {
		return FormatError("non-positive dimension")
	}
	if n := int64(w) * int64(ht); n > maxPixels || n > (1<<62)/8 {
		return fmt.Errorf("%w: IHDR claims %d×%d = %d pixels > %d", ErrTooManyPixels, w, ht, n, maxPixels)
	}
	h.depth = int(b[8])
	h.cb = cbInvalid
	switch h.depth {
	case 1:
		switch b[9] {
		case ctGrayscale:
			h.cb = cbG1
		case ctPaletted:
			h.cb = cbP1
		}
	case 2:
		switch b[9] {
		case ctGrayscale:
			h.cb = cbG2
		case ctPaletted:
			h.cb = cbP2
		}
	case 4:
		switch b[9] {
		case ctGrayscale:
			h.cb = cbG4
		case ctPaletted:
			h.cb = cbP4
		}
	case 8:
		switch b[9] {
		case ctGrayscale:
			h.cb = cbG8
		case ctTrueColor:
			h.cb = cbTC8
		case ctPaletted:
			h.cb = cbP8
		case ctGrayscaleAlpha:
			h.cb = cbGA8
		case ctTrueColorAlpha:
			h.cb = cbTCA8
		}
	case 16:
		switch b[9] {
		case ctGrayscale:
			h.cb = cbG16
		case ctTrueColor:
			h.cb = cbTC16
		case ctGrayscaleAlpha:
			h.cb = cbGA16
		case ctTrueColorAlpha:
			h.cb = cbTCA16
		}
	}
	if h.cb == cbInvalid {
		return UnsupportedError(fmt.Sprintf("bit depth %d, color type %d", b[8], b[9]))
	}
	h.width, h.height = int(w), int(ht)
	return nil
}

func (h *header) parsePLTE(b []byte) error {
	np := len(b) / 3
	if len(b)%3 != 0 || np <= 0 || np > 256 || np > 1<<uint(h.depth) {
		return FormatError("bad PLTE length")
	}
	switch h.cb {
	case cbP1, cbP2, cbP4, cbP8:
		h.palette = make(color.Palette, 256)
		for i := 0; i < np; i++ {
			h.palette[i] = color.RGBA{b[3*i+0], b[3*i+1], b[3*i+2], 0xff}
		}
		for i := np; i < 256; i++ {
			// Out-of-range indices are opaque black, as in image/png.
			h.palette[i] = color.RGBA{0x00, 0x00, 0x00, 0xff}
		}
		h.palette = h.palette[:np]
	case cbTC8, cbTCA8, cbTC16, cbTCA16:
		// Optional and ignored for true colour.
	default:
		return FormatError("PLTE, color type mismatch")
	}
	return nil
}

func (h *header) parsetRNS(b []byte) error {
	switch h.cb {
	case cbG1, cbG2, cbG4, cbG8, cbG16:
		if len(b) != 2 {
			return FormatError("bad tRNS length")
		}
		copy(h.transparent[:], b)
		switch h.cb {
		case cbG1:
			h.transparent[1] *= 0xff
		case cbG2:
			h.transparent[1] *= 0x55
		case cbG4:
			h.transparent[1] *= 0x11
		}
		h.useTransparent = true
	case cbTC8, cbTC16:
		if len(b) != 6 {
			return FormatError("bad tRNS length")
		}
		copy(h.transparent[:], b)
		h.useTransparent = true
	case cbP1, cbP2, cbP4, cbP8:
		if len(b) > 256 {
			return FormatError("bad tRNS length")
		}
		n := len(b)
		if len(h.palette) < n {
			h.palette = h.palette[:n] // within the 256 made by PLTE
		}
		for i := 0; i < n; i++ {
			rgba := h.palette[i].(color.RGBA)
			h.palette[i] = color.NRGBA{rgba.R, rgba.G, rgba.B, b[i]}
		}
	default:
		return FormatError("tRNS, color type mismatch")
	}
	return nil
}

// bitsPerPixel of each cb.
var bitsPerPixel = [...]int{
	cbG1: 1, cbG2: 2, cbG4: 4, cbG8: 8, cbGA8: 16, cbTC8: 24,
	cbP1: 1, cbP2: 2, cbP4: 4, cbP8: 8, cbTCA8: 32,
	cbG16: 16, cbGA16: 32, cbTC16: 48, cbTCA16: 64,
}

// blockSize is the read size of the bufio.Reader that compress/zlib puts
// between image/png's chunk reader and inflate: see decodeIDAT.
const blockSize = 4096

// decodeIDAT decodes the run of IDAT chunks starting at data[pos:] (the
// first one's length field) into an image, and returns the position of the
// chunk after the one in which the zlib stream ends.
//
// image/png reads the IDAT data through compress/zlib's bufio.Reader, which
// refills its 4 KiB buffer from one chunk at a time, starting at the chunk's
// first byte. When the zlib stream ends, the rest of its chunk must have been
// read into that buffer already, or image/png reports "too much pixel data":
// the stream's last byte must lie in the chunk's last 4,096-byte block.
func (d *Decoder) decodeIDAT(data []byte, pos int, h *header) (image.Image, int, error) {
	// Gather the consecutive IDAT chunks, checking each one's CRC (image/png
	// checks each one too: those the stream needs while reading them, the
	// others as ignored trailing chunks).
	d.lens = d.lens[:0]
	first := pos
	var stream []byte
	for len(data)-pos >= 8 && string(data[pos+4:pos+8]) == "IDAT" {
		length := binary.BigEndian.Uint32(data[pos:])
		if length > 0x7fffffff {
			return nil, 0, FormatError(fmt.Sprintf("bad chunk length: %d", length))
		}
		body, next, err := chunk(data, pos, length)
		if err != nil {
			return nil, 0, err
		}
		d.lens = append(d.lens, len(body))
		if len(d.lens) == 1 {
			stream = body
		} else {
			if len(d.lens) == 2 {
				d.idat = append(d.idat[:0], stream...)
			}
			d.idat = append(d.idat, body...)
		}
		pos = next
	}
	if len(d.lens) > 1 {
		stream = d.idat
	}

	img, consumed, err := d.inflate(stream, h)
	if err != nil {
		return nil, 0, err
	}
	// Find the chunk holding the stream's last byte; the chunks after it are
	// left to the chunk loop (trailing IDAT chunks are ignored there).
	last := consumed - 1
	pos = first
	for _, l := range d.lens {
		if last < l {
			if last/blockSize != (l-1)/blockSize {
				return nil, 0, FormatError("too much pixel data")
			}
			return img, pos + 12 + l, nil
		}
		last -= l
		pos += 12 + l
	}
	// Unreachable: the stream is the chunks' data, and inflate read from it.
	return nil, 0, FormatError("zlib stream ends outside the IDAT data")
}

// inflate inflates the zlib stream and unfilters it into the image; it
// returns how many bytes of stream the zlib stream took.
func (d *Decoder) inflate(stream []byte, h *header) (image.Image, int, error) {
	if len(stream) < 2 {
		return nil, 0, FormatError("not enough pixel data")
	}
	cmf, flg := stream[0], stream[1]
	if cmf&0x0f != 8 || cmf>>4 > 7 || (uint(cmf)<<8|uint(flg))%31 != 0 {
		return nil, 0, FormatError("zlib: invalid header")
	}
	if flg&0x20 != 0 {
		return nil, 0, FormatError("zlib: preset dictionary")
	}
	d.br.Reset(stream[2:])
	if d.fr == nil {
		d.fr = flate.NewReader(&d.br)
	} else if err := d.fr.(flate.Resetter).Reset(&d.br, nil); err != nil {
		return nil, 0, err
	}

	width, height := h.width, h.height
	bpp := bitsPerPixel[h.cb]
	rowSize := 1 + (bpp*width+7)/8 // filter byte first
	bytesPerPixel := (bpp + 7) / 8
	if cap(d.cr) < rowSize {
		d.cr, d.pr = make([]byte, rowSize), make([]byte, rowSize)
	}
	cr, pr := d.cr[:rowSize], d.pr[:rowSize]
	clear(pr)

	out := newImage(h)
	var adler uint32 = 1
	maxIdx := -1
	for y := 0; y < height; y++ {
		if _, err := io.ReadFull(d.fr, cr); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, 0, FormatError("not enough pixel data")
			}
			return nil, 0, FormatError("inflate: " + err.Error())
		}
		adler = adler32(adler, cr)
		cdat, pdat := cr[1:], pr[1:]
		if err := unfilter(cr[0], cdat, pdat, bytesPerPixel); err != nil {
			return nil, 0, err
		}
		if m := out.row(y, cdat, h); m > maxIdx {
			maxIdx = m
		}
		cr, pr = pr, cr
	}
	if p, ok := out.img.(*image.Paletted); ok && maxIdx >= len(p.Palette) {
		// image/png grows the palette to cover every index used (the new
		// entries are opaque black, or what tRNS gave them).
		p.Palette = p.Palette[:maxIdx+1]
	}

	// The stream must end here, with the right Adler-32.
	var one [1]byte
	n, err := 0, error(nil)
	for i := 0; n == 0 && err == nil; i++ {
		if i == 100 {
			return nil, 0, io.ErrNoProgress
		}
		n, err = d.fr.Read(one[:])
	}
	if n != 0 {
		return nil, 0, FormatError("too much pixel data")
	}
	if err != io.EOF {
		return nil, 0, FormatError("inflate: " + err.Error())
	}
	rest := stream[len(stream)-d.br.Len():]
	if len(rest) < 4 {
		return nil, 0, FormatError("zlib: truncated checksum")
	}
	if binary.BigEndian.Uint32(rest) != adler {
		return nil, 0, FormatError("zlib: invalid checksum")
	}
	return out.img, len(stream) - len(rest) + 4, nil
}
