package shardwriter_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
)

// webdatasetVersion is the webdataset release the interop test installs.
const webdatasetVersion = "1.0.2"

// webdatasetPython returns a Python interpreter that has the webdataset
// library, installing it into a virtualenv in the cache dir the first time.
// Without python3 or the zstd tool the test skips, except in CI (CI set) or
// with CLIPSTREAM_REQUIRE_INTEROP=1, where that is a failure.
func webdatasetPython(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("CI") != "" || os.Getenv("CLIPSTREAM_REQUIRE_INTEROP") != "" {
			t.Fatalf("interop test needs %s", what)
		}
		t.Skipf("interop test needs %s", what)
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		missing("python3")
	}
	if _, err := exec.LookPath("zstd"); err != nil {
		missing("the zstd command (webdataset reads shards through 'pipe:zstd -dc')")
	}
	cache := os.Getenv("CLIPSTREAM_CACHE")
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(dir, "clipstream")
	}
	venv := filepath.Join(cache, "venv-webdataset-"+webdatasetVersion)
	vpy := filepath.Join(venv, "bin", "python")
	if exec.Command(vpy, "-c", "import webdataset").Run() == nil {
		return vpy
	}
	t.Logf("installing webdataset %s into %s", webdatasetVersion, venv)
	for _, args := range [][]string{
		{py, "-m", "venv", venv},
		{vpy, "-m", "pip", "install", "--quiet", "webdataset==" + webdatasetVersion},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	return vpy
}

// TestWebDatasetInterop writes a dataset and reads it back with the Python
// webdataset library through 'pipe:zstd -dc < FILE': every sample must come
// back with its caption, image bytes and metadata.
func TestWebDatasetInterop(t *testing.T) {
	py := webdatasetPython(t)
	ctx := context.Background()
	dir := t.TempDir()
	store, err := storage.Open(ctx, dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 25
	w, err := shardwriter.New(ctx, store, shardwriter.Options{WriterID: "py", MaxSamples: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		s := sample(i)
		if i == 3 {
			s.Caption = "ünïcødé, emoji 🐈 and \"quotes\"\nnew line"
		}
		if err := w.Write(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for sc, err := range shardwriter.Committed(ctx, store, "") {
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, filepath.Join(dir, "shards", sc.Shard))
	}
	cmd := exec.Command(py, append([]string{"testdata/read_webdataset.py"}, paths...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("webdataset reader: %v\n%s", err, stderr.String())
	}
	var got []int
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var rec struct {
			Key       string
			Caption   string
			JPGSHA256 string `json:"jpg_sha256"`
			Meta      struct{ ID int }
			Members   []string
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		want := sample(rec.Meta.ID)
		if rec.Meta.ID == 3 {
			want.Caption = "ünïcødé, emoji 🐈 and \"quotes\"\nnew line"
		}
		sum := sha256.Sum256(want.Image)
		if rec.Caption != want.Caption || rec.JPGSHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("sample %s (id %d): caption %q / image sha %s differ from what was written", rec.Key, rec.Meta.ID, rec.Caption, rec.JPGSHA256[:12])
		}
		if !slices.Equal(rec.Members, []string{"jpg", "json", "txt"}) {
			t.Errorf("sample %s: members %v", rec.Key, rec.Members)
		}
		got = append(got, rec.Meta.ID)
	}
	if !slices.Equal(got, seq(0, n)) {
		t.Fatalf("webdataset yielded ids %v, want 0..%d in order", got, n-1)
	}
	t.Logf("webdataset %s read %d samples from %d shards", webdatasetVersion, len(got), len(paths))
}
