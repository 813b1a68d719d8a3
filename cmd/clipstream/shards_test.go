package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
)

// testSample returns sample id: its image bytes and caption encode id, so
// drops, duplicates and swaps show when read back.
func testSample(id int) shardwriter.Sample {
	img := make([]byte, 1000+id%500)
	r := rand.New(rand.NewPCG(uint64(id), 1))
	for j := range img {
		img[j] = byte(r.Uint32())
	}
	copy(img, fmt.Sprintf("img-%08d", id))
	return shardwriter.Sample{
		Image:   img,
		Caption: fmt.Sprintf("caption of sample %d: a photo of thing number %d", id, id),
		Meta:    json.RawMessage(fmt.Sprintf(`{"id":%d,"url":"https://example.com/%d.jpg"}`, id, id)),
	}
}

// testShards is the dataset writeDataset builds: shard name → the ids of
// its samples, in order. w0 writes ids 0-9 four to a shard, w1 writes ids
// 100-102 in one shard.
var testShards = map[string][]int{
	"w0-000000.tar.zst": {0, 1, 2, 3},
	"w0-000001.tar.zst": {4, 5, 6, 7},
	"w0-000002.tar.zst": {8, 9},
	"w1-000000.tar.zst": {100, 101, 102},
}

const (
	testShardCount  = 4
	testSampleCount = 13
	orphanKey       = "shards/w9-000003.tar.zst"
)

