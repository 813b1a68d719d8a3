package loader

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"syscall"
	"testing"
)

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func normalised(c int, v uint8) float32 { return (float32(v)/255 - CLIPMean[c]) / CLIPStd[c] }

// Eval at the image's own size is the identity (cubic weights at integer
// offsets are 1, 0, 0), so the output is exactly the normalised pixels in
// NCHW order.
func TestTransformIdentity(t *testing.T) {
	const s = 12
	img := image.NewRGBA(image.Rect(0, 0, s, s))
	for y := range s {
		for x := range s {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 20), uint8(y * 20), uint8(x*y + 3), 255})
		}
	}
	tr := newTransformer(s, false, 1<<20)
	dst := make([]float32, 3*s*s)
	if err := tr.apply(dst, encodePNG(t, img), nil); err != nil {
		t.Fatal(err)
	}
	for c := range 3 {
		for y := range s {
			for x := range s {
				p := img.RGBAAt(x, y)
				want := normalised(c, [3]uint8{p.R, p.G, p.B}[c])
				if got := dst[(c*s+y)*s+x]; math.Abs(float64(got-want)) > 1e-5 {
					t.Fatalf("c %d (%d,%d): %v, want %v", c, x, y, got, want)
				}
			}
		}
	}
}

// A solid image stays solid under any crop and scale (weights sum to 1),
// in both modes, from every decoder path.
func TestTransformSolid(t *testing.T) {
	col := color.NRGBA{200, 100, 50, 255}
	rgba := image.NewNRGBA(image.Rect(0, 0, 73, 41))
	gray := image.NewGray(image.Rect(0, 0, 30, 90))
	pal := image.NewPaletted(image.Rect(0, 0, 17, 19), color.Palette{col})
	for y := range 90 {
		for x := range 73 {
			rgba.SetNRGBA(x, y, col)
			gray.SetGray(x, y, color.Gray{77})
		}
	}
	jpg := testJPEG(t, 0, 64, 48) // not solid: checked only for range below
	cases := []struct {
		name string
		data []byte
		want [3]uint8
	}{
		{"nrgba", encodePNG(t, rgba), [3]uint8{200, 100, 50}},
		{"gray", encodePNG(t, gray), [3]uint8{77, 77, 77}},
		{"paletted", encodePNG(t, pal), [3]uint8{200, 100, 50}},
	}
	for _, train := range []bool{false, true} {
		for _, size := range []int{8, 32, 224} {
			tr := newTransformer(size, train, 1<<20)
			dst := make([]float32, 3*size*size)
			for _, tc := range cases {
				if err := tr.apply(dst, tc.data, newRNG(uint64(size))); err != nil {
					t.Fatal(err)
				}
				for i, v := range dst {
					c := i / (size * size)
					if want := normalised(c, tc.want[c]); math.Abs(float64(v-want)) > 1e-4 {
						t.Fatalf("%s train %v size %d: value %d = %v, want %v", tc.name, train, size, i, v, want)
					}
				}
			}
			if err := tr.apply(dst, jpg, newRNG(1)); err != nil {
				t.Fatal(err)
			}
			for i, v := range dst {
				c := i / (size * size)
				if v < normalised(c, 0)-1e-4 || v > normalised(c, 255)+1e-4 {
					t.Fatalf("jpeg value %d = %v out of range", i, v)
				}
			}
		}
	}
}

func TestRandomResizedCropBounds(t *testing.T) {
	r := newRNG(5)
	for range 20000 {
		w, h := 1+int(r.intn(400)), 1+int(r.intn(400))
		if r.intn(4) == 0 {
			h = 1 + int(r.intn(3)) // extreme aspect ratios take the fallback
		}
		x0, y0, cw, ch := randomResizedCrop(w, h, r)
		if cw < 1 || ch < 1 || x0 < 0 || y0 < 0 || x0+cw > w || y0+ch > h {
			t.Fatalf("%d×%d: crop (%d,%d) %d×%d", w, h, x0, y0, cw, ch)
		}
		ar := float64(cw) / float64(ch)
		area := float64(cw*ch) / float64(w*h)
		inRange := w >= 8 && h >= 8 && float64(w)/float64(h) > 0.8 && float64(w)/float64(h) < 1.25
		if inRange && (area < 0.8 || area > 1 || ar < 0.7 || ar > 1.4) {
			t.Fatalf("%d×%d: crop %d×%d: area %.3f ratio %.3f", w, h, cw, ch, area, ar)
		}
	}
}

// hugePNG is a valid PNG header claiming w×h pixels, with no image data.
func hugePNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	_ = binary.Write(&b, binary.BigEndian, uint32(13))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func TestTransformRejects(t *testing.T) {
	tr := newTransformer(16, true, 1<<20)
	dst := make([]float32, 3*16*16)
	if err := tr.apply(dst, hugePNG(100000, 100000), newRNG(1)); !errors.Is(err, ErrImageTooLarge) {
		t.Fatalf("huge header: %v", err)
	}
	for _, data := range [][]byte{nil, []byte("GIF89a"), testJPEG(t, 1, 32, 32)[:100], hugePNG(10, 10)} {
		if err := tr.apply(dst, data, newRNG(1)); !errors.Is(err, ErrBadImage) {
			t.Fatalf("%q: %v, want ErrBadImage", data[:min(len(data), 8)], err)
		}
	}
}

