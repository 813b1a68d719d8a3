package gpu

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/clipstream/clipstream/trainer/ops"
)

// Precision selects how the GEMMs run. Activations, gradients, master
// weights and every non-GEMM kernel are fp32 in both; the op interface
// speaks float32 tensors.
type Precision int

const (
	// FP32 runs GEMMs in full fp32 (CUBLAS_COMPUTE_32F_PEDANTIC: no TF32,
	// no reduced-precision reductions). The op checks hold it to 1e-5 of
	// the CPU reference.
	FP32 Precision = iota
	// BF16 runs GEMMs on bf16 operands with fp32 accumulation and fp32
	// output: operands are cast to bf16 scratch before each GEMM, except a
	// weight buffer given a bf16 copy (EnableBF16Copy), which AdamW keeps
	// current. Checked to 1e-2.
	BF16
)

func (p Precision) String() string {
	if p == BF16 {
		return "bf16"
	}
	return "fp32"
}

// Options configures New.
type Options struct {
	Ordinal   int       // the device, 0 by default
	Precision Precision // FP32 by default
	// CacheDir holds compiled kernels, keyed by source hash, architecture
	// and NVRTC version. "" means CLIPSTREAM_CACHE/kernels or the user
	// cache directory's clipstream/kernels.
	CacheDir string

	// Synchronous makes every op wait until the owner goroutine has
	// launched it (Device.Do), as before asynchronous submission: slower,
	// for bisecting a failure (CLIPSTREAM_GPU_SYNC=1, see WithEnv).
	Synchronous bool
	// NoShadows turns off the bf16 activation shadows and cached casts:
	// every BF16 GEMM operand is cast into scratch before each GEMM, for
	// bisecting a failure (CLIPSTREAM_GPU_NO_SHADOWS=1).
	NoShadows bool
	// NoPrefetch makes PrefetchPixels do nothing, so every batch's pixels
	// are uploaded by UploadPatches after the work before them, for
	// bisecting a failure (CLIPSTREAM_GPU_NO_PREFETCH=1).
	NoPrefetch bool
}

// WithEnv returns o with Synchronous, NoShadows and NoPrefetch set from
// the environment variables CLIPSTREAM_GPU_SYNC, CLIPSTREAM_GPU_NO_SHADOWS
// and CLIPSTREAM_GPU_NO_PREFETCH ("1" or "true"), read through getenv
// (os.Getenv): the switches the GPU check script flips to localise a
// failure without rebuilding.
func (o Options) WithEnv(getenv func(string) string) Options {
	on := func(name string) bool { v := getenv(name); return v == "1" || v == "true" }
	o.Synchronous = o.Synchronous || on("CLIPSTREAM_GPU_SYNC")
	o.NoShadows = o.NoShadows || on("CLIPSTREAM_GPU_NO_SHADOWS")
	o.NoPrefetch = o.NoPrefetch || on("CLIPSTREAM_GPU_NO_PREFETCH")
	return o
}

// stagingBytes is the size of each of the two pinned host buffers uploads
// and downloads go through (so 2 × 32 MiB of pinned memory); larger
// transfers are cut into chunks of this size.
const stagingBytes = 32 << 20

// Backend is the CUDA implementation of ops.Backend. Ops are checked on
// the host, then queued for the Device's owner goroutine, which launches
// them on one compute stream; they return before the owner has launched
// them (Device.Go), unless they touch host memory or Options.Synchronous
// is set. Err synchronises and reports the first error, sticky as on the
// CPU: after one, later ops do nothing. Like the CPU backend it is for one
// goroutine at a time.
type Backend struct {
	dev  *Device
	opts Options

	blas     *cublas
	handle   uintptr
	compute  cuStream
	copy     cuStream
	upDone   cuEvent // recorded on compute before a safe upload
	modules  []cuModule
	fns      map[string]cuFunction
	params   map[string][]int // each kernel's parameter sizes, from its PTX
	staging  [2]pinned
	next     int         // staging slot to use next
	pixels   [2]pixelBuf // double-buffered prefetched images (PrefetchPixels)
	pixNext  int         // the pixel buffer the next prefetch fills
	pixHits  int         // UploadPatches that used a prefetch
	ndTable  devicePtr   // AdamWStep's no-decay spans on the device
	ndSpans  [][2]int    // and the spans it holds
	scratch  map[string]scratchBuf
	buffers  map[*deviceBuffer]struct{}
	shadows  shadowSet  // bf16 copies of activations (shadow.go)
	writing  []outRange // the outputs of the op running on the owner
	compiler *compiler

	mu     sync.Mutex
	err    error
	closed bool
}

