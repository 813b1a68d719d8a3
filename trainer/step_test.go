package trainer

import (
	"bytes"
	"math"
	"slices"
	"testing"
	"unsafe"

	"github.com/clipstream/clipstream/loader"
	"github.com/clipstream/clipstream/trainer/model"
	"github.com/clipstream/clipstream/trainer/ops"
)

// ownStep is the CPU backend with an optimizer step of its own
// (ops.Optimizer), doing the arithmetic of the CUDA backend's fused adamw
// kernel (gpu/kernels/optim.cu) on the host. It is a test double for a
// device backend, so that the trainer's device path (moments kept by the
// backend, one pass per weight-decay span, clipping folded into the
// gradient scale, the logit-scale clamp, moment copies at checkpoints
// and resumes) is exercised without a GPU; the real implementation goes
// through the same comparison with the CPU on a GPU (scripts/gpu-check.sh).
type ownStep struct{ *ops.CPU }

func host(t ops.Tensor) []float32 {
	return t.Buf.(*ops.HostBuffer).Data[t.Off : t.Off+t.Len]
}

func (ownStep) AdamWStep(params, grads, m, v ops.Tensor, h ops.AdamWArgs) {
	p, g, mm, vv := host(params), host(grads), host(m), host(v)
	bc1 := float32(1 - math.Pow(float64(h.Beta1), float64(h.Step)))
	bc2 := float32(1 - math.Pow(float64(h.Beta2), float64(h.Step)))
	sbc2 := float32(math.Sqrt(float64(bc2)))
	gs := h.GradScale
	if gs == 0 {
		gs = 1
	}
	for i := range p {
		gi := g[i] * gs
		wd := h.WeightDecay
		if !h.Decays(i) {
			wd = 0
		}
		w := p[i] * (1 - h.LR*wd)
		mi := h.Beta1*mm[i] + (1-h.Beta1)*gi
		vi := h.Beta2*vv[i] + (1-h.Beta2)*gi*gi
		w -= (h.LR / bc1) * mi / (float32(math.Sqrt(float64(vi)))/sbc2 + h.Eps)
		mm[i], vv[i], p[i] = mi, vi, w
	}
}

func (ownStep) SumSquares(t ops.Tensor) float32 {
	var s float32
	for _, x := range host(t) {
		s += x * x
	}
	return s
}

