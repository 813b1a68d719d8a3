package fastpng

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"runtime"
	"testing"
)

const testLimit = 1 << 22

// check decodes b with fastpng and image/png and fails unless both fail or
// both give the same image.
func check(t *testing.T, b []byte) (ok bool) {
	t.Helper()
	got, gerr := Decode(b, testLimit)
	if cfg, err := png.DecodeConfig(bytes.NewReader(b)); err == nil && int64(cfg.Width)*int64(cfg.Height) > testLimit {
		// image/png would allocate it all: only fastpng is asked.
		if !errors.Is(gerr, ErrTooManyPixels) {
			t.Fatalf("%d×%d pixels > limit %d: err %v, want ErrTooManyPixels", cfg.Width, cfg.Height, testLimit, gerr)
		}
		return false
	}
	want, werr := stdDecode(b)
	switch {
	case gerr != nil && werr != nil:
		return false
	case gerr != nil:
		t.Fatalf("fastpng: %v; image/png decodes it (%T %v)", gerr, want, want.Bounds())
	case werr != nil:
		t.Fatalf("fastpng decodes it (%T %v); image/png: %v", got, got.Bounds(), werr)
	}
	if err := sameImage(got, want); err != nil {
		t.Fatal(err)
	}
	return true
}

func TestEmojiCorpus(t *testing.T) {
	kinds := map[string]int{}
	for i, b := range emoji(t, 1<<30) {
		if !check(t, b) {
			t.Fatalf("emoji %d: image/png fails too", i)
		}
		m, _ := Decode(b, testLimit)
		kinds[fmt.Sprintf("%T", m)]++
	}
	t.Logf("image types: %v", kinds)
}

// TestEncoderOutput: what image/png's encoder writes, at every compression
// level, from every image type it takes.
func TestEncoderOutput(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 1))
	fill := func(p []byte) {
		for i := range p {
			p[i] = byte(rng.IntN(256))
			if i > 8 && rng.IntN(3) != 0 {
				p[i] = p[i-8] // some runs, so that the filters differ
			}
		}
	}
	pal := func(n int) color.Palette {
		p := make(color.Palette, n)
		for i := range p {
			p[i] = color.NRGBA{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}
		}
		return p
	}
	sizes := [][2]int{{1, 1}, {2, 3}, {7, 9}, {17, 33}, {64, 64}, {100, 37}, {255, 129}}
	for _, sz := range sizes {
		r := image.Rect(0, 0, sz[0], sz[1])
		imgs := map[string]image.Image{}
		g := image.NewGray(r)
		fill(g.Pix)
		imgs["gray"] = g
		g16 := image.NewGray16(r)
		fill(g16.Pix)
		imgs["gray16"] = g16
		n := image.NewNRGBA(r)
		fill(n.Pix)
		imgs["nrgba"] = n
		o := image.NewNRGBA(r)
		fill(o.Pix)
		for i := 3; i < len(o.Pix); i += 4 {
			o.Pix[i] = 255
		}
		imgs["opaque"] = o
		n64 := image.NewNRGBA64(r)
		fill(n64.Pix)
		imgs["nrgba64"] = n64
		o64 := image.NewRGBA64(r)
		fill(o64.Pix)
		for i := 6; i < len(o64.Pix); i += 8 {
			o64.Pix[i], o64.Pix[i+1] = 255, 255
		}
		imgs["opaque64"] = o64
		for _, np := range []int{2, 3, 4, 16, 17, 256} {
			p := image.NewPaletted(r, pal(np))
			fill(p.Pix)
			for i := range p.Pix {
				p.Pix[i] %= byte(min(np, 255))
			}
			imgs[fmt.Sprintf("paletted%d", np)] = p
		}
		for name, m := range imgs {
			for _, lvl := range []png.CompressionLevel{png.DefaultCompression, png.NoCompression, png.BestSpeed, png.BestCompression} {
				t.Run(fmt.Sprintf("%s/%dx%d/level=%d", name, sz[0], sz[1], lvl), func(t *testing.T) {
					var buf bytes.Buffer
					if err := (&png.Encoder{CompressionLevel: lvl}).Encode(&buf, m); err != nil {
						t.Fatal(err)
					}
					if !check(t, buf.Bytes()) {
						t.Fatal("image/png fails on its own output")
					}
				})
			}
		}
	}
}

