package storage_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/clipstream/clipstream/internal/s3test"
	"github.com/clipstream/clipstream/storage"
)

// Benchmark sizes: a small object (latency-bound) and a large one
// (throughput-bound). ns/op of the 1 MiB case is the per-object latency.
var benchSizes = []int64{1 << 20, 256 << 20}

func sizeName(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dB", n)
}

// benchStores are the backends under benchmark; s3 only when the test
// server runs (bench/storage.sh starts it).
func benchStores(b *testing.B) map[string]storage.Store {
	out := map[string]storage.Store{}
	fs, err := storage.Open(context.Background(), b.TempDir(), storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	out["file"] = fs
	if s3test.Available() {
		out["s3"] = openS3(b, "s3://"+s3test.NewBucket(b)+"/bench", storage.Options{})
	}
	return out
}

func BenchmarkPut(b *testing.B) {
	for _, name := range []string{"file", "s3"} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/size=%s", name, sizeName(size)), func(b *testing.B) {
				s, ok := benchStores(b)[name]
				if !ok {
					b.Skip("no S3 test server")
				}
				ctx := context.Background()
				b.SetBytes(size)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					if err := s.Put(ctx, fmt.Sprintf("obj-%d", i%4), &genReader{n: size}, -1); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkGet(b *testing.B) {
	for _, name := range []string{"file", "s3"} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/size=%s", name, sizeName(size)), func(b *testing.B) {
				s, ok := benchStores(b)[name]
				if !ok {
					b.Skip("no S3 test server")
				}
				ctx := context.Background()
				if err := s.Put(ctx, "obj", &genReader{n: size}, size); err != nil {
					b.Fatal(err)
				}
				buf := make([]byte, 256<<10)
				b.SetBytes(size)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					rc, err := s.Get(ctx, "obj")
					if err != nil {
						b.Fatal(err)
					}
					n, err := io.CopyBuffer(io.Discard, rc, buf)
					rc.Close()
					if err != nil || n != size {
						b.Fatalf("read %d bytes: %v", n, err)
					}
				}
			})
		}
	}
}

// BenchmarkAnchor measures the same transfers without clipstream's layer:
// minio-go's own PutObject/GetObject with its defaults, and plain os file
// writes (no fsync, no rename). bench/storage.sh reports our figures as a
// ratio to these.
func BenchmarkAnchor(b *testing.B) {
	ctx := context.Background()
	for _, size := range benchSizes {
		b.Run("put/file-os/size="+sizeName(size), func(b *testing.B) {
			dir := b.TempDir()
			b.SetBytes(size)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				f, err := os.Create(filepath.Join(dir, fmt.Sprintf("obj-%d", i%4)))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(f, &genReader{n: size}); err != nil {
					b.Fatal(err)
				}
				if err := f.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("put/s3-minio-go/size="+sizeName(size), func(b *testing.B) {
			if !s3test.Available() {
				b.Skip("no S3 test server")
			}
			c := s3test.AdminClient(b)
			bucket := s3test.NewBucket(b)
			b.SetBytes(size)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := c.PutObject(ctx, bucket, fmt.Sprintf("obj-%d", i%4), &genReader{n: size}, -1, minio.PutObjectOptions{PartSize: 16 << 20}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("get/s3-minio-go/size="+sizeName(size), func(b *testing.B) {
			if !s3test.Available() {
				b.Skip("no S3 test server")
			}
			c := s3test.AdminClient(b)
			bucket := s3test.NewBucket(b)
			if _, err := c.PutObject(ctx, bucket, "obj", &genReader{n: size}, size, minio.PutObjectOptions{}); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 256<<10)
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				o, err := c.GetObject(ctx, bucket, "obj", minio.GetObjectOptions{})
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.CopyBuffer(io.Discard, o, buf)
				o.Close()
				if err != nil || n != size {
					b.Fatalf("read %d bytes: %v", n, err)
				}
			}
		})
	}
}
