package gpu

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clipstream/clipstream/trainer/ops"
)

// Host-side logic, checked without a GPU: library search and load errors,
// error names, kernel argument packing, launch geometry, the row-major to
// cuBLAS mapping, bf16 rounding, and the ops' argument checks.

// fakeFS is a searchEnv over a fixed set of files and variables.
func fakeEnv(vars map[string]string, files []string, site []string, siteCalls *int) searchEnv {
	return searchEnv{
		getenv: func(k string) string { return vars[k] },
		sitePackages: func() []string {
			if siteCalls != nil {
				*siteCalls++
			}
			return site
		},
		glob: func(pat string) ([]string, error) {
			var out []string
			for _, f := range files {
				if ok, _ := filepath.Match(pat, f); ok {
					out = append(out, f)
				}
			}
			// directories: match pattern against every parent of a file
			for _, f := range files {
				for d := filepath.Dir(f); d != "/" && d != "."; d = filepath.Dir(d) {
					if ok, _ := filepath.Match(pat, d); ok && !slices.Contains(out, d) {
						out = append(out, d)
					}
				}
			}
			slices.Sort(out)
			return out, nil
		},
		exists: func(p string) bool { return slices.Contains(files, p) },
		goarch: "amd64",
	}
}

func searchAll(e searchEnv, spec libSpec) (paths, dirs []string) {
	e.search(spec, &dirs, func(p string) bool { paths = append(paths, p); return true })
	return paths, dirs
}

func TestLibrarySearchOrder(t *testing.T) {
	files := []string{
		"/override/libnvrtc.so.13",
		"/cuda/lib64/libnvrtc.so.12",
		"/cuda/lib64/stubs/libnvrtc.so.13",
		"/ld/libnvrtc.so",
		"/usr/local/cuda/lib64/libnvrtc.so.13",
		"/venv/lib/python3.12/site-packages/nvidia/cu13/lib/libnvrtc.so.13",
		"/sp/nvidia/cuda_nvrtc/lib/libnvrtc.so.12",
	}
	vars := map[string]string{
		"CLIPSTREAM_CUDA_LIBS": "/override",
		"CUDA_HOME":            "/cuda",
		"LD_LIBRARY_PATH":      "/ld::/cuda/lib64/stubs",
		"VIRTUAL_ENV":          "/venv",
	}
	paths, dirs := searchAll(fakeEnv(vars, files, []string{"/sp"}, nil), specNVRTC)
	want := []string{
		"/override/libnvrtc.so.13",
		"/cuda/lib64/libnvrtc.so.12",
		"/ld/libnvrtc.so",
		"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so",
		"/usr/local/cuda/lib64/libnvrtc.so.13",
		"/venv/lib/python3.12/site-packages/nvidia/cu13/lib/libnvrtc.so.13",
		"/sp/nvidia/cuda_nvrtc/lib/libnvrtc.so.12",
	}
	if !slices.Equal(paths, want) {
		t.Errorf("search order\n got %q\nwant %q", paths, want)
	}
	for _, d := range dirs {
		if strings.Contains(d, "stubs") {
			t.Errorf("searched the stubs directory %s", d)
		}
	}
	for _, d := range []string{"/override", "/cuda/lib64", "/cuda/targets/x86_64-linux/lib", "/ld", "/usr/local/nvidia/lib64", "/usr/lib/x86_64-linux-gnu", "/sp/torch/lib"} {
		if !slices.Contains(dirs, d) {
			t.Errorf("directory %s not searched (searched %v)", d, dirs)
		}
	}
}

func TestLibrarySearchPythonLazy(t *testing.T) {
	calls := 0
	e := fakeEnv(nil, []string{"/usr/lib/x86_64-linux-gnu/libcuda.so.1"}, nil, &calls)
	var got string
	var dirs []string
	e.search(specCUDA, &dirs, func(p string) bool {
		if strings.HasPrefix(p, "/") {
			got = p
			return false
		}
		return true // the bare soname "fails"
	})
	if got != "/usr/lib/x86_64-linux-gnu/libcuda.so.1" {
		t.Errorf("found %q", got)
	}
	if calls != 0 {
		t.Errorf("python3 asked %d times although a system directory had the library", calls)
	}
	// libcuda only by its versioned name: never the toolkit's libcuda.so stub
	paths, _ := searchAll(fakeEnv(map[string]string{"CUDA_HOME": "/c"}, []string{"/c/lib64/libcuda.so"}, nil, nil), specCUDA)
	if slices.Contains(paths, "/c/lib64/libcuda.so") {
		t.Error("tried plain libcuda.so")
	}
}

