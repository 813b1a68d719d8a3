package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/clipstream/clipstream/dedup"
)

func TestDedupStats(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	idx, err := dedup.Open(ctx, dir, dedup.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	// Five distinct samples and one exact duplicate of the first; three
	// committed.
	var keys []string
	for i := range 6 {
		n := i
		if i == 5 {
			n = 0
		}
		s := dedup.Sample{
			Key:     fmt.Sprintf("k%02d", i),
			URL:     fmt.Sprintf("https://example.com/%d.jpg", i),
			Caption: fmt.Sprintf("caption %d", n),
			SHA256:  sha256.Sum256([]byte{byte(n)}),
		}
		v, err := idx.Check(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if v.Keep {
			keys = append(keys, s.Key)
		}
	}
	if err := idx.Commit(ctx, keys[:3]); err != nil {
		t.Fatal(err)
	}
	if err := idx.Close(); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runCLI(t, ctx, "dedup", "stats", "--index", dir, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var st dedup.Stats
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("%v in %q", err, stdout)
	}
	if st.URLs != 5 || st.Exact != 5 || st.Committed != 3 || st.DiskBytes <= 0 {
		t.Errorf("stats = %+v; want 5 URLs and 5 exact images (the duplicate is not recorded), 3 committed", st)
	}

	code, stdout, _ = runCLI(t, ctx, "dedup", "stats", "--index", dir)
	if code != 0 || !strings.Contains(stdout, "committed samples") || !strings.Contains(stdout, "index "+dir) {
		t.Errorf("text output (exit %d):\n%s", code, stdout)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"missing-index-flag", []string{"dedup", "stats"}, 2},
		{"no-such-dir", []string{"dedup", "stats", "--index", dir + "/nope"}, 1},
		{"missing-verb", []string{"dedup"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, stderr := runCLI(t, ctx, tc.args...); code != tc.code {
				t.Errorf("exit %d, want %d: %s", code, tc.code, stderr)
			}
		})
	}
}
