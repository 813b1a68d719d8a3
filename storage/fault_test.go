package storage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/clipstream/clipstream/internal/s3test"
	"github.com/clipstream/clipstream/storage"
	"github.com/clipstream/clipstream/storage/storagetest"
)

// faultyS3 is a store whose every byte passes through a toxiproxy in front
// of the test MinIO, so toxics can delay, cut and stall its connections.
type faultyS3 struct {
	proxy  *toxiproxy.Proxy
	store  storage.Store
	bucket string
}

func newFaultyS3(t *testing.T, opts storage.Options) *faultyS3 {
	t.Helper()
	upstream := strings.TrimPrefix(s3test.Require(t), "http://")
	bucket := s3test.NewBucket(t)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	proxy := toxiproxy.NewProxy(srv, "minio", "127.0.0.1:0", upstream)
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Stop)
	opts.Endpoint = "http://" + proxy.Listen
	s, err := storage.Open(context.Background(), "s3://"+bucket+"/faults", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &faultyS3{proxy: proxy, store: s, bucket: bucket}
}

func (f *faultyS3) addToxic(t *testing.T, name, typ, stream string, attrs string) {
	t.Helper()
	js := fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"toxicity":1,"attributes":%s}`, name, typ, stream, attrs)
	if _, err := f.proxy.Toxics.AddToxicJson(strings.NewReader(js)); err != nil {
		t.Fatalf("add toxic %s: %v", name, err)
	}
}

func (f *faultyS3) removeToxic(t *testing.T, name string) {
	t.Helper()
	if err := f.proxy.Toxics.RemoveToxic(context.Background(), name); err != nil {
		t.Fatalf("remove toxic %s: %v", name, err)
	}
}

// putAndCheck puts data (streaming, unknown length) and reads it back
// through the same faulty path, comparing SHA-256.
func putAndCheck(t *testing.T, s storage.Store, key string, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.Put(ctx, key, storagetest.Stream(data), -1); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	rc, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	if got, want := h.Sum(nil), sha256.Sum256(data); !bytes.Equal(got, want[:]) {
		t.Fatalf("%s: sha256 %x, want %x", key, got[:8], want[:8])
	}
}

func TestS3FaultLatency(t *testing.T) {
	f := newFaultyS3(t, s3TestOptions())
	f.addToxic(t, "lat-down", "latency", "downstream", `{"latency":50,"jitter":10}`)
	f.addToxic(t, "lat-up", "latency", "upstream", `{"latency":50,"jitter":10}`)
	start := time.Now()
	putAndCheck(t, f.store, "latency/obj", storagetest.Data(1, 12<<20))
	t.Logf("12 MiB put+get with 2×50 ms latency: %v", time.Since(start).Round(time.Millisecond))
}

// TestS3FaultResetMidMultipart cuts every connection after 7 MiB of request
// bytes, so with 5 MiB parts each connection dies in the middle of its second
// part: the parts must be retried on new connections and the object must
// arrive whole.
func TestS3FaultResetMidMultipart(t *testing.T) {
	f := newFaultyS3(t, s3TestOptions())
	f.addToxic(t, "cut", "limit_data", "upstream", `{"bytes":7340032}`)
	putAndCheck(t, f.store, "cut/obj", storagetest.Data(2, 23<<20+7))
}

// TestS3FaultResetWindow resets every connection for about 1.5 s in the
// middle of a multipart upload and a download.
func TestS3FaultResetWindow(t *testing.T) {
	// The retry budget must outlast the 1.5 s window: each attempt dies
	// after 100 ms and minio-go's backoff has full jitter, so 6 attempts
	// (the default) can all fall inside it, and did once in CI.
	opts := s3TestOptions()
	opts.MaxRetries = 12
	f := newFaultyS3(t, opts)
	data := storagetest.Data(3, 30<<20)
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(300 * time.Millisecond)
		f.addToxic(t, "reset", "reset_peer", "upstream", `{"timeout":100}`)
		time.Sleep(1500 * time.Millisecond)
		f.removeToxic(t, "reset")
	}()
	putAndCheck(t, f.store, "reset/obj", data)
	<-done
}

// TestS3FaultResumeRead cuts every download connection after 3 MiB: a Get of
// a larger object must resume where it stopped and deliver the right bytes.
func TestS3FaultResumeRead(t *testing.T) {
	f := newFaultyS3(t, s3TestOptions())
	data := storagetest.Data(4, 11<<20)
	ctx := context.Background()
	if err := f.store.Put(ctx, "resume/obj", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	f.addToxic(t, "cut", "limit_data", "downstream", `{"bytes":3145728}`)
	for _, tc := range []struct {
		name   string
		off, n int64
	}{{"whole", 0, -1}, {"range", 1<<20 + 3, 8 << 20}} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := f.store.GetRange(ctx, "resume/obj", tc.off, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			end := int64(len(data))
			if tc.n >= 0 {
				end = tc.off + tc.n
			}
			if !bytes.Equal(got, data[tc.off:end]) {
				t.Fatalf("got %d bytes, want %d; content differs", len(got), end-tc.off)
			}
		})
	}
}

// TestS3FaultStopsAnswering: a server that accepts connections but never
// answers must give a clear error within a bounded time, and nothing
// half-written may become visible afterwards.
func TestS3FaultStopsAnswering(t *testing.T) {
	opts := storage.Options{PartSize: 5 << 20, IdleTimeout: time.Second, MaxRetries: 3}
	f := newFaultyS3(t, opts)
	f.addToxic(t, "stall-up", "timeout", "upstream", `{"timeout":0}`)
	f.addToxic(t, "stall-down", "timeout", "downstream", `{"timeout":0}`)
	const bound = 20 * time.Second
	ctx := context.Background()

	for _, tc := range []struct {
		name string
		op   func() error
	}{
		{"put-small", func() error { return f.store.Put(ctx, "stall/small", bytes.NewReader([]byte("x")), 1) }},
		{"put-multipart", func() error {
			return f.store.Put(ctx, "stall/big", storagetest.Stream(storagetest.Data(5, 12<<20)), -1)
		}},
		{"put-if-absent", func() error { return f.store.PutIfAbsent(ctx, "stall/pia", bytes.NewReader([]byte("x")), 1) }},
		{"get", func() error { _, err := f.store.Get(ctx, "stall/small"); return err }},
		{"stat", func() error { _, err := f.store.Stat(ctx, "stall/small"); return err }},
		{"list", func() error {
			for _, err := range f.store.List(ctx, "stall/") {
				if err != nil {
					return err
				}
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := tc.op()
			elapsed := time.Since(start)
			if err == nil {
				t.Fatal("operation against a silent server succeeded")
			}
			if elapsed > bound {
				t.Errorf("took %v to fail; bound %v", elapsed, bound)
			}
			var se *storage.Error
			if !errors.As(err, &se) || !strings.Contains(se.URL, "s3://"+f.bucket) {
				t.Errorf("error %v does not name the object URL", err)
			}
			t.Logf("failed after %v: %v", elapsed.Round(time.Millisecond), err)
		})
	}

	// The server answers again: nothing of the failed puts is there.
	f.removeToxic(t, "stall-up")
	f.removeToxic(t, "stall-down")
	for _, key := range []string{"stall/small", "stall/big", "stall/pia"} {
		if _, err := f.store.Stat(ctx, key); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("%s after failed put: stat = %v, want ErrNotExist", key, err)
		}
	}
}
