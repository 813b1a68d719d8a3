package gpu

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeOwner starts a Device's owner loop with no driver behind it: the
// submission machinery (Do, Go, Close) is plain Go and testable anywhere.
func fakeOwner(t *testing.T) *Device {
	d := newDevice()
	go func() {
		defer close(d.done)
		d.serve(func() {})
	}()
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// TestGoRunsInOrder: work submitted with Go runs on the owner in
// submission order, interleaved correctly with Do, more of it than the
// queue holds.
func TestGoRunsInOrder(t *testing.T) {
	d := fakeOwner(t)
	var got []int // touched only on the owner
	noFail := func(err error) { t.Errorf("unexpected failure: %v", err) }
	const n = 3 * queueDepth
	for i := range n {
		if i == n/2 {
			if err := d.Do(func() error { got = append(got, -1); return nil }); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Go(func() error { got = append(got, i); return nil }, noFail); err != nil {
			t.Fatal(err)
		}
	}
	var snapshot []int
	if err := d.Do(func() error { snapshot = append(snapshot, got...); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(snapshot) != n+1 {
		t.Fatalf("%d jobs ran, want %d", len(snapshot), n+1)
	}
	want := 0
	for pos, v := range snapshot {
		if pos == n/2 {
			if v != -1 {
				t.Fatalf("position %d: %d, want the Do job (-1)", pos, v)
			}
			continue
		}
		if v != want {
			t.Fatalf("position %d: job %d, want %d", pos, v, want)
		}
		want++
	}
}

// TestGoErrors: an error or a panic in submitted work reaches fail, and
// the owner keeps serving.
func TestGoErrors(t *testing.T) {
	d := fakeOwner(t)
	var mu sync.Mutex
	var errs []error
	fail := func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }
	boom := errors.New("boom")
	if err := d.Go(func() error { return boom }, fail); err != nil {
		t.Fatal(err)
	}
	if err := d.Go(func() error { panic("kernel table corrupt") }, fail); err != nil {
		t.Fatal(err)
	}
	if err := d.Go(func() error { return nil }, fail); err != nil {
		t.Fatal(err)
	}
	if err := d.Do(func() error { panic("in Do") }); err == nil || !strings.Contains(err.Error(), "in Do") {
		t.Fatalf("Do with a panic: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) != 2 || !errors.Is(errs[0], boom) || !strings.Contains(errs[1].Error(), "kernel table corrupt") {
		t.Fatalf("failures %v, want boom and the panic", errs)
	}
}

// TestCloseWithQueuedWork: Close while work is queued returns, a Do whose
// job was dropped returns ErrClosed instead of waiting forever, and later
// submissions are refused.
func TestCloseWithQueuedWork(t *testing.T) {
	d := fakeOwner(t)
	release := make(chan struct{})
	started := make(chan struct{})
	if err := d.Go(func() error { close(started); <-release; return nil }, func(error) {}); err != nil {
		t.Fatal(err)
	}
	<-started
	doErr := make(chan error, 1)
	go func() { doErr <- d.Do(func() error { return nil }) }()
	time.Sleep(20 * time.Millisecond) // let the Do job reach the queue
	closed := make(chan struct{})
	go func() { _ = d.Close(); close(closed) }()
	time.Sleep(20 * time.Millisecond) // Close is waiting on the running job
	close(release)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	select {
	case err := <-doErr:
		if err != nil && !errors.Is(err, ErrClosed) {
			t.Fatalf("queued Do: %v, want nil or ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a Do queued at Close never returned")
	}
	if err := d.Go(func() error { return nil }, func(error) {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Go after Close: %v, want ErrClosed", err)
	}
	if err := d.Do(func() error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Do after Close: %v, want ErrClosed", err)
	}
}
