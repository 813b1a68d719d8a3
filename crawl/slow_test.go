//go:build linux

package crawl

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clipstream/clipstream/fixtures"
)

// slowSiteEnv makes the test binary serve the slow site (serveSlowSite)
// instead of running tests.
const slowSiteEnv = "CLIPSTREAM_SLOW_SITE_HELPER"

// slowHosts is how many distinct loopback hosts TestSlowConnectionsMemory
// fetches from at once; slowHostsPerSite per /24 (the fixture site puts at
// most 254 listeners after x.y.z.1).
const (
	slowHosts        = 500
	slowHostsPerSite = 250
	// slowRSSGrowthLimit bounds the RSS growth of the fetcher holding
	// slowHosts slow connections (about 4× what was measured).
	slowRSSGrowthLimit = 128 << 20
)

// serveSlowSite is the child process of TestSlowConnectionsMemory: the test
// binary run again with slowSiteEnv set (TestMain dispatches here). It serves the hostile
// fixture site (its trickle endpoint sends one byte a second) on slowHosts
// loopback addresses, 127.0.0.1…127.0.0.250 and 127.0.1.1…127.0.1.250, in
// that separate process, so that the parent's memory is the fetcher's alone.
// It prints "SITE <base URL>" per address, then "READY", and serves until
// its standard input closes.
func serveSlowSite() int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var sites []*fixtures.Site
	defer func() {
		for _, s := range sites {
			s.Close()
		}
	}()
	for i := 0; i*slowHostsPerSite < slowHosts; i++ {
		s, err := fixtures.StartSite(ctx, fixtures.Options{
			Hostile:   true,
			Addr:      fmt.Sprintf("127.0.%d.1:0", i),
			Listeners: min(slowHostsPerSite, slowHosts-i*slowHostsPerSite),
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "slow site:", err)
			return 1
		}
		sites = append(sites, s)
		for _, u := range s.URLs {
			fmt.Println("SITE", u)
		}
	}
	fmt.Println("READY")
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return 0
}

// TestSlowConnectionsMemory points the fetcher at slowHosts URLs on as many
// distinct loopback hosts, each of which trickles its body one byte a
// second, with a 10 s whole-body timeout: all of them must be open at once,
// all must end in StatusTimeout, and the peak RSS of this process (the
// fetcher; the site runs in a child process) is logged, with its growth
// over the baseline; the growth must stay under slowRSSGrowthLimit. See
// bench/RESULTS.md for the recorded figure.
func TestSlowConnectionsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("takes ~12 s: 500 connections held to a 10 s body timeout")
	}
	const bodyTimeout = 10 * time.Second

	// The site, in a child process.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), slowSiteEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		done := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	var bases []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if base, ok := strings.CutPrefix(line, "SITE "); ok {
			bases = append(bases, base)
		}
		if line == "READY" {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }() // until the child exits
	if len(bases) != slowHosts {
		t.Fatalf("the site helper gave %d hosts, want %d (scan: %v)", len(bases), slowHosts, sc.Err())
	}

	opts := DefaultOptions()
	opts.Workers = slowHosts + 100
	opts.HostDelay = 0
	opts.AllowPrivate = true
	opts.BodyTimeout = bodyTimeout
	f, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	runtime.GC()
	base := procStatus(t, "VmRSS")
	baseFDs := openFDs()
	// Reset VmHWM to the current RSS (Linux ≥ 4.0), so the peak is this
	// test's whatever ran before in this process.
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Logf("cannot reset the peak RSS (%v): it covers the whole test binary", err)
	}

	var (
		mu       sync.Mutex
		maxRSS   = base
		maxFDs   = baseFDs
		maxHeap  uint64
		stopSamp = make(chan struct{})
		sampDone = make(chan struct{})
	)
	go func() {
		defer close(sampDone)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-stopSamp:
				return
			case <-tick.C:
			}
			rss, _ := readProcStatus("VmRSS")
			fds := openFDs()
			runtime.ReadMemStats(&ms)
			mu.Lock()
			maxRSS, maxFDs, maxHeap = max(maxRSS, rss), max(maxFDs, fds), max(maxHeap, ms.HeapInuse)
			mu.Unlock()
		}
	}()

	pairs := make(chan Pair, slowHosts)
	for _, b := range bases {
		pairs <- Pair{ImageURL: b + "/hostile/slow/trickle.png", Caption: "an image that arrives one byte a second", Source: "test"}
	}
	close(pairs)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	status := map[Status]int{}
	start := time.Now()
	err = f.Run(ctx, pairs, func(s Sample) error {
		status[s.Status]++
		return nil
	})
	elapsed := time.Since(start)
	close(stopSamp)
	<-sampDone
	if err != nil {
		t.Fatal(err)
	}
	hwm := procStatus(t, "VmHWM")
	t.Logf("%d slow hosts in %v: %v", slowHosts, elapsed.Round(time.Millisecond), status)
	t.Logf("RSS: baseline %.1f MiB, peak %.1f MiB (VmHWM %.1f MiB), growth %.1f MiB; Go heap in use at most %.1f MiB; open fds at most %d (baseline %d)",
		mib(base), mib(maxRSS), mib(hwm), mib(max(maxRSS, hwm)-base), float64(maxHeap)/(1<<20), maxFDs, baseFDs)
	if status[StatusTimeout] != slowHosts {
		t.Errorf("statuses %v: want all %d %s", status, slowHosts, StatusTimeout)
	}
	// All connections were open at once: one fd per connection.
	if maxFDs-baseFDs < slowHosts {
		t.Errorf("at most %d fds open beyond the baseline: the %d slow connections were not all open at once", maxFDs-baseFDs, slowHosts)
	}
	// Measured: ~30 MiB of growth (~60 KiB a connection), peak ~50 MiB;
	// the bound leaves room for other runtimes and allocators. The race
	// detector's shadow memory multiplies RSS (measured: 130 MiB of growth
	// under -race), so there the bound is scaled by its documented 5-10x.
	limit := int64(slowRSSGrowthLimit)
	if raceEnabled {
		limit *= 8
	}
	if growth := max(maxRSS, hwm) - base; growth > limit {
		t.Errorf("RSS grew by %.1f MiB with %d slow connections, want at most %.0f MiB", mib(growth), slowHosts, mib(limit))
	}
	if elapsed > 3*bodyTimeout {
		t.Errorf("took %v: the slow hosts were not fetched concurrently", elapsed)
	}
}

// procStatus is a "kB" field of /proc/self/status, in bytes.
func procStatus(t *testing.T, field string) int64 {
	t.Helper()
	v, err := readProcStatus(field)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func readProcStatus(field string) (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/self/status %s: %w", field, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("/proc/self/status has no %s", field)
}

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