func TestCompanionPaths(t *testing.T) {
	e := fakeEnv(nil, []string{"/w/lib/libnvrtc.so.13", "/w/lib/libnvrtc-builtins.alt.so.13.0", "/w/lib/libnvrtc-builtins.so.13.0"}, nil, nil)
	if got := e.companionPaths(specNVRTC, "/w/lib/libnvrtc.so.13"); !slices.Equal(got, []string{"/w/lib/libnvrtc-builtins.so.13.0"}) {
		t.Errorf("companions %v", got)
	}
	if got := e.companionPaths(specNVRTC, "libnvrtc.so.13"); got != nil {
		t.Errorf("companions of a bare soname: %v", got)
	}
}

// TestNoCUDA runs where the machine has no CUDA driver (or the build has
// no cgo): OpenDevice must fail with ErrNoCUDA naming what it tried.
func TestNoCUDA(t *testing.T) {
	if cgoEnabled {
		if _, err := loadDriver(defaultSearchEnv()); err == nil {
			t.Skip("this machine has a CUDA driver")
		}
	}
	_, err := OpenDevice(0)
	if !errors.Is(err, ErrNoCUDA) {
		t.Fatalf("OpenDevice: %v, want ErrNoCUDA", err)
	}
	var le *LoadError
	if !errors.As(err, &le) || le.Lib != "libcuda.so.1" {
		t.Fatalf("error %v is not a *LoadError for libcuda.so.1", err)
	}
	msg := err.Error()
	if cgoEnabled {
		if !strings.Contains(msg, "dlopen tried libcuda.so.1") || !strings.Contains(msg, "/usr/local/nvidia/lib64") {
			t.Errorf("message does not list what was tried: %s", msg)
		}
	} else if !strings.Contains(msg, "without cgo") {
		t.Errorf("message does not say the build has no cgo: %s", msg)
	}
	if _, err := New(Options{}); !errors.Is(err, ErrNoCUDA) {
		t.Errorf("New: %v, want ErrNoCUDA", err)
	}
	t.Log(msg)
}

func TestErrorNames(t *testing.T) {
	err := cuError("cuInit", 100, "", "")
	if err.Error() != "gpu: cuInit: CUDA_ERROR_NO_DEVICE (100)" {
		t.Errorf("message %q", err)
	}
	if !errors.Is(err, ErrNoDevice) {
		t.Error("CUDA_ERROR_NO_DEVICE is not ErrNoDevice")
	}
	if errors.Is(cuError("cuMemAlloc_v2", 2, "", ""), ErrNoDevice) {
		t.Error("out of memory counted as no device")
	}
	if got := cuError("cuInit", 34, "CUDA_ERROR_STUB_LIBRARY", "stub").Error(); got != "gpu: cuInit: CUDA_ERROR_STUB_LIBRARY (34): stub" {
		t.Errorf("driver-named message %q", got)
	}
	if cuError("x", 0, "", "") != nil {
		t.Error("CUDA_SUCCESS is an error")
	}
	if got := cuError("x", 12345, "", "").(*Error).Name; got != "CUDA_ERROR_12345" {
		t.Errorf("unknown code named %q", got)
	}
	if got := cublasError("cublasGemmEx", 15).(*Error).Name; got != "CUBLAS_STATUS_NOT_SUPPORTED" {
		t.Errorf("cuBLAS 15 named %q", got)
	}
	if errors.Is(cublasError("cublasCreate_v2", 1), ErrNoDevice) {
		t.Error("a cuBLAS status counted as no device")
	}
	if got := nvrtcError("nvrtcCompileProgram", 6).(*Error).Name; got != "NVRTC_ERROR_COMPILATION" {
		t.Errorf("NVRTC 6 named %q", got)
	}
}