// writeDataset writes the testShards dataset into a new directory with the
// shard writer and returns the directory.
func writeDataset(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "corpus")
	store, err := storage.Open(ctx, dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, wr := range []struct {
		id  string
		ids []int
	}{{"w0", seqInts(0, 10)}, {"w1", seqInts(100, 103)}} {
		w, err := shardwriter.New(ctx, store, shardwriter.Options{WriterID: wr.id, MaxSamples: 4})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range wr.ids {
			if err := w.Write(ctx, testSample(id)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func seqInts(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// plantOrphan writes a data object without a sidecar, written age ago.
func plantOrphan(t *testing.T, dir string, age time.Duration) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(orphanKey))
	if err := os.WriteFile(p, []byte("half a shard from a crashed writer"), 0o644); err != nil {
		t.Fatal(err)
	}
	if age > 0 {
		old := time.Now().Add(-age)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// editSidecarFile rewrites the sidecar of shard (a base name without
// extension) after fn changed it.
func editSidecarFile(t *testing.T, dir, shard string, fn func(map[string]any)) {
	t.Helper()
	p := filepath.Join(dir, "shards", shard+".json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var sc map[string]any
	if err := json.Unmarshal(b, &sc); err != nil {
		t.Fatal(err)
	}
	fn(sc)
	if b, err = json.Marshal(sc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, p string) bool {
	t.Helper()
	_, err := os.Stat(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

func TestShardsLs(t *testing.T) {
	tests := []struct {
		name      string
		prepare   func(t *testing.T, dir string)
		json      bool
		wantCode  int
		want      map[string]int // shard → samples listed
		wantTotal string         // in stdout
		wantErr   string         // in stderr
	}{
		{name: "text", want: sampleCounts(), wantTotal: "total: 4 shards, 13 samples, "},
		{name: "json", json: true, want: sampleCounts()},
		{
			name:      "orphan is not a shard",
			prepare:   func(t *testing.T, dir string) { plantOrphan(t, dir, time.Hour) },
			want:      sampleCounts(),
			wantTotal: "total: 4 shards, 13 samples, ",
		},
		{
			name: "bad sidecar is reported, the others listed",
			prepare: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, "shards", "w0-000002.json"), []byte("{not json"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantCode:  exitFailure,
			want:      without(sampleCounts(), "w0-000002.tar.zst"),
			wantTotal: "total: 3 shards, 11 samples, ",
			wantErr:   "w0-000002.json",
		},
		{
			name: "empty dataset",
			prepare: func(t *testing.T, dir string) {
				if err := os.RemoveAll(filepath.Join(dir, "shards")); err != nil {
					t.Fatal(err)
				}
			},
			want:      map[string]int{},
			wantTotal: "total: 0 shards, 0 samples, 0 bytes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDataset(t)
			if tt.prepare != nil {
				tt.prepare(t, dir)
			}
			args := []string{"shards", "ls", "--data", dir}
			if tt.json {
				args = append(args, "--json")
			}
			code, stdout, stderr := runCLI(t, t.Context(), args...)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			got := map[string]int{}
			for line := range strings.Lines(stdout) {
				if tt.json {
					var sc shardwriter.Sidecar
					if err := json.Unmarshal([]byte(line), &sc); err != nil {
						t.Fatalf("line %q is not a sidecar: %v", line, err)
					}
					got[sc.Shard] = sc.Samples
					continue
				}
				f := strings.Fields(line)
				if len(f) != 5 || !strings.HasSuffix(f[0], shardwriter.DataSuffix) {
					continue // header and total
				}
				n, err := strconv.Atoi(f[1])
				if err != nil {
					t.Fatalf("line %q: samples: %v", line, err)
				}
				got[f[0]] = n
				// first..last key and the creation time.
				ids := testShards[f[0]]
				stem := strings.TrimSuffix(f[0], shardwriter.DataSuffix)
				wantKeys := fmt.Sprintf("%s-%06d..%s-%06d", stem, 0, stem, len(ids)-1)
				if f[3] != wantKeys {
					t.Errorf("line %q: keys %s, want %s", line, f[3], wantKeys)
				}
				if _, err := time.Parse(time.RFC3339, f[4]); err != nil {
					t.Errorf("line %q: created: %v", line, err)
				}
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("listed %v, want %v\nstdout:\n%s", got, tt.want, stdout)
			}
			if tt.wantTotal != "" && !strings.Contains(stdout, tt.wantTotal) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantTotal, stdout)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, stderr)
			}
		})
	}
}

func sampleCounts() map[string]int {
	m := map[string]int{}
	for name, ids := range testShards {
		m[name] = len(ids)
	}
	return m
}

func without(m map[string]int, key string) map[string]int {
	delete(m, key)
	return m
}

func TestShardsVerify(t *testing.T) {
	tests := []struct {
		name       string
		prepare    func(t *testing.T, dir string)
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{
			name:       "clean",
			wantStdout: []string{"4 shards, 13 samples verified\n"},
		},
		{
			name:       "orphans are not checked",
			prepare:    func(t *testing.T, dir string) { plantOrphan(t, dir, 0) },
			wantStdout: []string{"4 shards, 13 samples verified\n"},
		},
		{
			name: "sidecar lies about the count",
			prepare: func(t *testing.T, dir string) {
				editSidecarFile(t, dir, "w0-000001", func(sc map[string]any) { sc["samples"] = 5 })
			},
			wantCode:   exitFailure,
			wantStdout: []string{"FAIL w0-000001.tar.zst: ", "4 samples, sidecar says 5", "3 shards, 9 samples verified; 1 problem(s)"},
			wantStderr: []string{"clipstream shards verify: 1 problem(s) in w0-000001.tar.zst"},
		},
		{
			name: "sidecar is not JSON",
			prepare: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, "shards", "w1-000000.json"), []byte("{\"format\":"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantCode:   exitFailure,
			wantStdout: []string{"FAIL w1-000000.json: ", "w1-000000.json is not valid JSON", "3 shards, 10 samples verified; 1 problem(s)"},
			wantStderr: []string{"1 problem(s) in w1-000000.json"},
		},
		{
			name: "data object truncated",
			prepare: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "shards", "w0-000002.tar.zst")
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, b[:len(b)/2], 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantCode:   exitFailure,
			wantStdout: []string{"FAIL w0-000002.tar.zst: "},
			wantStderr: []string{"in w0-000002.tar.zst"},
		},
		{
			name: "data object missing",
			prepare: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, "shards", "w0-000000.tar.zst")); err != nil {
					t.Fatal(err)
				}
			},
			wantCode:   exitFailure,
			wantStdout: []string{"FAIL w0-000000.tar.zst: "},
			wantStderr: []string{"in w0-000000.tar.zst"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDataset(t)
			if tt.prepare != nil {
				tt.prepare(t, dir)
			}
			code, stdout, stderr := runCLI(t, t.Context(), "shards", "verify", "--data", dir)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout, stderr)
			}
			for _, want := range tt.wantStdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
}

func TestShardsGC(t *testing.T) {
	tests := []struct {
		name       string
		orphanAge  time.Duration
		args       []string
		wantCode   int
		wantStdout []string
		wantKept   bool // the orphan is still there
	}{
		{
			name:       "dry run leaves young orphans alone",
			wantStdout: []string{"0 orphan(s), 0 bytes would be removed (dry run"},
			wantKept:   true,
		},
		{
			name:       "dry run lists an old orphan and keeps it",
			orphanAge:  2 * time.Hour,
			wantStdout: []string{"would remove " + orphanKey + " (34 bytes", "1 orphan(s), 34 bytes would be removed (dry run"},
			wantKept:   true,
		},
		{
			name:       "dry run with no grace lists it",
			args:       []string{"--grace", "0s"},
			wantStdout: []string{"would remove " + orphanKey, "1 orphan(s)"},
			wantKept:   true,
		},
		{
			name:       "delete leaves young orphans alone",
			args:       []string{"--delete"},
			wantStdout: []string{"removed 0 orphan(s), 0 bytes"},
			wantKept:   true,
		},
		{
			name:       "delete with no grace removes it",
			args:       []string{"--grace", "0s", "--delete"},
			wantStdout: []string{"removed " + orphanKey + " (34 bytes", "removed 1 orphan(s), 34 bytes"},
		},
		{
			name:       "delete removes an old orphan",
			orphanAge:  2 * time.Hour,
			args:       []string{"--delete"},
			wantStdout: []string{"removed " + orphanKey},
		},
		{
			name:     "negative grace",
			args:     []string{"--grace", "-1h"},
			wantCode: exitUsage,
			wantKept: true,
		},
		{
			name:     "bad grace",
			args:     []string{"--grace", "soon"},
			wantCode: exitUsage,
			wantKept: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDataset(t)
			orphan := plantOrphan(t, dir, tt.orphanAge)
			args := append([]string{"shards", "gc", "--data", dir}, tt.args...)
			code, stdout, stderr := runCLI(t, t.Context(), args...)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			for _, want := range tt.wantStdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			if kept := exists(t, orphan); kept != tt.wantKept {
				t.Errorf("orphan kept = %v, want %v", kept, tt.wantKept)
			}
			// Committed shards are never touched.
			if code, stdout, stderr := runCLI(t, t.Context(), "shards", "verify", "--data", dir); code != exitOK || !strings.Contains(stdout, "4 shards, 13 samples verified") {
				t.Errorf("verify after gc: exit %d\n%s%s", code, stdout, stderr)
			}
		})
	}
}

func TestShardsStats(t *testing.T) {
	for _, tt := range []struct {
		name string
		json bool
	}{{"text", false}, {"json", true}} {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDataset(t)
			sizesPath := filepath.Join(dir, "shards", "sizes.json")
			datasetPath := filepath.Join(dir, "dataset.json")
			for _, p := range []string{sizesPath, datasetPath} {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"shards", "stats", "--data", dir}
			if tt.json {
				args = append(args, "--json")
			}
			code, stdout, stderr := runCLI(t, t.Context(), args...)
			if code != exitOK {
				t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
			}

			// What was rewritten.
			var sizes map[string]int
			if err := json.Unmarshal(readFile(t, sizesPath), &sizes); err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(sizes, sampleCounts()) {
				t.Errorf("sizes.json = %v, want %v", sizes, sampleCounts())
			}
			var sum shardwriter.Summary
			if err := json.Unmarshal(readFile(t, datasetPath), &sum); err != nil {
				t.Fatal(err)
			}
			if sum.Shards != testShardCount || sum.Samples != testSampleCount || !slices.Equal(sum.Writers, []string{"w0", "w1"}) {
				t.Errorf("dataset.json: %d shards, %d samples, writers %v", sum.Shards, sum.Samples, sum.Writers)
			}
			var imageBytes int64
			for _, ids := range testShards {
				for _, id := range ids {
					imageBytes += int64(len(testSample(id).Image))
				}
			}
			if sum.MemberBytes["jpg"] != imageBytes {
				t.Errorf("jpg member bytes %d, want %d", sum.MemberBytes["jpg"], imageBytes)
			}
			rewrote := "rewrote file://" + filepath.ToSlash(dir) + "/shards/sizes.json and file://" + filepath.ToSlash(dir) + "/dataset.json"

			if tt.json {
				var got shardwriter.Summary
				if err := json.Unmarshal([]byte(stdout), &got); err != nil {
					t.Fatalf("stdout is not a summary: %v\n%s", err, stdout)
				}
				if got.Samples != testSampleCount || got.Fingerprint != sum.Fingerprint {
					t.Errorf("printed %+v, dataset.json holds %+v", got, sum)
				}
				if !strings.Contains(stderr, rewrote) {
					t.Errorf("stderr lacks %q:\n%s", rewrote, stderr)
				}
				return
			}
			wants := []string{
				"shards       4\n",
				"samples      13\n",
				fmt.Sprintf("bytes        %d bytes", sum.Bytes),
				fmt.Sprintf("tar bytes    %d bytes", sum.TarBytes),
				fmt.Sprintf("compression  %.3f (tar bytes / bytes)", float64(sum.TarBytes)/float64(sum.Bytes)),
				fmt.Sprintf(".jpg %d bytes", imageBytes),
				".json ", ".txt ",
				"writers      w0, w1\n",
				"fingerprint  " + sum.Fingerprint + "\n",
				rewrote + "\n",
			}
			for _, want := range wants {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
		})
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestShardsCat(t *testing.T) {
	tests := []struct {
		name     string
		shard    string
		args     []string
		images   bool // pass --images
		wantIDs  []int
		wantCode int
		wantErr  string // in stderr
	}{
		{name: "stem", shard: "w0-000001", wantIDs: testShards["w0-000001.tar.zst"]},
		{name: "full name", shard: "w1-000000.tar.zst", wantIDs: testShards["w1-000000.tar.zst"]},
		{name: "images", shard: "w0-000000", images: true, wantIDs: testShards["w0-000000.tar.zst"]},
		{name: "limit", shard: "w0-000001", args: []string{"--limit", "2"}, images: true, wantIDs: []int{4, 5}},
		{name: "limit past the end", shard: "w0-000002", args: []string{"--limit", "10"}, wantIDs: []int{8, 9}},
		{name: "no such shard", shard: "w0-000007", wantCode: exitFailure, wantErr: "no shard w0-000007"},
		{name: "orphan is not committed", shard: "w9-000003", wantCode: exitFailure, wantErr: "not committed"},
		{name: "bad shard name", shard: "../../etc/passwd", wantCode: exitUsage, wantErr: "bad shard name"},
		{name: "negative limit", shard: "w0-000000", args: []string{"--limit", "-1"}, wantCode: exitUsage, wantErr: "--limit -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDataset(t)
			plantOrphan(t, dir, 0)
			imagesDir := filepath.Join(t.TempDir(), "out", "images") // cat creates it
			args := append([]string{"shards", "cat", "--data", dir}, tt.args...)
			if tt.images {
				args = append(args, "--images", imagesDir)
			}
			code, stdout, stderr := runCLI(t, t.Context(), append(args, tt.shard)...)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, stderr)
			}
			if tt.wantCode != exitOK {
				if stdout != "" {
					t.Errorf("stdout = %q, want nothing", stdout)
				}
				return
			}
			lines := slices.Collect(strings.Lines(stdout))
			if len(lines) != len(tt.wantIDs) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(tt.wantIDs), stdout)
			}
			stem := strings.TrimSuffix(tt.shard, shardwriter.DataSuffix)
			for i, line := range lines {
				id := tt.wantIDs[i]
				f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
				if len(f) != 3 {
					t.Fatalf("line %q: want KEY<TAB>CAPTION<TAB>METADATA", line)
				}
				if want := fmt.Sprintf("%s-%06d", stem, i); f[0] != want {
					t.Errorf("line %d: key %q, want %q", i, f[0], want)
				}
				if want := testSample(id).Caption; f[1] != want {
					t.Errorf("line %d: caption %q, want %q", i, f[1], want)
				}
				var meta struct{ ID int }
				if err := json.Unmarshal([]byte(f[2]), &meta); err != nil || meta.ID != id {
					t.Errorf("line %d: metadata %q (id %d, %v), want id %d", i, f[2], meta.ID, err, id)
				}
				if tt.images {
					got := readFile(t, filepath.Join(imagesDir, f[0]+".jpg"))
					if !bytes.Equal(got, testSample(id).Image) {
						t.Errorf("image of %s differs from the one written", f[0])
					}
				}
			}
			if tt.images {
				entries, err := os.ReadDir(imagesDir)
				if err != nil {
					t.Fatal(err)
				}
				if len(entries) != len(tt.wantIDs) {
					t.Errorf("%d files in --images, want %d", len(entries), len(tt.wantIDs))
				}
			} else if exists(t, imagesDir) {
				t.Errorf("%s was created without --images", imagesDir)
			}
		})
	}
}