var _ ops.Backend = (*Backend)(nil)

// pinned is one page-locked host staging buffer and the event that says
// the last copy through it has finished.
type pinned struct {
	p    unsafe.Pointer
	ev   cuEvent
	used bool
}

// pixelBuf is one device buffer of prefetched uint8 images: the copy
// stream fills it (ready says when), the compute stream's image_patches
// kernel reads it (free says when that is done).
type pixelBuf struct {
	ptr         devicePtr
	size        int64
	ready, free cuEvent
	freeSet     bool     // free has been recorded
	src         uintptr  // the prefetched slice's first byte (0: nothing pending)
	n           int      // and its length
	sample      [64]byte // and 64 of its bytes (pixelSample)
}

type scratchBuf struct {
	ptr  devicePtr
	size int64
}

// deviceBuffer is the Backend's ops.Buffer: n float32s of device memory,
// and optionally a bf16 copy for the GEMMs.
type deviceBuffer struct {
	owner *Backend
	ptr   devicePtr
	n     int
	bf16  devicePtr // 0: none
	stale bool      // the bf16 copy no longer matches
	freed bool
}

// Len returns the number of float32s.
func (d *deviceBuffer) Len() int { return d.n }

// New opens the device, compiles (or loads from the cache) the kernels for
// its architecture, and sets up cuBLAS, the streams and the staging
// buffers.
func New(opts Options) (*Backend, error) {
	dev, err := OpenDevice(opts.Ordinal)
	if err != nil {
		return nil, err
	}
	b := &Backend{dev: dev, opts: opts, fns: map[string]cuFunction{}, params: map[string][]int{}, scratch: map[string]scratchBuf{}, buffers: map[*deviceBuffer]struct{}{}}
	if err := dev.Do(b.setup); err != nil {
		_ = dev.Do(b.release)
		_ = dev.Close()
		return nil, err
	}
	return b, nil
}

func (b *Backend) setup() error {
	env := defaultSearchEnv()
	lib, err := loadNVRTC(env)
	if err != nil {
		return err
	}
	cache := b.opts.CacheDir
	if cache == "" {
		cache = defaultCacheDir()
	}
	if b.compiler, err = newCompiler(lib, cache); err != nil {
		return err
	}
	drv := b.dev.drv
	arch := b.dev.Arch()
	for _, file := range kernelFileNames() {
		out, err := b.compiler.compile(file, arch)
		if err != nil {
			return err
		}
		image := out.CUBIN
		if image == nil {
			image = out.PTX
		}
		mod, err := drv.moduleLoadData(image)
		if err != nil {
			return fmt.Errorf("gpu: loading %s for %s: %w", file, arch, err)
		}
		b.modules = append(b.modules, mod)
		params, err := ptxParams(out.PTX)
		if err != nil {
			return fmt.Errorf("gpu: %s for %s: %w", file, arch, err)
		}
		for _, name := range kernelFiles[file] {
			f, err := drv.moduleGetFunction(mod, name)
			if err != nil {
				return err
			}
			b.fns[name] = f
			b.params[name] = params[name]
		}
	}
	if b.blas, err = loadCUBLAS(env); err != nil {
		return err
	}
	if b.compute, err = drv.streamCreate(streamNonBlocking); err != nil {
		return err
	}
	if b.copy, err = drv.streamCreate(streamNonBlocking); err != nil {
		return err
	}
	if b.upDone, err = drv.eventCreate(eventDisableTiming); err != nil {
		return err
	}
	for i := range b.pixels {
		for _, e := range []*cuEvent{&b.pixels[i].ready, &b.pixels[i].free} {
			if *e, err = drv.eventCreate(eventDisableTiming); err != nil {
				return err
			}
		}
	}
	for i := range b.staging {
		if b.staging[i].p, err = drv.memAllocHost(stagingBytes); err != nil {
			return err
		}
		if b.staging[i].ev, err = drv.eventCreate(eventDisableTiming); err != nil {
			return err
		}
	}
	if b.handle, err = b.blas.newHandle(); err != nil {
		return err
	}
	if err := b.blas.setStreamOf(b.handle, b.compute); err != nil {
		return err
	}
	return b.blas.setMath(b.handle, cublasDefaultMath)
}

