package loader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/clipstream/clipstream/shardwriter"
)

// photoJPEG is a 256-px JPEG with smooth structure and some texture, so
// that its size (~20 KB at quality 90) and decode cost resemble a photo
// more than a flat test pattern does.
func photoJPEG(tb testing.TB, idx, size int) []byte {
	tb.Helper()
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	r := newRNG(uint64(idx))
	fx, fy := 0.02+0.05*r.float64(), 0.02+0.05*r.float64()
	for y := range size {
		for x := range size {
			n := int(r.intn(24))
			img.SetRGBA(x, y, color.RGBA{
				uint8(128 + 100*math.Sin(float64(x)*fx+float64(idx)) + float64(n) - 12),
				uint8(128 + 100*math.Cos(float64(y)*fy) + float64(n) - 12),
				uint8((x + y + idx*7) % 256),
				255,
			})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

var (
	benchOnce sync.Once
	benchDir  string
	benchData *dataset
)

// benchDataset is 8 shards of 64 samples of 256-px JPEGs, built once per
// test binary (removed in TestMain).
func benchDataset(b *testing.B) *dataset {
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "loader-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = dir
		sizes := []int{64, 64, 64, 64, 64, 64, 64, 64}
		benchData = writeDataset(b, fileURL(dir), "w0", "s", sizes, 256, 256, func(i int) []byte { return photoJPEG(b, i, 256) })
	})
	if benchData == nil {
		b.Fatal("no bench dataset")
	}
	return benchData
}

// BenchmarkLoader delivers 224-px training batches of 64 from 256-px JPEG
// shards on file://, with all cores decoding; one op is one batch.
func BenchmarkLoader(b *testing.B) {
	for _, mode := range []struct {
		name string
		eval bool
	}{{"train", false}, {"eval", true}} {
		b.Run(fmt.Sprintf("file_jpeg256_to_224_batch64_%s_workers%d", mode.name, runtime.GOMAXPROCS(0)), func(b *testing.B) {
			d := benchDataset(b)
			cfg := Config{
				Sources:   []Source{{URL: d.url}},
				BatchSize: 64, BlockShards: 4, Eval: mode.eval,
				Tokenizer: testTokenizer(b),
			}
			l, err := New(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			var jpegBytes int64
			for sc, err := range shardwriter.Committed(context.Background(), d.store, "") {
				if err != nil {
					b.Fatal(err)
				}
				jpegBytes += sc.MemberBytes["jpg"]
			}
			b.SetBytes(jpegBytes / 512 * 64)
			b.ReportAllocs()
			b.ResetTimer()
			st := State{Seed: 1}
			var it *Iter
			samples := 0
			for n := 0; n < b.N; {
				if it == nil {
					if it, err = l.Iter(context.Background(), st); err != nil {
						b.Fatal(err)
					}
				}
				bt, err := it.Next()
				if errors.Is(err, io.EOF) {
					it.Close()
					it = nil
					continue
				}
				if err != nil {
					b.Fatal(err)
				}
				samples += bt.N
				st = bt.State
				bt.Release()
				n++
			}
			if it != nil {
				it.Close()
			}
			b.ReportMetric(float64(samples)/b.Elapsed().Seconds(), "samples/s")
			m := l.Metrics()
			b.ReportMetric(m.Stall.Seconds()/float64(b.N)*1e3, "stall-ms/batch")
		})
	}
}
