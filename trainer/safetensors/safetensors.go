// Package safetensors reads and writes the safetensors format
// (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length, a JSON header naming each tensor's dtype, shape and byte
// range, then the tensor bytes.
//
// The reader treats every file as outside input. Open checks the whole
// header before anything else is read: its length against MaxHeaderSize and
// the file size, the JSON, duplicate names, known dtypes, shapes whose byte
// size matches their range, ranges inside the file that cover the data
// section with no holes or overlaps (as the format requires). A bad file is
// an error naming what is wrong; no input makes it panic or allocate more
// than the header length it has checked, and tensor data is read through a
// bounded buffer.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
)

// MaxHeaderSize is the largest JSON header Open accepts (100 MB, the limit
// of the reference implementation).
const MaxHeaderSize = 100 << 20

// ErrFormat is wrapped by every error about a malformed file.
var ErrFormat = errors.New("safetensors: bad file")

// DType is a tensor element type, spelled as in the header.
type DType string

// The dtypes of the format. Size reports their widths.
const (
	BOOL   DType = "BOOL"
	U8     DType = "U8"
	I8     DType = "I8"
	F8E4M3 DType = "F8_E4M3"
	F8E5M2 DType = "F8_E5M2"
	I16    DType = "I16"
	U16    DType = "U16"
	F16    DType = "F16"
	BF16   DType = "BF16"
	I32    DType = "I32"
	U32    DType = "U32"
	F32    DType = "F32"
	F64    DType = "F64"
	I64    DType = "I64"
	U64    DType = "U64"
)

// Size returns the bytes per element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case BOOL, U8, I8, F8E4M3, F8E5M2:
		return 1
	case I16, U16, F16, BF16:
		return 2
	case I32, U32, F32:
		return 4
	case F64, I64, U64:
		return 8
	}
	return 0
}

// Info describes one tensor of a file. Begin and End are byte offsets
// within the data section.
type Info struct {
	Name       string
	DType      DType
	Shape      []int
	Begin, End int64
}

// NumElements returns the product of the shape (1 for a scalar).
func (t Info) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is an opened safetensors file whose header has been validated.
type File struct {
	// Tensors in header order.
	Tensors  []Info
	Metadata map[string]string

	r          io.ReaderAt
	dataOffset int64
	byName     map[string]int
}