// TestColourKinds: every colour type and bit depth, with and without tRNS,
// random filters, IDAT split into chunks of every size class, interlaced
// (image/png's fallback) or not.
func TestColourKinds(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 2))
	before := ReadStats()
	for _, k := range colourKinds {
		for _, trns := range []bool{false, true} {
			for _, ilace := range []byte{0, 1} {
				for _, sz := range [][2]int{{1, 1}, {3, 2}, {9, 7}, {33, 17}, {64, 64}} {
					name := fmt.Sprintf("ct=%d/depth=%d/trns=%v/interlace=%d/%dx%d", k.ct, k.depth, trns, ilace, sz[0], sz[1])
					t.Run(name, func(t *testing.T) {
						r := randomPNG(rng, sz[0], sz[1], k.ct, k.depth, trns, ilace)
						for _, split := range []int{0, 1, 7, 100} {
							r.split = split
							if !check(t, r.encode()) {
								t.Fatalf("split %d: image/png fails on a valid PNG", split)
							}
						}
					})
				}
			}
		}
	}
	after := ReadStats()
	if after.Fallback == before.Fallback || after.Native == before.Native {
		t.Errorf("stats %+v then %+v: want both counts to grow", before, after)
	}
}

// TestCorrupt: truncations at every length, single-byte changes at every
// position (CRC fixed up half of the time, so the change reaches the
// decoder), garbage after IEND and inside IDAT after the zlib stream.
func TestCorrupt(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 3))
	var inputs [][]byte
	inputs = append(inputs, emoji(t, 3)...)
	for _, k := range colourKinds {
		r := randomPNG(rng, 5, 4, k.ct, k.depth, rng.IntN(2) == 0, 0)
		r.split = rng.IntN(40)
		inputs = append(inputs, r.encode())
	}
	for i, b := range inputs {
		t.Run(fmt.Sprintf("input=%d/truncated", i), func(t *testing.T) {
			step := 1
			if raceEnabled {
				step = 7 // the race detector makes every length ten times slower
			}
			for n := 0; n < len(b); n += step {
				if check(t, b[:n]) && n < len(b)-12 {
					t.Fatalf("truncated to %d of %d bytes: both decode it", n, len(b))
				}
			}
		})
		t.Run(fmt.Sprintf("input=%d/changed", i), func(t *testing.T) {
			c := make([]byte, len(b))
			step := 1
			if raceEnabled {
				step = 7
			}
			for pos := 0; pos < len(b); pos += step {
				copy(c, b)
				c[pos] ^= byte(1 + rng.IntN(255))
				if rng.IntN(2) == 0 {
					fixCRCs(c)
				}
				check(t, c)
			}
		})
		t.Run(fmt.Sprintf("input=%d/after-IEND", i), func(t *testing.T) {
			if !check(t, append(bytes.Clone(b), "garbage after the end"...)) {
				t.Fatal("trailing bytes after IEND: want it decoded, as image/png does")
			}
		})
	}
}

// fixCRCs rewrites the CRC of every whole chunk of b.
func fixCRCs(b []byte) {
	pos := 8
	for pos+12 <= len(b) {
		n := int(uint32(b[pos])<<24 | uint32(b[pos+1])<<16 | uint32(b[pos+2])<<8 | uint32(b[pos+3]))
		if n < 0 || pos+12+n > len(b) {
			return
		}
		body := b[pos+4 : pos+8+n]
		c := appendChunk(nil, "", body)
		copy(b[pos+8+n:], c[len(c)-4:])
		pos += 12 + n
	}
}

