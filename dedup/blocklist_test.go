package dedup

import (
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func TestBlocklist(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	stored := []PHash{balancedHash(r), balancedHash(r), balancedHash(r)}
	b := NewBlocklist(stored, 4)
	for _, tc := range []struct {
		name  string
		h     PHash
		match bool
		dist  int
	}{
		{"exact", stored[1], true, 0},
		{"radius", flipBits(r, stored[2], 4), true, 4},
		{"outside", flipBits(r, stored[0], 5), false, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, d := b.Match(tc.h)
			// "outside" may land nearer another stored hash by chance;
			// balanced random hashes are ~32 apart, so not within 5.
			if m != tc.match || d != tc.dist {
				t.Fatalf("Match = %v, %d; want %v, %d", m, d, tc.match, tc.dist)
			}
		})
	}
}

// TestBlocklistFromFiles: an evaluation image, and the same image saved
// again, are blocked; a non-image file is skipped and counted.
func TestBlocklistFromFiles(t *testing.T) {
	dir := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), uint8((x * y) % 256), 255})
		}
	}
	f, err := os.Create(filepath.Join(dir, "eval.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*"))
	b, skipped, err := BlocklistFromFiles(paths, 4)
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != 1 || skipped != 1 {
		t.Fatalf("len %d skipped %d; want 1 and 1", b.Len(), skipped)
	}
	h, err := ComputePHash(img)
	if err != nil {
		t.Fatal(err)
	}
	if m, d := b.Match(h); !m || d != 0 {
		t.Fatalf("the evaluation image itself: match %v distance %d", m, d)
	}
	if _, _, err := BlocklistFromFiles([]string{filepath.Join(dir, "README.txt")}, 4); err == nil {
		t.Fatal("a set with no image must be an error")
	}
	if _, _, err := BlocklistFromFiles([]string{filepath.Join(dir, "missing.png")}, 4); err == nil {
		t.Fatal("a missing file must be an error")
	}
}
