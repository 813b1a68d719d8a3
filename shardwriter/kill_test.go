package shardwriter_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
)

const (
	childEnv  = "CLIPSTREAM_SHARDWRITER_CHILD"
	childURL  = "CLIPSTREAM_SHARDWRITER_URL"
	childN    = "CLIPSTREAM_SHARDWRITER_N"
	killsEach = 25 // per backend; two backends
)

// childMain is the process the kill test kills: it writes samples 0..N-1,
// except those already committed (found by reading the committed shards, as
// a crawl would find them in its dedup index), into small shards.
func childMain() int {
	ctx := context.Background()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 1 }
	store, err := storage.Open(ctx, os.Getenv(childURL), storage.Options{})
	if err != nil {
		return fail(err)
	}
	n, _ := strconv.Atoi(os.Getenv(childN))
	done := map[int]bool{}
	for sc, err := range shardwriter.Committed(ctx, store, "") {
		if err != nil {
			return fail(err)
		}
		err := shardwriter.ReadShard(ctx, store, "", sc, shardwriter.ReaderOptions{}, func(rec *shardwriter.Record) error {
			var meta struct{ ID int }
			if err := json.Unmarshal(rec.Members["json"], &meta); err != nil {
				return err
			}
			done[meta.ID] = true
			return nil
		})
		if err != nil {
			return fail(err)
		}
	}
	fmt.Println("ready")
	w, err := shardwriter.New(ctx, store, shardwriter.Options{WriterID: "k", MaxSamples: 6})
	if err != nil {
		return fail(err)
	}
	for i := range n {
		if done[i] {
			continue
		}
		if err := w.Write(ctx, sample(i)); err != nil {
			return fail(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		return fail(err)
	}
	return 0
}

// TestKillAnyMoment kills a writing child process with SIGKILL at random
// moments, on file:// and on MinIO. After every kill all committed shards
// verify; at the end, committed samples plus what the last (unkilled) run
// wrote are the input exactly once, and gc removes every orphan.
func TestKillAnyMoment(t *testing.T) {
	// n and the kill delays suit each backend's speed, so that every run
	// makes some progress and none gets to the end.
	backends := []struct {
		name     string
		url      func(t *testing.T) string
		n        int
		maxDelay time.Duration
	}{
		{"file", func(t *testing.T) string { return "file://" + t.TempDir() }, 3000, 15 * time.Millisecond},
		{"s3", func(t *testing.T) string { return "s3://" + newBucket(t) + "/kill" }, 600, 60 * time.Millisecond},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 0))
			n := b.n
			ctx := context.Background()
			store, err := storage.Open(ctx, url, storage.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			kills := 0
			for kills < killsEach {
				finished := runChild(t, url, n, time.Duration(rng.Int64N(int64(b.maxDelay))))
				if finished {
					t.Fatalf("the child finished after %d kills; the test wants %d (raise n)", kills, killsEach)
				}
				kills++
				problems, _, _, err := shardwriter.Verify(ctx, store, "")
				if err != nil || len(problems) > 0 {
					t.Fatalf("after kill %d (seed %d): verify: %v %v", kills, seed, err, problems)
				}
			}
			if !runChild(t, url, n, -1) {
				t.Fatal("the final run did not finish")
			}
			ids := readAll(t, store, "")
			slices.Sort(ids)
			if !slices.Equal(ids, seq(0, n)) {
				t.Fatalf("after %d kills: %d samples committed, want 0..%d exactly once (seed %d)", kills, len(ids), n-1, seed)
			}
			orphans, err := shardwriter.GC(ctx, store, "", 0, false)
			if err != nil {
				t.Fatal(err)
			}
			for info, err := range store.List(ctx, shardwriter.ShardsDir) {
				if err != nil {
					t.Fatal(err)
				}
				if name := path.Base(info.Key); strings.HasSuffix(name, shardwriter.DataSuffix) {
					if _, err := store.Stat(ctx, shardwriter.ShardsDir+strings.TrimSuffix(name, shardwriter.DataSuffix)+shardwriter.SidecarSuffix); err != nil {
						t.Errorf("orphan %s survived gc", info.Key)
					}
				}
			}
			t.Logf("%d kills; %d samples exactly once; gc removed %d orphans", kills, len(ids), len(orphans))
		})
	}
}

// runChild starts the child and kills it delay after it is ready (never,
// for a negative delay). It reports whether the child finished on its own.
func runChild(t *testing.T, url string, n int, delay time.Duration) bool {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childURL+"="+url, childN+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		cmd.Wait()
		t.Fatalf("child did not get ready: %q", line)
	}
	if delay >= 0 {
		time.Sleep(delay)
		_ = cmd.Process.Signal(syscall.SIGKILL)
	}
	err = cmd.Wait()
	if err == nil {
		return true
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		return false
	}
	t.Fatalf("child failed: %v", err)
	return false
}
