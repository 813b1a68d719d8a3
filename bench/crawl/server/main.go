// Command server is the loopback image site of the crawl benchmark
// (bench/crawl/run.sh). It fetches the full emoji corpora of the four
// emoji-datasource vendors into the cache (fixtures.Fetch, with npm; reused
// when already there), serves them with the fixture site on N loopback
// addresses 127.0.0.1 … 127.0.0.N (one port), and writes a URL list (csv:
// url,caption) whose image URLs are spread round-robin over those N hosts.
// It serves until SIGINT/SIGTERM or until -max-time passes.
//
// The images are served as fetched (64 px PNGs, the largest single images
// the packages carry), or, with -upscale PX, as PNGs upscaled to PX on the
// longer side (bilinear) once at start, so a crawler has to decode a
// bigger image and downscale it (cached under the fixture cache's
// bench-crawl/upscale-PX, so only the first run pays for it).
package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"image"
	"image/png"
	"log"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/image/draw"

	"github.com/clipstream/clipstream/fixtures"
)

func main() {
	listeners := flag.Int("listeners", 64, "serve on `N` loopback addresses 127.0.0.1 … 127.0.0.N")
	list := flag.String("list", "urls.csv", "write the URL list (csv: url,caption) to `FILE`")
	cache := flag.String("cache", "", "fixture cache `DIR` (default: fixtures.DefaultCacheDir)")
	upscale := flag.Int("upscale", 0, "serve the images upscaled to `PX` on the longer side (0: as fetched)")
	maxTime := flag.Duration("max-time", 2*time.Hour, "stop serving after `DURATION` at the latest")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *maxTime)
	defer cancel()

	fc, err := fixtures.Fetch(ctx, fixtures.FetchOptions{CacheDir: *cache, Log: os.Stderr})
	if err != nil {
		log.Fatal(err)
	}
	var items []fixtures.Item
	for _, c := range fc {
		it, err := fixtures.LoadDir(c.Dir)
		if err != nil {
			log.Fatal(err)
		}
		items = append(items, it...)
	}
	if *upscale > 0 {
		dir := *cache
		if dir == "" {
			if dir, err = fixtures.DefaultCacheDir(); err != nil {
				log.Fatal(err)
			}
		}
		if err := upscaleAll(ctx, items, *upscale, filepath.Join(dir, "bench-crawl")); err != nil {
			log.Fatal(err)
		}
	}
	var bytesServed int64
	for _, it := range items {
		bytesServed += int64(len(it.Image))
	}

	site, err := fixtures.StartSite(ctx, fixtures.Options{Items: items, Listeners: *listeners})
	if err != nil {
		log.Fatal(err)
	}
	defer site.Close()

	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	_ = cw.Write([]string{"url", "caption"})
	for i, it := range items {
		u := site.URLs[i%len(site.URLs)] + "/img/" + it.Vendor + "/" + path.Base(it.File)
		_ = cw.Write([]string{u, it.Caption})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		log.Fatal(err)
	}
	tmp := *list + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.Rename(tmp, *list); err != nil { // the list appearing means "serving"
		log.Fatal(err)
	}
	log.Printf("serving %d images (%.1f MB) on %d hosts %s … %s; URL list %s",
		len(items), float64(bytesServed)/1e6, len(site.URLs), site.URLs[0], site.URLs[len(site.URLs)-1], *list)
	<-ctx.Done()
	log.Printf("stopping: %d image requests served", site.RequestsUnder("/img/"))
}

// upscaleAll replaces every item's image by a PNG upscaled to px on its
// longer side, in parallel. The results are kept under cacheDir/upscale-PX
// (it takes several CPU-minutes), and reused from there.
func upscaleAll(ctx context.Context, items []fixtures.Item, px int, cacheDir string) error {
	dir := filepath.Join(cacheDir, fmt.Sprintf("upscale-%d", px))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		made atomic.Int64
	)
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				name := filepath.Join(dir, filepath.FromSlash(items[i].ID)+".png")
				if b, err := os.ReadFile(name); err == nil {
					items[i].Image = b
					continue
				}
				b, err := upscaleOne(items[i].Image, px)
				if err == nil {
					err = os.MkdirAll(filepath.Dir(name), 0o755)
				}
				if err == nil {
					err = os.WriteFile(name+".tmp", b, 0o644)
				}
				if err == nil {
					err = os.Rename(name+".tmp", name)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", items[i].ID, err))
					mu.Unlock()
					continue
				}
				items[i].Image = b
				made.Add(1)
			}
		})
	}
feed:
	for i := range items {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	log.Printf("upscaled %d images to %d px (%d from %s)", len(items), px, len(items)-int(made.Load()), dir)
	if len(errs) > 0 {
		return errs[0]
	}
	return ctx.Err()
}

func upscaleOne(src []byte, px int) ([]byte, error) {
	img, err := png.Decode(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	w, h := px, px
	if b.Dx() > b.Dy() {
		h = max(1, px*b.Dy()/b.Dx())
	} else if b.Dy() > b.Dx() {
		w = max(1, px*b.Dx()/b.Dy())
	}
	// *image.RGBA on both sides takes x/image/draw's fast path.
	rgba := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(rgba, rgba.Bounds(), img, b.Min, draw.Src)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.BiLinear.Scale(dst, dst.Bounds(), rgba, rgba.Bounds(), draw.Src, nil)
	var out bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&out, dst); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
