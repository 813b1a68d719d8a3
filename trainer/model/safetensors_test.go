package model

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/clipstream/clipstream/trainer/safetensors"
)

func exportBytes(t *testing.T, m *Model) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := m.Export(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func open(t *testing.T, data []byte) *safetensors.File {
	t.Helper()
	f, err := safetensors.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestExportImportRoundTrip(t *testing.T) {
	a := newTestModel(t, "tiny", 1)
	b := newTestModel(t, "tiny", 2)
	data := exportBytes(t, a)
	f := open(t, data)
	if f.Metadata[ConfigMetadataKey] != "tiny" {
		t.Errorf("metadata %v", f.Metadata)
	}
	for i, p := range a.Layout() {
		info := f.Tensors[i]
		if info.Name != p.Name || !slices.Equal(info.Shape, p.Shape) || info.DType != safetensors.F32 {
			t.Fatalf("tensor %d is %s %v %s, want %s %v F32", i, info.Name, info.Shape, info.DType, p.Name, p.Shape)
		}
	}
	if slices.Equal(a.GetParams(), b.GetParams()) {
		t.Fatal("seeds 1 and 2 gave the same parameters")
	}
	if err := b.Import(f); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.GetParams(), b.GetParams()) {
		t.Fatal("parameters differ after export and import")
	}
	if !bytes.Equal(exportBytes(t, b), data) {
		t.Fatal("re-export differs")
	}
	// logit_scale is a 0-dim tensor, as in open_clip
	if p, _ := a.Lookup("logit_scale"); len(p.Shape) != 0 || p.Len != 1 {
		t.Errorf("logit_scale shape %v", p.Shape)
	}
}

// TestImportStrict: a file with a tensor missing, an extra one, or a wrong
// shape is refused with an error naming it, and leaves the model as it was.
func TestImportStrict(t *testing.T) {
	src := newTestModel(t, "tiny", 1)
	params := src.GetParams()
	layout := src.Layout()
	build := func(edit func([]safetensors.Tensor) []safetensors.Tensor) []byte {
		var ts []safetensors.Tensor
		for _, p := range layout {
			ts = append(ts, safetensors.Float32(p.Name, p.Shape, params[p.Off:p.Off+p.Len]))
		}
		var buf bytes.Buffer
		if err := safetensors.Write(&buf, edit(ts), nil); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	cases := []struct {
		name string
		edit func([]safetensors.Tensor) []safetensors.Tensor
		want string
	}{
		{"missing", func(ts []safetensors.Tensor) []safetensors.Tensor { return ts[1:] }, "missing positional_embedding"},
		{"unexpected", func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.Float32("logit_bias", nil, []float32{-10}))
		}, "unexpected logit_bias"},
		{"wrong shape", func(ts []safetensors.Tensor) []safetensors.Tensor {
			ts[0].Shape = []int{ts[0].Shape[1], ts[0].Shape[0]} // positional_embedding transposed
			return ts
		}, "positional_embedding is [32 77], want [77 32]"},
		{"flattened", func(ts []safetensors.Tensor) []safetensors.Tensor {
			ts[2].Shape = []int{1} // logit_scale must be 0-dim
			return ts
		}, "logit_scale is [1], want []"},
		{"integer dtype", func(ts []safetensors.Tensor) []safetensors.Tensor {
			ts[2] = safetensors.Tensor{Name: "logit_scale", DType: safetensors.I32, Shape: nil, Data: make([]byte, 4)}
			return ts
		}, "not a float type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := newTestModel(t, "tiny", 2)
			before := dst.GetParams()
			err := dst.Import(open(t, build(c.edit)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if !slices.Equal(before, dst.GetParams()) {
				t.Fatal("a failed import changed the parameters")
			}
		})
	}
	// a small model's file is not a tiny model's
	small := newTestModel(t, "small", 1)
	var buf bytes.Buffer
	if err := small.Export(&buf); err != nil {
		t.Fatal(err)
	}
	if err := newTestModel(t, "tiny", 1).Import(open(t, buf.Bytes())); err == nil || !strings.Contains(err.Error(), "wrong shape") {
		t.Fatalf("importing small into tiny: %v", err)
	}
}
