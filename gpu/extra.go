package gpu

import (
	"fmt"
	"math"
	"slices"
	"unsafe"

	"github.com/clipstream/clipstream/trainer/ops"
)

// Operations beyond ops.Backend that the CUDA trainer path uses: the fused
// optimizer, bf16 weight copies, gradient norms and image normalisation on
// the device.

func int32Bytes(v []int32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}

// AdamW holds one optimizer step's hyper-parameters (PyTorch's AdamW): the
// trainer's ops.AdamWArgs.
type AdamW = ops.AdamWArgs

// biasCorrections returns 1−β1ᵗ and 1−β2ᵗ.
func biasCorrections(h AdamW) (float32, float32) {
	t := float64(h.Step)
	return float32(1 - math.Pow(float64(h.Beta1), t)), float32(1 - math.Pow(float64(h.Beta2), t))
}

// AdamWStep updates params (fp32 master weights) from grads in one fused
// pass, with the moments m and v, all the same length (typically the flat
// parameter, gradient and moment buffers, or one contiguous group of them
// with its own weight decay). If params' buffer has a bf16 copy
// (EnableBF16Copy), the pass writes it too and it stays current.
func (b *Backend) AdamWStep(params, grads, m, v ops.Tensor, h AdamW) {
	a := b.args("AdamWStep")
	n := params.Len
	a.check(h.Step >= 1, "step %d, want ≥ 1", h.Step)
	p := a.out("params", params, -1)
	g, mp, vp := a.in("grads", grads, n), a.out("m", m, n), a.out("v", v, n)
	a.check(len(h.NoDecay) <= maxNoDecaySpans, "%d no-decay spans, at most %d", len(h.NoDecay), maxNoDecaySpans)
	for i, r := range h.NoDecay {
		a.check(r[0] >= 0 && r[0] < r[1] && r[1] <= n && (i == 0 || h.NoDecay[i-1][1] <= r[0]),
			"no-decay span %d [%d,%d) not sorted, disjoint and within the %d parameters", i, r[0], r[1], n)
	}
	if !a.ok() {
		return
	}
	d := params.Buf.(*deviceBuffer)
	var p16 devicePtr
	if d.bf16 != 0 {
		p16 = d.bf16 + devicePtr(2*params.Off)
		a.keepCopy = d // the pass writes the copy too: current stays current
	}
	bc1, bc2 := biasCorrections(h)
	gs := h.GradScale
	if gs == 0 {
		gs = 1
	}
	nd := slices.Clone(h.NoDecay)
	b.run(a, func() error {
		if n == 0 {
			return nil
		}
		table, err := b.noDecayTable(nd)
		if err != nil {
			return err
		}
		dims := b.reduceDims(int64(n))
		dims.shmem = uint32(16 * len(nd))
		return b.launch("adamw", dims, p, mp, vp, g, p16, int64(n), h.LR, h.Beta1, h.Beta2, h.Eps, h.WeightDecay, bc1, bc2, gs, table, len(nd))
	})
}

// maxNoDecaySpans bounds AdamWStep's span table, which each block keeps in
// shared memory (16 bytes a span, within the 48 KiB a launch may use).
const maxNoDecaySpans = 3000

// noDecayTable returns the device copy of the no-decay spans as int64
// pairs, uploading them only when they differ from the last step's. Runs
// on the owner.
func (b *Backend) noDecayTable(nd [][2]int) (devicePtr, error) {
	if len(nd) == 0 {
		return 0, nil
	}
	if b.ndTable != 0 && slices.Equal(nd, b.ndSpans) {
		return b.ndTable, nil
	}
	p, err := b.scratchPtr("adamw_nodecay", int64(16*len(nd)))
	if err != nil {
		return 0, err
	}
	raw := make([]int64, 0, 2*len(nd))
	for _, r := range nd {
		raw = append(raw, int64(r[0]), int64(r[1]))
	}
	if err := b.upload(p, unsafe.Slice((*byte)(unsafe.Pointer(&raw[0])), 8*len(raw))); err != nil {
		return 0, err
	}
	b.ndTable, b.ndSpans = p, nd
	return p, nil
}

// EnableBF16Copy gives buf a bf16 copy of its values, which BF16-mode
// GEMMs read instead of casting the weights at every product, and which
// AdamWStep keeps current. Any other write to buf (Upload, Zero, an op
// output) marks the copy stale until SyncBF16.
func (b *Backend) EnableBF16Copy(buf ops.Buffer) error {
	d, ok := buf.(*deviceBuffer)
	if !ok || d.owner != b {
		return fmt.Errorf("%w: EnableBF16Copy of a buffer this backend did not allocate (%T)", ops.ErrBuffer, buf)
	}
	err := b.dev.Do(func() error {
		if d.bf16 == 0 && d.n > 0 {
			p, err := b.dev.drv.memAlloc(uint64(2 * d.n))
			if err != nil {
				return err
			}
			d.bf16 = p
		}
		return nil
	})
	if err != nil {
		return err
	}
	return b.SyncBF16(buf)
}

