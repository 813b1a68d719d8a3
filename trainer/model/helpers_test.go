package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/clipstream/clipstream/trainer/ops"
	"github.com/clipstream/clipstream/trainer/tokenizer"
)

func newTestModel(t testing.TB, name string, seed uint64) *Model {
	t.Helper()
	cfg, err := LookupConfig(name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, ops.NewCPU(), seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// randomImages returns B images of N(0,1) values, as normalised pixels.
func randomImages(rng *rand.Rand, cfg Config, B int) []float32 {
	img := make([]float32, B*3*cfg.Vision.ImageSize*cfg.Vision.ImageSize)
	for i := range img {
		img[i] = float32(rng.NormFloat64())
	}
	return img
}

var testCaptions = []string{
	"a photo of a cat sitting on a red sofa",
	"Vintage bicycle leaning against a brick wall, 1970s",
	"diagram: the water cycle (evaporation → condensation → precipitation)",
	"two dogs",
	"Sunset over the harbour in Marseille with fishing boats and gulls, long exposure, golden hour",
	"",
}

// tokenize runs the real CLIP tokenizer on B captions (cycling testCaptions).
func tokenize(t testing.TB, cfg Config, B int) []int32 {
	t.Helper()
	tok, err := tokenizer.New()
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int32, B*cfg.Text.Context)
	for b := range B {
		if err := tok.TokenizeTo(ids[b*cfg.Text.Context:(b+1)*cfg.Text.Context], testCaptions[b%len(testCaptions)]); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// relErr returns ‖a − b‖ / ‖b‖ (‖a − b‖ when b is 0).
func relErr(a, b []float32) float64 {
	var d, n float64
	for i := range a {
		x := float64(a[i]) - float64(b[i])
		d += x * x
		n += float64(b[i]) * float64(b[i])
	}
	if n == 0 {
		return math.Sqrt(d)
	}
	return math.Sqrt(d / n)
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}
