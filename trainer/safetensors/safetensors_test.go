package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func sample(seed uint64) ([]Tensor, [][]float32) {
	rng := rand.New(rand.NewPCG(seed, 3))
	shapes := [][]int{{3, 4}, {}, {0}, {5}, {2, 3, 2}}
	var ts []Tensor
	var vals [][]float32
	for i, s := range shapes {
		n := 1
		for _, d := range s {
			n *= d
		}
		v := make([]float32, n)
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		name := []string{"a.weight", "logit_scale", "empty", "b.bias", "c"}[i]
		ts = append(ts, Float32(name, s, v))
		vals = append(vals, v)
	}
	return ts, vals
}

func encode(t testing.TB, ts []Tensor, meta map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, ts, meta); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	const seed = 11
	ts, vals := sample(seed)
	ids := []int64{49406, 320, -1, 49407, 0}
	ts = append(ts, Int64("ids", []int{5}, ids))
	data := encode(t, ts, map[string]string{"format": "pt", "note": "ü \"quoted\""})
	if hl := binary.LittleEndian.Uint64(data); hl%8 != 0 {
		t.Errorf("header length %d not a multiple of 8", hl)
	}
	f, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	if f.Metadata["format"] != "pt" || f.Metadata["note"] != "ü \"quoted\"" {
		t.Errorf("metadata %v", f.Metadata)
	}
	if len(f.Tensors) != len(ts) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(ts))
	}
	for i, v := range vals {
		info := f.Tensors[i]
		if info.Name != ts[i].Name || info.DType != F32 || len(info.Shape) != len(ts[i].Shape) {
			t.Fatalf("tensor %d: got %+v, want %s %v", i, info, ts[i].Name, ts[i].Shape)
		}
		got := make([]float32, len(v))
		if err := f.ReadFloat32(info.Name, got); err != nil {
			t.Fatal(err)
		}
		for j := range v {
			if got[j] != v[j] {
				t.Fatalf("seed %d: %s[%d] = %v, want %v", seed, info.Name, j, got[j], v[j])
			}
		}
	}
	gotIDs := make([]int64, 5)
	if err := f.ReadInt64("ids", gotIDs); err != nil {
		t.Fatal(err)
	}
	for i := range ids {
		if gotIDs[i] != ids[i] {
			t.Fatalf("ids = %v, want %v", gotIDs, ids)
		}
	}
	if err := f.ReadFloat32("ids", make([]float32, 5)); err == nil {
		t.Error("reading I64 as float: no error")
	}
	if err := f.ReadFloat32("a.weight", make([]float32, 11)); err == nil {
		t.Error("reading 12 elements into 11: no error")
	}
	if err := f.ReadFloat32("nope", nil); err == nil {
		t.Error("missing tensor: no error")
	}
}

// TestLargeTensor crosses the chunked read's boundary.
func TestLargeTensor(t *testing.T) {
	v := make([]float32, chunk/4*2+7)
	for i := range v {
		v[i] = float32(i)
	}
	data := encode(t, []Tensor{Float32("x", []int{len(v)}, v)}, nil)
	f, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, len(v))
	if err := f.ReadFloat32("x", got); err != nil {
		t.Fatal(err)
	}
	for i := range v {
		if got[i] != v[i] {
			t.Fatalf("x[%d] = %v, want %v", i, got[i], v[i])
		}
	}
}

func TestHalfTypes(t *testing.T) {
	// F16: 1.0 = 0x3c00, -2.5 = 0xc100, 2⁻²⁴ (smallest subnormal) = 0x0001, +inf = 0x7c00.
	// BF16: 1.0 = 0x3f80, -2.5 = 0xc020.
	f16 := []uint16{0x3c00, 0xc100, 0x0001, 0x7c00}
	bf16 := []uint16{0x3f80, 0xc020}
	enc := func(v []uint16) []byte {
		b := make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(b[2*i:], x)
		}
		return b
	}
	data := encode(t, []Tensor{
		{Name: "h", DType: F16, Shape: []int{4}, Data: enc(f16)},
		{Name: "b", DType: BF16, Shape: []int{2}, Data: enc(bf16)},
	}, nil)
	f, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	h := make([]float32, 4)
	b := make([]float32, 2)
	if err := f.ReadFloat32("h", h); err != nil {
		t.Fatal(err)
	}
	if err := f.ReadFloat32("b", b); err != nil {
		t.Fatal(err)
	}
	want := []float32{1, -2.5, float32(math.Ldexp(1, -24)), float32(math.Inf(1))}
	for i := range want {
		if h[i] != want[i] {
			t.Errorf("f16[%d] = %v, want %v", i, h[i], want[i])
		}
	}
	if b[0] != 1 || b[1] != -2.5 {
		t.Errorf("bf16 = %v, want [1 -2.5]", b)
	}
}

