package crawl

import (
	"image"
	"image/color"
	"math"

	"golang.org/x/image/draw"
)

// rowReader writes row y (0-based from the top of the bounds) of an image as
// 8-bit RGB, 3 bytes per pixel, alpha composited on white.
type rowReader func(y int, dst []uint8)

// blend8 composites a non-premultiplied 8-bit channel c with alpha a on
// white.
func blend8(c, a uint32) uint8 {
	return uint8((c*a + 255*(255-a) + 127) / 255)
}

// newRowReader returns a fast reader for the image types the decoders make
// (YCbCr and grey JPEG, CMYK JPEG, RGBA/NRGBA/paletted/grey PNG at 8 and 16
// bits, GIF frames, lossy WebP with and without alpha) and a generic one for
// anything else.
func newRowReader(img image.Image) rowReader {
	b := img.Bounds()
	x0, y0, w := b.Min.X, b.Min.Y, b.Dx()
	switch m := img.(type) {
	case *image.YCbCr:
		if hdiv, vdiv, ok := chromaDivisors(m.SubsampleRatio); ok && b.Min == (image.Point{}) {
			hs, vs := shiftOf(hdiv), shiftOf(vdiv)
			return func(y int, dst []uint8) {
				yrow := m.Y[y*m.YStride : y*m.YStride+w]
				co := (y >> vs) * m.CStride
				cb, cr := m.Cb[co:], m.Cr[co:]
				for x, yy := range yrow {
					ci := x >> hs
					r, g, bl := color.YCbCrToRGB(yy, cb[ci], cr[ci])
					dst[3*x], dst[3*x+1], dst[3*x+2] = r, g, bl
				}
			}
		}
		return func(y int, dst []uint8) {
			for x := 0; x < w; x++ {
				yi := m.YOffset(x0+x, y0+y)
				ci := m.COffset(x0+x, y0+y)
				r, g, bl := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				dst[3*x], dst[3*x+1], dst[3*x+2] = r, g, bl
			}
		}
	case *image.NYCbCrA:
		return func(y int, dst []uint8) {
			for x := 0; x < w; x++ {
				yi := m.YOffset(x0+x, y0+y)
				ci := m.COffset(x0+x, y0+y)
				a := uint32(m.A[m.AOffset(x0+x, y0+y)])
				r, g, bl := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				dst[3*x], dst[3*x+1], dst[3*x+2] = blend8(uint32(r), a), blend8(uint32(g), a), blend8(uint32(bl), a)
			}
		}
	case *image.Gray:
		return func(y int, dst []uint8) {
			row := m.Pix[m.PixOffset(x0, y0+y):]
			for x := 0; x < w; x++ {
				v := row[x]
				dst[3*x], dst[3*x+1], dst[3*x+2] = v, v, v
			}
		}
	case *image.Gray16:
		return func(y int, dst []uint8) {
			row := m.Pix[m.PixOffset(x0, y0+y):]
			for x := 0; x < w; x++ {
				v := row[2*x] // high byte, as color.GrayModel converts
				dst[3*x], dst[3*x+1], dst[3*x+2] = v, v, v
			}
		}
	case *image.RGBA: // premultiplied: c + (255 - a)
		return func(y int, dst []uint8) {
			row := m.Pix[m.PixOffset(x0, y0+y):]
			for x := 0; x < w; x++ {
				p := row[4*x : 4*x+4 : 4*x+4]
				k := 255 - p[3]
				dst[3*x], dst[3*x+1], dst[3*x+2] = sat8(p[0], k), sat8(p[1], k), sat8(p[2], k)
			}
		}
	case *image.NRGBA:
		return func(y int, dst []uint8) {
			row := m.Pix[m.PixOffset(x0, y0+y):]
			for x := 0; x < w; x++ {
				p := row[4*x : 4*x+4 : 4*x+4]
				switch a := uint32(p[3]); a {
				case 255:
					dst[3*x], dst[3*x+1], dst[3*x+2] = p[0], p[1], p[2]
				case 0:
					dst[3*x], dst[3*x+1], dst[3*x+2] = 255, 255, 255
				default:
					dst[3*x], dst[3*x+1], dst[3*x+2] = blend8(uint32(p[0]), a), blend8(uint32(p[1]), a), blend8(uint32(p[2]), a)
				}
			}
		}
	case *image.Paletted:
		var pal [256][3]uint8
		for i := range pal {
			c := color.RGBA64{0xffff, 0xffff, 0xffff, 0xffff} // out-of-palette index: white
			if i < len(m.Palette) {
				r, g, bl, a := m.Palette[i].RGBA()
				c = color.RGBA64{uint16(r + 0xffff - a), uint16(g + 0xffff - a), uint16(bl + 0xffff - a), 0xffff}
			}
			pal[i] = [3]uint8{uint8(c.R >> 8), uint8(c.G >> 8), uint8(c.B >> 8)}
		}
		return func(y int, dst []uint8) {
			row := m.Pix[m.PixOffset(x0, y0+y):]
			for x := 0; x < w; x++ {
				c := &pal[row[x]]
				dst[3*x], dst[3*x+1], dst[3*x+2] = c[0], c[1], c[2]
			}
		}
	case *image.CMYK:
		return func(y int, dst []uint8) {
			row := m.Pix[m.PixOffset(x0, y0+y):]
			for x := 0; x < w; x++ {
				p := row[4*x : 4*x+4 : 4*x+4]
				dst[3*x], dst[3*x+1], dst[3*x+2] = color.CMYKToRGB(p[0], p[1], p[2], p[3])
			}
		}
	case *image.NRGBA64:
		return func(y int, dst []uint8) {
			row := m.Pix[m.PixOffset(x0, y0+y):]
			for x := 0; x < w; x++ {
				p := row[8*x : 8*x+8 : 8*x+8]
				a := uint32(p[6])<<8 | uint32(p[7])
				for c := 0; c < 3; c++ {
					v := uint32(p[2*c])<<8 | uint32(p[2*c+1])
					dst[3*x+c] = uint8((v*a/0xffff + 0xffff - a) >> 8)
				}
			}
		}
	case *image.RGBA64: // premultiplied
		return func(y int, dst []uint8) {
			row := m.Pix[m.PixOffset(x0, y0+y):]
			for x := 0; x < w; x++ {
				p := row[8*x : 8*x+8 : 8*x+8]
				a := uint32(p[6])<<8 | uint32(p[7])
				for c := 0; c < 3; c++ {
					v := uint32(p[2*c])<<8 | uint32(p[2*c+1])
					dst[3*x+c] = uint8(min(v+0xffff-a, 0xffff) >> 8)
				}
			}
		}
	default:
		return func(y int, dst []uint8) {
			for x := 0; x < w; x++ {
				r, g, bl, a := img.At(x0+x, y0+y).RGBA()
				k := 0xffff - a
				dst[3*x], dst[3*x+1], dst[3*x+2] = uint8(min(r+k, 0xffff)>>8), uint8(min(g+k, 0xffff)>>8), uint8(min(bl+k, 0xffff)>>8)
			}
		}
	}
}

