package loader

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // JPEG decoder for image.Decode
	_ "image/png"  // PNG decoder for image.Decode
	"math"
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

// transformer decodes one image and writes it, cropped, resized and
// normalised, into a 3×S×S float32 plane set. One per worker: its scratch
// buffers are reused from sample to sample.
type transformer struct {
	size      int
	train     bool
	maxPixels int

	src  []float32 // planar RGB of the source box
	tmp  []float32 // after the horizontal pass
	acc  []float32
	xw   weights
	yw   weights
	norm [3][2]float32 // per channel: v·a + b maps 0..255 to normalised
}

func newTransformer(size int, train bool, maxPixels int) *transformer {
	t := &transformer{size: size, train: train, maxPixels: maxPixels}
	for c := range 3 {
		t.norm[c] = [2]float32{1 / (255 * CLIPStd[c]), -CLIPMean[c] / CLIPStd[c]}
	}
	return t
}

// decode checks the header against the pixel limit, then decodes.
func (t *transformer) decode(data []byte) (image.Image, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%w: %d×%d pixels", ErrBadImage, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(t.maxPixels) {
		return nil, fmt.Errorf("%w: %d×%d pixels, limit %d", ErrImageTooLarge, cfg.Width, cfg.Height, t.maxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, fmt.Errorf("%w: decoded %v, header said %d×%d", ErrBadImage, b, cfg.Width, cfg.Height)
	}
	return img, nil
}

