package fastjpeg

import (
	"bytes"
	"image"
	_ "image/jpeg"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode: arbitrary bytes never panic; what decodes has the size
// image.DecodeConfig reads from the same bytes (so the pixel limit, checked
// before allocating, bounds memory), and planes that fit their buffers.
func FuzzDecode(f *testing.F) {
	f.Add(noisyJPEG(f, 1, 20, 14, 90, false))
	f.Add(noisyJPEG(f, 2, 9, 17, 50, true))
	f.Add(noisyJPEG(f, 3, 33, 8, 100, false)[:300])
	files, _ := filepath.Glob("testdata/*.jpg")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	const maxPixels = 1 << 16
	var d Decoder
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := d.Decode(data, maxPixels)
		if err != nil {
			return
		}
		cfg, _, cerr := image.DecodeConfig(bytes.NewReader(data))
		if cerr != nil || cfg.Width != img.Width || cfg.Height != img.Height {
			t.Fatalf("decoded %d×%d; image.DecodeConfig: %+v, %v", img.Width, img.Height, cfg, cerr)
		}
		if img.Width*img.Height > maxPixels {
			t.Fatalf("decoded %d×%d over the limit", img.Width, img.Height)
		}
		for i, p := range img.Planes {
			if p.W < 1 || p.H < 1 || p.W > p.Stride || (p.H-1)*p.Stride+p.W > len(p.Pix) {
				t.Fatalf("plane %d: %d×%d stride %d in %d bytes", i, p.W, p.H, p.Stride, len(p.Pix))
			}
			if p.W*p.SubX < img.Width || p.H*p.SubY < img.Height {
				t.Fatalf("plane %d: %d×%d at %d×%d subsampling does not cover %d×%d", i, p.W, p.H, p.SubX, p.SubY, img.Width, img.Height)
			}
		}
	})
}