// TestTrailingZlibBytes: bytes after the zlib stream inside the IDAT data
// are accepted exactly when image/png's 4 KiB read-ahead has taken them in.
func TestTrailingZlibBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 4))
	accepted, rejected := 0, 0
	for _, extra := range []int{1, 3, 4095, 4096, 4097, 9000} {
		for _, split := range []int{0, 4096, 5000, 8192} {
			t.Run(fmt.Sprintf("extra=%d/split=%d", extra, split), func(t *testing.T) {
				r := randomPNG(rng, 200, 200, 6, 8, false, 0)
				r.level = 0 // big stream, so that it spans blocks
				r.split = split
				r.afterZlib = make([]byte, extra)
				if check(t, r.encode()) {
					accepted++
				} else {
					rejected++
				}
			})
		}
	}
	if accepted == 0 || rejected == 0 {
		t.Errorf("accepted %d, rejected %d: want both cases", accepted, rejected)
	}
}

func TestChunkRules(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 5))
	base := randomPNG(rng, 6, 5, 3, 8, true, 0)
	valid := base.encode()
	// Split into chunks to reorder them.
	var chunks [][]byte
	for pos := 8; pos < len(valid); {
		n := int(uint32(valid[pos])<<24 | uint32(valid[pos+1])<<16 | uint32(valid[pos+2])<<8 | uint32(valid[pos+3]))
		chunks = append(chunks, valid[pos:pos+12+n])
		pos += 12 + n
	}
	// chunks: IHDR PLTE tRNS IDAT IEND
	unknown := appendChunk(nil, "teXt", []byte("hello"))
	idat0 := appendChunk(nil, "IDAT", nil)
	join := func(cs ...[]byte) []byte {
		b := []byte(pngHeader)
		for _, c := range cs {
			b = append(b, c...)
		}
		return b
	}
	ihdr, plte, trns, idat, iend := chunks[0], chunks[1], chunks[2], chunks[3], chunks[4]
	cases := []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"valid", valid, true},
		{"unknown-before-IHDR", join(unknown, ihdr, plte, trns, idat, iend), true},
		{"unknown-everywhere", join(ihdr, unknown, plte, unknown, trns, unknown, idat, unknown, iend), true},
		{"trailing-IDAT", join(ihdr, plte, trns, idat, idat0, idat, iend), true},
		{"no-PLTE", join(ihdr, idat, iend), false},
		{"tRNS-before-PLTE", join(ihdr, trns, plte, idat, iend), false},
		{"two-IHDR", join(ihdr, ihdr, plte, idat, iend), false},
		{"no-IEND", join(ihdr, plte, trns, idat), false},
		{"IEND-first", join(iend, ihdr, plte, idat), false},
		{"no-IDAT", join(ihdr, plte, iend), false},
		{"PLTE-after-IDAT", join(ihdr, plte, idat, plte, iend), false},
		{"empty", nil, false},
		{"signature-only", []byte(pngHeader), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := check(t, c.b); got != c.ok {
				t.Fatalf("decoded: %v, want %v", got, c.ok)
			}
		})
	}
}

func TestPixelLimit(t *testing.T) {
	r := randomPNG(rand.New(rand.NewPCG(1, 1)), 100, 50, 6, 8, false, 0)
	b := r.encode()
	for _, tc := range []struct {
		limit int64
		ok    bool
	}{{5000, true}, {4999, false}, {1, false}} {
		t.Run(fmt.Sprintf("limit=%d", tc.limit), func(t *testing.T) {
			_, err := Decode(b, tc.limit)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrTooManyPixels)) {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
		})
	}
	// A header claiming 2^31-1 squared pixels, with no data: rejected
	// without allocating.
	r = randomPNG(rand.New(rand.NewPCG(1, 1)), 1, 1, 6, 8, false, 0)
	b = r.encode()
	copy(b[16:24], []byte{0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff})
	fixCRCs(b)
	Decode(b, 1<<25) // warm the pool
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range 10 {
		if _, err := Decode(b, 1<<25); !errors.Is(err, ErrTooManyPixels) {
			t.Fatalf("err %v, want ErrTooManyPixels", err)
		}
	}
	runtime.ReadMemStats(&m1)
	if n := m1.TotalAlloc - m0.TotalAlloc; n > 10*1024 {
		t.Errorf("%d bytes allocated for 10 rejected headers", n)
	}
	if _, err := Decode(b, 0); err == nil {
		t.Error("limit 0: want an error")
	}
}