// release frees everything setup and the ops made; it runs on the owner.
func (b *Backend) release() error {
	drv := b.dev.drv
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if b.compute != 0 {
		keep(drv.streamSynchronize(b.compute))
	}
	if b.copy != 0 {
		keep(drv.streamSynchronize(b.copy))
	}
	for buf := range b.buffers {
		keep(b.free(buf))
	}
	keep(b.shadows.drop(0, ^devicePtr(0), drv.memFree))
	for name, s := range b.scratch {
		keep(drv.memFree(s.ptr))
		delete(b.scratch, name)
	}
	if b.handle != 0 {
		keep(b.blas.destroyHandle(b.handle))
		b.handle = 0
	}
	for i := range b.staging {
		if b.staging[i].p != nil {
			keep(drv.memFreeHost(b.staging[i].p))
			b.staging[i].p = nil
		}
		if b.staging[i].ev != 0 {
			keep(drv.eventDestroy(b.staging[i].ev))
			b.staging[i].ev = 0
		}
	}
	if b.upDone != 0 {
		keep(drv.eventDestroy(b.upDone))
		b.upDone = 0
	}
	for i := range b.pixels {
		px := &b.pixels[i]
		if px.ptr != 0 {
			keep(drv.memFree(px.ptr))
		}
		for _, e := range []*cuEvent{&px.ready, &px.free} {
			if *e != 0 {
				keep(drv.eventDestroy(*e))
			}
		}
		*px = pixelBuf{}
	}
	for _, s := range []*cuStream{&b.compute, &b.copy} {
		if *s != 0 {
			keep(drv.streamDestroy(*s))
			*s = 0
		}
	}
	for _, m := range b.modules {
		keep(drv.moduleUnload(m))
	}
	b.modules = nil
	return errors.Join(errs...)
}

// Close frees all device memory the Backend allocated and releases the
// device. Buffers from Alloc are invalid afterwards.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	err := b.dev.Do(b.release)
	return errors.Join(err, b.dev.Close())
}

// Info describes the device.
func (b *Backend) Info() Info { return b.dev.Info }

// Precision returns the GEMM precision.
func (b *Backend) Precision() Precision { return b.opts.Precision }

// BF16 reports whether the GEMMs run on bf16 operands (ops.BF16Copier).
func (b *Backend) BF16() bool { return b.opts.Precision == BF16 }

// Name returns "cuda".
func (b *Backend) Name() string { return "cuda" }

func (b *Backend) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		b.err = err
	}
}

func (b *Backend) failed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err != nil || b.closed
}