// BenchmarkTransform is one sample's decode + crop + resize + normalise,
// from a 256 px JPEG to 224 px: the smooth gradient of testJPEG (6 KB)
// and the photo-like, noisy photoJPEG (about 20 KB at quality 90), whose
// entropy decoding costs what a real photo's does.
func BenchmarkTransform(b *testing.B) {
	for _, tc := range []struct {
		name  string
		train bool
		photo bool
	}{
		{"jpeg256_to_224_train", true, false}, {"jpeg256_to_224_eval", false, false},
		{"photo256_to_224_train", true, true}, {"photo256_to_224_eval", false, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			data := testJPEG(b, 3, 256, 256)
			if tc.photo {
				data = photoJPEG(b, 3, 256)
			}
			tr := newTransformer(224, tc.train, 1<<24)
			dst := make([]float32, 3*224*224)
			r := newRNG(1)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			cpu0 := cpuSeconds()
			for b.Loop() {
				if err := tr.apply(dst, data, r); err != nil {
					b.Fatal(err)
				}
			}
			// CPU time per sample: the figure to compare on a busy machine.
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N)*1e6, "cpu-µs/op")
		})
	}
}

// The YCbCr path (planes resampled as they are, converted to RGB at the
// output) agrees with image/color's conversion within rounding, for every
// subsampling ratio: at the image's own size the luma is the identity and
// a constant chroma plane stays constant.
func TestYCbCrPlanes(t *testing.T) {
	r := newRNG(9)
	const s = 24
	for ratio := image.YCbCrSubsampleRatio444; ratio <= image.YCbCrSubsampleRatio410; ratio++ {
		m := image.NewYCbCr(image.Rect(0, 0, s, s), ratio)
		for i := range m.Y {
			m.Y[i] = uint8(r.intn(256))
		}
		cb, cr := uint8(r.intn(256)), uint8(r.intn(256))
		for i := range m.Cb {
			m.Cb[i], m.Cr[i] = cb, cr
			if ratio == image.YCbCrSubsampleRatio444 { // full resolution: anything goes
				m.Cb[i], m.Cr[i] = uint8(r.intn(256)), uint8(r.intn(256))
			}
		}
		tr := newTransformer(s, false, 1<<20)
		tr.setPlanes(m)
		if tr.mode != modeYCbCr {
			t.Fatalf("ratio %v: mode %d", ratio, tr.mode)
		}
		dst := make([]float32, 3*s*s)
		tr.place(imageDst{f32: dst}, s, s, nil)
		for y := range s {
			for x := range s {
				c := color.NRGBAModel.Convert(m.At(x, y)).(color.NRGBA)
				for ch, want := range [3]uint8{c.R, c.G, c.B} {
					got := (dst[(ch*s+y)*s+x]*CLIPStd[ch] + CLIPMean[ch]) * 255
					if math.Abs(float64(got)-float64(want)) > 1.01 {
						t.Fatalf("ratio %v (%d,%d) ch %d: %v, want %d", ratio, x, y, ch, got, want)
					}
				}
			}
		}
	}
}

// Chroma samples are centred on their 2×2 luma block (JFIF siting): a
// chroma ramp of 4 per chroma sample reads 2 per pixel, centred right.
func TestChromaSiting(t *testing.T) {
	const s = 32
	m := image.NewYCbCr(image.Rect(0, 0, s, s), image.YCbCrSubsampleRatio420)
	for i := range m.Y {
		m.Y[i] = 128
	}
	for y := range s / 2 {
		for x := range s / 2 {
			m.Cb[y*m.CStride+x] = uint8(100 + 4*x)
			m.Cr[y*m.CStride+x] = 128
		}
	}
	tr := newTransformer(s, false, 1<<20)
	tr.setPlanes(m)
	dst := make([]float32, 3*s*s)
	tr.place(imageDst{f32: dst}, s, s, nil)
	for x := 4; x < s-4; x++ {
		b := (dst[(2*s+10)*s+x]*CLIPStd[2] + CLIPMean[2]) * 255
		cb := (b-128)/1.772 + 128
		if want := float32(99 + 2*x); math.Abs(float64(cb-want)) > 0.02 {
			t.Fatalf("x %d: Cb %v, want %v", x, cb, want)
		}
	}
}

// cpuSeconds is the process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// grayJPEG is a w×h greyscale JPEG with a gradient and noise.
func grayJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	r := newRNG(uint64(w*h) + 17)
	for y := range h {
		for x := range w {
			img.SetGray(x, y, color.Gray{uint8(min(max(x*255/w/2+y*255/h/2+int(r.intn(20))-10, 0), 255))})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