// SyncBF16 recasts buf's bf16 copy from its fp32 values.
func (b *Backend) SyncBF16(buf ops.Buffer) error {
	d, ok := buf.(*deviceBuffer)
	if !ok || d.owner != b || d.bf16 == 0 {
		return fmt.Errorf("%w: SyncBF16 of a buffer without a bf16 copy", ops.ErrBuffer)
	}
	return b.dev.Do(func() error {
		if d.n > 0 {
			if err := b.launch("f32_to_bf16_kernel", elementwise(int64(d.n)), d.bf16, d.ptr, int64(d.n)); err != nil {
				return err
			}
		}
		d.stale = false
		return nil
	})
}

// reduceDims launches a grid-stride reduction over n items with at most 8
// blocks per SM: each block adds its partial sum once (an atomic), so a
// grid of one block per 256 items (151 M gradients: 590,000 blocks) would
// mostly wait on atomics and block-wide barriers.
func (b *Backend) reduceDims(n int64) launchDims {
	return launchDims{grid: [3]uint32{gridFor(n, blockSize, 8*max(b.dev.SMs, 1)), 1, 1}, block: [3]uint32{blockSize, 1, 1}}
}

// SumSquares returns Σ t² (the squared gradient norm, for clipping). It
// waits for the device.
func (b *Backend) SumSquares(t ops.Tensor) float32 {
	a := b.args("SumSquares")
	x := a.in("t", t, -1)
	var out float32
	b.runSync(a, func() error {
		s, err := b.scratchPtr("sumsq", 4)
		if err != nil {
			return err
		}
		drv := b.dev.drv
		if err := drv.memsetD32(s, 0, 1, b.compute); err != nil {
			return err
		}
		if t.Len > 0 {
			if err := b.launch("sum_squares", b.reduceDims(int64(t.Len)), s, x, int64(t.Len)); err != nil {
				return err
			}
		}
		slot, err := b.slot()
		if err != nil {
			return err
		}
		if err := drv.memcpyDtoH(slot.p, s, 4, b.compute); err != nil {
			return err
		}
		if err := drv.streamSynchronize(b.compute); err != nil {
			return err
		}
		out = *(*float32)(slot.p)
		return nil
	})
	return out
}

// NormalizeImages uploads N images of S×S×3 uint8 (HWC, RGB: 4× fewer
// bytes over PCIe than floats) and writes them to out as N×3×S×S float32
// (NCHW) normalised by mean and std: (pix/255 − mean)/std, the loader's
// transform.
func (b *Backend) NormalizeImages(out ops.Tensor, pix []uint8, N, S int, mean, std [3]float32) {
	a := b.args("NormalizeImages")
	a.check(len(pix) == N*S*S*3, "%d pixel bytes for %d images of %d×%d×3", len(pix), N, S, S)
	sc, sh := pixelScale(a, mean, std)
	o := a.out("out", out, N*3*S*S)
	b.runSync(a, func() error {
		p, err := b.uploadPixels(pix)
		if err != nil || p == 0 {
			return err
		}
		return b.launch("image_normalize", elementwise(int64(N*3*S*S)), o, p, N, S, sc[0], sc[1], sc[2], sh[0], sh[1], sh[2])
	})
}

// pixelScale checks std and returns the per-channel scale 1/(255·std)
// and shift −mean/std that normalise a pixel value.
func pixelScale(a *args, mean, std [3]float32) (sc, sh [3]float32) {
	for c := range 3 {
		a.check(std[c] > 0, "std[%d] = %g", c, std[c])
		sc[c] = 1 / (255 * std[c])
		sh[c] = -mean[c] / std[c]
	}
	return sc, sh
}

// uploadPixels copies pix into the "pixels" scratch buffer (0 for none).
func (b *Backend) uploadPixels(pix []uint8) (devicePtr, error) {
	if len(pix) == 0 {
		return 0, nil
	}
	p, err := b.scratchPtr("pixels", int64(len(pix)))
	if err != nil {
		return 0, err
	}
	return p, b.upload(p, pix)
}

