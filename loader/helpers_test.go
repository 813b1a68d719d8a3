package loader

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
	"github.com/clipstream/clipstream/trainer/tokenizer"
)

// testJPEG is a w×h JPEG whose colours encode idx: a gradient offset by
// the index, so crops and indices both show in the pixels.
func testJPEG(t testing.TB, idx, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(idx * 37), uint8(x * 255 / w), uint8((y*255/h + idx*11) % 256), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sampleKey(prefix string, idx int) string { return fmt.Sprintf("%s%06d", prefix, idx) }

func caption(idx int) string { return fmt.Sprintf("a photo of sample number %d", idx) }

// dataset describes what a test wrote.
type dataset struct {
	url    string
	store  storage.Store
	keys   []string            // every sample key, write order
	shards map[string][]string // shard object base name → keys in order
}

func openStore(t testing.TB, url string) storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), url, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// writeDataset writes shards of the given sizes with shardwriter, sample
// keys prefix+index, real JPEGs of w×h and captions naming the index.
// image, when non-nil, overrides the image of some samples.
func writeDataset(t testing.TB, url, writer, prefix string, sizes []int, w, h int, image func(idx int) []byte) *dataset {
	t.Helper()
	ctx := context.Background()
	store := openStore(t, url)
	sw, err := shardwriter.New(ctx, store, shardwriter.Options{WriterID: writer, MaxSamples: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	d := &dataset{url: url, store: store, shards: map[string][]string{}}
	idx := 0
	for _, n := range sizes {
		for range n {
			img := []byte(nil)
			if image != nil {
				img = image(idx)
			}
			if img == nil {
				img = testJPEG(t, idx, w, h)
			}
			k := sampleKey(prefix, idx)
			if err := sw.Write(ctx, shardwriter.Sample{Key: k, Image: img, Caption: caption(idx)}); err != nil {
				t.Fatal(err)
			}
			d.keys = append(d.keys, k)
			idx++
		}
		if err := sw.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Close(ctx); err != nil {
		t.Fatal(err)
	}
	d.readShards(t)
	return d
}

// readShards fills d.shards from the committed shards, through
// shardwriter's own reader, independently of the loader.
func (d *dataset) readShards(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	d.shards = map[string][]string{}
	for sc, err := range shardwriter.Committed(ctx, d.store, "") {
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		r, err := d.store.Get(ctx, shardwriter.ShardsDir+sc.Shard)
		if err != nil {
			t.Fatal(err)
		}
		sr, err := shardwriter.NewReader(sc.Shard, r, shardwriter.ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for {
			rec, err := sr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, rec.Key)
		}
		sr.Close()
		r.Close()
		d.shards[sc.Shard] = keys
	}
}

type rawMember struct {
	ext  string
	data []byte
}

type rawSample struct {
	key     string
	members []rawMember
}

// writeRawShard writes a committed shard with exactly the given members,
// bypassing shardwriter's checks (to make samples it would refuse: a
// missing member, a caption that is not UTF-8).
func writeRawShard(t testing.TB, store storage.Store, writer string, seq int, samples []rawSample) {
	t.Helper()
	ctx := context.Background()
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	memberBytes := map[string]int64{}
	for _, s := range samples {
		for _, m := range s.members {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: s.key + "." + m.ext, Mode: 0o644, Size: int64(len(m.data)), ModTime: time.Unix(0, 0)}); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write(m.data); err != nil {
				t.Fatal(err)
			}
			memberBytes[m.ext] += int64(len(m.data))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var zBuf bytes.Buffer
	zw, err := zstd.NewWriter(&zBuf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(tarBuf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	data := zBuf.Bytes()
	sum := sha256.Sum256(data)
	sc := shardwriter.Sidecar{
		Format: shardwriter.SidecarFormat, Shard: shardwriter.ShardBase(writer, seq) + shardwriter.DataSuffix,
		Writer: writer, Seq: seq, Samples: len(samples), Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:]),
		FirstKey: samples[0].key, LastKey: samples[len(samples)-1].key, Created: time.Unix(0, 0).UTC(),
		TarBytes: int64(tarBuf.Len()), MemberBytes: memberBytes,
	}
	if err := store.Put(ctx, shardwriter.DataKey("", writer, seq), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.PutIfAbsent(ctx, shardwriter.SidecarKey("", writer, seq), bytes.NewReader(js), int64(len(js))); err != nil {
		t.Fatal(err)
	}
}

var (
	tokOnce sync.Once
	tok     *tokenizer.Tokenizer
	tokErr  error
)

func testTokenizer(t testing.TB) Tokenizer {
	t.Helper()
	tokOnce.Do(func() { tok, tokErr = tokenizer.New() })
	if tokErr != nil {
		t.Fatal(tokErr)
	}
	return tok
}

// testConfig is a small, fast configuration over the given sources.
func testConfig(t testing.TB, batch int, urls ...string) Config {
	cfg := Config{
		BatchSize:        batch,
		BlockShards:      2,
		ImageSize:        16,
		ContextLength:    16,
		Tokenizer:        testTokenizer(t),
		Workers:          3,
		FetchConcurrency: 2,
		MemoryBudget:     1 << 20,
		RetryBackoff:     time.Millisecond,
	}
	for _, u := range urls {
		cfg.Sources = append(cfg.Sources, Source{URL: u})
	}
	return cfg
}

func newLoader(t testing.TB, cfg Config) *Loader {
	t.Helper()
	l, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// got is what a test saw of one batch.
type got struct {
	hash    string
	keys    []string
	indices []int64
	rows    []string // hash of each row's image
	images  []float32
	state   State
}

func hashBatch(b *Batch) string {
	h := sha256.New()
	_ = binary.Write(h, binary.LittleEndian, int64(b.N))
	_ = binary.Write(h, binary.LittleEndian, b.Images)
	_ = binary.Write(h, binary.LittleEndian, b.Tokens)
	for _, k := range b.Keys {
		io.WriteString(h, k+"\n")
	}
	return hex.EncodeToString(h.Sum(nil))
}

// run reads batches from st until EOF, or until stop batches when stop >= 0.
func run(t testing.TB, l *Loader, st State, stop int) []got {
	t.Helper()
	it, err := l.Iter(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := it.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	var out []got
	for stop < 0 || len(out) < stop {
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		checkBatch(t, l, b)
		g := got{hash: hashBatch(b), keys: slices.Clone(b.Keys), indices: slices.Clone(b.Indices), images: slices.Clone(b.Images), state: b.State}
		img := len(b.Images) / max(b.N, 1)
		for r := range b.N {
			h := sha256.New()
			_ = binary.Write(h, binary.LittleEndian, b.Images[r*img:(r+1)*img])
			g.rows = append(g.rows, hex.EncodeToString(h.Sum(nil)))
		}
		out = append(out, g)
		b.Release()
	}
	return out
}

// checkBatch checks the shapes and that each row's key is the one the
// order puts at its index.
func checkBatch(t testing.TB, l *Loader, b *Batch) {
	t.Helper()
	s := l.cfg.ImageSize
	if len(b.Images) != b.N*3*s*s || len(b.Tokens) != b.N*l.cfg.ContextLength || len(b.Keys) != b.N || len(b.Indices) != b.N {
		t.Fatalf("batch shapes: N %d, images %d, tokens %d, keys %d", b.N, len(b.Images), len(b.Tokens), len(b.Keys))
	}
	for r := range b.N {
		if w := int64(l.cfg.World); b.Indices[r]%w != int64(l.cfg.Rank) {
			t.Fatalf("rank %d of %d got global index %d", l.cfg.Rank, w, b.Indices[r])
		}
		if b.Tokens[r*l.cfg.ContextLength] != tokenizer.StartOfText {
			t.Fatalf("row %d: tokens %v do not start with the start token", r, b.Tokens[r*l.cfg.ContextLength:(r+1)*l.cfg.ContextLength])
		}
	}
}

func keysOf(gs []got) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.keys...)
	}
	return out
}

func indicesOf(gs []got) []int64 {
	var out []int64
	for _, g := range gs {
		out = append(out, g.indices...)
	}
	return out
}

// expectKeys is the key the order puts at each global index in [lo, hi),
// computed from the order and the shards' contents as shardwriter reads
// them.
func expectKeys(t testing.TB, l *Loader, ds []*dataset, st State, lo, hi int64) map[int64]string {
	t.Helper()
	o, err := l.Order(st.Seed, st.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]string{}
	for i := lo; i < hi; i++ {
		ref := o.At(i)
		src, name, n := l.Locate(ref)
		out[i] = ds[src].shards[name][n]
	}
	return out
}

// checkExactlyOnce checks that the delivered (index, key) pairs are exactly
// want: each index once, with its key.
func checkExactlyOnce(t testing.TB, gs []got, want map[int64]string) {
	t.Helper()
	seen := map[int64]bool{}
	for _, g := range gs {
		for r, i := range g.indices {
			if seen[i] {
				t.Fatalf("index %d delivered twice", i)
			}
			seen[i] = true
			k, ok := want[i]
			if !ok {
				t.Fatalf("index %d (key %s) not expected", i, g.keys[r])
			}
			if g.keys[r] != k {
				t.Fatalf("index %d: key %s, want %s", i, g.keys[r], k)
			}
		}
	}
	if len(seen) != len(want) {
		var missing []int64
		for i := range want {
			if !seen[i] {
				missing = append(missing, i)
			}
		}
		slices.Sort(missing)
		t.Fatalf("%d of %d expected samples delivered; missing indices %v", len(seen), len(want), missing)
	}
}