// TestDeviceStepMatchesHost: the same run on the CPU (the host AdamW,
// checked against PyTorch) and on a backend with its own step agree step
// by step, with accumulation and clipping on.
func TestDeviceStepMatchesHost(t *testing.T) {
	train, _ := fixtureData(t)
	losses := map[string][]float64{}
	for _, be := range []ops.Backend{ops.NewCPU(), ownStep{ops.NewCPU()}} {
		name := "host"
		if _, ok := be.(ops.Optimizer); ok {
			name = "device"
		}
		cfg := resumeConfig(train, t.TempDir())
		cfg.Steps, cfg.CheckpointEvery, cfg.Backend = 6, 0, be
		res, err := Run(t.Context(), cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		losses[name] = res.Losses
	}
	h, d := losses["host"], losses["device"]
	if len(h) != 6 || len(d) != 6 {
		t.Fatalf("losses: host %v, device %v", h, d)
	}
	for i := range h {
		if rel := math.Abs(d[i]-h[i]) / math.Abs(h[i]); rel > 1e-4 || math.IsNaN(d[i]) {
			t.Errorf("step %d: device-path loss %.7f, host %.7f (rel %.1e)", i+1, d[i], h[i], rel)
		}
	}
	t.Logf("host %v\ndevice %v", h, d)
}

// TestDeviceStepResume: on the device path, a run checkpointed at step 3
// and resumed from there matches the uninterrupted run bit for bit: the
// moments went to the host for the checkpoint and back to the backend.
func TestDeviceStepResume(t *testing.T) {
	train, _ := fixtureData(t)
	full := resumeConfig(train, "file://"+t.TempDir())
	full.Steps, full.CheckpointEvery, full.Backend = 6, 0, ownStep{ops.NewCPU()}
	ref, err := Run(t.Context(), full)
	if err != nil {
		t.Fatal(err)
	}
	run := "file://" + t.TempDir()
	first := resumeConfig(train, run)
	first.Steps, first.CheckpointEvery, first.Backend = 6, 3, ownStep{ops.NewCPU()}
	if _, err := Run(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	again := resumeConfig(train, "file://"+t.TempDir())
	again.Steps, again.CheckpointEvery, again.Backend = 6, 0, ownStep{ops.NewCPU()}
	again.Resume = run + "/" + StepDir(3)
	res, err := Run(t.Context(), again)
	if err != nil {
		t.Fatal(err)
	}
	if res.StartStep != 3 || len(res.Losses) != 3 {
		t.Fatalf("resumed at %d with %d losses, want 3 and 3", res.StartStep, len(res.Losses))
	}
	for i, l := range res.Losses {
		if want := ref.Losses[3+i]; math.Float64bits(l) != math.Float64bits(want) {
			t.Errorf("step %d: resumed loss %v, uninterrupted %v", 4+i, l, want)
		}
	}
}

// TestDeviceStepClampsLogitScale: a logit scale above ln 100 is clamped
// by the step on the device path too.
func TestDeviceStepClampsLogitScale(t *testing.T) {
	be := ownStep{ops.NewCPU()}
	mcfg, err := model.LookupConfig("tiny")
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(mcfg, be, 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newStepper(be, m, DefaultAdamW(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if s.dev == nil {
		t.Fatal("a backend with its own step took the host path")
	}
	p := make([]float32, m.NumParams())
	copy(p, host(m.Params()))
	p[s.logitIx] = 5
	if err := m.SetParams(p); err != nil {
		t.Fatal(err)
	}
	m.ZeroGrad()
	_, scale, err := s.apply(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(scale-100) > 1e-3 {
		t.Errorf("logit scale after the step %v, want 100 (clamped)", scale)
	}
	if got := host(m.Params())[s.logitIx]; float64(got) != float64(float32(MaxLogitScale)) {
		t.Errorf("stored logit scale %v, want ln 100 = %v", got, float32(MaxLogitScale))
	}
}

// pixelStep is ownStep that also takes the images as uint8 pixels
// (model.PatchUploader), normalising and cutting them into patch rows on
// the host as the CUDA backend's image_patches kernel does on the device:
// a test double for the trainer's uint8 path.
type pixelStep struct {
	ownStep
	calls *int
}

func (p pixelStep) UploadPatches(dst ops.Tensor, pix []uint8, B, S, P int, mean, std [3]float32) {
	*p.calls++
	out := host(dst)
	G, pd := S/P, 3*P*P
	for b := range B {
		for c := range 3 {
			sc, sh := 1/(255*std[c]), -mean[c]/std[c]
			for y := range S {
				for x := range S {
					out[((b*G+y/P)*G+x/P)*pd+(c*P+y%P)*P+x%P] = float32(pix[((b*3+c)*S+y)*S+x])*sc + sh
				}
			}
		}
	}
}

// TestPixelsPath: with a backend that takes uint8 pixels, the trainer
// has the loader deliver uint8 batches and the run follows the float
// path's trajectory up to the rounding of the pixels to bytes.
func TestPixelsPath(t *testing.T) {
	if loader.CLIPMean != model.CLIPMean || loader.CLIPStd != model.CLIPStd {
		t.Fatalf("the loader normalises with %v/%v, the model with %v/%v", loader.CLIPMean, loader.CLIPStd, model.CLIPMean, model.CLIPStd)
	}
	train, _ := fixtureData(t)
	calls := 0
	var losses [2][]float64
	for i, be := range []ops.Backend{ownStep{ops.NewCPU()}, pixelStep{ownStep{ops.NewCPU()}, &calls}} {
		cfg := resumeConfig(train, t.TempDir())
		cfg.Steps, cfg.CheckpointEvery, cfg.Backend = 6, 0, be
		res, err := Run(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		losses[i] = res.Losses
	}
	if calls != 12 { // 6 steps of 2 micro-batches
		t.Errorf("UploadPatches called %d times, want 12", calls)
	}
	for i := range losses[0] {
		if rel := math.Abs(losses[1][i]-losses[0][i]) / losses[0][i]; !(rel < 1e-3) {
			t.Errorf("step %d: uint8-path loss %v, float path %v (rel %.1e)", i+1, losses[1][i], losses[0][i], rel)
		}
	}
	t.Logf("float %v\nuint8 %v", losses[0], losses[1])
}

// prefetchStep is pixelStep that also takes early uploads
// (model.PixelPrefetcher), as the CUDA backend's copy stream does. It
// keeps a copy of each prefetched batch and, when UploadPatches gets the
// same slice, checks that its bytes did not change in between (the
// trainer must hold the batch until its step).
type prefetchStep struct {
	pixelStep
	tally *prefetchTally
}

type prefetchTally struct {
	pending             map[*uint8][]uint8
	hits, misses, stale int
}

func (p prefetchStep) PrefetchPixels(pix []uint8) {
	p.tally.pending[unsafe.SliceData(pix)] = slices.Clone(pix)
}

func (p prefetchStep) UploadPatches(dst ops.Tensor, pix []uint8, B, S, P int, mean, std [3]float32) {
	k := unsafe.SliceData(pix)
	switch was, ok := p.tally.pending[k]; {
	case !ok:
		p.tally.misses++
	case !bytes.Equal(was, pix):
		p.tally.stale++
	default:
		p.tally.hits++
	}
	delete(p.tally.pending, k)
	p.pixelStep.UploadPatches(dst, pix, B, S, P, mean, std)
}

// TestPixelPrefetch: the trainer takes each next batch during the
// backward and prefetches its pixels. The run is bit for bit the run
// without prefetching, every batch but the first of each epoch was
// prefetched, and no prefetched batch changed before its step (the
// checkpoints in between included). An epoch is 2.5 steps, so epochs
// change both within a step and between two.
func TestPixelPrefetch(t *testing.T) {
	items, _ := split(t, 0)
	train := t.TempDir() + "/train"
	const samples, micro, steps = 44, 8, 8
	writeDataset(t, train, items[:samples], 16, nil)
	tally := &prefetchTally{pending: map[*uint8][]uint8{}}
	var calls [2]int
	var losses [2][]float64
	for i, be := range []ops.Backend{
		pixelStep{ownStep{ops.NewCPU()}, &calls[0]},
		prefetchStep{pixelStep{ownStep{ops.NewCPU()}, &calls[1]}, tally},
	} {
		cfg := resumeConfig(train, t.TempDir())
		cfg.Steps, cfg.CheckpointEvery, cfg.Backend = steps, 3, be
		if cfg.MicroBatch != micro || cfg.Batch != 2*micro {
			t.Fatalf("batch %d of %d, want 2 micro-batches of %d", cfg.Batch, cfg.MicroBatch, micro)
		}
		res, err := Run(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		losses[i] = res.Losses
	}
	if !slices.Equal(losses[0], losses[1]) {
		t.Errorf("losses with prefetching %v, without %v", losses[1], losses[0])
	}
	uploads := 2 * steps
	perEpoch := samples / micro // the tail is dropped
	starts := (uploads + perEpoch - 1) / perEpoch
	t.Logf("%d uploads: %d prefetched, %d not, %d changed", calls[1], tally.hits, tally.misses, tally.stale)
	if calls[1] != uploads || tally.hits+tally.misses+tally.stale != calls[1] {
		t.Errorf("%d uploads (%d prefetched, %d not, %d changed), want %d", calls[1], tally.hits, tally.misses, tally.stale, uploads)
	}
	if tally.stale != 0 {
		t.Errorf("%d prefetched batches changed before their step", tally.stale)
	}
	if tally.misses != starts {
		t.Errorf("%d uploads were not prefetched, want %d (the first of each of the run's epochs)", tally.misses, starts)
	}
	if len(tally.pending) != 0 {
		t.Errorf("%d prefetches left unused, want none (the last step takes no next batch)", len(tally.pending))
	}
}