// withHeader builds a file from a raw header and data section.
func withHeader(hdr string, data []byte) []byte {
	b := make([]byte, 8, 8+len(hdr)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(hdr)))
	b = append(b, hdr...)
	return append(b, data...)
}

func TestBadFiles(t *testing.T) {
	good := encode(t, []Tensor{Float32("w", []int{2, 2}, []float32{1, 2, 3, 4})}, nil)
	huge := make([]byte, 16)
	binary.LittleEndian.PutUint64(huge, 100<<30) // a header claiming 100 GB
	overLimit := make([]byte, 16)
	binary.LittleEndian.PutUint64(overLimit, MaxHeaderSize+1)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "shorter than"},
		{"short length", []byte{1, 2, 3}, "shorter than"},
		{"header claims 100 GB", huge, "over the"},
		{"header over the limit", overLimit, "over the"},
		{"truncated header", good[:20], "truncated"},
		{"truncated data", good[:len(good)-1], "truncated"},
		{"trailing data", append(append([]byte{}, good...), 0), "after the last tensor"},
		{"not json", withHeader("{nope", nil), "not JSON"},
		{"not an object", withHeader("[1, 2]  ", nil), "not a JSON object"},
		{"tiny header", withHeader("{", nil), "cannot hold"},
		{"unknown dtype", withHeader(`{"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "unknown dtype"},
		{"shape does not match bytes", withHeader(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}`, make([]byte, 12)), "needs 16 bytes"},
		{"negative dim", withHeader(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)), "negative"},
		{"overflowing shape", withHeader(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, make([]byte, 4)), "too large"},
		{"offsets beyond the file", withHeader(`{"w":{"dtype":"F32","shape":[26843545600],"data_offsets":[0,107374182400]}}`, make([]byte, 4)), "truncated"},
		{"bad offsets", withHeader(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}`, make([]byte, 8)), "bad data_offsets"},
		{"three offsets", withHeader(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, make([]byte, 8)), "want 2"},
		{"duplicate", withHeader(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "twice"},
		{"overlap", withHeader(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "overlaps"},
		{"hole", withHeader(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "hole"},
		{"bad metadata", withHeader(`{"__metadata__":{"a":1}}`, nil), "__metadata__"},
		{"garbage after object", withHeader(`{}x`, nil), "after the header"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Open(bytes.NewReader(c.data), int64(len(c.data)))
			if err == nil {
				t.Fatalf("opened %+v, want an error containing %q", f.Tensors, c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
			if len(c.data) >= 8 && !errors.Is(err, ErrFormat) {
				t.Fatalf("error %q does not wrap ErrFormat", err)
			}
		})
	}
}

func TestWriteRejects(t *testing.T) {
	var buf bytes.Buffer
	bad := [][]Tensor{
		{Float32("a", []int{2}, []float32{1})},
		{Float32("a", []int{1}, []float32{1}), Float32("a", []int{1}, []float32{1})},
		{Float32("__metadata__", []int{1}, []float32{1})},
		{{Name: "x", DType: "F33", Shape: []int{1}, Data: make([]byte, 4)}},
	}
	for i, ts := range bad {
		if err := Write(&buf, ts, nil); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
}

// FuzzOpen: no input may panic; a file that opens must read every tensor
// (as floats or ints, or a clear type error), and survive a rewrite.
func FuzzOpen(f *testing.F) {
	ts, _ := sample(1)
	f.Add(encode(f, ts, map[string]string{"k": "v"}))
	f.Add(encode(f, nil, nil))
	f.Add(withHeader(`{"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(withHeader(`{"w":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		var rewrite []Tensor
		for _, info := range file.Tensors {
			n := info.NumElements()
			raw := make([]byte, info.End-info.Begin)
			copy(raw, data[file.dataOffset+info.Begin:])
			rewrite = append(rewrite, Tensor{Name: info.Name, DType: info.DType, Shape: info.Shape, Data: raw})
			errF := file.ReadFloat32(info.Name, make([]float32, n))
			errI := file.ReadInt64(info.Name, make([]int64, n))
			if errF != nil && errI != nil && info.DType != U16 && info.DType != U32 && info.DType != U64 &&
				info.DType != F8E4M3 && info.DType != F8E5M2 {
				t.Fatalf("%s (%s): float read %v, int read %v", info.Name, info.DType, errF, errI)
			}
		}
		var buf bytes.Buffer
		if err := Write(&buf, rewrite, file.Metadata); err != nil {
			t.Fatalf("rewrite: %v", err)
		}
		again, err := Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("reopen after rewrite: %v", err)
		}
		if len(again.Tensors) != len(file.Tensors) {
			t.Fatalf("rewrite has %d tensors, want %d", len(again.Tensors), len(file.Tensors))
		}
	})
}