// Err waits for the work enqueued so far and returns the first error any
// op recorded, or one the GPU reported while running them.
func (b *Backend) Err() error {
	if !b.failed() {
		b.fail(b.dev.Do(func() error {
			if err := b.dev.drv.streamSynchronize(b.copy); err != nil {
				return err
			}
			return b.dev.drv.streamSynchronize(b.compute)
		}))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed && b.err == nil {
		return ErrClosed
	}
	return b.err
}

// Alloc returns a zeroed device buffer of n float32s.
func (b *Backend) Alloc(n int) (ops.Buffer, error) {
	if n < 0 {
		return nil, fmt.Errorf("%w: alloc of %d values", ops.ErrBuffer, n)
	}
	buf := &deviceBuffer{owner: b, n: n}
	if n == 0 {
		return buf, nil
	}
	err := b.dev.Do(func() error {
		p, err := b.dev.drv.memAlloc(uint64(n) * 4)
		if err != nil {
			return fmt.Errorf("gpu: alloc of %d floats: %w", n, err)
		}
		buf.ptr = p
		b.buffers[buf] = struct{}{}
		return b.dev.drv.memsetD32(p, 0, uint64(n), b.compute)
	})
	if err != nil {
		return nil, err
	}
	return buf, nil
}

// Free releases a buffer from Alloc before Close.
func (b *Backend) Free(buf ops.Buffer) error {
	d, ok := buf.(*deviceBuffer)
	if !ok || d.owner != b {
		return fmt.Errorf("%w: Free of a buffer this backend did not allocate (%T)", ops.ErrBuffer, buf)
	}
	return b.dev.Do(func() error {
		if err := b.dev.drv.streamSynchronize(b.compute); err != nil {
			return err
		}
		return b.free(d)
	})
}

func (b *Backend) free(d *deviceBuffer) error {
	if d.freed {
		return nil
	}
	d.freed = true
	delete(b.buffers, d)
	var errs []error
	if d.ptr != 0 {
		errs = append(errs, b.shadows.drop(d.ptr, d.ptr+devicePtr(4*d.n), b.dev.drv.memFree))
		errs = append(errs, b.dev.drv.memFree(d.ptr))
	}
	if d.bf16 != 0 {
		errs = append(errs, b.dev.drv.memFree(d.bf16))
	}
	return errors.Join(errs...)
}

// scratchPtr returns a device scratch area of at least size bytes under
// name, growing it (after a synchronise: in-flight work may use the old
// one) when too small. Runs on the owner.
func (b *Backend) scratchPtr(name string, size int64) (devicePtr, error) {
	if s, ok := b.scratch[name]; ok && s.size >= size {
		return s.ptr, nil
	}
	drv := b.dev.drv
	if s, ok := b.scratch[name]; ok {
		if err := drv.ctxSynchronize(); err != nil {
			return 0, err
		}
		if err := drv.memFree(s.ptr); err != nil {
			return 0, err
		}
		delete(b.scratch, name)
	}
	size = max(size, 256)
	p, err := drv.memAlloc(uint64(size))
	if err != nil {
		return 0, fmt.Errorf("gpu: scratch %s of %d bytes: %w", name, size, err)
	}
	b.scratch[name] = scratchBuf{ptr: p, size: size}
	return p, nil
}

// launch packs args and enqueues kernel name on the compute stream. Runs
// on the owner.
func (b *Backend) launch(name string, d launchDims, args ...any) error {
	f, ok := b.fns[name]
	if !ok {
		return fmt.Errorf("gpu: no kernel %s", name)
	}
	p, err := packArgs(args...)
	if err != nil {
		return fmt.Errorf("gpu: %s: %w", name, err)
	}
	if err := checkParams(name, b.params[name], p.sizes); err != nil {
		return err
	}
	if err := b.dev.drv.launch(f, d.grid, d.block, d.shmem, b.compute, p); err != nil {
		return fmt.Errorf("gpu: launching %s: %w", name, err)
	}
	return nil
}

// chunks cuts a transfer of total bytes into pieces of at most size:
// [offset, length) pairs.
func chunks(total, size int64) [][2]int64 {
	var out [][2]int64
	for off := int64(0); off < total; off += size {
		out = append(out, [2]int64{off, min(size, total-off)})
	}
	return out
}

// slot returns the next staging buffer, waiting until the last copy
// through it has finished. Runs on the owner.
func (b *Backend) slot() (*pinned, error) {
	s := &b.staging[b.next]
	b.next = (b.next + 1) % len(b.staging)
	if s.used {
		if err := b.dev.drv.eventSynchronize(s.ev); err != nil {
			return nil, err
		}
		s.used = false
	}
	return s, nil
}

// toDevice copies src to dst through the staging buffers on stream, and
// returns the event of the last chunk (0 when src is empty). src is
// copied to pinned memory before this returns, so the caller may reuse
// it. Runs on the owner.
func (b *Backend) toDevice(dst devicePtr, src []byte, stream cuStream) (cuEvent, error) {
	var last cuEvent
	drv := b.dev.drv
	for _, c := range chunks(int64(len(src)), stagingBytes) {
		s, err := b.slot()
		if err != nil {
			return 0, err
		}
		parallelCopy(unsafe.Slice((*byte)(s.p), c[1]), src[c[0]:c[0]+c[1]])
		if err := drv.memcpyHtoD(dst+devicePtr(c[0]), s.p, uint64(c[1]), stream); err != nil {
			return 0, err
		}
		if err := drv.eventRecord(s.ev, stream); err != nil {
			return 0, err
		}
		s.used, last = true, s.ev
	}
	return last, nil
}

// upload copies src into device memory at dst on the copy stream, after
// the work already enqueued on the compute stream (which may still read
// dst); the compute stream's later work waits for the copy.
func (b *Backend) upload(dst devicePtr, src []byte) error {
	drv := b.dev.drv
	if err := drv.eventRecord(b.upDone, b.compute); err != nil {
		return err
	}
	if err := drv.streamWaitEvent(b.copy, b.upDone); err != nil {
		return err
	}
	ev, err := b.toDevice(dst, src, b.copy)
	if err != nil || ev == 0 {
		return err
	}
	return drv.streamWaitEvent(b.compute, ev)
}

func floatBytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
}

