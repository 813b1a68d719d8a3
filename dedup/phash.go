package dedup

import (
	"image"
	"image/color"
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// The perceptual hash (pHash) of an image, as ComputePHash computes it:
//
//  1. Convert to 8-bit grayscale with PIL's "L" formula,
//     L = (R·19595 + G·38470 + B·7471 + 2^15) >> 16 (ITU-R 601 luma in
//     16.16 fixed point), from non-premultiplied 8-bit R, G, B.
//  2. Resize to 32×32 with PIL's Lanczos (a=3) resampler, reproduced exactly:
//     separable, coefficients in 22-bit fixed point, each pass rounded and
//     clipped to 8 bits, the passes in Pillow 13's order (resizeLanczosPIL).
//  3. Take the unnormalised 2-D DCT-II (scipy.fftpack.dct along the rows'
//     axis, then the columns': y[k] = 2·Σ x[n]·cos(πk(2n+1)/2N)) and keep the
//     8×8 lowest frequencies, DC included.
//  4. Set coefficients whose magnitude is below phashZeroEps to exactly 0
//     (see "difference" below), take the median of the 64 (the mean of the
//     32nd and 33rd smallest, as numpy.median) and set bit 63-(8·row+col)
//     when the coefficient is strictly greater than the median.
//
// This is imagehash.phash(img, hash_size=8, highfreq_factor=4) from the
// Python imagehash package (checked against imagehash 4.3.2 with Pillow 13),
// and equal to it on the same decoded pixels, with one documented difference:
// coefficients that are mathematically zero (flat images, images symmetric
// along an axis) come out of scipy's FFT as rounding noise of about 1e-12,
// and imagehash then compares noise with a noisy median, so its bits for
// those coefficients are arbitrary. Step 4 snaps them to zero, which makes
// the hash of such images well defined: an all-black image hashes to 0 and
// any other flat image to 0x8000000000000000 (only the DC bit). The golden
// test (testdata/phash_golden.json) marks the images where imagehash's
// result depends on noise and checks the rest bit for bit.
//
// Pixel decoding is the caller's: Go's JPEG decoder and libjpeg may differ by
// one level in some pixels, which can flip a bit or two of a hash. PNGs
// decode identically.
const (
	phashSide = 32 // resize target (hash_size·highfreq_factor)
	phashLow  = 8  // low-frequency block kept (hash_size)

	// phashZeroEps: DCT coefficients with |v| below this are zero. The
	// largest coefficient is 4·32·32·255 ≈ 1.04e6; FFT noise is ~1e-9 of
	// that at most, and real non-zero coefficients of 8-bit images are far
	// above 1e-6.
	phashZeroEps = 1e-6
)

// ComputePHash returns the pHash of img (see the constants above for the
// definition). It reads every pixel once; the cost is dominated by the
// resize, about 20 µs for a 256×256 image.
func ComputePHash(img image.Image) (PHash, error) {
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return 0, ErrEmptyImage
	}
	gray := toPILGray(img)
	small := resizeLanczosPIL(gray, b.Dx(), b.Dy(), phashSide, phashSide)
	return phashOf32(small), nil
}

// toPILGray converts img to 8-bit luma the way PIL's convert("L") does.
func toPILGray(img image.Image) []uint8 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := make([]uint8, w*h)
	l24 := func(r, g, bl uint32) uint8 {
		return uint8((r*19595 + g*38470 + bl*7471 + 0x8000) >> 16)
	}
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			copy(out[y*w:(y+1)*w], m.Pix[(y)*m.Stride:(y)*m.Stride+w])
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				out[y*w+x] = l24(uint32(row[4*x]), uint32(row[4*x+1]), uint32(row[4*x+2]))
			}
		}
	case *image.RGBA:
		// premultiplied: an opaque pixel is its own NRGBA; others go
		// through the model's conversion as below
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				p := row[4*x : 4*x+4 : 4*x+4]
				if p[3] == 0xff {
					out[y*w+x] = l24(uint32(p[0]), uint32(p[1]), uint32(p[2]))
					continue
				}
				c := color.NRGBAModel.Convert(color.RGBA{p[0], p[1], p[2], p[3]}).(color.NRGBA)
				out[y*w+x] = l24(uint32(c.R), uint32(c.G), uint32(c.B))
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				out[y*w+x] = l24(uint32(c.R), uint32(c.G), uint32(c.B))
			}
		}
	}
	return out
}

