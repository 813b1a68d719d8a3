package crawl

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/clipstream/clipstream/dedup"
)

// gradient is a w×h opaque image with smooth colour ramps and a few edges,
// so resizing and JPEG have real work to do.
func gradient(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := m.PixOffset(x, y)
			m.Pix[o] = uint8(x * 255 / max(w-1, 1))
			m.Pix[o+1] = uint8(y * 255 / max(h-1, 1))
			m.Pix[o+2] = uint8((x / 16 * 37) ^ (y / 16 * 53))
			m.Pix[o+3] = 255
		}
	}
	return m
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, m image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hugePNG is a well-formed PNG whose header claims w×h pixels: signature,
// IHDR with a correct CRC, an empty IDAT, IEND. DecodeConfig reads only the
// IHDR.
func hugePNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		c := crc32.NewIEEE()
		c.Write([]byte(typ))
		c.Write(data)
		b.WriteString(typ)
		b.Write(data)
		_ = binary.Write(&b, binary.BigEndian, c.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk("IHDR", ihdr)
	chunk("IDAT", nil)
	chunk("IEND", nil)
	return b.Bytes()
}

func decodeJPEG(t testing.TB, b []byte) image.Image {
	t.Helper()
	m, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("stored image is not a JPEG: %v", err)
	}
	return m
}

// rgbAt reads a pixel as 8-bit RGB.
func rgbAt(m image.Image, x, y int) [3]int {
	r, g, b, _ := m.At(x, y).RGBA()
	return [3]int{int(r >> 8), int(g >> 8), int(b >> 8)}
}

func near(a, b [3]int, tol int) bool {
	for i := range a {
		if d := a[i] - b[i]; d > tol || d < -tol {
			return false
		}
	}
	return true
}

func TestProcessImageModes(t *testing.T) {
	tests := []struct {
		name         string
		w, h         int
		mode         ResizeMode
		upscale      bool
		wantW, wantH int
	}{
		{"border_256x128", 256, 128, ResizeBorder, false, 64, 64},
		{"border_128x256", 128, 256, ResizeBorder, false, 64, 64},
		{"keep_ratio_256x128", 256, 128, ResizeKeepRatio, false, 128, 64},
		{"keep_ratio_largest_256x128", 256, 128, ResizeKeepRatioLargest, false, 64, 32},
		{"keep_ratio_largest_250x83_rounds", 250, 83, ResizeKeepRatioLargest, false, 64, 21},
		{"center_crop_256x128", 256, 128, ResizeCenterCrop, false, 64, 64},
		{"center_crop_75x225", 75, 225, ResizeCenterCrop, false, 64, 64},
		{"no_256x128", 256, 128, ResizeNo, false, 256, 128},
		{"border_small_25x20_kept", 25, 20, ResizeBorder, false, 25, 20},
		{"keep_ratio_75x50_shorter_side_not_bigger", 75, 50, ResizeKeepRatio, false, 75, 50},
		{"keep_ratio_upscale_25x20", 25, 20, ResizeKeepRatio, true, 80, 64},
		{"border_upscale_25x20", 25, 20, ResizeBorder, true, 64, 64},
		{"border_exact_64x25", 64, 25, ResizeBorder, false, 64, 25},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := DefaultImageOptions()
			opts.Mode, opts.Upscale, opts.Size = tc.mode, tc.upscale, 64
			data := encodePNG(t, gradient(tc.w, tc.h))
			res, err := ProcessImage(data, opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Width != tc.wantW || res.Height != tc.wantH {
				t.Fatalf("got %d×%d, want %d×%d", res.Width, res.Height, tc.wantW, tc.wantH)
			}
			if res.OriginalWidth != tc.w || res.OriginalHeight != tc.h || res.Format != "png" || !res.Reencoded {
				t.Fatalf("metadata %+v", res)
			}
			m := decodeJPEG(t, res.Data)
			if b := m.Bounds(); b.Dx() != tc.wantW || b.Dy() != tc.wantH {
				t.Fatalf("stored JPEG is %v", b)
			}
			if res.SHA256 != dedup.SumSHA256(res.Data) {
				t.Fatal("SHA256 is not of the stored bytes")
			}
			// The pHash is of the stored JPEG as decoded.
			h2, err := dedup.ComputePHash(toRGBA(m))
			if err != nil {
				t.Fatal(err)
			}
			if res.PHash != h2 {
				t.Fatalf("pHash %v, stored JPEG's %v", res.PHash, h2)
			}
		})
	}
}