func TestPackArgs(t *testing.T) {
	p, err := packArgs(devicePtr(0x1122334455667788), 7, float32(1.5), int64(-2), uint32(9), int32(-3))
	if err != nil {
		t.Fatal(err)
	}
	if want := []int32{0, 8, 12, 16, 24, 28}; !slices.Equal(p.offs, want) {
		t.Errorf("offsets %v, want %v", p.offs, want)
	}
	le := binary.LittleEndian
	if le.Uint64(p.buf[0:]) != 0x1122334455667788 || le.Uint32(p.buf[8:]) != 7 ||
		math.Float32frombits(le.Uint32(p.buf[12:])) != 1.5 || int64(le.Uint64(p.buf[16:])) != -2 ||
		le.Uint32(p.buf[24:]) != 9 || int32(le.Uint32(p.buf[28:])) != -3 {
		t.Errorf("packed bytes % x", p.buf)
	}
	// an 8-byte value after a 4-byte one is aligned to 8
	p, _ = packArgs(1, devicePtr(5))
	if !slices.Equal(p.offs, []int32{0, 8}) {
		t.Errorf("alignment: offsets %v", p.offs)
	}
	for _, bad := range [][]any{{1.5}, {"x"}, {math.MaxInt32 + 1}, {nil}} {
		if _, err := packArgs(bad...); err == nil {
			t.Errorf("packArgs(%v) accepted", bad)
		}
	}
	if _, err := packArgs(make([]any, maxKernelArgs+1)...); err == nil {
		t.Error("too many arguments accepted")
	}
}

func TestLaunchDims(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want uint32
	}{{0, 1}, {1, 1}, {256, 1}, {257, 2}, {1 << 40, maxGridX}} {
		if got := elementwise(c.n).grid[0]; got != c.want {
			t.Errorf("elementwise(%d): %d blocks, want %d", c.n, got, c.want)
		}
	}
	if d := warpPerRow(17); d.grid[0] != 3 || d.block[0] != 256 {
		t.Errorf("warpPerRow(17) = %+v (8 rows a block)", d)
	}
	d := biasBackwardDims(10000, 768, 132)
	if d.grid[0] != 24 || d.grid[1] < 1 || d.grid[1]*8 > 10000 || d.block != [3]uint32{32, 8, 1} {
		t.Errorf("biasBackwardDims = %+v", d)
	}
	if d := biasBackwardDims(3, 5, 132); d.grid != [3]uint32{1, 1, 1} {
		t.Errorf("tiny biasBackwardDims = %+v", d)
	}
	l := layerNormBackwardDims(100000, 768, 132)
	if l.grid[0] != 264 || l.shmem != 2*768*4 {
		t.Errorf("layerNormBackwardDims = %+v", l)
	}
	if got := chunks(10, 4); !slices.Equal(got, [][2]int64{{0, 4}, {4, 4}, {8, 2}}) {
		t.Errorf("chunks(10,4) = %v", got)
	}
	if got := chunks(0, 4); len(got) != 0 {
		t.Errorf("chunks(0,4) = %v", got)
	}
}

// colMajorGemm is a plain column-major GEMM, as cuBLAS defines it, over
// float64 memory in which device pointers are element offsets.
func colMajorGemm(mem []float64, g gemmCall) {
	batch := max(g.batch, 1)
	for bt := range batch {
		a := int64(g.a) + int64(bt)*g.strideA
		b := int64(g.b) + int64(bt)*g.strideB
		c := int64(g.c) + int64(bt)*g.strideC
		for j := range g.n {
			for i := range g.m {
				var s float64
				for k := range g.k {
					var av, bv float64
					if g.opA == cublasOpN {
						av = mem[a+int64(i+k*g.lda)]
					} else {
						av = mem[a+int64(k+i*g.lda)]
					}
					if g.opB == cublasOpN {
						bv = mem[b+int64(k+j*g.ldb)]
					} else {
						bv = mem[b+int64(j+k*g.ldb)]
					}
					s += av * bv
				}
				p := c + int64(i+j*g.ldc)
				mem[p] = float64(g.alpha)*s + float64(g.beta)*mem[p]
			}
		}
	}
}

