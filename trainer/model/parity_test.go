package model

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/clipstream/clipstream/trainer/safetensors"
)

// Regenerating the golden file (needs Python with torch and open-clip-torch):
//
//	go test ./trainer/model -run TestOpenCLIPParity -write-parity-input
//	python trainer/model/testdata/make_parity.py
var writeParityInput = flag.Bool("write-parity-input", false,
	"write testdata/parity_{weights,input}.safetensors for make_parity.py")

const (
	paritySeed    = 7
	parityBatch   = 4
	parityConfig  = "tiny"
	parityInput   = "testdata/parity_input.safetensors"
	parityWeights = "testdata/parity_weights.safetensors"
	parityGolden  = "testdata/parity_golden.safetensors.gz"
)

// OpenCLIPConfigJSON returns cfg as an open_clip model config (the JSON of
// open_clip's model_configs/*.json), which make_parity.py builds.
func openCLIPConfigJSON(cfg Config) string {
	v, t := cfg.Vision, cfg.Text
	j := map[string]any{
		"embed_dim":  cfg.EmbedDim,
		"quick_gelu": cfg.Activation != 0,
		"vision_cfg": map[string]any{
			"image_size": v.ImageSize, "patch_size": v.PatchSize, "width": v.Width, "layers": v.Layers,
			"head_width": v.Width / v.Heads, "mlp_ratio": v.MLPRatio,
		},
		"text_cfg": map[string]any{
			"context_length": t.Context, "vocab_size": t.Vocab, "width": t.Width, "heads": t.Heads,
			"layers": t.Layers, "mlp_ratio": t.MLPRatio,
		},
	}
	b, _ := json.Marshal(j)
	return string(b)
}

