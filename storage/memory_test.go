package storage_test

import (
	"context"
	"crypto/sha256"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/clipstream/clipstream/internal/s3test"
	"github.com/clipstream/clipstream/storage"
)

// genReader streams n bytes that encode their position, without holding
// them: the only large buffers in a Put are then the store's own.
type genReader struct {
	off, n int64
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= g.n {
		return 0, io.EOF
	}
	if int64(len(p)) > g.n-g.off {
		p = p[:g.n-g.off]
	}
	for i := range p {
		o := g.off + int64(i)
		p[i] = byte(o>>20) ^ byte(o) ^ byte(o>>8)*31
	}
	g.off += int64(len(p))
	return len(p), nil
}

// heapPeak samples the live heap until stop is called and returns the
// highest value seen above the starting level.
func heapPeak() (stop func() uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak uint64
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > base && ms.HeapAlloc-base > peak {
					peak = ms.HeapAlloc - base
				}
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// TestS3PutMemoryBounded streams 256 MiB of unknown length to MinIO and
// checks that the heap (live data and garbage alike) never grows by more
// than a few part sizes.
func TestS3PutMemoryBounded(t *testing.T) {
	const size = 256 << 20
	const part = 16 << 20
	bucket := s3test.NewBucket(t)
	s := openS3(t, "s3://"+bucket+"/mem", storage.Options{PartSize: part})
	ctx := context.Background()

	stop := heapPeak()
	start := time.Now()
	err := s.Put(ctx, "big", &genReader{n: size}, -1)
	elapsed := time.Since(start)
	peak := stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("256 MiB streamed put to MinIO in %v (%.0f MiB/s); peak heap growth %.1f MiB = %.2f part sizes of %d MiB",
		elapsed.Round(time.Millisecond), float64(size)/(1<<20)/elapsed.Seconds(), float64(peak)/(1<<20), float64(peak)/part, part>>20)
	// Two part buffers by design (one read while the other is sent); the
	// rest is garbage of the request signer that the next GC takes.
	if limit := uint64(4 * part); peak > limit {
		t.Errorf("peak heap growth %d bytes is over %d (4 part sizes)", peak, limit)
	}

	// And it arrived whole.
	rc, err := s.Get(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.New()
	io.Copy(want, &genReader{n: size})
	if n != size || string(h.Sum(nil)) != string(want.Sum(nil)) {
		t.Fatalf("read back %d bytes with a different digest", n)
	}
}
