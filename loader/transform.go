package loader

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // JPEG decoder for image.Decode (variants fastjpeg refuses)
	_ "image/png"  // PNG decoder for image.Decode
	"math"

	"github.com/clipstream/clipstream/loader/internal/fastjpeg"
)

// CLIP's normalisation (OpenAI's constants, as open_clip's
// OPENAI_DATASET_MEAN / OPENAI_DATASET_STD).
var (
	CLIPMean = [3]float32{0.48145466, 0.4578275, 0.40821073}
	CLIPStd  = [3]float32{0.26862954, 0.26130258, 0.27577711}
)

// Errors for samples the loader skips.
var (
	// ErrImageTooLarge: the image header claims more pixels than
	// Config.MaxPixels; the image is not decoded.
	ErrImageTooLarge = errors.New("loader: image too large")
	// ErrBadImage: the image does not decode.
	ErrBadImage = errors.New("loader: bad image")
)

// Augmentation parameters of open_clip's training transform
// (RandomResizedCrop(scale=(0.9, 1.0)), torchvision's default ratio).
const (
	cropScaleMin = 0.9
	cropScaleMax = 1.0
	cropRatioMin = 3.0 / 4.0
	cropRatioMax = 4.0 / 3.0
)

// The colour models of decoded planes.
const (
	modeGray  = iota // one plane
	modeYCbCr        // Y, Cb, Cr with JFIF's full-range equations
	modeRGB          // R, G, B
)

// plane is one decoded component: 8-bit samples, each covering subX×subY
// image pixels (2×2 for the chroma of a 4:2:0 JPEG).
type plane struct {
	pix          []uint8
	stride, w, h int
	subX, subY   int
}

// transformer decodes one image and writes it, cropped, resized and
// normalised, into a 3×S×S float32 plane set (or, unnormalised, uint8). One per worker: the decoder
// and every scratch buffer are reused from sample to sample, so a sample
// allocates nothing in the common case (a baseline JPEG).
//
// The resampling runs on the decoded planes themselves: a JPEG's Y, Cb
// and Cr planes are each resized straight to S×S (chroma from its own,
// subsampled grid, so the bicubic filter also does the chroma upsampling)
// and converted to RGB and normalised only at the output resolution, in
// one pass per output row.
type transformer struct {
	size      int
	train     bool
	maxPixels int

	jd     fastjpeg.Decoder
	mode   int
	np     int // planes in use
	planes [3]plane
	rgb    [3][]uint8 // planes of images decoded by the image package

	wx, wy [3]weights // per distinct subsampling
	wi     [3]int     // plane → index into wx, wy
	rowf   []float32  // one source row as float32
	tmp    [3][]float32
	acc    [3][]float32
	norm   [3][2]float32 // per channel: v·a + b maps 0..255 to normalised
}

func newTransformer(size int, train bool, maxPixels int) *transformer {
	t := &transformer{size: size, train: train, maxPixels: maxPixels}
	for c := range 3 {
		t.norm[c] = [2]float32{1 / (255 * CLIPStd[c]), -CLIPMean[c] / CLIPStd[c]}
	}
	return t
}

