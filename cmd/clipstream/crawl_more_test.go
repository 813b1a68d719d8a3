package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
)

// imageSite is a loopback image server the tests control: n distinct PNGs
// (random 8×8-pixel blocks, so no two are near-duplicates) at /img/N.png, a
// robots.txt that 404s, request counts per path, and hooks to fail or hold
// chosen requests.
type imageSite struct {
	*httptest.Server
	images [][]byte

	mu       sync.Mutex
	requests map[string]int
	// fail, when it returns true for a path and the number of that path's
	// request (1 for the first), makes the answer a 500.
	fail func(path string, n int) bool
	// hold, when it returns true for a path, holds the request until the
	// client gives up or release is closed.
	hold    func(path string) bool
	release chan struct{}
	held    chan string // gets the path of each held request, if there is room
}

func newImageSite(t *testing.T, n int) *imageSite {
	t.Helper()
	s := &imageSite{requests: map[string]int{}, release: make(chan struct{}), held: make(chan string, 64)}
	for i := range n {
		s.images = append(s.images, noisePNG(t, uint64(i)))
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.Release()
		s.Close()
	})
	return s
}

func (s *imageSite) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests[r.URL.Path]++
	n := s.requests[r.URL.Path]
	fail, hold := s.fail, s.hold
	s.mu.Unlock()
	var i int
	if _, err := fmt.Sscanf(r.URL.Path, "/img/%d.png", &i); err != nil || i < 0 || i >= len(s.images) {
		http.NotFound(w, r) // robots.txt too: everything is allowed
		return
	}
	if fail != nil && fail(r.URL.Path, n) {
		http.Error(w, "try again later", http.StatusInternalServerError)
		return
	}
	if hold != nil && hold(r.URL.Path) {
		select {
		case s.held <- r.URL.Path:
		default:
		}
		select {
		case <-s.release:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(s.images[i])
}

// Release lets held requests and all later ones through.
func (s *imageSite) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.release:
	default:
		close(s.release)
	}
}

func (s *imageSite) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

func (s *imageSite) imageURL(i int) string { return fmt.Sprintf("%s/img/%d.png", s.URL, i) }

