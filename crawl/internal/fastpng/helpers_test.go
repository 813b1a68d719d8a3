package fastpng

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/clipstream/clipstream/fixtures"
)

// testSeed is a seed for a test's random inputs, logged so that a failure
// can be replayed.
func testSeed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d (replay: set it in testSeed)", seed)
	return seed
}

// stdDecode is the reference: image/png reading a *bytes.Reader.
func stdDecode(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }

// sameImage says how a and b differ: type, bounds, stride, pixels, palette.
func sameImage(a, b image.Image) error {
	if fmt.Sprintf("%T", a) != fmt.Sprintf("%T", b) {
		return fmt.Errorf("type %T, want %T", a, b)
	}
	if a.Bounds() != b.Bounds() {
		return fmt.Errorf("bounds %v, want %v", a.Bounds(), b.Bounds())
	}
	pix := func(m image.Image) ([]byte, int) {
		switch m := m.(type) {
		case *image.Gray:
			return m.Pix, m.Stride
		case *image.Gray16:
			return m.Pix, m.Stride
		case *image.RGBA:
			return m.Pix, m.Stride
		case *image.RGBA64:
			return m.Pix, m.Stride
		case *image.NRGBA:
			return m.Pix, m.Stride
		case *image.NRGBA64:
			return m.Pix, m.Stride
		case *image.Paletted:
			return m.Pix, m.Stride
		}
		panic(fmt.Sprintf("unexpected image type %T", m))
	}
	pa, sa := pix(a)
	pb, sb := pix(b)
	if sa != sb {
		return fmt.Errorf("stride %d, want %d", sa, sb)
	}
	if !bytes.Equal(pa, pb) {
		for i := range min(len(pa), len(pb)) {
			if pa[i] != pb[i] {
				return fmt.Errorf("Pix[%d] (row %d) = %d, want %d (len %d, want %d)", i, i/sa, pa[i], pb[i], len(pa), len(pb))
			}
		}
		return fmt.Errorf("len(Pix) %d, want %d", len(pa), len(pb))
	}
	if p, ok := a.(*image.Paletted); ok {
		q := b.(*image.Paletted)
		if len(p.Palette) != len(q.Palette) {
			return fmt.Errorf("palette length %d, want %d", len(p.Palette), len(q.Palette))
		}
		for i := range p.Palette {
			if p.Palette[i] != q.Palette[i] {
				return fmt.Errorf("palette[%d] = %#v, want %#v", i, p.Palette[i], q.Palette[i])
			}
		}
	}
	return nil
}

// rawPNG is a PNG built byte by byte, for what image/png's encoder never
// writes: 1, 2 and 4-bit grey, grey+alpha, tRNS on grey and true colour,
// every filter type on every row kind, IDAT split anywhere, interlacing.
type rawPNG struct {
	w, h             int
	depth, ct, ilace byte
	plte, trns       []byte
	raw              []byte // filtered scanlines (filter byte first), all passes
	split            int    // IDAT chunk size; 0: one chunk
	level            int    // zlib level
	afterZlib        []byte // bytes after the zlib stream, inside the IDAT data
}

func channels(ct byte) int {
	return map[byte]int{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ct]
}

// passSizes are the sub-image sizes of the passes (one pass unless Adam7).
func passSizes(w, h int, ilace byte) [][2]int {
	if ilace == 0 {
		return [][2]int{{w, h}}
	}
	var out [][2]int
	for _, p := range [][4]int{{8, 8, 0, 0}, {8, 8, 4, 0}, {4, 8, 0, 4}, {4, 4, 2, 0}, {2, 4, 0, 2}, {2, 2, 1, 0}, {1, 2, 0, 1}} {
		pw := (w - p[2] + p[0] - 1) / p[0]
		ph := (h - p[3] + p[1] - 1) / p[1]
		if pw > 0 && ph > 0 {
			out = append(out, [2]int{pw, ph})
		}
	}
	return out
}

// randomRows fills r.raw with random scanlines: random filter types and
// bytes that are either noise or smooth (so that every predictor is taken).
func (r *rawPNG) randomRows(rng *rand.Rand) {
	bpp := int(r.depth) * channels(r.ct)
	r.raw = r.raw[:0]
	smooth := rng.IntN(2) == 0
	for _, s := range passSizes(r.w, r.h, r.ilace) {
		rowBytes := (bpp*s[0] + 7) / 8
		for y := 0; y < s[1]; y++ {
			r.raw = append(r.raw, byte(rng.IntN(5)))
			for x := 0; x < rowBytes; x++ {
				v := byte(rng.IntN(256))
				if smooth && rng.IntN(4) != 0 {
					v = byte(rng.IntN(3))
				}
				r.raw = append(r.raw, v)
			}
		}
	}
}

func appendChunk(b []byte, typ string, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	start := len(b)
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

func (r *rawPNG) encode() []byte {
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, r.level)
	zw.Write(r.raw)
	zw.Close()
	zdata := append(z.Bytes(), r.afterZlib...)

	b := []byte(pngHeader)
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(r.w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(r.h))
	ihdr = append(ihdr, r.depth, r.ct, 0, 0, r.ilace)
	b = appendChunk(b, "IHDR", ihdr)
	if r.plte != nil {
		b = appendChunk(b, "PLTE", r.plte)
	}
	if r.trns != nil {
		b = appendChunk(b, "tRNS", r.trns)
	}
	split := r.split
	if split <= 0 {
		split = len(zdata)
	}
	for len(zdata) > split {
		b = appendChunk(b, "IDAT", zdata[:split])
		zdata = zdata[split:]
	}
	b = appendChunk(b, "IDAT", zdata)
	return appendChunk(b, "IEND", nil)
}

// colourKinds are every valid colour type and bit depth.
var colourKinds = []struct{ ct, depth byte }{
	{0, 1}, {0, 2}, {0, 4}, {0, 8}, {0, 16},
	{2, 8}, {2, 16},
	{3, 1}, {3, 2}, {3, 4}, {3, 8},
	{4, 8}, {4, 16},
	{6, 8}, {6, 16},
}

// randomPNG is a random valid PNG of colour type ct and depth: palette of a
// random length (so that some indices are out of it), tRNS or not.
func randomPNG(rng *rand.Rand, w, h int, ct, depth byte, trns bool, ilace byte) *rawPNG {
	r := &rawPNG{w: w, h: h, ct: ct, depth: depth, ilace: ilace, level: rng.IntN(10)}
	switch ct {
	case 3:
		n := 1 + rng.IntN(1<<depth)
		for range 3 * n {
			r.plte = append(r.plte, byte(rng.IntN(256)))
		}
		if trns {
			for range 1 + rng.IntN(min(256, 1<<depth)) {
				r.trns = append(r.trns, byte(rng.IntN(256)))
			}
		}
	case 0:
		if trns {
			v := rng.IntN(1 << depth)
			r.trns = []byte{byte(v >> 8), byte(v)}
		}
	case 2:
		if trns {
			for range 3 {
				v := rng.IntN(1 << depth)
				if depth == 8 {
					v = rng.IntN(3) // so that some pixels match
				}
				r.trns = append(r.trns, byte(v>>8), byte(v))
			}
		}
	}
	r.randomRows(rng)
	return r
}

// emoji returns up to n of the committed corpus's real emoji PNGs.
func emoji(t testing.TB, n int) [][]byte {
	t.Helper()
	items, err := fixtures.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for i := 0; i < len(items) && len(out) < n; i++ {
		out = append(out, items[i].Image)
	}
	return out
}
