package model

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/clipstream/clipstream/trainer/ops"
)

// TestPatchify: every image value lands at its place in the patch rows
// (values encode their position, so drops and duplicates show), for
// batches cut across goroutines and not.
func TestPatchify(t *testing.T) {
	for _, c := range []struct{ B, S, p int }{{1, 32, 8}, {3, 64, 8}, {40, 96, 32}, {17, 224, 32}} {
		t.Run(fmt.Sprintf("B=%d/S=%d/p=%d", c.B, c.S, c.p), func(t *testing.T) {
			B, S, p := c.B, c.S, c.p
			img := make([]float32, B*3*S*S)
			for i := range img {
				img[i] = float32(i)
			}
			dst := make([]float32, len(img))
			for i := range dst {
				dst[i] = -1
			}
			patchify(dst, img, B, S, p)
			G := S / p
			for b := range B {
				for c := range 3 {
					for y := range S {
						for x := range S {
							want := img[((b*3+c)*S+y)*S+x]
							row := (b*G+y/p)*G + x/p
							got := dst[row*3*p*p+(c*p+y%p)*p+x%p]
							if got != want {
								t.Fatalf("image %d channel %d pixel (%d,%d): %v in its patch slot, want %v", b, c, y, x, got, want)
							}
						}
					}
				}
			}
		})
	}
}

// hostPatches is the CPU backend as a PatchUploader, through the host
// reference patchifyPixels: a test double for a device backend's
// UploadPatches (the CUDA backend's is checked against the same reference
// on a GPU). It counts its calls.
type hostPatches struct {
	*ops.CPU
	calls int
}

func (h *hostPatches) UploadPatches(dst ops.Tensor, pix []uint8, B, S, p int, mean, std [3]float32) {
	h.calls++
	buf := make([]float32, dst.Len)
	patchifyPixels(buf, pix, B, S, p, mean, std)
	h.Upload(dst, buf)
}

// TestForwardPixels: uint8 pixels give the loss and gradients of the float
// images they normalise to, bit for bit, on the host path and through a
// backend that uploads the patches itself.
func TestForwardPixels(t *testing.T) {
	const B = 5
	seed := uint64(42)
	rng := rand.New(rand.NewPCG(seed, 7))
	cfg, err := LookupConfig("tiny")
	if err != nil {
		t.Fatal(err)
	}
	S := cfg.Vision.ImageSize
	pix := make([]uint8, B*3*S*S)
	for i := range pix {
		pix[i] = uint8(rng.IntN(256))
	}
	img := make([]float32, len(pix))
	for i, x := range pix {
		c := i / (S * S) % 3
		img[i] = float32(x)*(1/(255*CLIPStd[c])) + -CLIPMean[c]/CLIPStd[c]
	}
	tokens := tokenize(t, cfg, B)
	run := func(be ops.Backend, fwd func(m *Model) (float32, error)) (float32, []float32) {
		m, err := New(cfg, be, 3)
		if err != nil {
			t.Fatal(err)
		}
		m.ZeroGrad()
		loss, err := fwd(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Backward(); err != nil {
			t.Fatal(err)
		}
		return loss, m.download(m.Grads())
	}
	wantLoss, wantGrads := run(ops.NewCPU(), func(m *Model) (float32, error) { return m.Forward(img, tokens, B) })
	hp := &hostPatches{CPU: ops.NewCPU()}
	for _, c := range []struct {
		name string
		be   ops.Backend
	}{{"host", ops.NewCPU()}, {"uploader", hp}} {
		loss, grads := run(c.be, func(m *Model) (float32, error) { return m.ForwardPixels(pix, tokens, B) })
		if loss != wantLoss || relErr(grads, wantGrads) != 0 {
			t.Errorf("%s: loss %v (float images %v), gradient rel. err %g (seed %d)", c.name, loss, wantLoss, relErr(grads, wantGrads), seed)
		}
	}
	if hp.calls != 1 {
		t.Errorf("the PatchUploader was called %d times, want 1", hp.calls)
	}
	m := newTestModel(t, "tiny", 1)
	if _, err := m.ForwardPixels(pix[1:], tokens, B); err == nil {
		t.Error("a short pixel buffer was accepted")
	}
}
