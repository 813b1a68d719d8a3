package dedup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

const crashChildEnv = "DEDUP_TEST_CRASH_CHILD_DIR"

// crashSamples are checked by the crashing child: 0..99 go into a shard that
// commits, 100..199 into one that is prepared but never committed, 200..299
// into one that is never even prepared.
const crashSamples = 300

func runCrashChild(dir string) {
	ctx := context.Background()
	x, err := Open(ctx, dir, testOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	var keys [3][]string
	for i := range crashSamples {
		s := sampleAt(i)
		if v, err := x.Check(ctx, s); err != nil || !v.Keep {
			fmt.Fprintln(os.Stderr, "child check:", v, err)
			os.Exit(2)
		}
		keys[i/100] = append(keys[i/100], s.Key)
	}
	if err := x.Prepare(ctx, "w0-000000", keys[0]); err != nil {
		os.Exit(2)
	}
	if err := x.CommitShard(ctx, "w0-000000"); err != nil {
		os.Exit(2)
	}
	if err := x.Prepare(ctx, "w0-000001", keys[1]); err != nil {
		os.Exit(2)
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// TestCrashBeforeCommit kills a process that holds the index open in the
// middle of a run, then reopens the index: samples whose shard committed are
// still duplicates; samples whose shard never committed are kept again.
func TestCrashBeforeCommit(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child: want death by SIGKILL, got %v\n%s", err, out)
	}

	ctx := context.Background()
	x := openTest(t, dir, testOptions())
	if x.Epoch() != 2 {
		t.Fatalf("epoch after one crashed run = %d, want 2", x.Epoch())
	}
	// The shard prepared before the crash did not commit in the store.
	c, d, err := x.Recover(ctx, func(_ context.Context, shard string) (bool, error) {
		if shard != "w0-000001" {
			t.Errorf("Recover asked about %q", shard)
		}
		return false, nil
	})
	if err != nil || c != 0 || d != 1 {
		t.Fatalf("Recover = %d committed, %d dropped, %v; want 0, 1", c, d, err)
	}
	for i := range crashSamples {
		s := sampleAt(i)
		s.Key = fmt.Sprintf("rerun-%07d", i)
		v := mustCheck(t, x, s)
		committed := i < 100
		if v.Keep == committed {
			t.Fatalf("sample %d (committed=%v): verdict %+v", i, committed, v)
		}
		if committed && (v.Kind != KindURL || v.Original != sampleAt(i).Key) {
			t.Fatalf("sample %d: verdict %+v, want URL duplicate of %s", i, v, sampleAt(i).Key)
		}
	}
}

// TestPendingAcrossReopen: close without commit, reopen: pending samples no
// longer block; committed ones do, for every kind.
func TestPendingAcrossReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	x, err := Open(ctx, dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		mustCheck(t, x, sampleAt(i))
	}
	if err := x.Commit(ctx, []string{sampleAt(0).Key, sampleAt(1).Key}); err != nil {
		t.Fatal(err)
	}
	// Within the run, pending samples block too.
	if v := mustCheck(t, x, withKey(sampleAt(5), "again-5")); v.Keep {
		t.Fatal("pending sample did not block within its run")
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		f    func(s Sample) Sample
		kind Kind
	}{
		{"url", func(s Sample) Sample { return Sample{Key: "u", URL: s.URL} }, KindURL},
		{"exact", func(s Sample) Sample { return Sample{Key: "e", SHA256: s.SHA256} }, KindExact},
		{"near", func(s Sample) Sample { return Sample{Key: "n", PHash: s.PHash ^ 1, HasPHash: true} }, KindNear},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := openTest(t, dir, testOptions())
			for i := range 10 {
				s := tc.f(sampleAt(i))
				s.Key = fmt.Sprintf("%s-%d", s.Key, i)
				v := mustCheck(t, x, s)
				if want := i >= 2; v.Keep != want || (!v.Keep && v.Kind != tc.kind) {
					t.Fatalf("sample %d: %+v, want keep=%v", i, v, want)
				}
			}
			x.Close()
		})
	}
}

func withKey(s Sample, k string) Sample {
	s.Key = k
	return s
}

func TestRecoverCommitsCommittedShard(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	x, err := Open(ctx, dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	mustCheck(t, x, sampleAt(1))
	if err := x.Prepare(ctx, "w1-000007", []string{sampleAt(1).Key}); err != nil {
		t.Fatal(err)
	}
	x.Close() // the sidecar was written, CommitShard never ran

	x = openTest(t, dir, testOptions())
	c, d, err := x.Recover(ctx, func(context.Context, string) (bool, error) { return true, nil })
	if err != nil || c != 1 || d != 0 {
		t.Fatalf("Recover = %d, %d, %v", c, d, err)
	}
	x.Close()
	x = openTest(t, dir, testOptions())
	if v := mustCheck(t, x, withKey(sampleAt(1), "later")); v.Keep || v.Original != sampleAt(1).Key {
		t.Fatalf("recovered sample no longer blocks: %+v", v)
	}
	if err := x.CommitShard(ctx, "never-prepared"); !errors.Is(err, ErrBadSample) {
		t.Fatalf("CommitShard(unknown) = %v, want ErrBadSample", err)
	}
}
