package fastpng

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"testing"

	"golang.org/x/image/draw"
)

// upscale makes what bench/crawl's server serves with UPSCALE=px: the emoji
// scaled bilinearly to px on its longer side, encoded at BestSpeed.
func upscale(tb testing.TB, src []byte, px int) []byte {
	tb.Helper()
	img, err := png.Decode(bytes.NewReader(src))
	if err != nil {
		tb.Fatal(err)
	}
	b := img.Bounds()
	rgba := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(rgba, rgba.Bounds(), img, b.Min, draw.Src)
	dst := image.NewRGBA(image.Rect(0, 0, px, px*b.Dy()/b.Dx()))
	draw.BiLinear.Scale(dst, dst.Bounds(), rgba, rgba.Bounds(), draw.Src, nil)
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&out, dst); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

// photo is a px×px opaque image with gradients and noise, encoded at the
// default level: what a crawl meets besides emoji.
func photo(tb testing.TB, px int) []byte {
	tb.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	m := image.NewRGBA(image.Rect(0, 0, px, px))
	for y := 0; y < px; y++ {
		for x := 0; x < px; x++ {
			o := m.PixOffset(x, y)
			m.Pix[o], m.Pix[o+1], m.Pix[o+2], m.Pix[o+3] = uint8(x*255/px+r.IntN(9)), uint8(y*255/px+r.IntN(9)), uint8((x+y)*127/px+r.IntN(9)), 255
		}
	}
	var out bytes.Buffer
	if err := png.Encode(&out, m); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

// BenchmarkDecode decodes the same inputs with fastpng and image/png:
// size=64, real 64 px emoji from the committed corpus (RGBA and paletted);
// size=512, eight of them upscaled as bench/crawl serves them; size=512-photo,
// a noisy opaque RGB image. One op is one image; SetBytes is the PNG size.
func BenchmarkDecode(b *testing.B) {
	e := emoji(b, 64)
	var up [][]byte
	for _, src := range e[:8] {
		up = append(up, upscale(b, src, 512))
	}
	sets := []struct {
		name   string
		inputs [][]byte
	}{
		{"size=64", e},
		{"size=512", up},
		{"size=512-photo", [][]byte{photo(b, 512)}},
	}
	decoders := []struct {
		name string
		fn   func([]byte) (image.Image, error)
	}{
		{"dec=fastpng", func(p []byte) (image.Image, error) { return Decode(p, 1<<25) }},
		{"dec=image-png", stdDecode},
	}
	for _, s := range sets {
		var total int64
		for _, p := range s.inputs {
			total += int64(len(p))
		}
		for _, d := range decoders {
			b.Run(fmt.Sprintf("%s/%s", s.name, d.name), func(b *testing.B) {
				b.SetBytes(total / int64(len(s.inputs)))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, err := d.fn(s.inputs[i%len(s.inputs)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}

// BenchmarkUnfilter is one 512 px row of each filter at 3 and 4 bytes per
// pixel.
func BenchmarkUnfilter(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, bpp := range []int{3, 4} {
		for ft := byte(1); ft < 5; ft++ {
			c, p := make([]byte, 512*bpp), make([]byte, 512*bpp)
			for i := range c {
				c[i], p[i] = byte(r.IntN(256)), byte(r.IntN(256))
			}
			b.Run(fmt.Sprintf("bpp=%d/filter=%d", bpp, ft), func(b *testing.B) {
				b.SetBytes(int64(len(c)))
				for b.Loop() {
					unfilter(ft, c, p, bpp)
				}
			})
		}
	}
}