// PIL's resampler (libImaging/Resample.c), for 8-bit single-channel images.
const pilPrecisionBits = 32 - 8 - 2

func lanczos3(x float64) float64 {
	sinc := func(x float64) float64 {
		if x == 0 {
			return 1
		}
		x *= math.Pi
		return math.Sin(x) / x
	}
	if -3 <= x && x < 3 {
		return sinc(x) * sinc(x/3)
	}
	return 0
}

// pilKernel is what pilCoeffs computes for one (inSize, outSize).
type pilKernel struct {
	ksize  int
	bounds []int
	kk     []int32
}

// pilKernels caches pilCoeffs: the crawl resizes images of a few sizes to
// 32 over and over, and the weights (math.Sin per tap) cost as much as a
// small image's resize. Bounded by maxPILKernels entries; beyond that the
// weights are computed each time.
var pilKernels struct {
	sync.Map // [2]int → *pilKernel
	n        atomic.Int64
}

const maxPILKernels = 1024

// pilCoeffs is precompute_coeffs + normalize_coeffs_8bpc: for each output
// index, the first input index, the count, and fixed-point weights. The
// slices are shared: read only.
func pilCoeffs(inSize, outSize int) (ksize int, bounds []int, kk []int32) {
	key := [2]int{inSize, outSize}
	if k, ok := pilKernels.Load(key); ok {
		k := k.(*pilKernel)
		return k.ksize, k.bounds, k.kk
	}
	ksize, bounds, kk = computePILCoeffs(inSize, outSize)
	if pilKernels.n.Load() < maxPILKernels {
		if _, loaded := pilKernels.LoadOrStore(key, &pilKernel{ksize, bounds, kk}); !loaded {
			pilKernels.n.Add(1)
		}
	}
	return ksize, bounds, kk
}

// computePILCoeffs computes what pilCoeffs returns.
func computePILCoeffs(inSize, outSize int) (ksize int, bounds []int, kk []int32) {
	const support0 = 3.0
	scale := float64(float32(inSize)) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := support0 * filterscale
	ksize = int(math.Ceil(support))*2 + 1
	bounds = make([]int, 2*outSize)
	kk = make([]int32, outSize*ksize)
	pre := make([]float64, ksize)
	for xx := 0; xx < outSize; xx++ {
		center := (float64(xx) + 0.5) * scale
		ss := 1.0 / filterscale
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			w := lanczos3((float64(x+xmin) - center + 0.5) * ss)
			pre[x] = w
			ww += w
		}
		for x := 0; x < ksize; x++ {
			v := 0.0
			if x < xmax {
				v = pre[x]
				if ww != 0 {
					v /= ww
				}
			}
			if v < 0 {
				kk[xx*ksize+x] = int32(-0.5 + v*(1<<pilPrecisionBits))
			} else {
				kk[xx*ksize+x] = int32(0.5 + v*(1<<pilPrecisionBits))
			}
		}
		bounds[2*xx], bounds[2*xx+1] = xmin, xmax
	}
	return ksize, bounds, kk
}

func pilClip8(v int32) uint8 {
	if v >= 1<<pilPrecisionBits<<8 {
		return 255
	}
	if v <= 0 {
		return 0
	}
	return uint8(v >> pilPrecisionBits)
}