// shiftOf is log2 of a chroma divisor (1, 2 or 4).
func shiftOf(d int) uint {
	switch d {
	case 2:
		return 1
	case 4:
		return 2
	}
	return 0
}

// sat8 is min(c+k, 255).
func sat8(c, k uint8) uint8 {
	if s := uint16(c) + uint16(k); s < 255 {
		return uint8(s)
	}
	return 255
}

// toRGBA converts img to an opaque RGBA image at its size.
func toRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	// The usual PNG decodings, straight into out (same results as their
	// row readers).
	switch m := img.(type) {
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			o := m.PixOffset(b.Min.X, b.Min.Y+y)
			src, dst := m.Pix[o:o+4*w], out.Pix[y*out.Stride:y*out.Stride+4*w]
			for i := 0; i+3 < len(src) && i+3 < len(dst); i += 4 {
				s, d := src[i:i+4:i+4], dst[i:i+4:i+4]
				switch a := uint32(s[3]); a {
				case 255:
					d[0], d[1], d[2] = s[0], s[1], s[2]
				case 0:
					d[0], d[1], d[2] = 255, 255, 255
				default:
					d[0], d[1], d[2] = blend8(uint32(s[0]), a), blend8(uint32(s[1]), a), blend8(uint32(s[2]), a)
				}
				d[3] = 255
			}
		}
		return out
	case *image.RGBA:
		for y := 0; y < h; y++ {
			o := m.PixOffset(b.Min.X, b.Min.Y+y)
			src, dst := m.Pix[o:o+4*w], out.Pix[y*out.Stride:y*out.Stride+4*w]
			for i := 0; i+3 < len(src) && i+3 < len(dst); i += 4 {
				s, d := src[i:i+4:i+4], dst[i:i+4:i+4]
				if k := 255 - s[3]; k == 0 {
					d[0], d[1], d[2] = s[0], s[1], s[2]
				} else {
					d[0], d[1], d[2] = sat8(s[0], k), sat8(s[1], k), sat8(s[2], k)
				}
				d[3] = 255
			}
		}
		return out
	}
	read := newRowReader(img)
	row := make([]uint8, 3*w)
	for y := 0; y < h; y++ {
		read(y, row)
		pix := out.Pix[y*out.Stride : y*out.Stride+4*w]
		for x := 0; x < w; x++ {
			pix[4*x], pix[4*x+1], pix[4*x+2], pix[4*x+3] = row[3*x], row[3*x+1], row[3*x+2], 255
		}
	}
	return out
}