// TestUnfilter compares the unrolled filters with the spec's definitions on
// random rows of every bytes-per-pixel and length.
func TestUnfilter(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 6))
	ref := func(ft byte, cdat, pdat []byte, bpp int) {
		for i := range cdat {
			var a, c int
			if i >= bpp {
				a, c = int(cdat[i-bpp]), int(pdat[i-bpp])
			}
			b := int(pdat[i])
			var p int
			switch ft {
			case ftSub:
				p = a
			case ftUp:
				p = b
			case ftAverage:
				p = (a + b) / 2
			case ftPaeth:
				pp := a + b - c
				pa, pb, pc := abs(pp-a), abs(pp-b), abs(pp-c)
				switch {
				case pa <= pb && pa <= pc:
					p = a
				case pb <= pc:
					p = b
				default:
					p = c
				}
			}
			cdat[i] += byte(p)
		}
	}
	for _, bpp := range []int{1, 2, 3, 4, 6, 8} {
		for ft := byte(0); ft < 5; ft++ {
			t.Run(fmt.Sprintf("bpp=%d/filter=%d", bpp, ft), func(t *testing.T) {
				for n := 0; n < 70; n++ {
					c, p := make([]byte, n), make([]byte, n)
					for i := range c {
						c[i], p[i] = byte(rng.IntN(256)), byte(rng.IntN(256))
					}
					want := bytes.Clone(c)
					ref(ft, want, p, bpp)
					if err := unfilter(ft, c, p, bpp); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(c, want) {
						t.Fatalf("len %d: got %v, want %v", n, c, want)
					}
				}
			})
		}
	}
	if err := unfilter(5, make([]byte, 4), make([]byte, 4), 4); err == nil {
		t.Error("filter type 5: want an error")
	}
}

func TestAdler32(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 7))
	ref := func(p []byte) uint32 {
		s1, s2 := uint32(1), uint32(0)
		for _, x := range p {
			s1 = (s1 + uint32(x)) % 65521
			s2 = (s2 + s1) % 65521
		}
		return s2<<16 | s1
	}
	for _, n := range []int{0, 1, 7, 8, 9, 5551, 5552, 5553, 20000} {
		t.Run(fmt.Sprintf("len=%d", n), func(t *testing.T) {
			p := make([]byte, n)
			for i := range p {
				p[i] = byte(rng.IntN(256))
				if rng.IntN(2) == 0 {
					p[i] = 255
				}
			}
			// Whole, and in random pieces.
			if got, want := adler32(1, p), ref(p); got != want {
				t.Fatalf("adler32 %#x, want %#x", got, want)
			}
			s := uint32(1)
			for q := p; len(q) > 0; {
				k := min(len(q), 1+rng.IntN(300))
				s = adler32(s, q[:k])
				q = q[k:]
			}
			if want := ref(p); s != want {
				t.Fatalf("in pieces: %#x, want %#x", s, want)
			}
		})
	}
}

// TestAllocs: a decode allocates the image and little else once the pooled
// state is warm.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	b := emoji(t, 1)[0]
	Decode(b, testLimit)
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := Decode(b, testLimit); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 3 {
		t.Errorf("%v allocations per decode, want ≤ 3 (the image and its header)", allocs)
	}
}