// Upload copies src into t. It returns once src has been copied to pinned
// memory; the transfer runs on the copy stream after the work already
// enqueued, and ops enqueued later wait for it.
func (b *Backend) Upload(t ops.Tensor, src []float32) {
	a := b.args("Upload")
	p := a.out("t", t, len(src))
	b.runSync(a, func() error { return b.upload(p, floatBytes(src)) })
}

// Download copies t into dst, waiting for the work that produces it.
func (b *Backend) Download(dst []float32, t ops.Tensor) {
	a := b.args("Download")
	p := a.in("t", t, len(dst))
	b.runSync(a, func() error {
		drv := b.dev.drv
		out := floatBytes(dst)
		for _, c := range chunks(int64(len(out)), stagingBytes) {
			s, err := b.slot()
			if err != nil {
				return err
			}
			if err := drv.memcpyDtoH(s.p, p+devicePtr(c[0]), uint64(c[1]), b.compute); err != nil {
				return err
			}
			if err := drv.streamSynchronize(b.compute); err != nil {
				return err
			}
			copy(out[c[0]:c[0]+c[1]], unsafe.Slice((*byte)(s.p), c[1]))
		}
		return nil
	})
}

// Zero sets t to 0.
func (b *Backend) Zero(t ops.Tensor) {
	a := b.args("Zero")
	p := a.out("t", t, -1)
	b.run(a, func() error {
		if t.Len == 0 {
			return nil
		}
		return b.dev.drv.memsetD32(p, 0, uint64(t.Len), b.compute)
	})
}

// run enqueues an op's device work when its arguments checked out and no
// error is pending, and returns without waiting: the owner goroutine runs
// it after the work already submitted, and its error is recorded for Err.
// fn may only use values captured now (no host memory the caller may
// change: ops reading host memory use runSync).
func (b *Backend) run(a *args, fn func() error) {
	if !a.ok() || b.failed() {
		return
	}
	if b.opts.Synchronous {
		b.runSync(a, fn)
		return
	}
	fail := func(err error) { b.fail(fmt.Errorf("%s: %w", a.op, err)) }
	if err := b.dev.Go(b.owned(a, fn), fail); err != nil {
		fail(err)
	}
}

// runSync is run, waiting until fn has run: for ops that read or write
// host memory the caller owns (uploads, downloads, results).
func (b *Backend) runSync(a *args, fn func() error) {
	if !a.ok() || b.failed() {
		return
	}
	if err := b.dev.Do(b.owned(a, fn)); err != nil {
		b.fail(fmt.Errorf("%s: %w", a.op, err))
	}
}

// owned wraps an op's device work for the owner goroutine: nothing after
// an earlier op's error (ops are sticky as on the CPU), and before fn, the
// bf16 weight copies and activation shadows that the op's outputs overlap
// are marked stale, in op order.
func (b *Backend) owned(a *args, fn func() error) func() error {
	return func() error {
		if b.failed() {
			return nil
		}
		for _, w := range a.writes {
			if w.d != a.keepCopy {
				w.d.stale = true
			}
			b.shadows.invalidate(w.lo, w.hi)
		}
		b.writing = a.writes
		defer func() { b.writing = nil }()
		return fn()
	}
}