// render applies a resize plan: scale, then crop or border on white.
func render(img image.Image, p resizePlan) *image.RGBA {
	if !p.resize {
		return toRGBA(img)
	}
	b := img.Bounds()
	var scaled *image.RGBA
	switch {
	case p.sw == b.Dx() && p.sh == b.Dy():
		scaled = toRGBA(img)
	case p.sw <= b.Dx() && p.sh <= b.Dy():
		scaled = areaDownscale(img, p.sw, p.sh)
	default:
		src := toRGBA(img)
		scaled = image.NewRGBA(image.Rect(0, 0, p.sw, p.sh))
		draw.CatmullRom.Scale(scaled, scaled.Rect, src, src.Rect, draw.Src, nil)
	}
	if p.cw == p.sw && p.ch == p.sh {
		return scaled
	}
	canvas := image.NewRGBA(image.Rect(0, 0, p.cw, p.ch))
	for i := range canvas.Pix {
		canvas.Pix[i] = 255
	}
	// Copy the part of scaled that lands on the canvas.
	dst := image.Rect(p.dx, p.dy, p.dx+p.sw, p.dy+p.sh).Intersect(canvas.Rect)
	for y := dst.Min.Y; y < dst.Max.Y; y++ {
		sy := y - p.dy
		sx := dst.Min.X - p.dx
		copy(canvas.Pix[y*canvas.Stride+4*dst.Min.X:y*canvas.Stride+4*dst.Max.X],
			scaled.Pix[sy*scaled.Stride+4*sx:])
	}
	return canvas
}

// areaAxis is the area-averaging map of one axis: m destination pixels
// covering a source extent ext (in source pixels) of n pixels (n ≥ ext; the
// last pixel may be partly outside, as a subsampled chroma plane's is).
// Destination pixel i's footprint is [i·ext/m, (i+1)·ext/m); each source
// pixel weighs its overlap with it over the footprint's length (OpenCV's
// INTER_AREA). It is kept both ways: per destination (gather, for rows) and
// per source (scatter, for streaming over source rows).
type areaAxis struct {
	start, count []int     // per destination: first source index, how many
	w            []float32 // weights, destination by destination
	invOff       []int     // per source s: its entries are inv*[invOff[s]:invOff[s+1]]
	invDst       []int32
	invW         []float32
}

func newAreaAxis(ext float64, m, n int) *areaAxis {
	a := &areaAxis{start: make([]int, m), count: make([]int, m)}
	scale := ext / float64(m)
	for i := 0; i < m; i++ {
		lo, hi := float64(i)*scale, float64(i+1)*scale
		j0 := min(int(math.Floor(lo)), n-1)
		j1 := max(min(int(math.Ceil(hi)), n), j0+1)
		a.start[i] = j0
		for j := j0; j < j1; j++ {
			ov := math.Min(float64(j+1), hi) - math.Max(float64(j), lo)
			a.w = append(a.w, float32(max(ov, 0)/scale))
		}
		a.count[i] = j1 - j0
	}
	a.invOff = make([]int, n+1)
	for i := 0; i < m; i++ {
		for j := a.start[i]; j < a.start[i]+a.count[i]; j++ {
			a.invOff[j+1]++
		}
	}
	for j := 0; j < n; j++ {
		a.invOff[j+1] += a.invOff[j]
	}
	a.invDst = make([]int32, len(a.w))
	a.invW = make([]float32, len(a.w))
	fill := append([]int(nil), a.invOff[:n]...)
	k := 0
	for i := 0; i < m; i++ {
		for j := 0; j < a.count[i]; j++ {
			s := a.start[i] + j
			a.invDst[fill[s]] = int32(i)
			a.invW[fill[s]] = a.w[k+j]
			fill[s]++
		}
		k += a.count[i]
	}
	return a
}

