package crawl

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clipstream/clipstream/fixtures"
)

// benchFetch runs the whole fetcher (queues, robots.txt, HTTP, decode,
// resize, encode, hashes) over n real emoji PNGs (72×72, the fixture
// corpus) spread over hosts loopback servers, with the per-host spacing
// relaxed to 0 (as img2dataset has none). It reports samples/s.
func benchFetch(b *testing.B, hosts, n int) {
	items, err := fixtures.Corpus()
	if err != nil {
		b.Fatal(err)
	}
	var bases []string
	for range hosts {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/robots.txt" {
				http.NotFound(w, r)
				return
			}
			i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/img/"))
			if err != nil {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(items[i%len(items)].Image)
		}))
		defer srv.Close()
		bases = append(bases, srv.URL)
	}
	o := DefaultOptions()
	o.AllowPrivate = true
	o.HostDelay = 0
	f, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.ReportAllocs()
	b.ResetTimer()
	var total int
	start := time.Now()
	for b.Loop() {
		in := make(chan Pair, 64)
		go func() {
			defer close(in)
			for i := range n {
				in <- Pair{ImageURL: fmt.Sprintf("%s/img/%d", bases[i%hosts], i), Caption: items[i%len(items)].Caption}
			}
		}()
		ok := 0
		err := f.Run(context.Background(), in, func(s Sample) error {
			if s.OK() {
				ok++
			}
			return nil
		})
		if err != nil || ok != n {
			b.Fatalf("Run: %v, %d of %d ok", err, ok, n)
		}
		total += n
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "samples/s")
}

func BenchmarkFetchLoopback8Hosts1000PNG72(b *testing.B) { benchFetch(b, 8, 1000) }
