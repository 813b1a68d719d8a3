package gpu

import (
	"fmt"

	"github.com/clipstream/clipstream/trainer/ops"
)

// args checks an op's tensors on the host, before any device work: each
// must be in a buffer of this backend, inside it, and of the length the
// shape arguments imply. The first problem is recorded (wrapping
// ops.ErrBuffer or ops.ErrShape, as on the CPU) and ok() turns false.
type args struct {
	b      *Backend
	op     string
	bad    bool
	writes []outRange // the outputs: their bf16 copies and shadows go stale
	// keepCopy is a buffer whose bf16 copy the op itself keeps current
	// (AdamWStep's params), so writing it does not make the copy stale.
	keepCopy *deviceBuffer
}

// outRange is an output tensor's buffer and byte range.
type outRange struct {
	d      *deviceBuffer
	lo, hi devicePtr
}

func (b *Backend) args(op string) *args { return &args{b: b, op: op} }

func (a *args) get(name string, t ops.Tensor, want int, optional, write bool) devicePtr {
	if a.bad {
		return 0
	}
	if optional && t.Buf == nil && t.Len == 0 {
		return 0
	}
	d, ok := t.Buf.(*deviceBuffer)
	if !ok || d.owner != a.b {
		a.fail(fmt.Errorf("%w: %s: %s is not a buffer of this CUDA backend (%T)", ops.ErrBuffer, a.op, name, t.Buf))
		return 0
	}
	if d.freed {
		a.fail(fmt.Errorf("%w: %s: %s was freed", ops.ErrBuffer, a.op, name))
		return 0
	}
	if t.Off < 0 || t.Len < 0 || t.Off+t.Len > d.n {
		a.fail(fmt.Errorf("%w: %s: %s [%d:+%d] outside a buffer of %d", ops.ErrBuffer, a.op, name, t.Off, t.Len, d.n))
		return 0
	}
	if want >= 0 && t.Len != want {
		a.fail(fmt.Errorf("%w: %s: %s has %d values, want %d", ops.ErrShape, a.op, name, t.Len, want))
		return 0
	}
	p := d.ptr + devicePtr(4*t.Off)
	if write {
		a.writes = append(a.writes, outRange{d, p, p + devicePtr(4*t.Len)})
	}
	return p
}

// in and out check a required input or output tensor and return its
// device address; optIn and optOut allow an empty tensor (address 0).
func (a *args) in(name string, t ops.Tensor, want int) devicePtr {
	return a.get(name, t, want, false, false)
}
func (a *args) out(name string, t ops.Tensor, want int) devicePtr {
	return a.get(name, t, want, false, true)
}
func (a *args) optIn(name string, t ops.Tensor, want int) devicePtr {
	return a.get(name, t, want, true, false)
}
func (a *args) optOut(name string, t ops.Tensor, want int) devicePtr {
	return a.get(name, t, want, true, true)
}

func (a *args) check(ok bool, format string, v ...any) {
	if !a.bad && !ok {
		a.fail(fmt.Errorf("%w: %s: %s", ops.ErrShape, a.op, fmt.Sprintf(format, v...)))
	}
}

func (a *args) fail(err error) {
	a.bad = true
	a.b.fail(err)
}

func (a *args) ok() bool { return !a.bad }