// decode fills t.planes from data and returns the image's size. Baseline
// JPEGs go through fastjpeg; anything it refuses (progressive, CMYK, or
// data it finds corrupt) is left to the image package, which decides.
func (t *transformer) decode(data []byte) (w, h int, err error) {
	if len(data) >= 2 && data[0] == 0xff && data[1] == 0xd8 {
		img, err := t.jd.Decode(data, t.maxPixels)
		if err == nil {
			t.np = len(img.Planes)
			t.mode = modeYCbCr
			if t.np == 1 {
				t.mode = modeGray
			}
			for i, p := range img.Planes {
				t.planes[i] = plane{pix: p.Pix, stride: p.Stride, w: p.W, h: p.H, subX: p.SubX, subY: p.SubY}
			}
			return img.Width, img.Height, nil
		}
		if errors.Is(err, fastjpeg.ErrTooLarge) {
			return 0, 0, fmt.Errorf("%w: %v", ErrImageTooLarge, err)
		}
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return 0, 0, fmt.Errorf("%w: %d×%d pixels", ErrBadImage, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(t.maxPixels) {
		return 0, 0, fmt.Errorf("%w: %d×%d pixels, limit %d", ErrImageTooLarge, cfg.Width, cfg.Height, t.maxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return 0, 0, fmt.Errorf("%w: decoded %v, header said %d×%d", ErrBadImage, b, cfg.Width, cfg.Height)
	}
	t.setPlanes(img)
	return cfg.Width, cfg.Height, nil
}

// setPlanes points t.planes at img's samples, converting to RGB planes
// the models that have none. Alpha is dropped (PIL's convert("RGB"),
// which open_clip applies).
func (t *transformer) setPlanes(img image.Image) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if b.Min == (image.Point{}) {
		switch m := img.(type) {
		case *image.YCbCr:
			sx, sy := 0, 0
			switch m.SubsampleRatio {
			case image.YCbCrSubsampleRatio444:
				sx, sy = 1, 1
			case image.YCbCrSubsampleRatio422:
				sx, sy = 2, 1
			case image.YCbCrSubsampleRatio420:
				sx, sy = 2, 2
			case image.YCbCrSubsampleRatio440:
				sx, sy = 1, 2
			case image.YCbCrSubsampleRatio411:
				sx, sy = 4, 1
			case image.YCbCrSubsampleRatio410:
				sx, sy = 4, 2
			}
			if sx != 0 {
				cw, ch := (w+sx-1)/sx, (h+sy-1)/sy
				t.mode, t.np = modeYCbCr, 3
				t.planes[0] = plane{pix: m.Y, stride: m.YStride, w: w, h: h, subX: 1, subY: 1}
				t.planes[1] = plane{pix: m.Cb, stride: m.CStride, w: cw, h: ch, subX: sx, subY: sy}
				t.planes[2] = plane{pix: m.Cr, stride: m.CStride, w: cw, h: ch, subX: sx, subY: sy}
				return
			}
		case *image.Gray:
			t.mode, t.np = modeGray, 1
			t.planes[0] = plane{pix: m.Pix, stride: m.Stride, w: w, h: h, subX: 1, subY: 1}
			return
		}
	}
	t.mode, t.np = modeRGB, 3
	for c := range 3 {
		t.rgb[c] = grow(t.rgb[c], w*h)
		t.planes[c] = plane{pix: t.rgb[c], stride: w, w: w, h: h, subX: 1, subY: 1}
	}
	R, G, B := t.rgb[0], t.rgb[1], t.rgb[2]
	switch m := img.(type) {
	case *image.RGBA: // opaque PNGs decode to RGBA; with alpha, to NRGBA
		for y := range h {
			row := m.Pix[y*m.Stride:]
			for x := range w {
				p := row[4*x : 4*x+3 : 4*x+3]
				i := y*w + x
				R[i], G[i], B[i] = p[0], p[1], p[2]
			}
		}
	case *image.NRGBA:
		for y := range h {
			row := m.Pix[y*m.Stride:]
			for x := range w {
				p := row[4*x : 4*x+3 : 4*x+3]
				i := y*w + x
				R[i], G[i], B[i] = p[0], p[1], p[2]
			}
		}
	default:
		for y := range h {
			for x := range w {
				c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				i := y*w + x
				R[i], G[i], B[i] = c.R, c.G, c.B
			}
		}
	}
}

// geom maps output pixels to image coordinates along one axis: output x
// samples at origin + (x+off+0.5)·scale, and its taps stay in [lo, hi).
type geom struct {
	origin, scale float64
	off, lo, hi   int
}

// imageDst is where a transformed image goes: 3·size·size values in NCHW
// plane order, float32 normalised or (u8 set) uint8 0..255.
type imageDst struct {
	f32 []float32
	u8  []uint8
}

// apply decodes data and writes the transformed image, normalised, into
// dst (len 3·size·size, NCHW plane order). r drives the random crop in
// training mode; it is unused for evaluation.
func (t *transformer) apply(dst []float32, data []byte, r *rng) error {
	return t.applyTo(imageDst{f32: dst}, data, r)
}

// applyTo is apply into either kind of output.
func (t *transformer) applyTo(dst imageDst, data []byte, r *rng) error {
	w, h, err := t.decode(data)
	if err != nil {
		return err
	}
	t.place(dst, w, h, r)
	if w*h > keepPixels {
		t.trim()
	}
	return nil
}

// keepPixels bounds the images whose buffers a transformer keeps for the
// next sample (4 MP: 6 MB of 4:2:0 planes); larger ones are let go.
const keepPixels = 4 << 20

func (t *transformer) trim() {
	t.jd.Trim(keepPixels * 3 / 2)
	for c := range t.rgb {
		if cap(t.rgb[c]) > keepPixels {
			t.rgb[c] = nil
		}
	}
	for p := range t.tmp {
		if cap(t.tmp[p]) > keepPixels/4 {
			t.tmp[p] = nil
		}
	}
	t.planes = [3]plane{}
}

// place crops (training) or resizes and centre-crops (evaluation) the
// decoded w×h image in t.planes into dst.
func (t *transformer) place(dst imageDst, w, h int, r *rng) {
	S := t.size
	var gx, gy geom
	if t.train {
		x0, y0, cw, ch := randomResizedCrop(w, h, r)
		// torchvision crops, then resizes the crop: taps stay inside it.
		gx = geom{origin: float64(x0), scale: float64(cw) / float64(S), lo: x0, hi: x0 + cw}
		gy = geom{origin: float64(y0), scale: float64(ch) / float64(S), lo: y0, hi: y0 + ch}
	} else {
		// Resize the shorter side to S (torchvision: the longer side is
		// int(S·long/short)), then centre-crop S×S.
		nw, nh := S, S
		if w < h {
			nh = int(float64(S) * float64(h) / float64(w))
		} else {
			nw = int(float64(S) * float64(w) / float64(h))
		}
		offX := int(math.RoundToEven(float64(nw-S) / 2))
		offY := int(math.RoundToEven(float64(nh-S) / 2))
		gx = geom{scale: float64(w) / float64(nw), off: offX, hi: w}
		gy = geom{scale: float64(h) / float64(nh), off: offY, hi: h}
	}
	for p := range t.np {
		pl := &t.planes[p]
		if p > 0 && pl.subX == t.planes[p-1].subX && pl.subY == t.planes[p-1].subY &&
			pl.w == t.planes[p-1].w && pl.h == t.planes[p-1].h {
			t.wi[p] = t.wi[p-1]
			continue
		}
		t.wi[p] = p
		t.wx[p].compute(gx, pl.subX, pl.w, S)
		t.wy[p].compute(gy, pl.subY, pl.h, S)
	}
	t.resample(dst)
}

// randomResizedCrop is torchvision's RandomResizedCrop.get_params with
// open_clip's scale (0.9, 1.0) and ratio (3/4, 4/3): ten tries at a random
// area and log-uniform aspect ratio, then a centre crop clamped to the
// ratio range.
func randomResizedCrop(w, h int, r *rng) (x0, y0, cw, ch int) {
	area := float64(w * h)
	logLo, logHi := math.Log(cropRatioMin), math.Log(cropRatioMax)
	for range 10 {
		target := area * r.uniform(cropScaleMin, cropScaleMax)
		ratio := math.Exp(r.uniform(logLo, logHi))
		cw = int(math.RoundToEven(math.Sqrt(target * ratio)))
		ch = int(math.RoundToEven(math.Sqrt(target / ratio)))
		if cw > 0 && cw <= w && ch > 0 && ch <= h {
			y0 = int(r.intn(uint64(h - ch + 1)))
			x0 = int(r.intn(uint64(w - cw + 1)))
			return x0, y0, cw, ch
		}
	}
	inRatio := float64(w) / float64(h)
	switch {
	case inRatio < cropRatioMin:
		cw = w
		ch = int(math.RoundToEven(float64(cw) / cropRatioMin))
	case inRatio > cropRatioMax:
		ch = h
		cw = int(math.RoundToEven(float64(ch) * cropRatioMax))
	default:
		cw, ch = w, h
	}
	cw, ch = max(min(cw, w), 1), max(min(ch, h), 1)
	return (w - cw) / 2, (h - ch) / 2, cw, ch
}

// weights are the taps of a 1-D bicubic resampling (PIL's
// precompute_coeffs: Keys cubic with a = −0.5, support widened by the
// downscale factor so downscaling is antialiased), n per output. Outputs
// near an edge, which need fewer, get leading or trailing zero taps so
// that every output has exactly n and the kernels can be unrolled.
type weights struct {
	start []int     // first source index of each output
	end   []int     // scratch: one past its last non-zero tap
	w     []float32 // n per output
	n     int
	lo    int // smallest source index read
	hi    int // one past the largest
	// For hpassAVX2: outputs in chunks of 8, the first source index of
	// each relative to lo, and the taps as [chunk][tap][8].
	chunks int
	idx    []int32
	wT     []float32
	// key is what the taps were computed for: evaluation of images of one
	// size reuses them.
	key weightsKey
}

type weightsKey struct {
	g              geom
	sub, size, out int
	avx2           bool
}

// compute fills the taps for out outputs along an axis of a plane of
// extent size whose samples each cover sub image pixels: g is in image
// pixel coordinates, the plane's sample j is centred at (j+0.5)·sub (JFIF's
// centred chroma siting).
func (wt *weights) compute(g geom, sub, size, out int) {
	key := weightsKey{g, sub, size, out, useAVX2}
	if wt.key == key {
		return
	}
	wt.key = key
	f := float64(sub)
	origin, scale := g.origin/f, g.scale/f
	lo := g.lo / sub
	hi := min((g.hi+sub-1)/sub, size)
	lo = max(min(lo, hi-1), 0)
	filterScale := max(scale, 1)
	support := 2 * filterScale
	maxTaps := int(math.Ceil(support))*2 + 1
	wt.start = grow(wt.start, out)
	wt.end = grow(wt.end, out)
	n := 1
	for x := range out {
		center := origin + (float64(x+g.off)+0.5)*scale
		xmin := max(int(math.Floor(center-support+0.5)), lo)
		xmax := min(int(math.Floor(center+support+0.5)), hi)
		xmax = min(xmax, xmin+maxTaps)
		if xmax <= xmin { // cannot happen for valid input; keep one tap
			xmin = min(max(int(center), lo), hi-1)
			xmax = xmin + 1
		}
		wt.start[x], wt.end[x] = xmin, xmax
		n = max(n, xmax-xmin)
	}
	wt.n = n
	wt.w = grow(wt.w, out*n)
	clear(wt.w)
	wt.lo, wt.hi = size, 0
	for x := range out {
		center := origin + (float64(x+g.off)+0.5)*scale
		xmin, xmax := wt.start[x], wt.end[x]
		st := min(xmin, size-n)
		row := wt.w[x*n : x*n+n]
		var sum float64
		for j := xmin; j < xmax; j++ {
			v := cubic((float64(j) + 0.5 - center) / filterScale)
			row[j-st] = float32(v)
			sum += v
		}
		if sum != 0 {
			for j := xmin; j < xmax; j++ {
				row[j-st] = float32(float64(row[j-st]) / sum)
			}
		}
		wt.start[x] = st
		wt.lo, wt.hi = min(wt.lo, st), max(wt.hi, st+n)
	}
	wt.chunks = 0
	if useAVX2 {
		wt.chunks = out / 8
		wt.idx = grow(wt.idx, wt.chunks*8)
		wt.wT = grow(wt.wT, wt.chunks*8*n)
		for x := range wt.chunks * 8 {
			c, i := x/8, x%8
			wt.idx[x] = int32(wt.start[x] - wt.lo)
			for k := range n {
				wt.wT[(c*n+k)*8+i] = wt.w[x*n+k]
			}
		}
	}
}

// resample runs the horizontal pass of every plane over the source rows
// the vertical taps need, then, row by row of the output, the vertical
// pass of every plane and the conversion to normalised RGB. Values are
// kept in float between the passes (PIL rounds to 8 bits) and clamped to
// 0..255 after the colour conversion, as PIL does.
func (t *transformer) resample(dst imageDst) {
	S := t.size
	for p := range t.np {
		pl := &t.planes[p]
		wx, wy := &t.wx[t.wi[p]], &t.wy[t.wi[p]]
		rows := wy.hi - wy.lo
		t.tmp[p] = grow(t.tmp[p], rows*S)
		t.rowf = grow(t.rowf, wx.hi-wx.lo)
		rowf := t.rowf
		for r := range rows {
			off := (wy.lo+r)*pl.stride + wx.lo
			src := pl.pix[off : off+len(rowf)]
			i0 := 0
			if useAVX2 && len(src) >= 8 {
				u8ToF32AVX2(&rowf[0], &src[0], len(src)/8)
				i0 = len(src) &^ 7
			}
			for i := i0; i < len(src); i++ {
				rowf[i] = float32(src[i])
			}
			hpass(t.tmp[p][r*S:(r+1)*S], rowf, wx)
		}
		t.acc[p] = grow(t.acc[p], S)
	}
	plane := S * S
	for y := range S {
		for p := range t.np {
			wy := &t.wy[t.wi[p]]
			vpass(t.acc[p], t.tmp[p], S, wy.start[y]-wy.lo, wy.w[y*wy.n:(y+1)*wy.n])
		}
		o := y * S
		if dst.u8 != nil {
			r, g, b := dst.u8[o:o+S], dst.u8[plane+o:plane+o+S], dst.u8[2*plane+o:2*plane+o+S]
			switch t.mode {
			case modeYCbCr:
				ycbcrRowU8(r, g, b, t.acc[0], t.acc[1], t.acc[2])
			case modeRGB:
				u8Row(r, t.acc[0])
				u8Row(g, t.acc[1])
				u8Row(b, t.acc[2])
			default:
				u8Row(r, t.acc[0])
				copy(g, r)
				copy(b, r)
			}
			continue
		}
		r, g, b := dst.f32[o:o+S], dst.f32[plane+o:plane+o+S], dst.f32[2*plane+o:2*plane+o+S]
		switch t.mode {
		case modeYCbCr:
			ycbcrRow(r, g, b, t.acc[0], t.acc[1], t.acc[2], &t.norm)
		case modeRGB:
			normRow(r, t.acc[0], t.norm[0])
			normRow(g, t.acc[1], t.norm[1])
			normRow(b, t.acc[2], t.norm[2])
		default:
			normRow(r, t.acc[0], t.norm[0])
			normRow(g, t.acc[0], t.norm[1])
			normRow(b, t.acc[0], t.norm[2])
		}
	}
}

// hpass resamples one source row (rowf, starting at source index wt.lo)
// into dst.
func hpass(dst, rowf []float32, wt *weights) {
	x0 := 0
	if wt.chunks > 0 {
		// compute keeps idx+n within [0, hi-lo) = rowf.
		_ = dst[wt.chunks*8-1]
		_ = rowf[wt.hi-wt.lo-1]
		hpassAVX2(&dst[0], wt.chunks, &rowf[0], &wt.idx[0], &wt.wT[0], wt.n)
		x0 = wt.chunks * 8
	}
	n, base := wt.n, wt.lo
	start, ws := wt.start[:len(dst)], wt.w[:len(dst)*n]
	switch n {
	case 4:
		for x := x0; x < len(dst); x++ {
			s := rowf[start[x]-base:][:4]
			w := ws[x*4:][:4]
			dst[x] = w[0]*s[0] + w[1]*s[1] + w[2]*s[2] + w[3]*s[3]
		}
	case 5:
		for x := x0; x < len(dst); x++ {
			s := rowf[start[x]-base:][:5]
			w := ws[x*5:][:5]
			dst[x] = w[0]*s[0] + w[1]*s[1] + w[2]*s[2] + w[3]*s[3] + w[4]*s[4]
		}
	case 6:
		for x := x0; x < len(dst); x++ {
			s := rowf[start[x]-base:][:6]
			w := ws[x*6:][:6]
			dst[x] = (w[0]*s[0] + w[1]*s[1] + w[2]*s[2]) + (w[3]*s[3] + w[4]*s[4] + w[5]*s[5])
		}
	case 7:
		for x := x0; x < len(dst); x++ {
			s := rowf[start[x]-base:][:7]
			w := ws[x*7:][:7]
			dst[x] = (w[0]*s[0] + w[1]*s[1] + w[2]*s[2] + w[3]*s[3]) + (w[4]*s[4] + w[5]*s[5] + w[6]*s[6])
		}
	default:
		for x := x0; x < len(dst); x++ {
			s := rowf[start[x]-base:][:n]
			w := ws[x*n:][:n]
			var acc float32
			for k, wv := range w {
				acc += wv * s[k]
			}
			dst[x] = acc
		}
	}
}

// vpass combines the rows r0.. of tmp (S floats each) with weights ws
// into out.
func vpass(out, tmp []float32, S, r0 int, ws []float32) {
	_ = tmp[(r0+len(ws)-1)*S+len(out)-1]
	x0 := 0
	if useAVX2 && len(out) >= 8 {
		vpassAVX2(&out[0], len(out)/8, &tmp[r0*S], S, &ws[0], len(ws))
		x0 = len(out) &^ 7
		if x0 == len(out) {
			return
		}
	}
	out = out[x0:]
	row := func(k int) []float32 { return tmp[(r0+k)*S+x0:][:len(out)] }
	switch len(ws) {
	case 1:
		copy(out, row(0))
	case 2:
		w0, w1 := ws[0], ws[1]
		a, b := row(0), row(1)
		for x := range out {
			out[x] = w0*a[x] + w1*b[x]
		}
	case 3:
		w0, w1, w2 := ws[0], ws[1], ws[2]
		a, b, c := row(0), row(1), row(2)
		for x := range out {
			out[x] = w0*a[x] + w1*b[x] + w2*c[x]
		}
	case 4:
		w0, w1, w2, w3 := ws[0], ws[1], ws[2], ws[3]
		a, b, c, d := row(0), row(1), row(2), row(3)
		for x := range out {
			out[x] = (w0*a[x] + w1*b[x]) + (w2*c[x] + w3*d[x])
		}
	case 5:
		w0, w1, w2, w3, w4 := ws[0], ws[1], ws[2], ws[3], ws[4]
		a, b, c, d, e := row(0), row(1), row(2), row(3), row(4)
		for x := range out {
			out[x] = (w0*a[x] + w1*b[x]) + (w2*c[x] + w3*d[x]) + w4*e[x]
		}
	default:
		w0, w1, w2, w3 := ws[0], ws[1], ws[2], ws[3]
		a, b, c, d := row(0), row(1), row(2), row(3)
		for x := range out {
			out[x] = (w0*a[x] + w1*b[x]) + (w2*c[x] + w3*d[x])
		}
		for k := 4; k < len(ws); k++ {
			wk, rk := ws[k], row(k)
			for x := range out {
				out[x] += wk * rk[x]
			}
		}
	}
}

func clamp255(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return v
}

// normRow clamps a row to 0..255 and normalises it with n.
func normRow(dst, src []float32, n [2]float32) {
	src = src[:len(dst)]
	a, b := n[0], n[1]
	for x, v := range src {
		dst[x] = clamp255(v)*a + b
	}
}

// toU8 rounds a resampled value to 8 bits, clamping (PIL's clip8).
func toU8(v float32) uint8 { return uint8(clamp255(v) + 0.5) }

// u8Row rounds a row to 8 bits.
func u8Row(dst []uint8, src []float32) {
	src = src[:len(dst)]
	for x, v := range src {
		dst[x] = toU8(v)
	}
}

// ycbcrRowU8 is ycbcrRow with 8-bit output, not normalised.
func ycbcrRowU8(r, g, b []uint8, Y, Cb, Cr []float32) {
	Y, Cb, Cr = Y[:len(r)], Cb[:len(r)], Cr[:len(r)]
	g, b = g[:len(r)], b[:len(r)]
	for x := range r {
		yy, cb, cr := Y[x], Cb[x]-128, Cr[x]-128
		r[x] = toU8(yy + 1.402*cr)
		g[x] = toU8(yy - 0.344136*cb - 0.714136*cr)
		b[x] = toU8(yy + 1.772*cb)
	}
}

// ycbcrRow converts a row of resampled Y, Cb, Cr to RGB with JFIF's
// equations (as image/color and libjpeg), clamps and normalises it.
func ycbcrRow(r, g, b, Y, Cb, Cr []float32, n *[3][2]float32) {
	Y, Cb, Cr = Y[:len(r)], Cb[:len(r)], Cr[:len(r)]
	g, b = g[:len(r)], b[:len(r)]
	if useAVX2 && len(r) >= 8 {
		k := [16]float32{1.402, -0.344136, -0.714136, 1.772, 128, 0, 255, n[0][0], n[0][1], n[1][0], n[1][1], n[2][0], n[2][1]}
		ycbcrAVX2(&r[0], &g[0], &b[0], &Y[0], &Cb[0], &Cr[0], len(r)/8, &k)
		x0 := len(r) &^ 7
		r, g, b, Y, Cb, Cr = r[x0:], g[x0:], b[x0:], Y[x0:], Cb[x0:], Cr[x0:]
	}
	ar, br := n[0][0], n[0][1]
	ag, bg := n[1][0], n[1][1]
	ab, bb := n[2][0], n[2][1]
	for x := range r {
		yy, cb, cr := Y[x], Cb[x]-128, Cr[x]-128
		r[x] = clamp255(yy+1.402*cr)*ar + br
		g[x] = clamp255(yy-0.344136*cb-0.714136*cr)*ag + bg
		b[x] = clamp255(yy+1.772*cb)*ab + bb
	}
}

func cubic(x float64) float64 {
	const a = -0.5
	x = math.Abs(x)
	switch {
	case x < 1:
		return ((a+2)*x-(a+3))*x*x + 1
	case x < 2:
		return (((x-5)*x+8)*x - 4) * a
	}
	return 0
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
