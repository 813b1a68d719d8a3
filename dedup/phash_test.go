package dedup

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

type phashGolden struct {
	Generator string `json:"generator"`
	Imagehash string `json:"imagehash"`
	Images    []struct {
		File           string `json:"file"`
		Imagehash      string `json:"imagehash"`
		Clipstream     string `json:"clipstream"`
		NoiseDependent bool   `json:"noise_dependent"`
		Gray32         string `json:"gray32"`
	} `json:"images"`
}

// TestPHashGolden checks ComputePHash against imagehash.phash on the PNGs in
// testdata/phash (made by testdata/make_phash_golden.py): bit for bit where
// imagehash's result does not depend on FFT noise, and against the documented
// definition everywhere; PIL's 32×32 resize is checked byte for byte too.
func TestPHashGolden(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "phash_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g phashGolden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Images) < 10 {
		t.Fatalf("golden file has %d images, want at least 10", len(g.Images))
	}
	for _, c := range g.Images {
		t.Run(filepath.Base(c.File), func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", c.File))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			b := img.Bounds()
			small := resizeLanczosPIL(toPILGray(img), b.Dx(), b.Dy(), phashSide, phashSide)
			if got := hex.EncodeToString(small); got != c.Gray32 {
				for i := range small {
					if got[2*i:2*i+2] != c.Gray32[2*i:2*i+2] {
						t.Fatalf("32×32 resize differs from PIL first at pixel (%d,%d): got %s want %s",
							i%32, i/32, got[2*i:2*i+2], c.Gray32[2*i:2*i+2])
					}
				}
			}
			h, err := ComputePHash(img)
			if err != nil {
				t.Fatal(err)
			}
			if h.String() != c.Clipstream {
				t.Errorf("ComputePHash = %s, want %s (clipstream definition)", h, c.Clipstream)
			}
			if !c.NoiseDependent && h.String() != c.Imagehash {
				t.Errorf("ComputePHash = %s, imagehash.phash = %s", h, c.Imagehash)
			}
		})
	}
}

func TestPHashFlatImages(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    color.Color
		want PHash
	}{
		{"black", color.Gray{0}, 0},
		{"white", color.Gray{255}, 1 << 63},
		{"gray128", color.RGBA{128, 128, 128, 255}, 1 << 63},
		{"red", color.RGBA{255, 0, 0, 255}, 1 << 63},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := image.NewRGBA(image.Rect(0, 0, 77, 51))
			for i := 0; i < len(img.Pix); i += 4 {
				r, g, b, a := tc.c.RGBA()
				img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(r>>8), uint8(g>>8), uint8(b>>8), uint8(a>>8)
			}
			h, err := ComputePHash(img)
			if err != nil {
				t.Fatal(err)
			}
			if h != tc.want {
				t.Errorf("pHash = %s, want %s", h, tc.want)
			}
		})
	}
}

func TestPHashEmptyImage(t *testing.T) {
	_, err := ComputePHash(image.NewGray(image.Rect(3, 3, 3, 9)))
	if !errors.Is(err, ErrEmptyImage) {
		t.Fatalf("err = %v, want ErrEmptyImage", err)
	}
}

// TestPHashRobust: a small change to an image (brightness +3, one pixel
// flipped) moves its hash by little; a different image by a lot.
func TestPHashRobust(t *testing.T) {
	const seed = 42
	r := rand.New(rand.NewPCG(seed, 0))
	mk := func() *image.Gray {
		img := image.NewGray(image.Rect(0, 0, 96, 64))
		// Smooth random field: sums of a few random cosines.
		type wave struct{ fx, fy, ph, amp float64 }
		ws := make([]wave, 6)
		for i := range ws {
			ws[i] = wave{r.Float64() * 0.2, r.Float64() * 0.2, r.Float64() * 6, 20 + r.Float64()*20}
		}
		for y := 0; y < 64; y++ {
			for x := 0; x < 96; x++ {
				v := 128.0
				for _, w := range ws {
					v += w.amp * cosApprox(w.fx*float64(x)+w.fy*float64(y)+w.ph)
				}
				img.Pix[y*img.Stride+x] = uint8(max(0, min(255, v)))
			}
		}
		return img
	}
	a, b := mk(), mk()
	a2 := image.NewGray(a.Rect)
	for i, v := range a.Pix {
		a2.Pix[i] = uint8(min(255, int(v)+3))
	}
	a2.Pix[100] ^= 0xff
	ha, _ := ComputePHash(a)
	ha2, _ := ComputePHash(a2)
	hb, _ := ComputePHash(b)
	if d := ha.Distance(ha2); d > 4 {
		t.Errorf("seed %d: distance(image, image brightened) = %d, want <= 4", seed, d)
	}
	if d := ha.Distance(hb); d < 10 {
		t.Errorf("seed %d: distance(image, other image) = %d, want >= 10", seed, d)
	}
}