type headerEntry struct {
	DType       DType   `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// Open reads and validates the header of the size-byte file r.
func Open(r io.ReaderAt, size int64) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the 8-byte header length", ErrFormat, size)
	}
	var lenBuf [8]byte
	if err := readFull(r, lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: read header length: %w", err)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if hlen > MaxHeaderSize {
		return nil, fmt.Errorf("%w: header claims %d bytes, over the %d-byte limit", ErrFormat, hlen, MaxHeaderSize)
	}
	if int64(hlen) > size-8 {
		return nil, fmt.Errorf("%w: header claims %d bytes but only %d follow (truncated file?)", ErrFormat, hlen, size-8)
	}
	if hlen < 2 {
		return nil, fmt.Errorf("%w: header of %d bytes cannot hold a JSON object", ErrFormat, hlen)
	}
	hdr := make([]byte, hlen)
	if err := readFull(r, hdr, 8); err != nil {
		return nil, fmt.Errorf("safetensors: read header: %w", err)
	}
	f := &File{r: r, dataOffset: 8 + int64(hlen), byName: map[string]int{}}
	if err := f.parseHeader(hdr); err != nil {
		return nil, err
	}
	if err := f.checkLayout(size - f.dataOffset); err != nil {
		return nil, err
	}
	return f, nil
}

// parseHeader decodes the JSON object key by key, keeping the header order
// and rejecting duplicate names.
func (f *File) parseHeader(hdr []byte) error {
	dec := json.NewDecoder(bytes.NewReader(hdr))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: header is not JSON: %v", ErrFormat, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("%w: header is not a JSON object", ErrFormat)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: header is not JSON: %v", ErrFormat, err)
		}
		name, _ := tok.(string)
		if name == "__metadata__" {
			if f.Metadata != nil {
				return fmt.Errorf("%w: __metadata__ appears twice", ErrFormat)
			}
			f.Metadata = map[string]string{}
			if err := dec.Decode(&f.Metadata); err != nil {
				return fmt.Errorf("%w: __metadata__ is not an object of strings: %v", ErrFormat, err)
			}
			continue
		}
		if _, dup := f.byName[name]; dup {
			return fmt.Errorf("%w: tensor %q appears twice", ErrFormat, name)
		}
		var e headerEntry
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("%w: tensor %q: %v", ErrFormat, name, err)
		}
		info, err := e.info(name)
		if err != nil {
			return err
		}
		f.byName[name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, info)
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("%w: header is not JSON: %v", ErrFormat, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: data after the header object", ErrFormat)
	}
	// Trailing bytes may only be the padding spaces writers add.
	rest, _ := io.ReadAll(dec.Buffered())
	if len(bytes.TrimRight(rest, " \t\r\n\x00")) > 0 {
		return fmt.Errorf("%w: data after the header object", ErrFormat)
	}
	return nil
}

func (e headerEntry) info(name string) (Info, error) {
	if e.DType.Size() == 0 {
		return Info{}, fmt.Errorf("%w: tensor %q: unknown dtype %q", ErrFormat, name, e.DType)
	}
	if len(e.DataOffsets) != 2 {
		return Info{}, fmt.Errorf("%w: tensor %q: data_offsets has %d values, want 2", ErrFormat, name, len(e.DataOffsets))
	}
	begin, end := e.DataOffsets[0], e.DataOffsets[1]
	if begin < 0 || end < begin {
		return Info{}, fmt.Errorf("%w: tensor %q: bad data_offsets [%d, %d]", ErrFormat, name, begin, end)
	}
	shape := make([]int, len(e.Shape))
	n := int64(1)
	for i, d := range e.Shape {
		if d < 0 {
			return Info{}, fmt.Errorf("%w: tensor %q: negative dimension in shape %v", ErrFormat, name, e.Shape)
		}
		if d > 0 && n > math.MaxInt64/int64(e.DType.Size())/d {
			return Info{}, fmt.Errorf("%w: tensor %q: shape %v is too large", ErrFormat, name, e.Shape)
		}
		n *= d
		shape[i] = int(d)
	}
	if want := n * int64(e.DType.Size()); want != end-begin {
		return Info{}, fmt.Errorf("%w: tensor %q: shape %v of %s needs %d bytes, data_offsets give %d", ErrFormat, name, e.Shape, e.DType, want, end-begin)
	}
	return Info{Name: name, DType: e.DType, Shape: shape, Begin: begin, End: end}, nil
}

// checkLayout requires the byte ranges to tile the data section exactly.
func (f *File) checkLayout(dataSize int64) error {
	order := make([]int, len(f.Tensors))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		ta, tb := f.Tensors[order[a]], f.Tensors[order[b]]
		if ta.Begin != tb.Begin {
			return ta.Begin < tb.Begin
		}
		return ta.End < tb.End
	})
	var pos int64
	for _, i := range order {
		t := f.Tensors[i]
		if t.Begin != pos {
			if t.Begin < pos {
				return fmt.Errorf("%w: tensor %q overlaps the one before it (bytes %d..%d)", ErrFormat, t.Name, t.Begin, t.End)
			}
			return fmt.Errorf("%w: hole in the data before tensor %q (bytes %d..%d)", ErrFormat, t.Name, pos, t.Begin)
		}
		pos = t.End
	}
	if pos != dataSize {
		if pos > dataSize {
			return fmt.Errorf("%w: tensors need %d data bytes but the file has %d (truncated file?)", ErrFormat, pos, dataSize)
		}
		return fmt.Errorf("%w: %d bytes after the last tensor", ErrFormat, dataSize-pos)
	}
	return nil
}

// Lookup returns the tensor called name.
func (f *File) Lookup(name string) (Info, bool) {
	i, ok := f.byName[name]
	if !ok {
		return Info{}, false
	}
	return f.Tensors[i], true
}

// chunk is the most bytes read at once when converting tensor data.
const chunk = 1 << 20

// read streams the raw bytes of t through fn in chunks of whole elements.
func (f *File) read(t Info, fn func(b []byte, first int)) error {
	es := int64(t.DType.Size())
	buf := make([]byte, min(chunk, t.End-t.Begin))
	step := int64(len(buf)) / es * es
	for off := int64(0); off < t.End-t.Begin; off += step {
		n := min(step, t.End-t.Begin-off)
		if err := readFull(f.r, buf[:n], f.dataOffset+t.Begin+off); err != nil {
			return fmt.Errorf("safetensors: read tensor %q: %w", t.Name, err)
		}
		fn(buf[:n], int(off/es))
	}
	return nil
}

// ReadFloat32 reads the tensor called name into dst, which must hold exactly
// its elements, converting from F32, F64, F16 or BF16.
func (f *File) ReadFloat32(name string, dst []float32) error {
	t, ok := f.Lookup(name)
	if !ok {
		return fmt.Errorf("safetensors: no tensor %q", name)
	}
	if n := t.NumElements(); n != len(dst) {
		return fmt.Errorf("safetensors: tensor %q has %d elements, want %d", name, n, len(dst))
	}
	var conv func(b []byte, out []float32)
	switch t.DType {
	case F32:
		conv = func(b []byte, out []float32) {
			for i := range out {
				out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
		}
	case F64:
		conv = func(b []byte, out []float32) {
			for i := range out {
				out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
			}
		}
	case BF16:
		conv = func(b []byte, out []float32) {
			for i := range out {
				out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
			}
		}
	case F16:
		conv = func(b []byte, out []float32) {
			for i := range out {
				out[i] = halfToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
			}
		}
	default:
		return fmt.Errorf("safetensors: tensor %q is %s, not a float type", name, t.DType)
	}
	es := t.DType.Size()
	return f.read(t, func(b []byte, first int) { conv(b, dst[first:first+len(b)/es]) })
}

// ReadInt64 reads the integer tensor called name (I64, I32, U8, …) into dst.
func (f *File) ReadInt64(name string, dst []int64) error {
	t, ok := f.Lookup(name)
	if !ok {
		return fmt.Errorf("safetensors: no tensor %q", name)
	}
	if n := t.NumElements(); n != len(dst) {
		return fmt.Errorf("safetensors: tensor %q has %d elements, want %d", name, n, len(dst))
	}
	var get func(b []byte) int64
	switch t.DType {
	case I64:
		get = func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) }
	case I32:
		get = func(b []byte) int64 { return int64(int32(binary.LittleEndian.Uint32(b))) }
	case I16:
		get = func(b []byte) int64 { return int64(int16(binary.LittleEndian.Uint16(b))) }
	case I8:
		get = func(b []byte) int64 { return int64(int8(b[0])) }
	case U8, BOOL:
		get = func(b []byte) int64 { return int64(b[0]) }
	default:
		return fmt.Errorf("safetensors: tensor %q is %s, not a signed integer type", name, t.DType)
	}
	es := t.DType.Size()
	return f.read(t, func(b []byte, first int) {
		for i := 0; i < len(b)/es; i++ {
			dst[first+i] = get(b[i*es:])
		}
	})
}

// readFull is ReadAt that accepts io.EOF with a full read, as the
// io.ReaderAt contract allows at the end of the input.
func readFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: mant·2⁻²⁴
		v := float32(mant) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// Tensor is one tensor to write: Data holds its elements in little-endian
// byte order (see Float32 and Int64).
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// Float32 returns an F32 tensor holding v.
func Float32(name string, shape []int, v []float32) Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return Tensor{Name: name, DType: F32, Shape: shape, Data: b}
}

// Int64 returns an I64 tensor holding v.
func Int64(name string, shape []int, v []int64) Tensor {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return Tensor{Name: name, DType: I64, Shape: shape, Data: b}
}

// Write writes tensors, in the given order, and metadata (may be nil) as a
// safetensors file. The header is padded with spaces to a multiple of 8
// bytes, as the reference writer does, so that data is aligned.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	var hdr bytes.Buffer
	hdr.WriteByte('{')
	first := true
	sep := func() {
		if !first {
			hdr.WriteByte(',')
		}
		first = false
	}
	if len(metadata) > 0 {
		sep()
		hdr.WriteString(`"__metadata__":`)
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		hdr.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				hdr.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			vb, _ := json.Marshal(metadata[k])
			hdr.Write(kb)
			hdr.WriteByte(':')
			hdr.Write(vb)
		}
		hdr.WriteByte('}')
	}
	seen := map[string]bool{}
	var off int64
	for _, t := range tensors {
		if t.Name == "__metadata__" || seen[t.Name] {
			return fmt.Errorf("safetensors: write: duplicate or reserved tensor name %q", t.Name)
		}
		seen[t.Name] = true
		n := 1
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("safetensors: write %q: negative dimension in %v", t.Name, t.Shape)
			}
			n *= d
		}
		if t.DType.Size() == 0 || n*t.DType.Size() != len(t.Data) {
			return fmt.Errorf("safetensors: write %q: %d bytes for shape %v of %q", t.Name, len(t.Data), t.Shape, t.DType)
		}
		sep()
		nb, _ := json.Marshal(t.Name)
		hdr.Write(nb)
		hdr.WriteString(`:{"dtype":"`)
		hdr.WriteString(string(t.DType))
		hdr.WriteString(`","shape":[`)
		for i, d := range t.Shape {
			if i > 0 {
				hdr.WriteByte(',')
			}
			hdr.WriteString(strconv.Itoa(d))
		}
		hdr.WriteString(`],"data_offsets":[`)
		hdr.WriteString(strconv.FormatInt(off, 10))
		hdr.WriteByte(',')
		off += int64(len(t.Data))
		hdr.WriteString(strconv.FormatInt(off, 10))
		hdr.WriteString("]}")
	}
	hdr.WriteByte('}')
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(hdr.Len()))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	if _, err := w.Write(hdr.Bytes()); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	for _, t := range tensors {
		if _, err := w.Write(t.Data); err != nil {
			return fmt.Errorf("safetensors: write %q: %w", t.Name, err)
		}
	}
	return nil
}
