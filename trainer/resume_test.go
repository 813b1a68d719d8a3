package trainer

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clipstream/clipstream/internal/s3test"
	"github.com/clipstream/clipstream/loader"
	"github.com/clipstream/clipstream/storage"
)

const (
	childEnv  = "CLIPSTREAM_TRAINER_CHILD"
	childData = "CLIPSTREAM_TRAINER_DATA"
	childRun  = "CLIPSTREAM_TRAINER_RUN"
)

// resumeConfig is the run the exact-resume test repeats: tiny model, two
// micro-batches per step (accumulation), clipping on, a checkpoint every 3
// steps, the last 2 kept.
func resumeConfig(data, run string) Config {
	return Config{
		Data: []loader.Source{{URL: data}}, Run: run, Model: "tiny",
		Batch: 16, MicroBatch: 8, Steps: 2 * resumeN, LR: 2e-3, Warmup: 3, GradClip: 1, Seed: 7,
		CheckpointEvery: 3, Keep: 2, LoaderWorkers: 2,
	}
}

// resumeN: the run is 2N steps (fewer under the slow race detector).
var resumeN = map[bool]int64{false: 9, true: 6}[raceEnabled]

// childMain trains with --resume auto and prints each step's loss bits:
// "step N BITS".
func childMain() int {
	cfg := resumeConfig(os.Getenv(childData), os.Getenv(childRun))
	cfg.OnStep = func(s StepMetrics) {
		fmt.Printf("step %d %d\n", s.Step, math.Float64bits(s.Loss))
	}
	if _, err := Run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	fmt.Println("done")
	return 0
}

// TestExactResume: a run of 2N steps, and the same run SIGKILLed at random
// steps (and random moments after them, so some kills land while a
// checkpoint is written) and resumed with resume=auto until 2N, end with
// bit-identical weights and optimizer moments, and every step any process
// ran has the uninterrupted run's loss bit for bit.
func TestExactResume(t *testing.T) {
	backends := []struct {
		name string
		run  func(t *testing.T) string
	}{
		{"file", func(t *testing.T) string { return "file://" + t.TempDir() }},
		{"s3", func(t *testing.T) string { return "s3://" + s3test.NewBucket(t) + "/run" }},
	}
	train, _ := fixtureData(t)
	ref := t.TempDir()
	rcfg := resumeConfig(train, ref)
	res, err := Run(t.Context(), rcfg)
	if err != nil {
		t.Fatal(err)
	}
	refState := readState(t, ref, 2*resumeN)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			run := b.run(t)
			seed := uint64(time.Now().UnixNano())
			rng := rand.New(rand.NewPCG(seed, 1))
			t.Logf("seed %d", seed)
			kill := int64(0)
			kills := 0
			var killedAt []string
			check := func(losses map[int64]uint64) {
				for s, bits := range losses {
					if want := math.Float64bits(res.Losses[s-1]); bits != want {
						t.Errorf("step %d: loss %v, uninterrupted run %v (seed %d)", s, math.Float64frombits(bits), res.Losses[s-1], seed)
					}
				}
			}
			for kill < 2*resumeN-1 && kills < map[bool]int{false: 4, true: 2}[raceEnabled] {
				kill += 1 + rng.Int64N(max(1, (2*resumeN-1-kill)/2))
				delay := time.Duration(rng.Int64N(int64(40 * time.Millisecond)))
				losses, finished := runTrainChild(t, train, run, kill, delay)
				check(losses)
				if finished {
					break
				}
				kills++
				killedAt = append(killedAt, fmt.Sprintf("%d+%v", kill, delay.Round(time.Millisecond)))
			}
			losses, finished := runTrainChild(t, train, run, -1, 0)
			if !finished {
				t.Fatal("the last run did not finish")
			}
			check(losses)
			got := readState(t, run, 2*resumeN)
			for _, f := range []string{ModelFile, OptimizerFile} {
				if got.Files[f] != refState.Files[f] {
					t.Errorf("%s differs from the uninterrupted run's: %+v vs %+v", f, got.Files[f], refState.Files[f])
				}
			}
			if got.Loader != refState.Loader || got.SamplesSeen != refState.SamplesSeen || got.AdamStep != refState.AdamStep {
				t.Errorf("state differs: %+v vs %+v", got, refState)
			}
			steps := listSteps(t, run)
			if len(steps) > 2 {
				t.Errorf("keep 2, but checkpoints %v remain", steps)
			}
			t.Logf("killed at steps %v (step+delay); final weights and moments bit-identical; checkpoints left %v", killedAt, steps)
		})
	}
}

func readState(t *testing.T, run string, step int64) State {
	t.Helper()
	store, err := storage.Open(t.Context(), run, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	l, ok, err := ReadLatest(t.Context(), store)
	if err != nil || !ok || l.Step != step {
		t.Fatalf("latest.json: %+v %v %v, want step %d", l, ok, err, step)
	}
	b, err := readAll(t.Context(), store, l.Dir+StateFile, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func listSteps(t *testing.T, run string) []int64 {
	store, err := storage.Open(t.Context(), run, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	steps, err := ListCheckpoints(t.Context(), store)
	if err != nil {
		t.Fatal(err)
	}
	return steps
}

// runTrainChild runs the child until it prints step kill (then SIGKILLs it
// after delay), or to the end for kill < 0. It returns the loss bits of
// the steps the child printed and whether it finished.
func runTrainChild(t *testing.T, data, run string, kill int64, delay time.Duration) (map[int64]uint64, bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childData+"="+data, childRun+"="+run)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	losses := map[int64]uint64{}
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "step" {
			continue
		}
		s, _ := strconv.ParseInt(f[1], 10, 64)
		bits, _ := strconv.ParseUint(f[2], 10, 64)
		losses[s] = bits
		if kill >= 0 && s >= kill && !killed {
			killed = true
			go func() {
				time.Sleep(delay)
				_ = cmd.Process.Signal(syscall.SIGKILL)
			}()
		}
	}
	err = cmd.Wait()
	if err == nil {
		return losses, true
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		return losses, false
	}
	t.Fatalf("child failed: %v", err)
	return nil, false
}
