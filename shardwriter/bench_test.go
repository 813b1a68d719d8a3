package shardwriter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/clipstream/clipstream/internal/s3test"
	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
)

// benchJPEGs encodes n different 256×256 JPEGs at quality 95 with smooth
// shapes and sensor-like noise, so that their size and entropy are those
// of photos resized by the crawl (25-45 KB), not of flat test patterns.
func benchJPEGs(b *testing.B, n int) [][]byte {
	b.Helper()
	out := make([][]byte, n)
	for i := range out {
		r := rand.New(rand.NewPCG(uint64(i), 7))
		img := image.NewRGBA(image.Rect(0, 0, 256, 256))
		cx, cy := r.Float64()*256, r.Float64()*256
		for y := range 256 {
			for x := range 256 {
				d := (float64(x)-cx)*(float64(x)-cx) + (float64(y)-cy)*(float64(y)-cy)
				v := uint8(int(d/300+float64(x+i)*0.3)%200 + r.IntN(40))
				img.SetRGBA(x, y, color.RGBA{v, uint8(int(v)*3/4 + r.IntN(30)), uint8(255 - int(v)/2), 255})
			}
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
			b.Fatal(err)
		}
		out[i] = buf.Bytes()
	}
	return out
}

// benchSample is a crawl-like sample: a JPEG, an alt text and the metadata
// the crawl records.
func benchSample(i int, jpgs [][]byte) shardwriter.Sample {
	meta, _ := json.Marshal(map[string]any{
		"url": fmt.Sprintf("https://images.example.com/photos/%d/large.jpg", i), "page_url": fmt.Sprintf("https://example.com/gallery/page-%d.html", i/20),
		"caption_source": "alt", "width": 256, "height": 256, "original_width": 1024 + i%400, "original_height": 768 + i%300,
		"sha256": fmt.Sprintf("%064x", i), "phash": fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15), "status": "ok",
	})
	return shardwriter.Sample{
		Image:   jpgs[i%len(jpgs)],
		Caption: fmt.Sprintf("A photograph of a red-roofed farmhouse in a wide green valley, number %d, under an evening sky", i),
		Meta:    meta,
	}
}

// BenchmarkWrite writes crawl-like samples with 256 px JPEGs into shards of
// 10,000 samples; samples/s is reported per core used (GOMAXPROCS).
func BenchmarkWrite(b *testing.B) {
	// 1000 distinct JPEGs (about 40 MB) repeat far beyond any zstd window,
	// so no sample compresses against an earlier copy of itself.
	jpgs := benchJPEGs(b, 1000)
	var jpgPool uint64
	for _, j := range jpgs {
		jpgPool += uint64(cap(j))
	}
	for _, backend := range []string{"file", "s3"} {
		for _, level := range []int{1, 3} {
			b.Run(fmt.Sprintf("%s/zstd=%d/jpeg=256px", backend, level), func(b *testing.B) {
				ctx := context.Background()
				var store storage.Store
				if backend == "file" {
					s, err := storage.Open(ctx, b.TempDir(), storage.Options{})
					if err != nil {
						b.Fatal(err)
					}
					store = s
				} else {
					if !s3test.Available() {
						b.Skip("no S3 test server (bench/shards.sh starts one)")
					}
					s, err := storage.Open(ctx, "s3://"+newBucket(b)+"/bench", storage.Options{})
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close()
					store = s
				}
				w, err := shardwriter.New(ctx, store, shardwriter.Options{WriterID: "bench", ZstdLevel: level})
				if err != nil {
					b.Fatal(err)
				}
				var bytesPer int64
				for i := range 100 {
					s := benchSample(i, jpgs)
					bytesPer += int64(len(s.Image) + len(s.Caption) + len(s.Meta))
				}
				b.SetBytes(bytesPer / 100)
				b.ReportAllocs()
				runtime.GC()
				var ms runtime.MemStats
				cpu0 := cpuSeconds()
				b.ResetTimer()
				i := 0
				for b.Loop() {
					if err := w.Write(ctx, benchSample(i, jpgs)); err != nil {
						b.Fatal(err)
					}
					i++
				}
				if err := w.Close(ctx); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				runtime.ReadMemStats(&ms)
				// Per core = per CPU-second this process used (user+system),
				// which counts the zstd, hashing and upload goroutines too.
				b.ReportMetric(float64(i)/(cpuSeconds()-cpu0), "samples/cpu-s")
				sum, _, err := shardwriter.Summarize(ctx, store, "")
				if err != nil {
					b.Fatal(err)
				}
				if sum.Bytes > 0 {
					b.ReportMetric(float64(sum.TarBytes)/float64(sum.Bytes), "tar/zst")
				}
				b.ReportMetric(textRatio(b, jpgs, level), "text-ratio")
				b.ReportMetric(float64(ms.HeapSys-jpgPool)/(1<<20), "MiB-heap-sys-beyond-input")
			})
		}
	}
}

// cpuSeconds is the user+system CPU time this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// textRatio is what the shard encoder at level makes of the text members alone (captions
// and metadata of 1000 samples, as a stream): JPEG hardly compresses, so
// this is where the shard compression pays.
func textRatio(b *testing.B, jpgs [][]byte, level int) float64 {
	var text bytes.Buffer
	for i := range 1000 {
		s := benchSample(i, jpgs)
		text.WriteString(s.Caption)
		text.Write(s.Meta)
	}
	enc, err := zstd.NewWriter(nil, shardwriter.EncoderOptions(level, 1)...)
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	return float64(text.Len()) / float64(len(enc.EncodeAll(text.Bytes(), nil)))
}