// writeList writes a csv URL list of every image of the site.
func (s *imageSite) writeList(t *testing.T) string {
	t.Helper()
	rows := []string{"url,caption"}
	for i := range s.images {
		rows = append(rows, fmt.Sprintf("%s,a test picture of coloured squares number %d", s.imageURL(i), i))
	}
	list := filepath.Join(t.TempDir(), "urls.csv")
	if err := os.WriteFile(list, []byte(strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return list
}

// noisePNG is a 64×64 PNG of random 8×8 blocks, deterministic in seed.
func noisePNG(t *testing.T, seed uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 0x636c6970))
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for by := 0; by < 8; by++ {
		for bx := 0; bx < 8; bx++ {
			c := color.RGBA{uint8(r.UintN(256)), uint8(r.UintN(256)), uint8(r.UintN(256)), 255}
			for y := by * 8; y < by*8+8; y++ {
				for x := bx * 8; x < bx*8+8; x++ {
					img.SetRGBA(x, y, c)
				}
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// corpusURLs verifies the corpus at out and returns how many committed
// samples carry each image URL, and the writer of every committed shard.
func corpusURLs(t *testing.T, ctx context.Context, out string) (urls map[string]int, writers map[string]int) {
	t.Helper()
	store, err := storage.Open(ctx, out, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	problems, _, samples, err := shardwriter.Verify(ctx, store, "")
	if err != nil || len(problems) > 0 {
		t.Fatalf("verify %s: %v %v", out, err, problems)
	}
	urls, writers = map[string]int{}, map[string]int{}
	var n int64
	for sc, err := range shardwriter.Committed(ctx, store, "") {
		if err != nil {
			t.Fatal(err)
		}
		writers[sc.Writer]++
		err = shardwriter.ReadShard(ctx, store, "", sc, shardwriter.ReaderOptions{}, func(rec *shardwriter.Record) error {
			var meta struct{ URL string }
			if err := json.Unmarshal(rec.Members["json"], &meta); err != nil {
				return fmt.Errorf("sample %s: %w", rec.Key, err)
			}
			urls[meta.URL]++
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n != samples {
		t.Errorf("read %d samples from the shards, verify counted %d", n, samples)
	}
	return urls, writers
}

// TestCrawlRetryFailed: a rerun skips the failures, and --retry-failed
// fetches exactly the failed URLs again, not the ones already kept.
func TestCrawlRetryFailed(t *testing.T) {
	ctx := context.Background()
	site := newImageSite(t, 12)
	failing := map[string]bool{"/img/2.png": true, "/img/6.png": true, "/img/10.png": true}
	site.fail = func(path string, n int) bool { return failing[path] && n == 1 } // fails once, then serves
	list := site.writeList(t)
	out := filepath.Join(t.TempDir(), "corpus")
	args := []string{"crawl", "--out", out, "--url-list", list, "--allow-private", "--host-delay", "0"}

	code, stdout, stderr := runCLI(t, ctx, args...)
	if code != exitOK {
		t.Fatalf("first run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("first run:\n%s", stdout)
	if n := summaryNumber(t, stdout, `(?m)^  http_5xx +(\d+)$`); n != len(failing) {
		t.Errorf("first run: %d http_5xx, want %d", n, len(failing))
	}
	if n := summaryNumber(t, stdout, `(\d+) samples written`); n != len(site.images)-len(failing) {
		t.Errorf("first run wrote %d samples, want %d", n, len(site.images)-len(failing))
	}

	// A plain rerun settles every URL from the index, failures included.
	code, stdout, stderr = runCLI(t, ctx, args...)
	if code != exitOK {
		t.Fatalf("rerun: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if n := summaryNumber(t, stdout, `(\d+) pairs tried`); n != 0 {
		t.Errorf("plain rerun tried %d pairs, want 0", n)
	}

	code, stdout, stderr = runCLI(t, ctx, append(args, "--retry-failed")...)
	if code != exitOK {
		t.Fatalf("--retry-failed: exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("--retry-failed:\n%s", stdout)
	if n := summaryNumber(t, stdout, `(\d+) pairs tried`); n != len(failing) {
		t.Errorf("--retry-failed tried %d pairs, want the %d failures", n, len(failing))
	}
	if n := summaryNumber(t, stdout, `(\d+) skipped`); n != len(site.images)-len(failing) {
		t.Errorf("--retry-failed skipped %d pairs, want %d", n, len(site.images)-len(failing))
	}
	for i := range site.images {
		p := fmt.Sprintf("/img/%d.png", i)
		want := 1
		if failing[p] {
			want = 2
		}
		if got := site.Requests(p); got != want {
			t.Errorf("%s requested %d times, want %d", p, got, want)
		}
	}
	urls, _ := corpusURLs(t, ctx, out)
	for i := range site.images {
		if n := urls[site.imageURL(i)]; n != 1 {
			t.Errorf("%s is %d times in the corpus, want once", site.imageURL(i), n)
		}
	}
	if len(urls) != len(site.images) {
		t.Errorf("corpus has %d URLs, want %d", len(urls), len(site.images))
	}
}

// TestCrawlPartitions: two processes' parts, 0/2 and 1/2, each with its own
// index, written into one dataset as writers p0 and p1, cover the URL list
// exactly once.
func TestCrawlPartitions(t *testing.T) {
	ctx := context.Background()
	site := newImageSite(t, 40)
	list := site.writeList(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "corpus")
	tried := 0
	for i := range 2 {
		code, stdout, stderr := runCLI(t, ctx, "crawl", "--out", out, "--index", filepath.Join(dir, fmt.Sprintf("idx%d", i)),
			"--partition", fmt.Sprintf("%d/2", i), "--url-list", list, "--allow-private", "--host-delay", "0")
		if code != exitOK {
			t.Fatalf("partition %d/2: exit %d\n%s\n%s", i, code, stdout, stderr)
		}
		t.Logf("partition %d/2:\n%s", i, stdout)
		n := summaryNumber(t, stdout, `(\d+) pairs tried`)
		if n == 0 || n == len(site.images) {
			t.Errorf("partition %d/2 tried %d of %d pairs: not a split", i, n, len(site.images))
		}
		tried += n
	}
	if tried != len(site.images) {
		t.Errorf("the partitions tried %d pairs in all, want %d", tried, len(site.images))
	}
	urls, writers := corpusURLs(t, ctx, out)
	if len(writers) != 2 || writers["p0"] == 0 || writers["p1"] == 0 {
		t.Errorf("shards by writer %v, want p0 and p1", writers)
	}
	for i := range site.images {
		if n := urls[site.imageURL(i)]; n != 1 {
			t.Errorf("%s is %d times in the corpus, want once", site.imageURL(i), n)
		}
		if n := site.Requests(fmt.Sprintf("/img/%d.png", i)); n != 1 {
			t.Errorf("/img/%d.png requested %d times, want once", i, n)
		}
	}
	if len(urls) != len(site.images) {
		t.Errorf("corpus has %d URLs, want %d", len(urls), len(site.images))
	}
}

// TestCrawlInterruptResume: cancelling the crawl (what SIGINT does) while a
// request hangs commits the shard in progress and exits 130; the rerun
// completes the corpus, fetching none of the committed samples again, with
// every URL in it exactly once.
func TestCrawlInterruptResume(t *testing.T) {
	const total, fast = 30, 10
	site := newImageSite(t, total)
	// The site has one host, so the crawl fetches in list order, one at a
	// time: the first `fast` images come, then /img/10.png hangs.
	site.hold = func(path string) bool {
		var i int
		_, err := fmt.Sscanf(path, "/img/%d.png", &i)
		return err == nil && i >= fast
	}
	list := site.writeList(t)
	out := filepath.Join(t.TempDir(), "corpus")
	args := []string{"crawl", "--out", out, "--url-list", list, "--allow-private", "--host-delay", "0",
		"--shard-samples", "100"} // no shard fills up: all that is committed is the interrupted one

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-site.held:
			time.Sleep(500 * time.Millisecond) // let the samples already fetched reach the writer
			cancel()
		case <-time.After(30 * time.Second):
			cancel()
		}
	}()
	code, stdout, stderr := runCLI(t, ctx, args...)
	if code != exitInterrupted {
		t.Fatalf("interrupted run: exit %d, want %d\n%s\n%s", code, exitInterrupted, stdout, stderr)
	}
	t.Logf("interrupted run:\n%s", stdout)
	if !strings.Contains(stdout, "interrupted; the shard in progress was committed") {
		t.Errorf("the summary does not say the run was interrupted:\n%s", stdout)
	}
	urls, _ := corpusURLs(t, context.Background(), out)
	if len(urls) == 0 || len(urls) > fast {
		t.Errorf("after the interrupt %d samples are committed, want 1..%d", len(urls), fast)
	}
	committed := urls

	site.Release()
	code, stdout, stderr = runCLI(t, context.Background(), args...)
	if code != exitOK {
		t.Fatalf("rerun: exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("rerun:\n%s", stdout)
	if n := summaryNumber(t, stdout, `(\d+) skipped`); n != len(committed) {
		t.Errorf("the rerun skipped %d pairs, want the %d committed", n, len(committed))
	}
	urls, _ = corpusURLs(t, context.Background(), out)
	for i := range total {
		u := site.imageURL(i)
		if n := urls[u]; n != 1 {
			t.Errorf("%s is %d times in the corpus, want once", u, n)
		}
		if committed[u] > 0 {
			if n := site.Requests(fmt.Sprintf("/img/%d.png", i)); n != 1 {
				t.Errorf("%s was committed by the first run but requested %d times", u, n)
			}
		}
	}
	if len(urls) != total {
		t.Errorf("corpus has %d URLs, want %d", len(urls), total)
	}
}