func TestBorderIsWhiteAndCentred(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 1024, 512))
	for i := range src.Pix {
		src.Pix[i] = 0 // transparent black...
	}
	for i := 3; i < len(src.Pix); i += 4 {
		src.Pix[i] = 255 // ...made opaque black
	}
	res, err := ProcessImage(encodePNG(t, src), DefaultImageOptions())
	if err != nil {
		t.Fatal(err)
	}
	m := decodeJPEG(t, res.Data)
	// 256×128 of black from row 64 to 191, white above and below.
	for _, c := range []struct {
		x, y  int
		white bool
	}{{128, 10, true}, {128, 60, true}, {128, 70, false}, {128, 128, false}, {128, 185, false}, {128, 196, true}, {128, 250, true}} {
		want := [3]int{0, 0, 0}
		if c.white {
			want = [3]int{255, 255, 255}
		}
		if got := rgbAt(m, c.x, c.y); !near(got, want, 12) {
			t.Errorf("pixel (%d,%d) = %v, want %v", c.x, c.y, got, want)
		}
	}
}

func TestAreaDownscaleAverages(t *testing.T) {
	// A 1-pixel checkerboard halved by area is flat mid-grey (a point
	// sampler would give all black or all white: aliasing).
	src := image.NewGray(image.Rect(0, 0, 64, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			if (x+y)%2 == 0 {
				src.Pix[y*64+x] = 255
			}
		}
	}
	out := areaDownscale(src, 32, 32)
	for i := 0; i < len(out.Pix); i += 4 {
		if v := out.Pix[i]; v < 127 || v > 128 {
			t.Fatalf("pixel %d = %d, want 127..128", i/4, v)
		}
	}
	// 3→2 in one dimension: exact fractional weights.
	g := image.NewGray(image.Rect(0, 0, 3, 1))
	copy(g.Pix, []uint8{0, 90, 180})
	o := areaDownscale(g, 2, 1)
	// dest 0 covers [0,1.5): (0·1 + 90·0.5)/1.5 = 30; dest 1: (90·0.5+180)/1.5 = 150.
	if o.Pix[0] != 30 || o.Pix[4] != 150 {
		t.Fatalf("got %d, %d; want 30, 150", o.Pix[0], o.Pix[4])
	}
}