// apply decodes data and writes the transformed image into dst
// (len 3·size·size, NCHW plane order). r drives the random crop in
// training mode; it is unused for evaluation.
func (t *transformer) apply(dst []float32, data []byte, r *rng) error {
	img, err := t.decode(data)
	if err != nil {
		return err
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	S := t.size
	if t.train {
		x0, y0, cw, ch := randomResizedCrop(w, h, r)
		// torchvision crops, then resizes the crop: taps stay inside it.
		t.xw.compute(x0, x0+cw, float64(cw)/float64(S), 0, S)
		t.yw.compute(y0, y0+ch, float64(ch)/float64(S), 0, S)
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
		t.xw.compute(0, w, float64(w)/float64(nw), offX, S)
		t.yw.compute(0, h, float64(h)/float64(nh), offY, S)
	}
	t.resample(dst, img)
	return nil
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
// downscale factor so downscaling is antialiased).
type weights struct {
	start []int // first source index of each output
	n     []int // taps of each output
	w     []float32
	taps  int // stride of w
	lo    int // smallest source index used
	hi    int // one past the largest
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

// compute fills the taps for out outputs, numbered from off, of a resize
// by scale (input pixels per output pixel) of the source interval
// [inLo, inHi); taps are clamped to that interval.
func (wt *weights) compute(inLo, inHi int, scale float64, off, out int) {
	filterScale := max(scale, 1)
	support := 2 * filterScale
	taps := int(math.Ceil(support))*2 + 1
	wt.taps = taps
	wt.start = grow(wt.start, out)
	wt.n = grow(wt.n, out)
	wt.w = grow(wt.w, out*taps)
	wt.lo, wt.hi = inHi, inLo
	for x := range out {
		center := float64(inLo) + (float64(x+off)+0.5)*scale
		xmin := max(int(math.Floor(center-support+0.5)), inLo)
		xmax := min(int(math.Floor(center+support+0.5)), inHi)
		if xmax > xmin+taps {
			xmax = xmin + taps
		}
		if xmax <= xmin { // cannot happen for valid input; keep one tap
			xmin = min(max(int(center), inLo), inHi-1)
			xmax = xmin + 1
		}
		row := wt.w[x*taps : x*taps+taps]
		var sum float64
		for j := xmin; j < xmax; j++ {
			v := cubic((float64(j) + 0.5 - center) / filterScale)
			row[j-xmin] = float32(v)
			sum += v
		}
		if sum != 0 {
			for j := range xmax - xmin {
				row[j] = float32(float64(row[j]) / sum)
			}
		}
		wt.start[x], wt.n[x] = xmin, xmax-xmin
		wt.lo, wt.hi = min(wt.lo, xmin), max(wt.hi, xmax)
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// resample converts the source box the taps need to planar RGB (0..255),
// runs the horizontal then the vertical pass, and writes normalised values
// into dst. Unlike PIL it keeps float precision between the passes (PIL
// rounds to 8 bits); values are clamped to 0..255 at the end, as PIL does.
func (t *transformer) resample(dst []float32, img image.Image) {
	S := t.size
	bx0, bx1, by0, by1 := t.xw.lo, t.xw.hi, t.yw.lo, t.yw.hi
	bw, bh := bx1-bx0, by1-by0
	plane := bw * bh
	t.src = grow(t.src, 3*plane)
	toPlanar(t.src, img, bx0, by0, bw, bh)

	// Horizontal: [3][bh][bw] → [3][bh][S].
	t.tmp = grow(t.tmp, 3*bh*S)
	xw := &t.xw
	for c := range 3 {
		for y := range bh {
			srow := t.src[c*plane+y*bw : c*plane+y*bw+bw]
			trow := t.tmp[(c*bh+y)*S : (c*bh+y)*S+S]
			for x := range trow {
				st, n := xw.start[x]-bx0, xw.n[x]
				ws := xw.w[x*xw.taps : x*xw.taps+n]
				sp := srow[st : st+n]
				sp = sp[:len(ws)]
				var acc float32
				k := 0
				for ; k+4 <= len(ws); k += 4 {
					acc += ws[k]*sp[k] + ws[k+1]*sp[k+1] + ws[k+2]*sp[k+2] + ws[k+3]*sp[k+3]
				}
				for ; k < len(ws); k++ {
					acc += ws[k] * sp[k]
				}
				trow[x] = acc
			}
		}
	}
	// Vertical: [3][bh][S] → [3][S][S], normalised.
	t.acc = grow(t.acc, S)
	yw := &t.yw
	for c := range 3 {
		a, bias := t.norm[c][0], t.norm[c][1]
		for y := range S {
			acc := t.acc[:S]
			st, n := yw.start[y]-by0, yw.n[y]
			ws := yw.w[y*yw.taps : y*yw.taps+n]
			base := (c*bh + st) * S
			k := 0
			if len(ws) >= 2 {
				w0, w1 := ws[0], ws[1]
				r0 := t.tmp[base : base+S]
				r1 := t.tmp[base+S : base+2*S]
				r0, r1 = r0[:len(acc)], r1[:len(acc)]
				for x := range acc {
					acc[x] = w0*r0[x] + w1*r1[x]
				}
				k = 2
			} else {
				clear(acc)
			}
			for ; k+2 <= len(ws); k += 2 {
				w0, w1 := ws[k], ws[k+1]
				r0 := t.tmp[base+k*S : base+(k+1)*S]
				r1 := t.tmp[base+(k+1)*S : base+(k+2)*S]
				r0, r1 = r0[:len(acc)], r1[:len(acc)]
				for x := range acc {
					acc[x] += w0*r0[x] + w1*r1[x]
				}
			}
			for ; k < len(ws); k++ {
				wv := ws[k]
				r0 := t.tmp[base+k*S : base+(k+1)*S]
				r0 = r0[:len(acc)]
				for x := range acc {
					acc[x] += wv * r0[x]
				}
			}
			out := dst[(c*S+y)*S : (c*S+y)*S+S]
			out = out[:len(acc)]
			for x, v := range acc {
				v = min(max(v, 0), 255)
				out[x] = v*a + bias
			}
		}
	}
}

// toPlanar writes the box (x0, y0, w, h) of img, in image coordinates
// relative to its bounds' origin, as planar RGB float32 in 0..255. Alpha is
// dropped (PIL's convert("RGB"), which open_clip applies).
func toPlanar(dst []float32, img image.Image, x0, y0, w, h int) {
	plane := w * h
	R, G, B := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	o := img.Bounds().Min
	switch m := img.(type) {
	case *image.YCbCr:
		ycbcrToPlanar(R, G, B, m, o.X+x0, o.Y+y0, w, h)
	case *image.Gray:
		for y := range h {
			row := m.Pix[(y0+y)*m.Stride:]
			for x := range w {
				v := float32(row[x0+x])
				i := y*w + x
				R[i], G[i], B[i] = v, v, v
			}
		}
	case *image.RGBA:
		// Opaque PNGs decode to RGBA; with alpha they decode to NRGBA.
		for y := range h {
			row := m.Pix[(y0+y)*m.Stride:]
			for x := range w {
				p := row[4*(x0+x):]
				i := y*w + x
				R[i], G[i], B[i] = float32(p[0]), float32(p[1]), float32(p[2])
			}
		}
	case *image.NRGBA:
		for y := range h {
			row := m.Pix[(y0+y)*m.Stride:]
			for x := range w {
				p := row[4*(x0+x):]
				i := y*w + x
				R[i], G[i], B[i] = float32(p[0]), float32(p[1]), float32(p[2])
			}
		}
	default:
		for y := range h {
			for x := range w {
				c := color.NRGBAModel.Convert(img.At(o.X+x0+x, o.Y+y0+y)).(color.NRGBA)
				i := y*w + x
				R[i], G[i], B[i] = float32(c.R), float32(c.G), float32(c.B)
			}
		}
	}
}

// ycbcrToPlanar converts a box of a YCbCr image with JFIF's equations
// (as image/color and libjpeg), in float.
func ycbcrToPlanar(R, G, B []float32, m *image.YCbCr, px0, py0, w, h int) {
	var hs, vs int // chroma subsampling shifts
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		hs = 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio440:
		vs = 1
	case image.YCbCrSubsampleRatio411:
		hs = 2
	case image.YCbCrSubsampleRatio410:
		hs, vs = 2, 1
	}
	rmx, rmy := m.Rect.Min.X, m.Rect.Min.Y
	for y := range h {
		py := py0 + y
		yrow := m.Y[(py-rmy)*m.YStride:]
		crow := (py>>vs - rmy>>vs) * m.CStride
		cb, cr := m.Cb[crow:], m.Cr[crow:]
		i0 := y * w
		r, g, b := R[i0:i0+w], G[i0:i0+w], B[i0:i0+w]
		for x := range r {
			px := px0 + x
			yy := float32(yrow[px-rmx])
			ci := px>>hs - rmx>>hs
			cbv, crv := float32(cb[ci])-128, float32(cr[ci])-128
			r[x] = min(max(yy+1.402*crv, 0), 255)
			g[x] = min(max(yy-0.344136*cbv-0.714136*crv, 0), 255)
			b[x] = min(max(yy+1.772*cbv, 0), 255)
		}
	}
}
