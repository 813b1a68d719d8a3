package gpu

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/clipstream/clipstream/trainer/ops"
)

// fakeMem hands out device addresses for shadowSet tests and records what
// was freed.
type fakeMem struct {
	next  devicePtr
	freed []devicePtr
}

func (m *fakeMem) alloc(bytes int64) (devicePtr, error) {
	p := m.next + 1<<30
	m.next += devicePtr(bytes + 256)
	return p, nil
}

func (m *fakeMem) free(p devicePtr) error {
	m.freed = append(m.freed, p)
	return nil
}

func TestShadowSet(t *testing.T) {
	const base = devicePtr(1 << 20)
	type step struct {
		do   string // reserve, valid, invalidate, drop, lookup
		lo   devicePtr
		n    int64
		want bool // lookup: found
	}
	tests := []struct {
		name  string
		steps []step
		live  int // shadows left
		freed int
	}{
		{"fresh shadow is not readable until written", []step{
			{do: "reserve", lo: base, n: 100},
			{do: "lookup", lo: base, n: 100, want: false},
			{do: "valid", lo: base, n: 100},
			{do: "lookup", lo: base, n: 100, want: true},
			{do: "lookup", lo: base + 40, n: 10, want: true}, // a view inside
			{do: "lookup", lo: base + 40, n: 100, want: false},
		}, 1, 0},
		{"a write anywhere in the range makes it stale", []step{
			{do: "reserve", lo: base, n: 100}, {do: "valid", lo: base, n: 100},
			{do: "invalidate", lo: base + 396, n: 1},
			{do: "lookup", lo: base, n: 1, want: false},
		}, 1, 0},
		{"a write next to the range does not", []step{
			{do: "reserve", lo: base, n: 100}, {do: "valid", lo: base, n: 100},
			{do: "invalidate", lo: base + 400, n: 5},
			{do: "invalidate", lo: base - 20, n: 5},
			{do: "lookup", lo: base, n: 100, want: true},
		}, 1, 0},
		{"the same range reuses its memory and starts stale", []step{
			{do: "reserve", lo: base, n: 100}, {do: "valid", lo: base, n: 100},
			{do: "reserve", lo: base, n: 100},
			{do: "lookup", lo: base, n: 100, want: false},
		}, 1, 0},
		{"overlapping layouts live side by side, and a write stales both", []step{
			// the two towers' gradients in shared scratch: other lengths, same memory
			{do: "reserve", lo: base, n: 100}, {do: "valid", lo: base, n: 100},
			{do: "reserve", lo: base + 200, n: 100},
			{do: "lookup", lo: base, n: 10, want: true},
			{do: "lookup", lo: base + 200, n: 100, want: false},
			{do: "valid", lo: base + 200, n: 100},
			{do: "lookup", lo: base + 200, n: 100, want: true},
			{do: "invalidate", lo: base + 300, n: 1},
			{do: "lookup", lo: base, n: 10, want: false},
			{do: "lookup", lo: base + 200, n: 100, want: false},
		}, 2, 0},
		{"disjoint shadows live side by side", []step{
			{do: "reserve", lo: base, n: 100}, {do: "valid", lo: base, n: 100},
			{do: "reserve", lo: base + 400, n: 50}, {do: "valid", lo: base + 400, n: 50},
			{do: "invalidate", lo: base + 400, n: 1},
			{do: "lookup", lo: base, n: 100, want: true},
			{do: "lookup", lo: base + 400, n: 50, want: false},
		}, 2, 0},
		{"freeing a buffer drops the shadows inside it", []step{
			{do: "reserve", lo: base, n: 100}, {do: "reserve", lo: base + 400, n: 50}, {do: "reserve", lo: base + 4000, n: 8},
			{do: "drop", lo: base, n: 150},
		}, 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s shadowSet
			mem := &fakeMem{}
			byRange := map[[2]devicePtr]*shadow{}
			for i, st := range tt.steps {
				hi := st.lo + devicePtr(4*st.n)
				switch st.do {
				case "reserve":
					sh, err := s.reserve(st.lo, st.n, mem.alloc)
					if err != nil {
						t.Fatal(err)
					}
					byRange[[2]devicePtr{st.lo, hi}] = sh
				case "valid":
					byRange[[2]devicePtr{st.lo, hi}].valid = true
				case "invalidate":
					s.invalidate(st.lo, hi)
				case "drop":
					if err := s.drop(st.lo, hi, mem.free); err != nil {
						t.Fatal(err)
					}
				case "lookup":
					p16, ok := s.lookup(st.lo, st.n)
					if ok != st.want {
						t.Fatalf("step %d: lookup(%#x, %d) found=%v, want %v", i, st.lo, st.n, ok, st.want)
					}
					if ok {
						// The bf16 address of a view is its shadow's start plus half the offset.
						var sh *shadow
						for _, c := range s.list {
							if c.lo <= st.lo && hi <= c.hi {
								sh = c
							}
						}
						if want := sh.p16 + (st.lo-sh.lo)/2; p16 != want {
							t.Fatalf("step %d: bf16 address %#x, want %#x", i, p16, want)
						}
					}
				}
			}
			if len(s.list) != tt.live || len(mem.freed) != tt.freed {
				t.Fatalf("%d shadows live and %d freed, want %d and %d", len(s.list), len(mem.freed), tt.live, tt.freed)
			}
		})
	}
	t.Run("fits: budget, same range", func(t *testing.T) {
		var s shadowSet
		mem := &fakeMem{}
		if !s.fits(base, 100, 200) || s.fits(base, 101, 200) {
			t.Fatal("an empty set's budget is not 2 bytes per value")
		}
		if _, err := s.reserve(base, 100, mem.alloc); err != nil {
			t.Fatal(err)
		}
		if s.bytes != 200 {
			t.Fatalf("bytes %d after a 100-value shadow, want 200", s.bytes)
		}
		if !s.fits(base, 100, 200) {
			t.Fatal("the existing range does not fit again")
		}
		if !s.fits(base+4, 10, 1<<20) {
			t.Fatal("a view overlapping another shadow does not fit within budget")
		}
		if s.fits(base+400, 1, 200) || !s.fits(base+400, 1, 202) {
			t.Fatal("the budget does not count the shadow held")
		}
		if err := s.drop(base, base+400, mem.free); err != nil || s.bytes != 0 {
			t.Fatalf("after drop: %d bytes (err %v), want 0", s.bytes, err)
		}
	})
	t.Run("a failed free is reported", func(t *testing.T) {
		var s shadowSet
		mem := &fakeMem{}
		if _, err := s.reserve(base, 10, mem.alloc); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		if err := s.drop(base, base+40, func(devicePtr) error { return boom }); !errors.Is(err, boom) {
			t.Fatalf("drop: %v, want boom", err)
		}
	})
}

