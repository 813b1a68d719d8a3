package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
)

// TestDemoQuick runs 'clipstream demo --quick' as a new user would and
// checks its outputs: a verified corpus and held-out set, a run that was
// stopped and resumed, numbers well above chance, and the report files.
func TestDemoQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for about half a minute")
	}
	out := filepath.Join(t.TempDir(), "demo")
	args := []string{"demo", "--quick", "--out", out}
	half, steps := 60, 120
	if raceEnabled {
		// Under the race detector: the whole pipeline, but few steps, and
		// no claim about learning (scripts/test.sh runs the real --quick).
		half, steps = 4, 8
		args = append(args, "--steps", "8")
	}
	code, stdout, stderr := runCLI(t, context.Background(), args...)
	if code != 0 {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	t.Logf("%s", stdout)
	for _, want := range []string{"[5/5]", fmt.Sprintf("stopped at step %d", half), fmt.Sprintf("resumed at step %d, finished at step %d", half, steps),
		"80 held-out images extracted", "contaminated             80"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, ds := range []string{"corpus", "heldout"} {
		store, err := storage.Open(context.Background(), filepath.Join(out, ds), storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		problems, shards, samples, err := shardwriter.Verify(context.Background(), store, "")
		if err != nil || len(problems) > 0 || shards == 0 {
			t.Errorf("%s: verify %v %v, %d shards %d samples", ds, err, problems, shards, samples)
		}
	}
	m := regexp.MustCompile(`image→text recall@1 [0-9.]+  @5 ([0-9.]+) .*chance @5: ([0-9.]+)`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no recall line in the output")
	}
	r5, _ := strconv.ParseFloat(m[1], 64)
	chance, _ := strconv.ParseFloat(m[2], 64)
	if !raceEnabled && r5 < 2*chance {
		t.Errorf("held-out recall@5 %.3f is not well above chance %.3f", r5, chance)
	}
	for _, f := range []string{"report/loss.png", "report/index.html"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("report file %s: %v", f, err)
		}
	}
	page, _ := os.ReadFile(filepath.Join(out, "report/index.html"))
	if n := strings.Count(string(page), "<tr>"); n != 12 {
		t.Errorf("report shows %d held-out images, want 12", n)
	}
}