// TestAreaDownscalePlanes: averaging a YCbCr or grey image plane by plane
// (chroma at its own resolution, odd sizes included) gives what averaging
// its RGB pixels gives, within rounding.
func TestAreaDownscalePlanes(t *testing.T) {
	for _, sz := range []struct{ w, h, dw, dh int }{{333, 201, 100, 61}, {640, 480, 256, 192}, {257, 255, 256, 254}, {97, 31, 13, 5}} {
		for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio444} {
			src := photoLike(sz.w, sz.h)
			ycc := image.NewYCbCr(src.Rect, ratio)
			// Chroma is the mean of its block, as encoders make it.
			csum := make([][3]int, len(ycc.Cb))
			for y := 0; y < sz.h; y++ {
				for x := 0; x < sz.w; x++ {
					o := src.PixOffset(x, y)
					yy, cb, cr := color.RGBToYCbCr(src.Pix[o], src.Pix[o+1], src.Pix[o+2])
					ycc.Y[ycc.YOffset(x, y)] = yy
					c := &csum[ycc.COffset(x, y)]
					c[0], c[1], c[2] = c[0]+int(cb), c[1]+int(cr), c[2]+1
				}
			}
			for i, c := range csum {
				if c[2] > 0 {
					ycc.Cb[i], ycc.Cr[i] = uint8((c[0]+c[2]/2)/c[2]), uint8((c[1]+c[2]/2)/c[2])
				}
			}
			fast := areaDownscale(ycc, sz.dw, sz.dh)
			slow := areaDownscale(wrapped{ycc}, sz.dw, sz.dh)
			sum := 0
			for i := range fast.Pix {
				sum += abs(int(fast.Pix[i]) - int(slow.Pix[i]))
			}
			// They differ only where averaged colours leave the RGB gamut
			// (clamped one way, not the other): rare, so the mean is small.
			mean := float64(sum) / float64(len(fast.Pix))
			if mean > 0.5 {
				t.Errorf("%d×%d %v → %d×%d: planes and RGB differ by %.2f levels on average", sz.w, sz.h, ratio, sz.dw, sz.dh, mean)
			}
		}
	}
	g := image.NewGray(image.Rect(0, 0, 50, 30))
	for i := range g.Pix {
		g.Pix[i] = uint8(i * 7)
	}
	fast, slow := areaDownscale(g, 17, 9), areaDownscale(wrapped{g}, 17, 9)
	for i := range fast.Pix {
		if d := abs(int(fast.Pix[i]) - int(slow.Pix[i])); d > 1 {
			t.Fatalf("grey plane differs by %d", d)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestKeepOriginalJPEG(t *testing.T) {
	data := encodeJPEG(t, gradient(200, 150), 90)
	res, err := ProcessImage(data, DefaultImageOptions())
	if err != nil {
		t.Fatal(err)
	}
	if res.Reencoded || !bytes.Equal(res.Data, data) || res.Width != 200 || res.Height != 150 {
		t.Fatalf("a JPEG needing no resize was changed: reencoded=%v %d×%d", res.Reencoded, res.Width, res.Height)
	}
	if res.SHA256 != dedup.SumSHA256(data) {
		t.Fatal("SHA256 is not of the stored bytes")
	}
	want, _ := dedup.ComputePHash(toRGBA(decodeJPEG(t, data)))
	if res.PHash != want {
		t.Fatalf("pHash %v, want %v (of the decoded original)", res.PHash, want)
	}
	// Grey JPEG: kept too.
	gray := image.NewGray(image.Rect(0, 0, 120, 90))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i)
	}
	gdata := encodeJPEG(t, gray, 90)
	res, err = ProcessImage(gdata, DefaultImageOptions())
	if err != nil || res.Reencoded {
		t.Fatalf("grey JPEG: %v, reencoded=%v", err, res != nil && res.Reencoded)
	}
	// ReencodeJPEG forces it.
	opts := DefaultImageOptions()
	opts.ReencodeJPEG = true
	res, err = ProcessImage(data, opts)
	if err != nil || !res.Reencoded || bytes.Equal(res.Data, data) {
		t.Fatalf("ReencodeJPEG: %v reencoded=%v", err, res != nil && res.Reencoded)
	}
	// A big JPEG is resized.
	big := encodeJPEG(t, gradient(800, 600), 90)
	res, err = ProcessImage(big, DefaultImageOptions())
	if err != nil || !res.Reencoded || res.Width != 256 || res.Height != 256 {
		t.Fatalf("big JPEG: %v %+v", err, res)
	}
}

func TestAlphaCompositedOnWhite(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 40, 40))
	for y := 0; y < 40; y++ {
		for x := 0; x < 40; x++ {
			switch {
			case y < 20: // fully transparent red
				m.SetNRGBA(x, y, color.NRGBA{255, 0, 0, 0})
			default: // half-transparent black
				m.SetNRGBA(x, y, color.NRGBA{0, 0, 0, 128})
			}
		}
	}
	opts := DefaultImageOptions()
	opts.Mode = ResizeNo
	res, err := ProcessImage(encodePNG(t, m), opts)
	if err != nil {
		t.Fatal(err)
	}
	out := decodeJPEG(t, res.Data)
	if got := rgbAt(out, 20, 5); !near(got, [3]int{255, 255, 255}, 3) {
		t.Errorf("transparent area = %v, want white", got)
	}
	if got := rgbAt(out, 20, 35); !near(got, [3]int{127, 127, 127}, 4) {
		t.Errorf("half-transparent black = %v, want mid grey", got)
	}
}

