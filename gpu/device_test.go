package gpu

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

// newTestOwner starts a Device's owner goroutine without a driver: the
// ownership machinery (one locked thread, serialised work, Close) is
// what is under test.
func newTestOwner() *Device {
	d := &Device{work: make(chan func()), quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		runtime.LockOSThread()
		defer close(d.done)
		d.serve(func() {})
	}()
	return d
}

func TestDeviceDoOneThread(t *testing.T) {
	defer goleak.VerifyNone(t)
	d := newTestOwner()
	var mu sync.Mutex
	tids := map[int]bool{}
	running := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				err := d.Do(func() error {
					mu.Lock()
					running++
					if running != 1 {
						mu.Unlock()
						return errors.New("two jobs ran at once")
					}
					tids[syscall.Gettid()] = true
					running--
					mu.Unlock()
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(tids) != 1 {
		t.Errorf("work ran on %d OS threads, want 1", len(tids))
	}
	want := errors.New("boom")
	if err := d.Do(func() error { return want }); err != want {
		t.Errorf("Do returned %v, want fn's error", err)
	}
	if err := d.Do(func() error { panic("kaboom") }); err == nil || !strings.Contains(err.Error(), "kaboom") {
		t.Errorf("a panic in fn gave %v", err)
	}
	if err := d.Do(func() error { return nil }); err != nil {
		t.Errorf("owner did not survive the panic: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := d.Do(func() error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Do after Close: %v, want ErrClosed", err)
	}
}