// areaResample resamples an image of ph rows, read one row at a time by
// read into ch interleaved 8-bit channels per pixel, to dw×dh×ch floats,
// streaming: memory is one source row, one resampled row and the result.
func areaResample(read func(y int, dst []uint8), pw, ph, ch int, ax, ay *areaAxis, dw, dh int) []float32 {
	row := make([]uint8, ch*pw)
	hrow := make([]float32, ch*dw)
	acc := make([]float32, ch*dw*dh)
	for sy := 0; sy < ph; sy++ {
		feeds := ay.invOff[sy+1] - ay.invOff[sy]
		if feeds == 0 {
			continue
		}
		read(sy, row)
		k := 0
		switch ch {
		case 1:
			for dx := 0; dx < dw; dx++ {
				var v float32
				src := row[ax.start[dx]:]
				for j, wt := range ax.w[k : k+ax.count[dx]] {
					v += wt * float32(src[j])
				}
				k += ax.count[dx]
				hrow[dx] = v
			}
		case 3:
			for dx := 0; dx < dw; dx++ {
				var r, g, b float32
				src := row[3*ax.start[dx]:]
				for j, wt := range ax.w[k : k+ax.count[dx]] {
					r += wt * float32(src[3*j])
					g += wt * float32(src[3*j+1])
					b += wt * float32(src[3*j+2])
				}
				k += ax.count[dx]
				hrow[3*dx], hrow[3*dx+1], hrow[3*dx+2] = r, g, b
			}
		}
		for e := ay.invOff[sy]; e < ay.invOff[sy+1]; e++ {
			dy, wt := int(ay.invDst[e]), ay.invW[e]
			a := acc[ch*dw*dy : ch*dw*(dy+1)]
			for i, v := range hrow {
				a[i] += wt * v
			}
		}
	}
	return acc
}

// areaDownscale resizes img to dw×dh (each at most the source's) by area
// averaging, composited on white. YCbCr images (JPEG, lossy WebP) are
// averaged plane by plane at their own resolution and converted to RGB only
// at the destination size; grey images as one plane; others through their
// row reader as RGB.
func areaDownscale(img image.Image, dw, dh int) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewRGBA(image.Rect(0, 0, dw, dh))
	switch m := img.(type) {
	case *image.YCbCr:
		if hdiv, vdiv, ok := chromaDivisors(m.SubsampleRatio); ok && b.Min == (image.Point{}) {
			yp := areaResample(planeReader(m.Y, m.YStride, w), w, h, 1, newAreaAxis(float64(w), dw, w), newAreaAxis(float64(h), dh, h), dw, dh)
			cw, chh := (w+hdiv-1)/hdiv, (h+vdiv-1)/vdiv
			cax := newAreaAxis(float64(w)/float64(hdiv), dw, cw)
			cay := newAreaAxis(float64(h)/float64(vdiv), dh, chh)
			cb := areaResample(planeReader(m.Cb, m.CStride, cw), cw, chh, 1, cax, cay, dw, dh)
			cr := areaResample(planeReader(m.Cr, m.CStride, cw), cw, chh, 1, cax, cay, dw, dh)
			for i := 0; i < dw*dh; i++ {
				r, g, bl := color.YCbCrToRGB(round8(yp[i]), round8(cb[i]), round8(cr[i]))
				out.Pix[4*i], out.Pix[4*i+1], out.Pix[4*i+2], out.Pix[4*i+3] = r, g, bl, 255
			}
			return out
		}
	case *image.Gray:
		if b.Min == (image.Point{}) {
			gp := areaResample(planeReader(m.Pix, m.Stride, w), w, h, 1, newAreaAxis(float64(w), dw, w), newAreaAxis(float64(h), dh, h), dw, dh)
			for i := 0; i < dw*dh; i++ {
				v := round8(gp[i])
				out.Pix[4*i], out.Pix[4*i+1], out.Pix[4*i+2], out.Pix[4*i+3] = v, v, v, 255
			}
			return out
		}
	}
	acc := areaResample(newRowReader(img), w, h, 3, newAreaAxis(float64(w), dw, w), newAreaAxis(float64(h), dh, h), dw, dh)
	for i := 0; i < dw*dh; i++ {
		out.Pix[4*i], out.Pix[4*i+1], out.Pix[4*i+2], out.Pix[4*i+3] = round8(acc[3*i]), round8(acc[3*i+1]), round8(acc[3*i+2]), 255
	}
	return out
}

// planeReader reads rows of an 8-bit plane.
func planeReader(pix []uint8, stride, w int) func(y int, dst []uint8) {
	return func(y int, dst []uint8) { copy(dst, pix[y*stride:y*stride+w]) }
}

// chromaDivisors: how many luma pixels share one chroma sample, across and
// down.
func chromaDivisors(r image.YCbCrSubsampleRatio) (h, v int, ok bool) {
	switch r {
	case image.YCbCrSubsampleRatio444:
		return 1, 1, true
	case image.YCbCrSubsampleRatio422:
		return 2, 1, true
	case image.YCbCrSubsampleRatio420:
		return 2, 2, true
	case image.YCbCrSubsampleRatio440:
		return 1, 2, true
	case image.YCbCrSubsampleRatio411:
		return 4, 1, true
	case image.YCbCrSubsampleRatio410:
		return 4, 2, true
	}
	return 0, 0, false
}

func round8(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 254.5:
		return 255
	}
	return uint8(v + 0.5)
}
