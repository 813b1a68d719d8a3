package crawl

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/clipstream/clipstream/dedup"
)

// fastSeed is a seed for a test's random images, logged so that a failure
// can be replayed by setting it here.
func fastSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	return seed
}

// randomRGBA is an opaque image: noise, or smooth gradients with a little
// noise (which compress like photos and exercise long zero runs).
func randomRGBA(r *rand.Rand, w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	smooth := r.IntN(2) == 0
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := m.PixOffset(x, y)
			for c := 0; c < 3; c++ {
				if smooth {
					m.Pix[o+c] = uint8((x*(c+1)*255/max(w, 1) + y*255/max(h, 1) + r.IntN(5)) / 2)
				} else {
					m.Pix[o+c] = uint8(r.IntN(256))
				}
			}
			m.Pix[o+3] = 255
		}
	}
	return m
}

var fastSizes = [][2]int{{1, 1}, {2, 3}, {7, 9}, {8, 8}, {16, 16}, {17, 33}, {64, 64}, {72, 72}, {100, 37}, {256, 256}, {255, 129}}

// TestEncodeJPEGReconMatchesStdlib: the bytes are jpeg.Encode's, the
// reconstruction is jpeg.Decode's (planes within the bounds), and the pHash
// taken from it is that of the decoded JPEG through toRGBA.
func TestEncodeJPEGReconMatchesStdlib(t *testing.T) {
	seed := fastSeed(t)
	r := rand.New(rand.NewPCG(seed, 1))
	for _, sz := range fastSizes {
		for _, q := range []int{1, 30, 75, 95, 100} {
			m := randomRGBA(r, sz[0], sz[1])
			// A sub-image with a non-zero origin too, now and then.
			if r.IntN(3) == 0 && sz[0] > 2 && sz[1] > 2 {
				m = m.SubImage(image.Rect(1, 1, sz[0], sz[1])).(*image.RGBA)
			}
			var want bytes.Buffer
			if err := jpeg.Encode(&want, m, &jpeg.Options{Quality: q}); err != nil {
				t.Fatal(err)
			}
			got, rec := encodeJPEGRecon(m, q)
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("seed %d: %v q%d: %d bytes differ from jpeg.Encode's %d", seed, m.Rect, q, len(got), want.Len())
			}
			dec, err := jpeg.Decode(bytes.NewReader(got))
			if err != nil {
				t.Fatal(err)
			}
			d := dec.(*image.YCbCr)
			w, h := m.Rect.Dx(), m.Rect.Dy()
			if rec.Rect != d.Rect || rec.SubsampleRatio != d.SubsampleRatio {
				t.Fatalf("seed %d: reconstruction %v %v, decoded %v %v", seed, rec.Rect, rec.SubsampleRatio, d.Rect, d.SubsampleRatio)
			}
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					if a, b := rec.YCbCrAt(x, y), d.YCbCrAt(x, y); a != b {
						t.Fatalf("seed %d: %v q%d: pixel (%d,%d) reconstructed %v, decoded %v", seed, m.Rect, q, x, y, a, b)
					}
				}
			}
			h1, err := phashImage(rec)
			if err != nil {
				t.Fatal(err)
			}
			h2, err := dedup.ComputePHash(toRGBA(d))
			if err != nil {
				t.Fatal(err)
			}
			if h1 != h2 {
				t.Fatalf("seed %d: %v q%d: pHash %v from the reconstruction, %v from the decoded JPEG", seed, m.Rect, q, h1, h2)
			}
		}
	}
}

// TestYCbCrGrayMatchesToRGBA: ycbcrGray is the luma ComputePHash takes
// from toRGBA, for every subsample ratio and for sub-images.
func TestYCbCrGrayMatchesToRGBA(t *testing.T) {
	seed := fastSeed(t)
	r := rand.New(rand.NewPCG(seed, 2))
	ratios := []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410}
	for _, sz := range fastSizes {
		for _, ratio := range ratios {
			m := image.NewYCbCr(image.Rect(0, 0, sz[0], sz[1]), ratio)
			for _, p := range [][]uint8{m.Y, m.Cb, m.Cr} {
				for i := range p {
					p[i] = uint8(r.IntN(256))
				}
			}
			var img image.Image = m
			if r.IntN(2) == 0 && sz[0] > 2 && sz[1] > 2 {
				img = m.SubImage(image.Rect(1, 2, sz[0], sz[1]))
			}
			rgba := toRGBA(img)
			g := ycbcrGray(img.(*image.YCbCr))
			for y := 0; y < rgba.Rect.Dy(); y++ {
				for x := 0; x < rgba.Rect.Dx(); x++ {
					c := rgba.RGBAAt(x, y)
					want := uint8((uint32(c.R)*19595 + uint32(c.G)*38470 + uint32(c.B)*7471 + 0x8000) >> 16)
					if got := g.GrayAt(x, y).Y; got != want {
						t.Fatalf("seed %d: %v %v: (%d,%d) grey %d, want %d", seed, img.Bounds(), ratio, x, y, got, want)
					}
				}
			}
			h1, _ := dedup.ComputePHash(g)
			h2, _ := dedup.ComputePHash(&image.NRGBA{Pix: rgba.Pix, Stride: rgba.Stride, Rect: rgba.Rect})
			if h1 != h2 {
				t.Fatalf("seed %d: %v %v: pHash %v from grey, %v from RGBA", seed, img.Bounds(), ratio, h1, h2)
			}
		}
	}
}

