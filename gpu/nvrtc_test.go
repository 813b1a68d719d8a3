package gpu

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// nvrtcWheel is the PyPI wheel the compile test installs when no NVRTC
// library is found on the machine: CUDA 13.0's, the version of the driver
// the project's GPU machines run (the compile test itself does not need a
// driver or a GPU).
const nvrtcWheel = "nvidia-cuda-nvrtc==13.0.88"

// testArchs are the architectures every kernel must compile for: A100
// (sm_80) and H100/H200 (sm_90).
var testArchs = []string{"sm_80", "sm_90"}

// testNVRTC returns an NVRTC library: the machine's own if the library
// search finds one, else the one in the nvidia-cuda-nvrtc wheel, installed
// once into a virtualenv under the cache directory. Without python3 the
// test skips, except in CI (CI set) or with CLIPSTREAM_REQUIRE_NVRTC=1,
// where that is a failure.
func testNVRTC(t *testing.T) *nvrtc {
	t.Helper()
	if !cgoEnabled {
		t.Skip("built without cgo: NVRTC cannot be loaded")
	}
	if lib, err := loadNVRTC(defaultSearchEnv()); err == nil {
		t.Logf("NVRTC from %s", lib.path)
		return lib
	}
	missing := func(what string) {
		if os.Getenv("CI") != "" || os.Getenv("CLIPSTREAM_REQUIRE_NVRTC") != "" {
			t.Fatalf("NVRTC compile test needs %s", what)
		}
		t.Skipf("NVRTC compile test needs %s", what)
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		missing("an NVRTC library or python3 to install the " + nvrtcWheel + " wheel")
	}
	cache := os.Getenv("CLIPSTREAM_CACHE")
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(dir, "clipstream")
	}
	venv := filepath.Join(cache, "venv-nvrtc-"+strings.TrimPrefix(nvrtcWheel, "nvidia-cuda-nvrtc=="))
	find := func() string {
		m, _ := filepath.Glob(filepath.Join(venv, "lib", "python3*", "site-packages", "nvidia", "*", "lib", "libnvrtc.so*"))
		if len(m) == 0 {
			return ""
		}
		return filepath.Dir(m[0])
	}
	dir := find()
	if dir == "" {
		t.Logf("installing %s into %s", nvrtcWheel, venv)
		vpy := filepath.Join(venv, "bin", "python")
		for _, args := range [][]string{
			{py, "-m", "venv", venv},
			{vpy, "-m", "pip", "install", "--quiet", nvrtcWheel},
		} {
			if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
				missing(strings.Join(args, " ") + " to work: " + err.Error() + "\n" + string(out))
			}
		}
		if dir = find(); dir == "" {
			t.Fatalf("%s installed, but no libnvrtc.so* under %s", nvrtcWheel, venv)
		}
	}
	env := defaultSearchEnv()
	env.getenv = func(k string) string {
		if k == "CLIPSTREAM_CUDA_LIBS" {
			return dir
		}
		return os.Getenv(k)
	}
	lib, err := loadNVRTC(env)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("NVRTC from %s", lib.path)
	return lib
}

// TestKernelsCompile compiles every kernel file for sm_80 and sm_90 with
// NVRTC (no GPU needed) and checks that the PTX holds exactly the entry
// points kernelFiles lists, that a CUBIN comes out, and that a second
// compile comes from the disk cache unchanged.
func TestKernelsCompile(t *testing.T) {
	lib := testNVRTC(t)
	cacheDir := t.TempDir()
	c, err := newCompiler(lib, cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("NVRTC %s", c.version)
	for _, arch := range testArchs {
		for _, file := range kernelFileNames() {
			t.Run(arch+"/"+file, func(t *testing.T) {
				out, err := c.compile(file, arch)
				if err != nil {
					t.Fatal(err) // a *CompileError: the message carries NVRTC's log
				}
				if out.Cached {
					t.Fatal("first compile came from the cache")
				}
				got := ptxEntries(out.PTX)
				want := slices.Sorted(slices.Values(kernelFiles[file]))
				if !slices.Equal(got, want) {
					t.Errorf("PTX entries %v, kernelFiles lists %v", got, want)
				}
				if !bytes.Contains(out.PTX, []byte(".target "+arch)) {
					t.Errorf("PTX is not for %s", arch)
				}
				if lib.getCUBIN != nil && !bytes.HasPrefix(out.CUBIN, []byte("\x7fELF")) {
					t.Errorf("no CUBIN (ELF) for %s (%d bytes)", arch, len(out.CUBIN))
				}
				again, err := c.compile(file, arch)
				if err != nil {
					t.Fatal(err)
				}
				if !again.Cached || !bytes.Equal(again.PTX, out.PTX) || !bytes.Equal(again.CUBIN, out.CUBIN) {
					t.Errorf("second compile: cached %v, same PTX %v, same CUBIN %v", again.Cached,
						bytes.Equal(again.PTX, out.PTX), bytes.Equal(again.CUBIN, out.CUBIN))
				}
			})
		}
	}
}

// TestKernelCompileError checks that a kernel that does not compile gives
// a *CompileError wrapping ErrCompile, with NVRTC's log naming the file
// and line.
func TestKernelCompileError(t *testing.T) {
	lib := testNVRTC(t)
	c, err := newCompiler(lib, "")
	if err != nil {
		t.Fatal(err)
	}
	src := "#line 1 \"broken.cu\"\nextern \"C\" __global__ void f(float* x) {\n  x[0] = no_such_function(1.0f);\n}\n"
	_, err = c.build("broken.cu", src, "sm_90")
	var ce *CompileError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCompile) {
		t.Fatalf("got %v, want a *CompileError", err)
	}
	var ne *Error
	if !errors.As(err, &ne) || ne.Name != "NVRTC_ERROR_COMPILATION" {
		t.Errorf("NVRTC error %v, want NVRTC_ERROR_COMPILATION", ne)
	}
	if !strings.Contains(ce.Log, "broken.cu(2)") || !strings.Contains(ce.Log, "no_such_function") {
		t.Errorf("log does not point at broken.cu line 2:\n%s", ce.Log)
	}
}

// TestCacheKey checks that the key changes with each of its inputs.
func TestCacheKey(t *testing.T) {
	base := cacheKey("src", "sm_90", "13.0", []string{"-a"})
	for name, k := range map[string]string{
		"source":  cacheKey("src2", "sm_90", "13.0", []string{"-a"}),
		"arch":    cacheKey("src", "sm_80", "13.0", []string{"-a"}),
		"version": cacheKey("src", "sm_90", "12.9", []string{"-a"}),
		"options": cacheKey("src", "sm_90", "13.0", []string{"-b"}),
	} {
		if k == base {
			t.Errorf("changing the %s leaves the cache key unchanged", name)
		}
	}
	if cacheKey("src", "sm_90", "13.0", []string{"-a"}) != base {
		t.Error("cache key is not deterministic")
	}
}