// TestGemmMapping checks toCublas: the cuBLAS call it produces, run by a
// column-major reference, gives the row-major product, for each transpose
// combination, padded leading dimensions, accumulation and batching.
func TestGemmMapping(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		ta, tb  bool
		M, N, K int
		batch   int
		beta    float32
	}{
		{false, false, 5, 7, 3, 0, 0}, {false, true, 5, 7, 3, 0, 1}, {true, false, 4, 6, 9, 0, 1},
		{true, true, 3, 8, 5, 0, 0}, {false, true, 6, 6, 4, 3, 0}, {true, false, 6, 4, 6, 2, 1},
	} {
		rowsA, colsA := c.M, c.K
		if c.ta {
			rowsA, colsA = c.K, c.M
		}
		rowsB, colsB := c.K, c.N
		if c.tb {
			rowsB, colsB = c.N, c.K
		}
		lda, ldb, ldc := colsA+2, colsB+1, c.N+3
		nb := max(c.batch, 1)
		sa, sb, sc := int64(rowsA*lda+5), int64(rowsB*ldb+1), int64(c.M*ldc+2)
		offA, offB, offC := int64(3), int64(3)+sa*int64(nb), int64(3)+(sa+sb)*int64(nb)
		mem := make([]float64, offC+sc*int64(nb))
		for i := range mem {
			mem[i] = float64(float32(r.NormFloat64()))
		}
		want := slices.Clone(mem)
		g := rowMajorGemm{TransA: c.ta, TransB: c.tb, M: c.M, N: c.N, K: c.K, A: devicePtr(offA), LDA: lda,
			B: devicePtr(offB), LDB: ldb, C: devicePtr(offC), LDC: ldc, Alpha: 0.5, Beta: c.beta,
			Batch: c.batch, StrideA: sa, StrideB: sb, StrC: sc}
		for bt := range int64(nb) {
			for i := range c.M {
				for j := range c.N {
					var s float64
					for k := range c.K {
						var av, bv float64
						if c.ta {
							av = mem[offA+bt*sa+int64(k*lda+i)]
						} else {
							av = mem[offA+bt*sa+int64(i*lda+k)]
						}
						if c.tb {
							bv = mem[offB+bt*sb+int64(j*ldb+k)]
						} else {
							bv = mem[offB+bt*sb+int64(k*ldb+j)]
						}
						s += av * bv
					}
					p := offC + bt*sc + int64(i*ldc+j)
					want[p] = 0.5*s + float64(c.beta)*mem[p]
				}
			}
		}
		colMajorGemm(mem, g.toCublas())
		for i := range mem {
			if math.Abs(mem[i]-want[i]) > 1e-9 {
				t.Fatalf("%+v: element %d = %g, want %g", c, i, mem[i], want[i])
			}
		}
		spanA, spanB := g.sizes()
		if wantA := sa*int64(nb-1) + int64((rowsA-1)*lda+colsA); spanA != wantA {
			t.Errorf("%+v: A span %d, want %d", c, spanA, wantA)
		}
		if wantB := sb*int64(nb-1) + int64((rowsB-1)*ldb+colsB); spanB != wantB {
			t.Errorf("%+v: B span %d, want %d", c, spanB, wantB)
		}
	}
}