// resizeLanczosPIL resizes a w×h 8-bit image to ow×oh as PIL's
// Image.resize(..., LANCZOS) does: two separable passes, each skipped when
// its dimension does not change. Pillow 13 runs the vertical pass first when
// the height shrinks and shrinks by more than twice the width does
// (h-oh > 2·(w-ow)), and the horizontal pass first otherwise; the rule was
// found by comparing one-step and two-step resizes over all sizes up to
// 130×200 (Pillow PR 9549). Pillow before 13 always went horizontal first,
// so for tall images its hash can differ from ours in a bit or two.
func resizeLanczosPIL(src []uint8, w, h, ow, oh int) []uint8 {
	if oh < h && h-oh > 2*(w-ow) {
		src = resampleV(src, w, h, oh)
		return resampleH(src, w, oh, ow)
	}
	src = resampleH(src, w, h, ow)
	return resampleV(src, ow, h, oh)
}

// resampleH is ImagingResampleHorizontal_8bpc: w×h to ow×h.
func resampleH(src []uint8, w, h, ow int) []uint8 {
	if w == ow {
		return src
	}
	ksize, bounds, kk := pilCoeffs(w, ow)
	out := make([]uint8, ow*h)
	for y := 0; y < h; y++ {
		row := src[y*w : (y+1)*w]
		for xx := 0; xx < ow; xx++ {
			xmin, n := bounds[2*xx], bounds[2*xx+1]
			k := kk[xx*ksize:]
			ss := int32(1 << (pilPrecisionBits - 1))
			for x := 0; x < n; x++ {
				ss += int32(row[xmin+x]) * k[x]
			}
			out[y*ow+xx] = pilClip8(ss)
		}
	}
	return out
}

// resampleV is ImagingResampleVertical_8bpc: w×h to w×oh.
func resampleV(src []uint8, w, h, oh int) []uint8 {
	if h == oh {
		return src
	}
	ksize, bounds, kk := pilCoeffs(h, oh)
	out := make([]uint8, w*oh)
	for yy := 0; yy < oh; yy++ {
		ymin, n := bounds[2*yy], bounds[2*yy+1]
		k := kk[yy*ksize:]
		for x := 0; x < w; x++ {
			ss := int32(1 << (pilPrecisionBits - 1))
			for y := 0; y < n; y++ {
				ss += int32(src[(ymin+y)*w+x]) * k[y]
			}
			out[yy*w+x] = pilClip8(ss)
		}
	}
	return out
}

// dctBasis[k][n] = 2·cos(πk(2n+1)/64), the unnormalised DCT-II rows needed
// for the 8 lowest frequencies of a 32-point transform.
var dctBasis = func() (t [phashLow][phashSide]float64) {
	for k := range phashLow {
		for n := range phashSide {
			t[k][n] = 2 * math.Cos(math.Pi*float64(k)*float64(2*n+1)/(2*phashSide))
		}
	}
	return t
}()

// phashOf32 hashes a 32×32 8-bit image (steps 3 and 4 of the definition).
func phashOf32(px []uint8) PHash {
	// DCT along axis 0 (down each column), low 8 rows only.
	var col [phashLow][phashSide]float64
	for k := range phashLow {
		for n := range phashSide { // column
			s := 0.0
			for m := range phashSide { // row
				s += dctBasis[k][m] * float64(px[m*phashSide+n])
			}
			col[k][n] = s
		}
	}
	// Then along axis 1 (each row), low 8 columns only.
	var coef [phashLow * phashLow]float64
	for k := range phashLow {
		for l := range phashLow {
			s := 0.0
			for n := range phashSide {
				s += dctBasis[l][n] * col[k][n]
			}
			if math.Abs(s) < phashZeroEps {
				s = 0
			}
			coef[k*phashLow+l] = s
		}
	}
	sorted := coef
	slices.Sort(sorted[:])
	med := (sorted[31] + sorted[32]) / 2
	var h uint64
	for i, v := range coef {
		if v > med {
			h |= 1 << (63 - i)
		}
	}
	return PHash(h)
}
