package fastpng

import (
	"bytes"
	"errors"
	"image/png"
	"math/rand/v2"
	"testing"
)

// FuzzDecode is the differential test: for any bytes, fastpng and
// png.Decode(bytes.NewReader(b)) both fail or give the same image (type,
// bounds, stride, pixels, palette), and fastpng never panics. Inputs whose
// header claims more than the limit are only given to fastpng, which must
// reject them with ErrTooManyPixels. The seeds are real emoji PNGs,
// synthetic PNGs of every colour type and bit depth (tRNS, split IDAT,
// interlaced), and truncated and corrupted variants of some of them.
func FuzzDecode(f *testing.F) {
	for _, b := range emoji(f, 40) {
		f.Add(b)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i, k := range colourKinds {
		r := randomPNG(rng, 1+rng.IntN(12), 1+rng.IntN(12), k.ct, k.depth, i%2 == 0, byte(i%3/2))
		r.split = rng.IntN(30)
		b := r.encode()
		f.Add(b)
		f.Add(b[:len(b)/2])
		c := bytes.Clone(b)
		c[rng.IntN(len(c))] ^= 0x10
		fixCRCs(c)
		f.Add(c)
	}
	const limit = 1 << 20
	f.Fuzz(func(t *testing.T, b []byte) {
		got, gerr := Decode(b, limit)
		if cfg, err := png.DecodeConfig(bytes.NewReader(b)); err == nil && int64(cfg.Width)*int64(cfg.Height) > limit {
			if !errors.Is(gerr, ErrTooManyPixels) {
				t.Fatalf("%d×%d > limit: err %v, want ErrTooManyPixels", cfg.Width, cfg.Height, gerr)
			}
			return
		}
		want, werr := stdDecode(b)
		switch {
		case gerr != nil && werr != nil:
			return
		case gerr != nil:
			t.Fatalf("fastpng: %v; image/png decodes it", gerr)
		case werr != nil:
			t.Fatalf("fastpng decodes it; image/png: %v", werr)
		}
		if err := sameImage(got, want); err != nil {
			t.Fatal(err)
		}
	})
}
