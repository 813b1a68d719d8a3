package gpu

import (
	"fmt"
	"runtime"
	"sync"
)

// Device ownership. A CUDA context is current per OS thread, and Go moves
// goroutines between threads, so one goroutine, locked to its thread with
// runtime.LockOSThread for its whole life, owns the device: it retains the
// device's primary context, makes it current once, and runs every piece of
// work callers submit through Do, one at a time, in submission order. The
// alternative, setting the context at every entry point, costs a driver
// call per op and still needs the goroutine pinned for the span of each
// op; one owner also serialises the stream, the cuBLAS handle and the
// scratch buffers without locks. (gorgonia/cu's Ctx is the same pattern.)
//
// The primary context (cuDevicePrimaryCtxRetain) is used rather than
// cuCtxCreate, whose signature changed in CUDA 13 (cuCtxCreate_v4); it is
// also the context PyTorch and the runtime API use, so the two can share a
// process.

// Info describes the device found.
type Info struct {
	Ordinal       int
	Name          string
	Major, Minor  int // compute capability
	SMs           int // multiprocessors
	TotalMem      uint64
	DriverVersion int    // e.g. 13000 for CUDA 13.0
	DriverPath    string // the libcuda loaded
}

// Arch returns NVRTC's name for the device's architecture ("sm_90").
func (i Info) Arch() string { return archName(i.Major, i.Minor) }

func (i Info) String() string {
	return fmt.Sprintf("%s (%s, %d SMs, %.1f GiB, driver %d.%d)", i.Name, i.Arch(), i.SMs,
		float64(i.TotalMem)/(1<<30), i.DriverVersion/1000, i.DriverVersion%1000/10)
}

// Device is one CUDA device and the goroutine that owns its context.
type Device struct {
	Info
	drv *driver
	dev int32

	work      chan func()
	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// queueDepth bounds the work submitted with Go and not yet run: a caller
// that gets this far ahead of the device waits.
const queueDepth = 1024

func newDevice() *Device {
	return &Device{work: make(chan func(), queueDepth), quit: make(chan struct{}), done: make(chan struct{})}
}

// OpenDevice loads the driver, initialises it and starts the goroutine
// that owns device ordinal's primary context. Errors: ErrNoCUDA (no
// libcuda; the *LoadError lists the paths tried), ErrNoDevice (cuInit
// says none, or none at that ordinal), or the failing call's *Error.
func OpenDevice(ordinal int) (*Device, error) {
	drv, err := loadDriver(defaultSearchEnv())
	if err != nil {
		return nil, err
	}
	d := newDevice()
	d.drv = drv
	d.Ordinal, d.DriverPath = ordinal, drv.path
	ready := make(chan error, 1)
	go d.loop(ready)
	if err := <-ready; err != nil {
		<-d.done
		return nil, err
	}
	return d, nil
}

// Probe reports the device at ordinal without keeping it open: what
// --device auto asks before choosing.
func Probe(ordinal int) (Info, error) {
	d, err := OpenDevice(ordinal)
	if err != nil {
		return Info{}, err
	}
	info := d.Info
	return info, d.Close()
}

func (d *Device) loop(ready chan<- error) {
	runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
	defer close(d.done)
	if _, err := d.setup(); err != nil {
		ready <- err
		return
	}
	ready <- nil
	d.serve(func() {
		_ = d.drv.ctxSynchronize()
		_ = d.drv.ctxSetCurrent(0)
		_ = d.drv.primaryCtxRelease(d.dev)
	})
}

// serve runs submitted work until Close, then cleanup.
func (d *Device) serve(cleanup func()) {
	for {
		select {
		case <-d.quit:
			cleanup()
			return
		default:
		}
		select {
		case fn := <-d.work:
			fn()
		case <-d.quit:
			cleanup()
			return
		}
	}
}

// setup runs on the owner thread: cuInit, the device's attributes, and
// its primary context made current.
func (d *Device) setup() (cuContext, error) {
	drv := d.drv
	if err := drv.init(); err != nil {
		return 0, fmt.Errorf("gpu: initialising the driver %s: %w", drv.path, err)
	}
	n, err := drv.deviceCount()
	if err != nil {
		return 0, err
	}
	if d.Ordinal < 0 || d.Ordinal >= n {
		return 0, fmt.Errorf("%w: device %d asked for, the driver reports %d", ErrNoDevice, d.Ordinal, n)
	}
	if d.dev, err = drv.device(d.Ordinal); err != nil {
		return 0, err
	}
	if d.DriverVersion, err = drv.driverVersion(); err != nil {
		return 0, err
	}
	if d.Name, err = drv.deviceName(d.dev); err != nil {
		return 0, err
	}
	for _, a := range []struct {
		attr int
		dst  *int
	}{{attrComputeCapabilityMajor, &d.Major}, {attrComputeCapabilityMinor, &d.Minor}, {attrMultiprocessorCount, &d.SMs}} {
		if *a.dst, err = drv.deviceAttr(a.attr, d.dev); err != nil {
			return 0, err
		}
	}
	if d.TotalMem, err = drv.deviceTotalMem(d.dev); err != nil {
		return 0, err
	}
	ctx, err := drv.primaryCtxRetain(d.dev)
	if err != nil {
		return 0, err
	}
	if err := drv.ctxSetCurrent(ctx); err != nil {
		_ = drv.primaryCtxRelease(d.dev)
		return 0, err
	}
	return ctx, nil
}

// Do runs fn on the goroutine that owns the device, with its context
// current, after the work already submitted (by Do or Go), and returns
// fn's error. Calls from many goroutines are serialised. fn must not call Do (the owner would wait on itself). A
// panic in fn is returned as an error and the owner keeps running.
func (d *Device) Do(fn func() error) error {
	errc := make(chan error, 1)
	job := func() {
		defer func() {
			if r := recover(); r != nil {
				errc <- fmt.Errorf("gpu: panic on the device goroutine: %v", r)
			}
		}()
		errc <- fn()
	}
	select {
	case <-d.quit:
		return ErrClosed
	default:
	}
	select {
	case d.work <- job:
	case <-d.quit:
		return ErrClosed
	}
	select {
	case err := <-errc:
		return err
	case <-d.done: // closed with the job still queued
		return ErrClosed
	}
}

// Go submits fn to run on the owner after the work already submitted and
// returns without waiting for it (when the queue is full, it waits for
// room). fn's error, or a panic in fn, is passed to fail on the owner
// goroutine. Go returns ErrClosed after Close; work still queued at Close
// is dropped. Like Do, fn must not call Do or Go.
func (d *Device) Go(fn func() error, fail func(error)) error {
	job := func() {
		defer func() {
			if r := recover(); r != nil {
				fail(fmt.Errorf("gpu: panic on the device goroutine: %v", r))
			}
		}()
		if err := fn(); err != nil {
			fail(err)
		}
	}
	select {
	case <-d.quit:
		return ErrClosed
	default:
	}
	select {
	case d.work <- job:
		return nil
	case <-d.quit:
		return ErrClosed
	}
}

// Close synchronises the device, releases the context and stops the owner
// goroutine. Later calls to Do return ErrClosed.
func (d *Device) Close() error {
	d.closeOnce.Do(func() { close(d.quit) })
	<-d.done
	return nil
}
