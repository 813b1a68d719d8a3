package gpu

import (
	"errors"
	"fmt"
)

// Activation shadows: in BF16 mode every GEMM reads bf16 operands, and an
// activation that is a GEMM input (a LayerNorm's output, the attention's
// output, the MLP's activation) would otherwise be cast into scratch
// before each GEMM that reads it: once in the forward, once more for the
// weight gradient in the backward, 6 bytes of traffic per value each time
// and a launch. Instead the op that produces such a tensor writes a bf16
// copy beside its fp32 result (its "shadow"), and the GEMMs read that.
//
// A shadow is valid from the op that wrote it until any op writes into
// its fp32 range: every output tensor of every op (Upload and Zero too)
// invalidates the shadows it overlaps before the op runs, so a stale copy
// is never read. All shadow bookkeeping runs on the device's owner
// goroutine, in op order.

// shadow is the bf16 copy of the fp32 values in [lo, hi).
type shadow struct {
	lo, hi devicePtr // fp32 byte range
	p16    devicePtr // hi-lo bytes / 2 of bf16
	valid  bool
}

// shadowSet holds a backend's activation shadows. A model has a few per
// layer (about a hundred for ViT-B-32), so a slice scanned linearly is
// cheaper than any index.
type shadowSet struct {
	list  []*shadow
	bytes int64 // bf16 memory held
}

// invalidate marks every shadow overlapping [lo, hi) stale.
func (s *shadowSet) invalidate(lo, hi devicePtr) {
	if lo >= hi {
		return
	}
	for _, sh := range s.list {
		if sh.lo < hi && lo < sh.hi {
			sh.valid = false
		}
	}
}

// lookup returns the bf16 copy of the n floats at p when a valid shadow
// covers them.
func (s *shadowSet) lookup(p devicePtr, n int64) (devicePtr, bool) {
	hi := p + devicePtr(4*n)
	for _, sh := range s.list {
		if sh.valid && sh.lo <= p && hi <= sh.hi {
			return sh.p16 + (p-sh.lo)/2, true
		}
	}
	return 0, false
}

// reserve returns the shadow of exactly the n floats at p, allocating
// 2n bytes for it the first time. Shadows of overlapping ranges (another
// view of the same memory: the two towers' gradients in shared scratch, a
// new batch size) are kept beside it; a write into the memory invalidates
// all of them, so each is read only while it matches. The shadow comes
// back invalid: the caller marks it valid once the kernel writing it is
// enqueued.
func (s *shadowSet) reserve(p devicePtr, n int64, alloc func(bytes int64) (devicePtr, error)) (*shadow, error) {
	if n <= 0 {
		return nil, fmt.Errorf("gpu: shadow of %d values", n)
	}
	hi := p + devicePtr(4*n)
	for _, sh := range s.list {
		if sh.lo == p && sh.hi == hi {
			sh.valid = false
			return sh, nil
		}
	}
	p16, err := alloc(2 * n)
	if err != nil {
		return nil, err
	}
	sh := &shadow{lo: p, hi: hi, p16: p16}
	s.list = append(s.list, sh)
	s.bytes += 2 * n
	return sh, nil
}

// drop removes the shadows inside [lo, hi) (a buffer being freed) and
// gives their memory to free.
func (s *shadowSet) drop(lo, hi devicePtr, free func(devicePtr) error) error {
	keep := s.list[:0]
	var errs []error
	for _, sh := range s.list {
		if sh.lo < hi && lo < sh.hi {
			s.bytes -= int64(sh.hi-sh.lo) / 2
			errs = append(errs, free(sh.p16))
			continue
		}
		keep = append(keep, sh)
	}
	clear(s.list[len(keep):])
	s.list = keep
	return errors.Join(errs...)
}

// fits reports whether a shadow of the n floats at p exists or can be
// added within budget bytes.
func (s *shadowSet) fits(p devicePtr, n int64, budget int64) bool {
	hi := p + devicePtr(4*n)
	for _, sh := range s.list {
		if sh.lo == p && sh.hi == hi {
			return true
		}
	}
	return s.bytes+2*n <= budget
}

// shadowBudget is the device memory shadows may hold: a quarter of the
// device's.
func (b *Backend) shadowBudget() int64 { return int64(b.dev.TotalMem / 4) }

// shadowAlloc is how shadows get device memory (they give it back when
// their buffer is freed, through shadowSet.drop). Runs on the owner.
func (b *Backend) shadowAlloc(bytes int64) (devicePtr, error) {
	q, err := b.dev.drv.memAlloc(uint64(bytes))
	if err != nil {
		return 0, fmt.Errorf("gpu: bf16 shadow of %d bytes: %w", bytes, err)
	}
	return q, nil
}

// shadowOut reserves the bf16 shadow of an op's output (p, n floats) when
// the GEMMs run in bf16, returning its address for the kernel (0 in FP32
// mode, for an empty output, or when the shadows' budget is spent). Runs
// on the owner; mark the shadow valid with done once the kernel is
// enqueued.
func (b *Backend) shadowOut(p devicePtr, n int64) (p16 devicePtr, done func(), err error) {
	if b.opts.Precision != BF16 || b.opts.NoShadows || n == 0 || p == 0 || !b.shadows.fits(p, n, b.shadowBudget()) {
		return 0, func() {}, nil
	}
	sh, err := b.shadows.reserve(p, n, b.shadowAlloc)
	if err != nil {
		return 0, nil, err
	}
	return sh.p16, func() { sh.valid = true }, nil
}

// launchShadowed launches kernel with the arguments args builds around
// the bf16 shadow address of its output (out, n floats; 0 when it gets
// none, which the kernels take as "no bf16 copy"), and marks the shadow
// valid once the kernel is enqueued. Runs on the owner.
func (b *Backend) launchShadowed(kernel string, d launchDims, out devicePtr, n int64, args func(o16 devicePtr) []any) error {
	o16, done, err := b.shadowOut(out, n)
	if err != nil {
		return err
	}
	if err := b.launch(kernel, d, args(o16)...); err != nil {
		return err
	}
	done()
	return nil
}

// castShadow casts the n floats at p (inside a buffer from Alloc, not
// written by the running op) into a shadow and returns it, so the next
// GEMM reading the same unchanged values (the weight gradient's after the
// input gradient's, the backward's after the forward's) finds them cast.
// ok is false when the shadows' budget or layout does not allow one.
func (b *Backend) castShadow(p devicePtr, n int64) (p16 devicePtr, ok bool, err error) {
	if b.opts.NoShadows {
		return 0, false, nil
	}
	hi := p + devicePtr(4*n)
	for _, w := range b.writing {
		if w.lo < hi && p < w.hi {
			return 0, false, nil
		}
	}
	if !b.shadows.fits(p, n, b.shadowBudget()) {
		return 0, false, nil
	}
	sh, err := b.shadows.reserve(p, n, b.shadowAlloc)
	if err != nil {
		return 0, false, err
	}
	if err := b.launch("f32_to_bf16_kernel", elementwise(n), sh.p16, p, n); err != nil {
		return 0, false, err
	}
	sh.valid = true
	return sh.p16, true, nil
}
