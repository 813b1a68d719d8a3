package crawl

import (
	"image"
	"math/rand/v2"
	"testing"
)

// photoLike is a w×h image with smooth gradients, edges and noise, so JPEG
// decoding and encoding cost about what they cost on photographs.
func photoLike(w, h int) *image.NRGBA {
	m := gradient(w, h)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(m.Pix); i += 4 {
		for c := 0; c < 3; c++ {
			v := int(m.Pix[i+c]) + r.IntN(24) - 12
			m.Pix[i+c] = uint8(min(max(v, 0), 255))
		}
	}
	return m
}

// benchProcess measures ProcessImage (header check, decode, resize, JPEG
// encode, SHA-256, pHash) on one input; b.SetBytes is the input size.
func benchProcess(b *testing.B, data []byte, opts ImageOptions) {
	b.Helper()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := ProcessImage(data, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func benchJPEG(b *testing.B, w, h int, mode ResizeMode) {
	data := encodeJPEG(b, photoLike(w, h), 90)
	opts := DefaultImageOptions()
	opts.Mode = mode
	benchProcess(b, data, opts)
}

func BenchmarkProcessJPEG640x480To256Border(b *testing.B)   { benchJPEG(b, 640, 480, ResizeBorder) }
func BenchmarkProcessJPEG1024x768To256Border(b *testing.B)  { benchJPEG(b, 1024, 768, ResizeBorder) }
func BenchmarkProcessJPEG1920x1080To256Border(b *testing.B) { benchJPEG(b, 1920, 1080, ResizeBorder) }
func BenchmarkProcessJPEG4000x3000To256Border(b *testing.B) { benchJPEG(b, 4000, 3000, ResizeBorder) }
func BenchmarkProcessJPEG1024x768To256CenterCrop(b *testing.B) {
	benchJPEG(b, 1024, 768, ResizeCenterCrop)
}
func BenchmarkProcessJPEG200x150Kept(b *testing.B) { benchJPEG(b, 200, 150, ResizeBorder) }

func BenchmarkProcessPNG512x512To256Border(b *testing.B) {
	benchProcess(b, encodePNG(b, photoLike(512, 512)), DefaultImageOptions())
}

func BenchmarkProcessPNG64x64Emoji(b *testing.B) {
	benchProcess(b, encodePNG(b, gradient(64, 64)), DefaultImageOptions())
}

// BenchmarkAreaDownscale1920x1080To256 is the resize alone, from a decoded
// YCbCr JPEG.
func BenchmarkAreaDownscale1920x1080To256(b *testing.B) {
	img, err := decodeImage(encodeJPEG(b, photoLike(1920, 1080), 90), "jpeg", 1<<25)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		areaDownscale(img, 256, 144)
	}
}
