package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// TestCrawlProfiles: --cpu-profile and --mem-profile write pprof profiles
// (gzipped protobuf) of the run; an unwritable profile path fails before
// anything is crawled.
func TestCrawlProfiles(t *testing.T) {
	ctx := context.Background()
	site := newImageSite(t, 6)
	list := site.writeList(t)
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "mem.prof")
	code, stdout, stderr := runCLI(t, ctx, "crawl", "--out", filepath.Join(dir, "corpus"), "--url-list", list,
		"--allow-private", "--host-delay", "0", "--cpu-profile", cpu, "--mem-profile", mem)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if n := summaryNumber(t, stdout, `(\d+) samples written`); n != 6 {
		t.Errorf("%d samples written, want 6", n)
	}
	for _, f := range []string{cpu, mem} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 20 || !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			t.Errorf("%s: %d bytes, not a gzipped profile", filepath.Base(f), len(b))
		}
	}

	// The run function takes the options as the flags set them.
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := crawlOptions{Out: filepath.Join(dir, "corpus2"), Lists: []string{list}, AllowPrivate: true,
		Workers: 4, ResizeMode: "border", ImageSize: 256, JPEGQuality: 95, MinSide: 10, MaxAspect: 10,
		MinCaption: 5, ShardSamples: 100, Radius: 4, CPUProfile: filepath.Join(dir, "no-such-dir", "cpu.prof")}
	var out bytes.Buffer
	if err := runCrawl(ctx, opts, &out, log); err == nil {
		t.Fatal("an unwritable --cpu-profile path did not fail the run")
	}
	if site.Requests("/img/0.png") != 1 {
		t.Errorf("/img/0.png requested %d times; the failed run must fetch nothing", site.Requests("/img/0.png"))
	}
	opts.CPUProfile = filepath.Join(dir, "cpu2.prof")
	if err := runCrawl(ctx, opts, &out, log); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(opts.CPUProfile); err != nil || st.Size() == 0 {
		t.Errorf("runCrawl with CPUProfile wrote no profile: %v", err)
	}
}