// TestColorModels runs every pixel layout the decoders produce through the
// row readers and checks a known pixel.
func TestColorModels(t *testing.T) {
	r := image.Rect(0, 0, 16, 16)
	gray16 := image.NewGray16(r)
	nrgba64 := image.NewNRGBA64(r)
	rgba64 := image.NewRGBA64(r)
	rgba := image.NewRGBA(r)
	cmyk := image.NewCMYK(r)
	pal := image.NewPaletted(r, color.Palette{color.RGBA{0, 0, 0, 0}, color.RGBA{0, 0, 255, 255}})
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
	nycca := image.NewNYCbCrA(r, image.YCbCrSubsampleRatio444)
	for y := 0; y < 16; y++ {
		for x := 0; x < 16; x++ {
			gray16.SetGray16(x, y, color.Gray16{0x8080})
			nrgba64.SetNRGBA64(x, y, color.NRGBA64{0xffff, 0, 0, 0x8000}) // half red
			rgba64.SetRGBA64(x, y, color.RGBA64{0, 0x8000, 0, 0x8000})    // half green, premultiplied
			rgba.SetRGBA(x, y, color.RGBA{0, 0, 0x80, 0x80})              // half blue, premultiplied
			cmyk.SetCMYK(x, y, color.CMYK{0, 255, 255, 0})                // red
			pal.SetColorIndex(x, y, uint8(x%2))
		}
	}
	for i := range ycc.Y {
		ycc.Y[i] = 76 // red: Y 76, Cb 85, Cr 255
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = 85, 255
	}
	for i := range nycca.Y {
		nycca.Y[i], nycca.Cb[i], nycca.Cr[i], nycca.A[i] = 0, 128, 128, 0 // transparent black
	}
	tests := []struct {
		name string
		img  image.Image
		x    int
		want [3]int
	}{
		{"gray16", gray16, 0, [3]int{128, 128, 128}},
		{"nrgba64_half_red", nrgba64, 0, [3]int{255, 127, 127}},
		{"rgba64_half_green", rgba64, 0, [3]int{127, 255, 127}},
		{"rgba_half_blue", rgba, 0, [3]int{127, 127, 255}},
		{"cmyk_red", cmyk, 0, [3]int{255, 0, 0}},
		{"paletted_transparent", pal, 0, [3]int{255, 255, 255}},
		{"paletted_blue", pal, 1, [3]int{0, 0, 255}},
		{"ycbcr420_red", ycc, 0, [3]int{254, 0, 0}},
		{"nycbcra_transparent", nycca, 0, [3]int{255, 255, 255}},
		{"generic_alpha16", &wrapped{nrgba64}, 0, [3]int{255, 127, 127}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := toRGBA(tc.img)
			if got := rgbAt(out, tc.x, 3); !near(got, tc.want, 2) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// wrapped hides an image's concrete type, to reach the generic row reader.
type wrapped struct{ image.Image }

func TestDecodeFormats(t *testing.T) {
	// Multi-frame GIF: the first frame (red) is used.
	frames := &gif.GIF{}
	for _, c := range []color.Color{color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}} {
		p := image.NewPaletted(image.Rect(0, 0, 32, 32), palette.Plan9)
		for i := range p.Pix {
			p.Pix[i] = uint8(p.Palette.Index(c))
		}
		frames.Image = append(frames.Image, p)
		frames.Delay = append(frames.Delay, 10)
	}
	var gb bytes.Buffer
	if err := gif.EncodeAll(&gb, frames); err != nil {
		t.Fatal(err)
	}
	// 16-bit PNG.
	m16 := image.NewNRGBA64(image.Rect(0, 0, 40, 30))
	for i := 0; i < len(m16.Pix); i += 8 {
		copy(m16.Pix[i:], []byte{0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff}) // green
	}
	grayPNG := image.NewGray(image.Rect(0, 0, 30, 30))
	for i := range grayPNG.Pix {
		grayPNG.Pix[i] = 200
	}
	tests := []struct {
		name         string
		data         []byte
		format       string
		w, h         int
		probe        [3]int
		probeTol     int
		checkProbeAt image.Point
	}{
		{"gif_first_frame", gb.Bytes(), "gif", 32, 32, [3]int{255, 0, 0}, 10, image.Pt(16, 16)},
		{"png_16bit", encodePNG(t, m16), "png", 40, 30, [3]int{0, 255, 0}, 10, image.Pt(20, 15)},
		{"png_gray", encodePNG(t, grayPNG), "png", 30, 30, [3]int{200, 200, 200}, 3, image.Pt(15, 15)},
		{"webp_lossy", mustB64(t, webpLossyB64), "webp", 150, 100, [3]int{-1}, 0, image.Point{}},
		{"webp_lossless_alpha", mustB64(t, webpAlphaB64), "webp", 75, 100, [3]int{255, 255, 255}, 3, image.Pt(1, 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := DefaultImageOptions()
			res, err := ProcessImage(tc.data, opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Format != tc.format || res.Width != tc.w || res.Height != tc.h {
				t.Fatalf("got %s %d×%d, want %s %d×%d", res.Format, res.Width, res.Height, tc.format, tc.w, tc.h)
			}
			if tc.probe[0] >= 0 {
				out := decodeJPEG(t, res.Data)
				if got := rgbAt(out, tc.checkProbeAt.X, tc.checkProbeAt.Y); !near(got, tc.probe, tc.probeTol) {
					t.Fatalf("pixel %v = %v, want %v", tc.checkProbeAt, got, tc.probe)
				}
			}
		})
	}
}

func TestBadImages(t *testing.T) {
	png1 := encodePNG(t, gradient(64, 64))
	jpg1 := encodeJPEG(t, gradient(64, 64), 90)
	opts := DefaultImageOptions()
	opts.MinSide = 20
	opts.MaxAspectRatio = 3
	tests := []struct {
		name string
		data []byte
		want Status
	}{
		{"empty", nil, StatusTooSmall},
		{"html_error_page", []byte("<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>"), StatusBadImage},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>`), StatusBadImage},
		{"bmp_unsupported", append([]byte("BM"), make([]byte, 60)...), StatusBadImage},
		{"truncated_png", png1[:len(png1)/2], StatusBadImage},
		{"truncated_jpeg", jpg1[:len(jpg1)/2], StatusBadImage},
		{"png_header_only", png1[:40], StatusBadImage},
		{"png_claims_60000x60000", hugePNG(60000, 60000), StatusDecompressionBomb},
		{"png_claims_1x2000000000", hugePNG(1, 2000000000), StatusDecompressionBomb},
		{"png_claims_past_int32", hugePNG(1, 4000000000), StatusBadImage},
		{"png_zero_width", hugePNG(0, 10), StatusBadImage},
		{"too_small_side", encodePNG(t, gradient(64, 10)), StatusTooSmall},
		{"bad_aspect", encodePNG(t, gradient(400, 100)), StatusBadAspect},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := ProcessImage(tc.data, opts)
			if err == nil {
				t.Fatalf("accepted: %+v", res)
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != tc.want {
				t.Fatalf("got %v, want kind %s", err, tc.want)
			}
		})
	}
	// MinBytes.
	o2 := DefaultImageOptions()
	o2.MinBytes = 5000
	if _, err := ProcessImage(png1[:100], o2); StatusOf(err) != StatusTooSmall {
		t.Fatalf("MinBytes: %v", err)
	}
}

func TestParseResizeMode(t *testing.T) {
	for _, s := range []string{"no", "border", "keep_ratio", "keep_ratio_largest", "center_crop"} {
		if m, err := ParseResizeMode(s); err != nil || string(m) != s {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := ParseResizeMode("fixed"); err == nil {
		t.Error("fixed accepted")
	}
}

// FuzzCheckImageHeader: any bytes give a verdict, never a panic, and an
// image that passes the header check within small limits decodes and
// encodes.
func FuzzCheckImageHeader(f *testing.F) {
	f.Add(encodePNG(f, gradient(20, 12)))
	f.Add(encodeJPEG(f, gradient(20, 12), 80))
	f.Add(mustB64(f, webpLossyB64))
	f.Add(mustB64(f, webpAlphaB64))
	f.Add(hugePNG(60000, 60000))
	f.Add([]byte("GIF89a\x10\x00\x10\x00\x00\x00\x00;"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
	f.Add([]byte("<html>"))
	opts := DefaultImageOptions()
	opts.MaxPixels = 1 << 16
	opts.MinSide = 1
	opts.MaxAspectRatio = 0
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := CheckImageHeader(data, opts)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is not *Error: %v", err)
			}
			return
		}
		if h.Width <= 0 || h.Height <= 0 || int64(h.Width)*int64(h.Height) > opts.MaxPixels {
			t.Fatalf("header passed with %d×%d", h.Width, h.Height)
		}
		res, err := ProcessImage(data, opts)
		if err != nil {
			if StatusOf(err) != StatusBadImage {
				t.Fatalf("decode failure of kind %s: %v", StatusOf(err), err)
			}
			return
		}
		stored, err := jpeg.Decode(bytes.NewReader(res.Data))
		if err != nil {
			t.Fatalf("stored bytes are not a JPEG: %v", err)
		}
		// The pHash is that of the stored JPEG as image/jpeg decodes it.
		if h, err := dedup.ComputePHash(toRGBA(stored)); err != nil || h != res.PHash {
			t.Fatalf("pHash %v, of the stored JPEG %v (%v)", res.PHash, h, err)
		}
	})
}