// parityFiles builds, deterministically, the two files make_parity.py
// reads: the tiny model's weights (our Export: open_clip names and shapes)
// and the batch, input.images [B,3,32,32] (N(0,1) as normalised pixels) and
// input.tokens [B,77] (I64, our tokenizer on testCaptions), with the
// open_clip config JSON in its metadata.
func parityFiles(t *testing.T) (weights, input []byte, images []float32, tokens []int32) {
	m := newTestModel(t, parityConfig, paritySeed)
	rng := rand.New(rand.NewPCG(paritySeed, 2))
	images = randomImages(rng, m.Cfg, parityBatch)
	tokens = tokenize(t, m.Cfg, parityBatch)
	var wbuf bytes.Buffer
	if err := m.Export(&wbuf); err != nil {
		t.Fatal(err)
	}
	S := m.Cfg.Vision.ImageSize
	ids := make([]int64, len(tokens))
	for i, id := range tokens {
		ids[i] = int64(id)
	}
	ts := []safetensors.Tensor{
		safetensors.Float32("images", []int{parityBatch, 3, S, S}, images),
		safetensors.Int64("tokens", []int{parityBatch, m.Cfg.Text.Context}, ids),
	}
	var ibuf bytes.Buffer
	meta := map[string]string{ConfigMetadataKey: parityConfig, "open_clip_config": openCLIPConfigJSON(m.Cfg)}
	if err := safetensors.Write(&ibuf, ts, meta); err != nil {
		t.Fatal(err)
	}
	return wbuf.Bytes(), ibuf.Bytes(), images, tokens
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestOpenCLIPParity runs the tiny model on the batch of parityFiles and
// compares embeddings, logits, loss and every parameter gradient with what
// open_clip computed (in float64) for the same weights and batch:
// ‖ours − theirs‖ / ‖theirs‖ < 1e-4 per tensor.
func TestOpenCLIPParity(t *testing.T) {
	weights, input, images, tokens := parityFiles(t)
	if *writeParityInput {
		for name, b := range map[string][]byte{parityWeights: weights, parityInput: input} {
			if err := os.WriteFile(name, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("wrote %s and %s; now run testdata/make_parity.py", parityWeights, parityInput)
		return
	}
	gz, err := os.ReadFile(parityGolden)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	golden, err := safetensors.Open(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if golden.Metadata["weights_sha256"] != sha(weights) || golden.Metadata["input_sha256"] != sha(input) {
		t.Fatalf("the golden file was made from other weights or inputs (init, tokenizer or config changed?): regenerate it (see parity_test.go)")
	}
	t.Logf("golden: open_clip %s, torch %s, computed in %s",
		golden.Metadata["open_clip_version"], golden.Metadata["torch_version"], golden.Metadata["dtype"])

	// Load the weights as a user would: import the exported file into a
	// model initialised differently.
	m := newTestModel(t, parityConfig, paritySeed+1)
	wf, err := safetensors.Open(bytes.NewReader(weights), int64(len(weights)))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Import(wf); err != nil {
		t.Fatal(err)
	}

	m.ZeroGrad()
	loss, err := m.Forward(images, tokens, parityBatch)
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string, n int) []float32 {
		t.Helper()
		v := make([]float32, n)
		if err := golden.ReadFloat32(name, v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	const tol = 1e-4
	var worst float64
	var worstName string
	compare := func(name string, ours, theirs []float32) {
		t.Helper()
		e := relErr(ours, theirs)
		if e > worst {
			worst, worstName = e, name
		}
		if e >= tol || e != e {
			t.Errorf("seed %d: %s: relative error %.3g (‖theirs‖ %.4g)", paritySeed, name, e, norm(theirs))
		}
	}
	B, E := parityBatch, m.Cfg.EmbedDim
	compare("image_features", m.ImageEmbeddings(), read("image_features", B*E))
	compare("text_features", m.TextEmbeddings(), read("text_features", B*E))
	compare("logits_per_image", m.Logits(), read("logits_per_image", B*B))
	compare("loss", []float32{loss}, read("loss", 1))
	if err := m.Backward(); err != nil {
		t.Fatal(err)
	}
	grads := m.GetGrads()
	for _, p := range m.Layout() {
		compare("grad "+p.Name, grads[p.Off:p.Off+p.Len], read("grad."+p.Name, p.Len))
	}
	t.Logf("worst relative error %.3g (%s)", worst, worstName)
}

var vitb32Dir = flag.String("vitb32-dir", "",
	"write ViT-B-32 weights, a batch and our embeddings into this directory for make_parity.py --check-vitb32")

// TestWriteViTB32Check writes what make_parity.py --check-vitb32 needs to
// show that our ViT-B-32 export loads into open_clip.create_model('ViT-B-32')
// with strict=True and gives the same embeddings (a manual check: the file
// is 600 MB, so it is not committed).
func TestWriteViTB32Check(t *testing.T) {
	if *vitb32Dir == "" {
		t.Skip("set -vitb32-dir to write the ViT-B-32 check files")
	}
	const B = 2
	m := newTestModel(t, "ViT-B-32", paritySeed)
	rng := rand.New(rand.NewPCG(paritySeed, 3))
	images := randomImages(rng, m.Cfg, B)
	tokens := tokenize(t, m.Cfg, B)
	if _, err := m.Forward(images, tokens, B); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(*vitb32Dir + "/vit_b_32.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Export(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(tokens))
	for i, id := range tokens {
		ids[i] = int64(id)
	}
	S, E := m.Cfg.Vision.ImageSize, m.Cfg.EmbedDim
	ts := []safetensors.Tensor{
		safetensors.Float32("images", []int{B, 3, S, S}, images),
		safetensors.Int64("tokens", []int{B, m.Cfg.Text.Context}, ids),
		safetensors.Float32("image_features", []int{B, E}, m.ImageEmbeddings()),
		safetensors.Float32("text_features", []int{B, E}, m.TextEmbeddings()),
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(*vitb32Dir+"/vit_b_32_check.safetensors", buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