// UploadPatches uploads B images of uint8 [3,S,S] (NCHW, the loader's
// Uint8 output: a quarter of the bytes of float32 images) and writes them
// to dst as the vision tower's patch rows [B·(S/p)², 3·p·p], each value
// normalised to (pix/255 − mean[c])/std[c], in one kernel
// (model.PatchUploader).
func (b *Backend) UploadPatches(dst ops.Tensor, pix []uint8, B, S, p int, mean, std [3]float32) {
	a := b.args("UploadPatches")
	a.check(B >= 0 && S > 0 && p > 0 && S%p == 0, "B %d, S %d, p %d: want S a multiple of p", B, S, p)
	a.check(len(pix) == B*3*S*S, "%d pixel bytes for %d images of 3×%d×%d", len(pix), B, S, S)
	sc, sh := pixelScale(a, mean, std)
	o := a.out("dst", dst, len(pix))
	b.runSync(a, func() error {
		patches := func(d devicePtr) error {
			return b.launch("image_patches", elementwise(int64(len(pix))), o, d, B, S, p, sc[0], sc[1], sc[2], sh[0], sh[1], sh[2])
		}
		if px := b.prefetched(pix); px != nil {
			drv := b.dev.drv
			px.src = 0
			if err := drv.streamWaitEvent(b.compute, px.ready); err != nil {
				return err
			}
			if err := patches(px.ptr); err != nil {
				return err
			}
			px.freeSet = true
			b.pixHits++
			return drv.eventRecord(px.free, b.compute)
		}
		d, err := b.uploadPixels(pix)
		if err != nil || d == 0 {
			return err
		}
		return patches(d)
	})
}

// PrefetchPixels starts the upload of a batch's uint8 images, the pix of
// a later UploadPatches, without waiting for the work already queued: the
// copy stream moves them while the compute stream runs the current step
// (model.PixelPrefetcher). It returns once pix is in pinned memory. Two
// prefetches may be pending; a third replaces the older. The next
// UploadPatches of the same slice (same first byte, same length) uses
// the copy, so pix must not change in between; any other slice is
// uploaded as before. With Options.NoPrefetch it does nothing.
func (b *Backend) PrefetchPixels(pix []uint8) {
	a := b.args("PrefetchPixels")
	if len(pix) == 0 || b.opts.NoPrefetch {
		return
	}
	b.runSync(a, func() error {
		drv := b.dev.drv
		px := &b.pixels[b.pixNext]
		b.pixNext ^= 1
		px.src = 0
		if px.size < int64(len(pix)) {
			if px.ptr != 0 {
				// Both streams may still use the old buffer.
				if err := drv.ctxSynchronize(); err != nil {
					return err
				}
				if err := drv.memFree(px.ptr); err != nil {
					return err
				}
				px.ptr, px.size = 0, 0
			}
			p, err := drv.memAlloc(uint64(len(pix)))
			if err != nil {
				return fmt.Errorf("gpu: pixel buffer of %d bytes: %w", len(pix), err)
			}
			px.ptr, px.size, px.freeSet = p, int64(len(pix)), false
		}
		if px.freeSet {
			// The kernel of the last batch in this buffer must have read it.
			if err := drv.streamWaitEvent(b.copy, px.free); err != nil {
				return err
			}
		}
		if _, err := b.toDevice(px.ptr, pix, b.copy); err != nil {
			return err
		}
		if err := drv.eventRecord(px.ready, b.copy); err != nil {
			return err
		}
		px.src, px.n, px.sample = uintptr(unsafe.Pointer(unsafe.SliceData(pix))), len(pix), pixelSample(pix)
		return nil
	})
}

// prefetched returns the pixel buffer holding a pending prefetch of pix,
// or nil. The slice must be the prefetched one (first byte and length)
// and still hold 64 of its bytes, spread over it, as they were: a prefetch
// left pending (a run that stopped) whose memory a later batch reuses is
// then uploaded afresh instead of read stale. Runs on the owner.
func (b *Backend) prefetched(pix []uint8) *pixelBuf {
	src := uintptr(unsafe.Pointer(unsafe.SliceData(pix)))
	for i := range b.pixels {
		px := &b.pixels[i]
		if px.src == 0 || px.src != src || px.n != len(pix) {
			continue
		}
		if px.sample != pixelSample(pix) {
			px.src = 0
			return nil
		}
		return px
	}
	return nil
}

// pixelSample returns 64 bytes spread evenly over pix.
func pixelSample(pix []uint8) (s [64]byte) {
	if len(pix) == 0 {
		return s
	}
	for i := range s {
		s[i] = pix[i*len(pix)/len(s)]
	}
	return s
}

// roundTripBF16 sets dst to src cast to bf16 and back (a check of the
// cast kernels).
func (b *Backend) roundTripBF16(dst, src ops.Tensor) {
	a := b.args("roundTripBF16")
	x := a.in("src", src, -1)
	o := a.out("dst", dst, src.Len)
	b.run(a, func() error {
		n := int64(src.Len)
		if n == 0 {
			return nil
		}
		s, err := b.scratchPtr("roundtrip16", 2*n)
		if err != nil {
			return err
		}
		if err := b.launch("f32_to_bf16_kernel", elementwise(n), s, x, n); err != nil {
			return err
		}
		return b.launch("bf16_to_f32_kernel", elementwise(n), o, s, n)
	})
}

// The CUDA backend runs the optimizer step and keeps bf16 weight copies
// itself.
var (
	_ ops.Optimizer  = (*Backend)(nil)
	_ ops.BF16Copier = (*Backend)(nil)
)