func cosApprox(x float64) float64 {
	// plain math.Cos; named to keep the fixture readable.
	return mathCos(x)
}

func TestParsePHash(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want PHash
		ok   bool
	}{
		{"0000000000000000", 0, true},
		{"8000000000000000", 1 << 63, true},
		{"d479e71b151b458c", 0xd479e71b151b458c, true},
		{"d479e71b151b458", 0, false},
		{"g479e71b151b458c", 0, false},
		{"", 0, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePHash(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("ParsePHash(%q) = %v, %v", tc.in, got, err)
			}
			if tc.ok && got.String() != tc.in {
				t.Fatalf("String() = %q", got.String())
			}
			if !tc.ok && !errors.Is(err, ErrBadPHash) {
				t.Fatalf("err = %v, want ErrBadPHash", err)
			}
		})
	}
}

func BenchmarkComputePHash(b *testing.B) {
	for _, side := range []int{64, 256, 1024} {
		b.Run(sizeName(side), func(b *testing.B) {
			img := image.NewGray(image.Rect(0, 0, side, side)) // what the crawl hands over
			r := rand.New(rand.NewPCG(1, 2))
			for i := range img.Pix {
				img.Pix[i] = uint8(r.Uint32())
			}
			b.SetBytes(int64(len(img.Pix)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ComputePHash(img); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// opaqueImage hides an image's concrete type, so toPILGray takes its
// generic path.
type opaqueImage struct{ image.Image }

// TestPILGrayFastPaths: the *image.RGBA and *image.NRGBA paths of
// toPILGray equal the generic path, on random pixels with random alpha
// (premultiplied for RGBA), and the cached Lanczos weights equal freshly
// computed ones.
func TestPILGrayFastPaths(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 3))
	rgba := image.NewRGBA(image.Rect(0, 0, 37, 23))
	nrgba := image.NewNRGBA(rgba.Rect)
	for i := 0; i < len(rgba.Pix); i += 4 {
		a := uint8(r.Uint32())
		if i%3 == 0 {
			a = 255
		}
		for c := range 3 {
			rgba.Pix[i+c] = uint8(r.IntN(int(a) + 1)) // premultiplied: ≤ alpha
			nrgba.Pix[i+c] = uint8(r.Uint32())
		}
		rgba.Pix[i+3], nrgba.Pix[i+3] = a, a
	}
	for name, img := range map[string]image.Image{"rgba": rgba, "nrgba": nrgba} {
		fast, slow := toPILGray(img), toPILGray(opaqueImage{img})
		if !slices.Equal(fast, slow) {
			t.Errorf("%s: the fast path differs from the generic one (seed %d)", name, seed)
		}
	}
	for _, n := range []int{1, 31, 64, 255, 1000} {
		k1, b1, kk1 := pilCoeffs(n, phashSide)
		k2, b2, kk2 := pilCoeffs(n, phashSide) // cached
		k3, b3, kk3 := computePILCoeffs(n, phashSide)
		if k1 != k3 || k2 != k3 || !slices.Equal(b1, b3) || !slices.Equal(b2, b3) || !slices.Equal(kk1, kk3) || !slices.Equal(kk2, kk3) {
			t.Errorf("pilCoeffs(%d, 32): the cached weights differ from fresh ones", n)
		}
	}
}