// genericRGBA is toRGBA through image.Image's At, the reference for the
// fast paths: every pixel's color.RGBA64, composited on white, high byte.
func genericRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			r, g, bl, a := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			k := 0xffff - a
			out.SetRGBA(x, y, color.RGBA{uint8(min(r+k, 0xffff) >> 8), uint8(min(g+k, 0xffff) >> 8), uint8(min(bl+k, 0xffff) >> 8), 255})
		}
	}
	return out
}

// toRGBAByRows is toRGBA through the row readers only (what toRGBA did
// before its fast paths): the fast paths must match it exactly.
func toRGBAByRows(img image.Image) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	read := newRowReader(img)
	row := make([]uint8, 3*w)
	for y := 0; y < h; y++ {
		read(y, row)
		for x := 0; x < w; x++ {
			out.SetRGBA(x, y, color.RGBA{row[3*x], row[3*x+1], row[3*x+2], 255})
		}
	}
	return out
}

// randomImage makes a random image of a color model the decoders produce,
// with alpha where the model has it (fully transparent, opaque and in
// between).
func randomImage(r *rand.Rand, kind string, w, h int) image.Image {
	rect := image.Rect(0, 0, w, h)
	alpha := func() uint8 {
		switch r.IntN(4) {
		case 0:
			return 0
		case 1:
			return 255
		}
		return uint8(r.IntN(256))
	}
	switch kind {
	case "nrgba":
		m := image.NewNRGBA(rect)
		for i := 0; i < len(m.Pix); i += 4 {
			m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), alpha()
		}
		return m
	case "rgba": // premultiplied: channels at most alpha
		m := image.NewRGBA(rect)
		for i := 0; i < len(m.Pix); i += 4 {
			a := alpha()
			m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = uint8(r.IntN(int(a)+1)), uint8(r.IntN(int(a)+1)), uint8(r.IntN(int(a)+1)), a
		}
		return m
	case "paletted":
		pal := make(color.Palette, 1+r.IntN(255))
		for i := range pal {
			pal[i] = color.NRGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), alpha()}
		}
		m := image.NewPaletted(rect, pal)
		for i := range m.Pix {
			m.Pix[i] = uint8(r.IntN(len(pal))) // (At panics on an index outside the palette)
		}
		return m
	case "gray":
		m := image.NewGray(rect)
		for i := range m.Pix {
			m.Pix[i] = uint8(r.IntN(256))
		}
		return m
	case "ycbcr":
		m := image.NewYCbCr(rect, image.YCbCrSubsampleRatio420)
		for _, p := range [][]uint8{m.Y, m.Cb, m.Cr} {
			for i := range p {
				p[i] = uint8(r.IntN(256))
			}
		}
		return m
	case "nrgba64":
		m := image.NewNRGBA64(rect)
		for i := range m.Pix {
			m.Pix[i] = uint8(r.IntN(256))
		}
		return m
	}
	panic(kind)
}

var fastKinds = []string{"nrgba", "rgba", "paletted", "gray", "ycbcr", "nrgba64"}

// TestToRGBAFastPaths: toRGBA equals the row readers exactly, and the
// generic At path within one level, for every color model, whole images
// and sub-images.
func TestToRGBAFastPaths(t *testing.T) {
	seed := fastSeed(t)
	r := rand.New(rand.NewPCG(seed, 3))
	for _, kind := range fastKinds {
		for _, sz := range fastSizes {
			img := randomImage(r, kind, sz[0], sz[1])
			if r.IntN(2) == 0 && sz[0] > 2 && sz[1] > 2 {
				img = img.(interface {
					SubImage(image.Rectangle) image.Image
				}).SubImage(image.Rect(1, 2, sz[0], sz[1]))
			}
			got, rows, gen := toRGBA(img), toRGBAByRows(img), genericRGBA(img)
			for y := 0; y < got.Rect.Dy(); y++ {
				for x := 0; x < got.Rect.Dx(); x++ {
					g, w, ref := got.RGBAAt(x, y), rows.RGBAAt(x, y), gen.RGBAAt(x, y)
					if g != w {
						t.Fatalf("seed %d: %s %v (%d,%d): toRGBA %v, row reader %v", seed, kind, img.Bounds(), x, y, g, w)
					}
					if d := max(absDiff8(g.R, ref.R), absDiff8(g.G, ref.G), absDiff8(g.B, ref.B)); d > 1 {
						t.Fatalf("seed %d: %s %v (%d,%d): toRGBA %v, At %v", seed, kind, img.Bounds(), x, y, g, ref)
					}
				}
			}
		}
	}
}

func absDiff8(a, b uint8) uint8 {
	if a > b {
		return a - b
	}
	return b - a
}