func TestBF16(t *testing.T) {
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{1, 0x3f80}, {-2, 0xc000}, {0, 0},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie, even stays
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie, odd rounds up
		{math.Float32frombits(0x3f808001), 0x3f81}, // above the tie
		{math.Float32frombits(0x7f7fffff), 0x7f80}, // max float rounds to +Inf
		{float32(math.Inf(-1)), 0xff80},
	} {
		if got := ops.ToBF16(c.f); got != c.want {
			t.Errorf("ops.ToBF16(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
	if n := ops.RoundBF16(float32(math.NaN())); !math.IsNaN(float64(n)) {
		t.Errorf("NaN became %g", n)
	}
	if ops.RoundBF16(3.140625) != 3.140625 {
		t.Error("a bf16 value is not kept exactly")
	}
}

// hostBackend is a Backend with no device, for the argument checks: any
// op that passes them would reach the (absent) device, so only failing
// calls are made, plus calls after a failure (which must do nothing).
func hostBackend() (*Backend, func(n int) ops.Tensor) {
	b := &Backend{}
	next := devicePtr(1 << 20)
	mk := func(n int) ops.Tensor {
		d := &deviceBuffer{owner: b, ptr: next, n: n}
		next += devicePtr(4*n + 256)
		return ops.Tensor{Buf: d, Len: n}
	}
	return b, mk
}

func TestOpArgumentChecks(t *testing.T) {
	for _, c := range []struct {
		name string
		want error
		run  func(b *Backend, mk func(int) ops.Tensor)
	}{
		{"matmul out size", ops.ErrShape, func(b *Backend, mk func(int) ops.Tensor) {
			b.MatmulForward(mk(11), mk(6), mk(15), ops.Tensor{}, 2, 3, 5)
		}},
		{"foreign buffer", ops.ErrBuffer, func(b *Backend, mk func(int) ops.Tensor) {
			host := ops.Tensor{Buf: &ops.HostBuffer{Data: make([]float32, 10)}, Len: 10}
			b.ResidualForward(mk(10), host, mk(10))
		}},
		{"other backend's buffer", ops.ErrBuffer, func(b *Backend, _ func(int) ops.Tensor) {
			_, mk2 := hostBackend()
			b.Zero(mk2(4))
		}},
		{"view outside buffer", ops.ErrBuffer, func(b *Backend, mk func(int) ops.Tensor) {
			b.Zero(mk(10).View(8, 4))
		}},
		{"negative offset", ops.ErrBuffer, func(b *Backend, mk func(int) ops.Tensor) {
			b.Zero(mk(10).View(-1, 2))
		}},
		{"heads", ops.ErrShape, func(b *Backend, mk func(int) ops.Tensor) {
			b.AttentionForward(mk(2*3*10), mk(2*3*3*3), mk(2*3*3*3), mk(2*3*30), ops.Tensor{}, 2, 3, 10, 3, true)
		}},
		{"embedding id", ops.ErrShape, func(b *Backend, mk func(int) ops.Tensor) {
			b.EmbeddingForward(mk(8), mk(12), []int32{0, 3}, 2, 4, 3)
		}},
		{"embedding id count", ops.ErrShape, func(b *Backend, mk func(int) ops.Tensor) {
			b.EmbeddingBackward(mk(12), mk(8), []int32{0}, 2, 4, 3)
		}},
		{"layernorm width", ops.ErrShape, func(b *Backend, mk func(int) ops.Tensor) {
			C := maxLayerNormC + 1
			b.LayerNormBackward(mk(C), mk(C), mk(C), mk(C), mk(C), mk(C), mk(1), mk(1), 1, C)
		}},
		{"fused matmul pre size", ops.ErrShape, func(b *Backend, mk func(int) ops.Tensor) {
			b.MatmulActivationForward(mk(5), mk(6), mk(6), mk(9), mk(3), 2, 3, 3, ops.GELU)
		}},
		{"fused residual layernorm rows", ops.ErrShape, func(b *Backend, mk func(int) ops.Tensor) {
			b.ResidualLayerNormForward(mk(6), mk(6), mk(1), mk(2), mk(6), mk(6), ops.Tensor{}, mk(3), mk(3), 2, 3)
		}},
		{"contrastive loss size", ops.ErrShape, func(b *Backend, mk func(int) ops.Tensor) {
			b.ContrastiveForward(mk(2), mk(4), mk(4), mk(4), mk(6), mk(6), mk(1), 2, 3)
		}},
		{"image bytes", ops.ErrShape, func(b *Backend, mk func(int) ops.Tensor) {
			b.NormalizeImages(mk(2*3*4*4), make([]uint8, 10), 2, 4, [3]float32{}, [3]float32{1, 1, 1})
		}},
		{"patch pixel bytes", ops.ErrShape, func(b *Backend, mk func(int) ops.Tensor) {
			b.UploadPatches(mk(2*3*8*8), make([]uint8, 10), 2, 8, 4, [3]float32{}, [3]float32{1, 1, 1})
		}},
		{"patch size", ops.ErrShape, func(b *Backend, mk func(int) ops.Tensor) {
			b.UploadPatches(mk(3*8*8), make([]uint8, 3*8*8), 1, 8, 3, [3]float32{}, [3]float32{1, 1, 1})
		}},
		{"adamw step", ops.ErrShape, func(b *Backend, mk func(int) ops.Tensor) {
			b.AdamWStep(mk(4), mk(4), mk(4), mk(4), AdamW{Step: 0})
		}},
		{"adamw no-decay spans overlap", ops.ErrShape, func(b *Backend, mk func(int) ops.Tensor) {
			b.AdamWStep(mk(9), mk(9), mk(9), mk(9), AdamW{Step: 1, NoDecay: [][2]int{{0, 4}, {3, 6}}})
		}},
		{"adamw no-decay span past the end", ops.ErrShape, func(b *Backend, mk func(int) ops.Tensor) {
			b.AdamWStep(mk(9), mk(9), mk(9), mk(9), AdamW{Step: 1, NoDecay: [][2]int{{8, 10}}})
		}},
		{"upload length", ops.ErrShape, func(b *Backend, mk func(int) ops.Tensor) {
			b.Upload(mk(4), make([]float32, 5))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, mk := hostBackend()
			c.run(b, mk)
			if !errors.Is(b.err, c.want) {
				t.Fatalf("recorded %v, want %v", b.err, c.want)
			}
			first := b.err
			// a valid op after the failure must not reach the device (it would panic here)
			b.ResidualForward(mk(4), mk(4), mk(4))
			b.MatmulForward(mk(10), mk(6), mk(15), ops.Tensor{}, 2, 3, 5)
			if b.err != first {
				t.Errorf("first error replaced by %v", b.err)
			}
		})
	}
}

func TestArgsPointer(t *testing.T) {
	b, mk := hostBackend()
	x := mk(100)
	a := b.args("t")
	d := x.Buf.(*deviceBuffer)
	if p := a.in("x", x.View(10, 20), 20); p != d.ptr+40 {
		t.Errorf("address of element 10: %#x, want %#x", p, d.ptr+40)
	}
	if err := b.owned(a, func() error { return nil })(); err != nil || d.stale {
		t.Errorf("running an op that reads the buffer marked it stale (err %v)", err)
	}
	a.out("x", x, 100)
	if d.stale {
		t.Error("checking the arguments marked the copy stale before the op ran")
	}
	if err := b.owned(a, func() error { return nil })(); err != nil || !d.stale {
		t.Errorf("running an op that writes the buffer did not mark its bf16 copy stale (err %v)", err)
	}
	if p := a.optIn("bias", ops.Tensor{}, 5); p != 0 || !a.ok() {
		t.Errorf("empty optional: %#x, ok %v", p, a.ok())
	}
	// An op that keeps the copy current (AdamWStep) leaves it as it was.
	d.stale = false
	k := b.args("keep")
	k.out("x", x, 100)
	k.keepCopy = d
	if err := b.owned(k, func() error { return nil })(); err != nil || d.stale {
		t.Errorf("an op keeping the copy current marked it stale (err %v)", err)
	}
}

// TestOwnedOrder: the owner-side wrapper makes the op's outputs' shadows
// stale before the op's work runs, and runs nothing after an error.
func TestOwnedOrder(t *testing.T) {
	b, mk := hostBackend()
	x := mk(64)
	d := x.Buf.(*deviceBuffer)
	mem := &fakeMem{}
	sh, err := b.shadows.reserve(d.ptr, 64, mem.alloc)
	if err != nil {
		t.Fatal(err)
	}
	sh.valid = true
	a := b.args("op")
	a.out("x", x.View(8, 4), 4)
	ran := false
	if err := b.owned(a, func() error {
		ran = true
		if sh.valid {
			t.Error("the op ran with its output's shadow still valid")
		}
		return nil
	})(); err != nil || !ran {
		t.Fatalf("op: ran %v, err %v", ran, err)
	}
	b.fail(errors.New("earlier failure"))
	ran = false
	if err := b.owned(b.args("later"), func() error { ran = true; return nil })(); err != nil || ran {
		t.Fatalf("after an error the op ran (%v) or failed (%v)", ran, err)
	}
}

func TestOptionsWithEnv(t *testing.T) {
	for _, tc := range []struct {
		env                         map[string]string
		sync, noShadows, noPrefetch bool
	}{
		{nil, false, false, false},
		{map[string]string{"CLIPSTREAM_GPU_SYNC": "1"}, true, false, false},
		{map[string]string{"CLIPSTREAM_GPU_NO_SHADOWS": "true"}, false, true, false},
		{map[string]string{"CLIPSTREAM_GPU_NO_PREFETCH": "1"}, false, false, true},
		{map[string]string{"CLIPSTREAM_GPU_SYNC": "0", "CLIPSTREAM_GPU_NO_SHADOWS": "yes", "CLIPSTREAM_GPU_NO_PREFETCH": "on"}, false, false, false},
	} {
		o := Options{Precision: BF16}.WithEnv(func(k string) string { return tc.env[k] })
		if o.Synchronous != tc.sync || o.NoShadows != tc.noShadows || o.NoPrefetch != tc.noPrefetch || o.Precision != BF16 {
			t.Errorf("env %v: %+v, want Synchronous %v NoShadows %v NoPrefetch %v", tc.env, o, tc.sync, tc.noShadows, tc.noPrefetch)
		}
	}
}