// TestShardsCatImagesStayInDir: a symbolic link already in --images that
// points outside it is not followed.
func TestShardsCatImagesStayInDir(t *testing.T) {
	dir := writeDataset(t)
	base := t.TempDir()
	imagesDir := filepath.Join(base, "images")
	outside := filepath.Join(base, "outside.jpg")
	if err := os.Mkdir(imagesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(outside, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(imagesDir, "w0-000000-000001.jpg")); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	code, _, stderr := runCLI(t, t.Context(), "shards", "cat", "--data", dir, "--images", imagesDir, "w0-000000")
	if code != exitFailure {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitFailure, stderr)
	}
	if !strings.Contains(stderr, "w0-000000-000001") {
		t.Errorf("stderr does not name the sample:\n%s", stderr)
	}
	if got := string(readFile(t, outside)); got != "keep me" {
		t.Errorf("file outside --images was overwritten: %q", got)
	}
}

// TestShardsDataErrors: every verb refuses a missing --data (usage) and a
// local directory that does not exist (failure), and creates nothing.
func TestShardsDataErrors(t *testing.T) {
	verbs := [][]string{{"ls"}, {"verify"}, {"gc"}, {"stats"}, {"cat", "w0-000000"}}
	for _, verb := range verbs {
		name := strings.Join(verb, " ")
		missing := filepath.Join(t.TempDir(), "no-corpus")
		for _, tt := range []struct {
			name     string
			args     []string
			wantCode int
			wantErr  string
		}{
			{"no --data", nil, exitUsage, "--data is required"},
			{"empty --data", []string{"--data", ""}, exitUsage, "--data is required"},
			{"bad URL", []string{"--data", "ftp://example.com/corpus"}, exitUsage, "--data:"},
			{"no such directory", []string{"--data", missing}, exitFailure, "no such directory"},
			{"no such file URL", []string{"--data", "file://" + filepath.ToSlash(missing)}, exitFailure, "no such directory"},
		} {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				args := append(append([]string{"shards"}, verb[0]), tt.args...)
				args = append(args, verb[1:]...)
				code, stdout, stderr := runCLI(t, t.Context(), args...)
				if code != tt.wantCode {
					t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
				}
				if want := "clipstream shards " + verb[0] + ": "; !strings.Contains(stderr, want+tt.wantErr) && !strings.Contains(stderr, tt.wantErr) {
					t.Errorf("stderr lacks %q:\n%s", tt.wantErr, stderr)
				}
				if stdout != "" {
					t.Errorf("stdout = %q, want nothing", stdout)
				}
				if exists(t, missing) {
					t.Errorf("%s was created", missing)
				}
			})
		}
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "a photo of a cat", "a photo of a cat"},
		{"unicode", "café – 猫 \ufffd", "café – 猫 \ufffd"},
		{"tab and newlines", "one\ttwo\nthree\r", `one\ttwo\nthree\r`},
		{"backslash", `a\nb`, `a\\nb`},
		{"terminal escape", "red \x1b[31m", `red \u001b[31m`},
		{"C1 control", "x\u009by", `x\u009by`},
		{"not UTF-8", "a\xffb", `a\xffb`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := oneLine(tt.in); got != tt.want {
				t.Errorf("oneLine(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestOneLineJSON(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"compacts", "{\n  \"id\": 1,\n  \"s\": \"a b\"\n}", `{"id":1,"s":"a b"}`},
		{"keeps escapes", `{"s":"a\nb\\c"}`, `{"s":"a\nb\\c"}`},
		{"escapes C1 controls in strings", "{\"s\":\"x\u009by\"}", `{"s":"x\u009by"}`},
		{"not JSON is escaped text", "{\"s\":\n", `{"s":\n`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := oneLineJSON([]byte(tt.in))
			if got != tt.want {
				t.Errorf("oneLineJSON(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if json.Valid([]byte(tt.in)) {
				var a, b any
				if json.Unmarshal([]byte(tt.in), &a) != nil || json.Unmarshal([]byte(got), &b) != nil || fmt.Sprint(a) != fmt.Sprint(b) {
					t.Errorf("oneLineJSON changed the document: %q → %q", tt.in, got)
				}
			}
		})
	}
}
