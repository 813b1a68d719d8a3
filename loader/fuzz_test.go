package loader

import (
	"bytes"
	"errors"
	"image"
	"testing"
)

// FuzzTransform feeds arbitrary bytes to the decode path as an image
// member: it must return an error or a finished image, never panic, and
// never decode an image whose header claims more than the pixel limit (so
// memory stays bounded by the limit).
func FuzzTransform(f *testing.F) {
	f.Add(testJPEG(f, 1, 20, 14))
	f.Add(testJPEG(f, 2, 3, 40)[:300])
	f.Add(encodePNG(f, image.NewGray(image.Rect(0, 0, 5, 9))))
	f.Add(encodePNG(f, image.NewNRGBA64(image.Rect(0, 0, 9, 5))))
	f.Add(hugePNG(1<<20, 1<<20))
	f.Add(hugePNG(64, 64))
	f.Add([]byte("\xff\xd8\xff\xe0"))
	const maxPixels = 1 << 16
	tr := newTransformer(8, true, maxPixels)
	ev := newTransformer(8, false, maxPixels)
	dst := make([]float32, 3*8*8)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, x := range []*transformer{tr, ev} {
			err := x.apply(dst, data, newRNG(uint64(len(data))))
			if err != nil {
				if !errors.Is(err, ErrBadImage) && !errors.Is(err, ErrImageTooLarge) {
					t.Fatalf("unclassified error %v", err)
				}
				continue
			}
			cfg, _, cerr := image.DecodeConfig(bytes.NewReader(data))
			if cerr != nil || cfg.Width*cfg.Height > maxPixels {
				t.Fatalf("decoded an image whose header is %+v, %v", cfg, cerr)
			}
			for i, v := range dst {
				if v != v || v < -3 || v > 3 {
					t.Fatalf("value %d = %v", i, v)
				}
			}
		}
	})
}