// TestArgsRecordWrites: every output tensor's byte range is recorded (the
// shadows it overlaps go stale when the op runs); inputs are not.
func TestArgsRecordWrites(t *testing.T) {
	b, mk := hostBackend()
	out, in := mk(10), mk(20)
	a := b.args("op")
	p := a.out("out", out.View(2, 5), 5)
	a.in("in", in, 20)
	a.optOut("none", ops.Tensor{}, 3)
	if len(a.writes) != 1 || a.writes[0] != (outRange{out.Buf.(*deviceBuffer), p, p + 20}) {
		t.Fatalf("writes %+v, want one of [%#x, %#x)", a.writes, p, p+20)
	}
}

// TestBF16Shadows (GPU): each op that writes a GEMM input in BF16 mode
// leaves a valid bf16 shadow of it, equal bit for bit to casting its fp32
// result; a GEMM reading the shadow gives exactly what it gives reading a
// fresh cast; and any later write to the tensor makes the shadow stale.
func TestBF16Shadows(t *testing.T) {
	be := gpuBackend(t, BF16)
	if be.opts.NoShadows {
		t.Skip("shadows are off (CLIPSTREAM_GPU_NO_SHADOWS=1, a bisecting rerun)")
	}
	seed := rand.Uint64()
	r := rand.New(rand.NewPCG(seed, 9))
	const B, T, C, NH, OC = 3, 7, 64, 4, 96
	N := B * T
	alloc := func(n int, random bool) ops.Tensor {
		buf, err := be.Alloc(n)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = be.Free(buf) })
		tt := ops.Tensor{Buf: buf, Len: n}
		if random {
			be.Upload(tt, randVals(r, n))
		}
		return tt
	}
	download := func(x ops.Tensor) []float32 {
		v := make([]float32, x.Len)
		be.Download(v, x)
		return v
	}
	shadowBits := func(x ops.Tensor) ([]uint16, bool) {
		d := x.Buf.(*deviceBuffer)
		p := d.ptr + devicePtr(4*x.Off)
		var p16 devicePtr
		var ok bool
		if err := be.dev.Do(func() error { p16, ok = be.shadows.lookup(p, int64(x.Len)); return nil }); err != nil {
			t.Fatal(err)
		}
		if !ok {
			return nil, false
		}
		f := alloc(x.Len, false)
		fp := f.Buf.(*deviceBuffer).ptr
		if err := be.dev.Do(func() error { return be.launch("bf16_to_f32_kernel", elementwise(int64(x.Len)), fp, p16, int64(x.Len)) }); err != nil {
			t.Fatal(err)
		}
		bits := make([]uint16, x.Len)
		for i, v := range download(f) {
			bits[i] = uint16(math.Float32bits(v) >> 16)
		}
		return bits, true
	}
	w, bias := alloc(C, true), alloc(C, true)
	producers := []struct {
		name string
		out  func() ops.Tensor
	}{
		{"LayerNormForward", func() ops.Tensor {
			o := alloc(N*C, false)
			be.LayerNormForward(o, alloc(N, false), alloc(N, false), alloc(N*C, true), w, bias, N, C)
			return o
		}},
		{"ResidualLayerNormForward", func() ops.Tensor {
			o := alloc(N*C, false)
			be.ResidualLayerNormForward(alloc(N*C, false), o, alloc(N, false), alloc(N, false), alloc(N*C, true), alloc(N*C, true), alloc(C, true), w, bias, N, C)
			return o
		}},
		{"MatmulActivationForward", func() ops.Tensor {
			o := alloc(N*C, false)
			be.MatmulActivationForward(alloc(N*C, false), o, alloc(N*OC, true), alloc(C*OC, true), alloc(C, true), N, OC, C, ops.GELU)
			return o
		}},
		{"ActivationBackward", func() ops.Tensor {
			d := alloc(N*C, true) // accumulated into: the shadow is of the sum
			be.ActivationBackward(d, alloc(N*C, true), alloc(N*C, true), ops.GELU)
			return d
		}},
		{"LayerNormBackward", func() ops.Tensor {
			d := alloc(N*C, true) // accumulated into: the shadow is of the sum
			be.LayerNormBackward(d, alloc(C, true), alloc(C, true), alloc(N*C, true), alloc(N*C, true), w, alloc(N, true), alloc(N, true), N, C)
			return d
		}},
		{"AttentionBackward", func() ops.Tensor {
			d := alloc(N*3*C, true) // dqkv, accumulated into
			be.AttentionBackward(d, alloc(B*NH*T*T, false), alloc(B*NH*T*T, false), alloc(N*C, true), alloc(N*3*C, true), alloc(3*C, true), alloc(B*NH*T*T, true), B, T, C, NH, true)
			return d
		}},
		{"AttentionForward", func() ops.Tensor {
			o := alloc(N*C, false)
			be.AttentionForward(o, alloc(B*NH*T*T, false), alloc(B*NH*T*T, false), alloc(N*3*C, true), alloc(3*C, true), B, T, C, NH, true)
			return o
		}},
	}
	t.Run("cast cache", func(t *testing.T) {
		// A GEMM operand that no op produced is cast once into a shadow;
		// new values written into it must reach the next GEMM.
		x, weight := alloc(N*C, true), alloc(OC*C, true)
		y := alloc(N*OC, false)
		be.MatmulForward(y, x, weight, ops.Tensor{}, N, C, OC)
		if _, ok := shadowBits(x); !ok {
			t.Fatal("the GEMM left no cached cast of its input")
		}
		fresh := randVals(r, N*C)
		be.Upload(x, fresh)
		be.MatmulForward(y, x, weight, ops.Tensor{}, N, C, OC)
		x2, y2 := alloc(N*C, false), alloc(N*OC, false)
		be.Upload(x2, fresh)
		be.MatmulForward(y2, x2, weight, ops.Tensor{}, N, C, OC)
		g1, g2 := download(y), download(y2)
		for i := range g1 {
			if math.Float32bits(g1[i]) != math.Float32bits(g2[i]) {
				t.Fatalf("GEMM after rewriting its input [%d] = %v, on a new buffer %v (seed %d)", i, g1[i], g2[i], seed)
			}
		}
		if err := be.Err(); err != nil {
			t.Fatal(err)
		}
	})
	for _, p := range producers {
		t.Run(p.name, func(t *testing.T) {
			out := p.out()
			if err := be.Err(); err != nil {
				t.Fatal(err)
			}
			bits, ok := shadowBits(out)
			if !ok {
				t.Fatal("no valid bf16 shadow after the op")
			}
			for i, v := range download(out) {
				if want := ops.ToBF16(v); bits[i] != want {
					t.Fatalf("shadow[%d] = %#04x, want %#04x (the cast of %v; seed %d)", i, bits[i], want, v, seed)
				}
			}
			// A GEMM on the shadow equals one on a fresh cast: re-uploading
			// the same values makes the shadow stale.
			weight := alloc(OC*C, true)
			y1, y2 := alloc(N*OC, false), alloc(N*OC, false)
			gin := out.View(0, N*C) // the first N·C values (dqkv's are 3× that)
			be.MatmulForward(y1, gin, weight, ops.Tensor{}, N, C, OC)
			be.Upload(out, download(out))
			if _, ok := shadowBits(out); ok {
				t.Fatal("the shadow is still valid after an upload into its tensor")
			}
			be.MatmulForward(y2, gin, weight, ops.Tensor{}, N, C, OC)
			g1, g2 := download(y1), download(y2)
			for i := range g1 {
				if math.Float32bits(g1[i]) != math.Float32bits(g2[i]) {
					t.Fatalf("GEMM on the shadow [%d] = %v, on a fresh cast %v (seed %d)", i, g1[i], g2[i], seed)
				}
			}
			if err := be.Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
