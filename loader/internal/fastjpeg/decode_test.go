package fastjpeg

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// noisyJPEG is a w×h JPEG (Go's encoder: 4:2:0, or grey) with smooth
// structure and noise, so every kind of Huffman code occurs.
func noisyJPEG(t testing.TB, seed uint64, w, h, quality int, gray bool) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	var img image.Image
	if gray {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i := range g.Pix {
			g.Pix[i] = uint8(128 + 100*math.Sin(float64(i%w)*0.1) + r.NormFloat64()*10)
		}
		img = g
	} else {
		m := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				n := r.NormFloat64() * 12
				m.SetRGBA(x, y, color.RGBA{
					uint8(min(max(128+90*math.Sin(float64(x)*0.07)+n, 0), 255)),
					uint8(min(max(128+90*math.Cos(float64(y)*0.05)+n, 0), 255)),
					uint8((x*255/w + y*100/h + int(n)) & 255), 255})
			}
		}
		img = m
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// compare decodes data with both decoders and checks every sample of
// every plane agrees within one grey level (the IDCTs round differently).
func compare(t *testing.T, name string, data []byte, d *Decoder) {
	t.Helper()
	want, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: image/jpeg: %v", name, err)
	}
	got, err := d.Decode(data, 1<<24)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	b := want.Bounds()
	if got.Width != b.Dx() || got.Height != b.Dy() {
		t.Fatalf("%s: %d×%d, image/jpeg %v", name, got.Width, got.Height, b)
	}
	type ref struct {
		pix    []byte
		stride int
	}
	var refs []ref
	switch m := want.(type) {
	case *image.Gray:
		refs = []ref{{m.Pix, m.Stride}}
	case *image.YCbCr:
		refs = []ref{{m.Y, m.YStride}, {m.Cb, m.CStride}, {m.Cr, m.CStride}}
	default:
		t.Fatalf("%s: image/jpeg gave %T", name, want)
	}
	if len(got.Planes) != len(refs) {
		t.Fatalf("%s: %d planes, want %d", name, len(got.Planes), len(refs))
	}
	var sum, n float64
	for i, p := range got.Planes {
		for y := range p.H {
			for x := range p.W {
				a, e := int(p.Pix[y*p.Stride+x]), int(refs[i].pix[y*refs[i].stride+x])
				if a-e > 1 || e-a > 1 {
					t.Fatalf("%s: plane %d (%d,%d): %d, image/jpeg %d", name, i, x, y, a, e)
				}
				sum += math.Abs(float64(a - e))
				n++
			}
		}
	}
	if sum/n > 0.1 {
		t.Fatalf("%s: mean difference %.3f", name, sum/n)
	}
}

// TestMatchesImageJPEG compares the planes with image/jpeg's on Go-encoded
// images of awkward sizes and qualities, and on testdata/*.jpg, written by
// Pillow 13 (libjpeg-turbo) from small noisy images: 4:4:4, 4:2:2 and
// 4:2:0 subsampling, optimised Huffman tables, quality 100, restart
// intervals in blocks and in rows, grey with restarts, 300×7 and 9×260
// (prog.jpg and cmyk.jpg are the refused variants, see TestUnsupported).
func TestMatchesImageJPEG(t *testing.T) {
	var d Decoder
	for i, sz := range [][2]int{{256, 256}, {1, 1}, {7, 9}, {17, 33}, {100, 3}, {3, 100}, {224, 161}} {
		for _, q := range []int{50, 90, 100} {
			for _, gray := range []bool{false, true} {
				compare(t, "go", noisyJPEG(t, uint64(i), sz[0], sz[1], q, gray), &d)
			}
		}
	}
	files, _ := filepath.Glob("testdata/*.jpg")
	for _, f := range files {
		switch filepath.Base(f) {
		case "prog.jpg", "cmyk.jpg":
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		compare(t, f, data, &d)
	}
}

func TestUnsupported(t *testing.T) {
	var d Decoder
	for _, f := range []string{"prog.jpg", "cmyk.jpg"} {
		data, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Decode(data, 1<<24); !errors.Is(err, ErrUnsupported) {
			t.Fatalf("%s: %v, want ErrUnsupported", f, err)
		}
	}
	// The decoder still works after refusing.
	compare(t, "after", noisyJPEG(t, 1, 40, 30, 80, false), &d)
}

func TestTooLarge(t *testing.T) {
	var d Decoder
	data := noisyJPEG(t, 1, 64, 64, 80, false)
	if _, err := d.Decode(data, 64*64-1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%v, want ErrTooLarge", err)
	}
}

func TestTruncatedAndCorrupt(t *testing.T) {
	var d Decoder
	data := noisyJPEG(t, 2, 64, 48, 90, false)
	for _, n := range []int{0, 1, 2, 100, 400, len(data) / 2, len(data) - 400} {
		if _, err := d.Decode(data[:n], 1<<24); err == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
	// Without EOI the image is complete: accepted.
	if _, err := d.Decode(data[:len(data)-2], 1<<24); err != nil {
		t.Fatalf("no EOI: %v", err)
	}
	// A marker in the middle of the scan.
	bad := bytes.Clone(data)
	bad[len(bad)/2], bad[len(bad)/2+1] = 0xff, 0xd9
	if _, err := d.Decode(bad, 1<<24); err == nil {
		t.Fatal("EOI in the middle of the scan: no error")
	}
	compare(t, "after", data, &d)
}

func BenchmarkDecode(b *testing.B) {
	var imgs [][]byte
	size := 0
	for i := range 16 {
		imgs = append(imgs, noisyJPEG(b, uint64(i), 256, 256, 92, false))
		size += len(imgs[i])
	}
	b.Run("fastjpeg", func(b *testing.B) {
		var d Decoder
		b.SetBytes(int64(size / len(imgs)))
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := d.Decode(imgs[i%len(imgs)], 1<<24); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("image-jpeg", func(b *testing.B) {
		b.SetBytes(int64(size / len(imgs)))
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := jpeg.Decode(bytes.NewReader(imgs[i%len(imgs)])); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
