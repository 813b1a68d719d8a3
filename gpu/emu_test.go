package gpu

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// The CUDA emulator (testdata/cudaemu): the driver API and cuBLAS calls
// this package makes, run on the host, with the package's own kernel
// sources compiled by a host C++ compiler. The device tests (the op
// checks, the extras, the shadows, the errors, a training trajectory, a
// checkpoint and resume through trainer.Run) run against it in a child
// process, so every kernel, launch, GEMM mapping and stream dependency is
// exercised on a machine without a GPU. It proves the code's logic, not
// the hardware's: the real device runs the same tests (gpu-check.sh).

const emuDir = "testdata/cudaemu"

// emuDeviceTests are the tests the emulated device runs.
const emuDeviceTests = "^(TestOpsAgainstCPU|TestGPUExtras|TestBF16Shadows|TestGPUErrors|TestDeviceTrajectory|TestDeviceResume)$"

var (
	kernelSig    = regexp.MustCompile(`extern "C" __global__ void (\w+)\(([^)]*)\)`)
	dynShared    = regexp.MustCompile(`extern __shared__ ([\w ]+?) (\w+)\[\];`)
	trailingName = regexp.MustCompile(`^(.*?)\b(\w+)$`)
)

// emuSource turns one kernel file into a host C++ translation unit: the
// emulator's built-ins, common.cuh, the file (dynamic shared memory made a
// pointer), and for each kernel a wrapper that captures its parameters and
// registers it by name.
func emuSource(file string, common, src []byte) (string, error) {
	var b strings.Builder
	b.WriteString("// Generated from gpu/kernels/" + file + " for the CUDA emulator. Do not edit.\n")
	b.WriteString("#include \"emu.h\"\n")
	b.Write(common)
	b.WriteString("\n")
	b.WriteString(dynShared.ReplaceAllString(string(src), "$1* $2 = ($1*)emu_dyn_shared();"))
	b.WriteString("\nnamespace {\n")
	waits := barrierFuncs(string(common) + "\n" + string(src))
	sigs := kernelSig.FindAllStringSubmatch(string(src), -1)
	if len(sigs) == 0 {
		return "", fmt.Errorf("%s: no kernels found", file)
	}
	for _, m := range sigs {
		name := m[1]
		var types []string
		for _, p := range strings.Split(m[2], ",") {
			p = strings.Join(strings.Fields(p), " ")
			if p == "" {
				continue
			}
			tm := trailingName.FindStringSubmatch(p)
			if tm == nil || strings.TrimSpace(tm[1]) == "" {
				return "", fmt.Errorf("%s: kernel %s: cannot read parameter %q", file, name, p)
			}
			types = append(types, strings.TrimSpace(tm[1]))
		}
		var fields, caps, uses []string
		for i, ty := range types {
			fields = append(fields, fmt.Sprintf("%s a%d;", ty, i))
			caps = append(caps, fmt.Sprintf("*(%s*)p[%d]", ty, i))
			uses = append(uses, fmt.Sprintf("s->a%d", i))
		}
		fmt.Fprintf(&b, "struct args_%[1]s { %[2]s };\n", name, strings.Join(fields, " "))
		fmt.Fprintf(&b, "void* cap_%[1]s(void** p) { (void)p; return new args_%[1]s{%[2]s}; }\n", name, strings.Join(caps, ", "))
		fmt.Fprintf(&b, "void run_%[1]s(void* a) { auto* s = (args_%[1]s*)a; (void)s; %[1]s(%[2]s); }\n", name, strings.Join(uses, ", "))
		fmt.Fprintf(&b, "void rel_%[1]s(void* a) { delete (args_%[1]s*)a; }\n", name)
		fmt.Fprintf(&b, "const emu_kernel k_%[1]s = {\"%[1]s\", cap_%[1]s, run_%[1]s, rel_%[1]s, %[2]d};\n", name, boolInt(waits[name]))
		fmt.Fprintf(&b, "struct reg_%[1]s { reg_%[1]s() { emu_register(&k_%[1]s); } } r_%[1]s;\n", name)
	}
	b.WriteString("}  // namespace\n")
	return b.String(), nil
}

var (
	funcDef      = regexp.MustCompile(`(?m)^(?:extern "C" __global__|__device__)[^(;{]*?\b(\w+)\(`)
	barrierToken = regexp.MustCompile(`__syncthreads|__shfl_\w+`)
)

// barrierFuncs returns the functions (kernels and device functions) of a
// translation unit that may wait at a barrier: those whose body has
// __syncthreads or a warp shuffle, or names such a function. The emulator
// runs the other kernels' threads as plain calls, without fibers.
func barrierFuncs(src string) map[string]bool {
	bodies := map[string]string{}
	for _, m := range funcDef.FindAllStringSubmatchIndex(src, -1) {
		name := src[m[2]:m[3]]
		open := strings.IndexByte(src[m[1]:], '{')
		if open < 0 {
			continue
		}
		i, depth := m[1]+open, 0
		for ; i < len(src); i++ {
			if src[i] == '{' {
				depth++
			} else if src[i] == '}' {
				if depth--; depth == 0 {
					break
				}
			}
		}
		bodies[name] = src[m[1]+open : min(i+1, len(src))]
	}
	waits := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for name, body := range bodies {
			if waits[name] {
				continue
			}
			hit := barrierToken.MatchString(body)
			for other := range waits {
				if !hit && regexp.MustCompile(`\b`+other+`\b`).MatchString(body) {
					hit = true
				}
			}
			if hit {
				waits[name], changed = true, true
			}
		}
	}
	return waits
}

var emuBuild struct {
	sync.Mutex
	dir string
	err error
}

// emuLibs builds the emulator (once per test binary, cached on disk by
// the hash of its sources) and returns the directory holding it as
// libcuda.so.1 and libcublas.so.13.
func emuLibs(t *testing.T) string {
	t.Helper()
	cxx, err := exec.LookPath("g++")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the CUDA emulator needs g++")
		}
		t.Skip("no g++ to build the CUDA emulator")
	}
	emuBuild.Lock()
	defer emuBuild.Unlock()
	if emuBuild.dir != "" || emuBuild.err != nil {
		if emuBuild.err != nil {
			t.Fatal(emuBuild.err)
		}
		return emuBuild.dir
	}
	emuBuild.dir, emuBuild.err = buildEmu(cxx)
	if emuBuild.err != nil {
		t.Fatal(emuBuild.err)
	}
	return emuBuild.dir
}

func buildEmu(cxx string) (string, error) {
	common, err := kernelFS.ReadFile("kernels/common.cuh")
	if err != nil {
		return "", err
	}
	h := sha256.New()
	srcs := map[string]string{}
	for _, f := range []string{"emu.h", "cudaemu.cc"} {
		b, err := os.ReadFile(filepath.Join(emuDir, f))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	for _, file := range kernelFileNames() {
		src, err := kernelFS.ReadFile("kernels/" + file)
		if err != nil {
			return "", err
		}
		gen, err := emuSource(file, common, src)
		if err != nil {
			return "", err
		}
		srcs[strings.TrimSuffix(file, ".cu")+".cc"] = gen
		h.Write([]byte(gen))
	}
	cache := os.Getenv("CLIPSTREAM_CACHE")
	if cache == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(d, "clipstream")
	}
	dir := filepath.Join(cache, "cudaemu-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(filepath.Join(dir, "libcuda.so.1")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(cache, "cudaemu-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	emuAbs, err := filepath.Abs(emuDir)
	if err != nil {
		return "", err
	}
	args := []string{"-std=c++17", "-O2", "-fPIC", "-shared", "-Wall", "-Wno-unused-function", "-Wno-sign-compare", "-I", emuAbs,
		"-o", filepath.Join(tmp, "libcudaemu.so"), filepath.Join(emuAbs, "cudaemu.cc")}
	for name, gen := range srcs {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(gen), 0o644); err != nil {
			return "", err
		}
		args = append(args, p)
	}
	var out bytes.Buffer
	cmd := exec.Command(cxx, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the CUDA emulator: %v\n%s", err, out.String())
	}
	for _, l := range []string{"libcuda.so.1", "libcublas.so.13"} {
		if err := os.Symlink("libcudaemu.so", filepath.Join(tmp, l)); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "libcuda.so.1")); serr == nil {
			return dir, nil // another test binary built it first
		}
		return "", err
	}
	return dir, nil
}

// TestEmulatedDevice runs the device tests against the CUDA emulator, once
// with each stream order (the compute stream's work first, then the copy
// stream's), so that a missing dependency between the two shows as wrong
// values in one of them.
func TestEmulatedDevice(t *testing.T) {
	if !cgoEnabled {
		t.Skip("built without cgo: no library can be loaded")
	}
	if os.Getenv("CLIPSTREAM_REQUIRE_GPU") != "" {
		t.Skip("a real device is under test")
	}
	nvrtcLib := testNVRTC(t) // the kernels are still compiled by NVRTC first
	dir := emuLibs(t)
	libs := dir + string(os.PathListSeparator) + filepath.Dir(nvrtcLib.path)
	for _, order := range []string{"compute-first", "copy-first"} {
		t.Run(order, func(t *testing.T) {
			var out bytes.Buffer
			cmd := exec.Command(os.Args[0], "-test.run", emuDeviceTests, "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "CLIPSTREAM_CUDA_LIBS="+libs, "CLIPSTREAM_REQUIRE_GPU=1", "CUDAEMU_ORDER="+order)
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			s := out.String()
			if err != nil {
				t.Fatalf("device tests on the emulator (%s): %v\n%s", order, err, s)
			}
			if !strings.Contains(s, "cudaemu (host emulation)") || !strings.Contains(s, "op checks: ") {
				t.Fatalf("the device tests did not run on the emulator:\n%s", s)
			}
			for _, line := range strings.Split(s, "\n") {
				if strings.HasPrefix(line, "trajectory") || strings.HasPrefix(line, "resume") || strings.HasPrefix(line, "op checks: ") {
					t.Log(line)
				}
			}
		})
	}
}

// TestBarrierFuncs: the emulator's classification of the real kernels, the
// indirect cases included (a kernel that waits only inside a device
// function it calls).
func TestBarrierFuncs(t *testing.T) {
	common, err := kernelFS.ReadFile("kernels/common.cuh")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, file := range kernelFileNames() {
		src, err := kernelFS.ReadFile("kernels/" + file)
		if err != nil {
			t.Fatal(err)
		}
		for name, w := range barrierFuncs(string(common) + "\n" + string(src)) {
			got[name] = got[name] || w
		}
	}
	for name, want := range map[string]bool{
		"gelu_forward": false, "residual_forward": false, "image_patches": false, "embedding_backward": false,
		"bias_backward": true, "sum_squares": true, "adamw": true, "layernorm_forward": true, "residual_layernorm_forward": true,
		"layernorm_backward": true, "attn_softmax_forward": true, "contrastive_rows": true, "normalize_forward": true,
		"warp_sum": true, "block_sum": true, "f32_to_bf16": false,
	} {
		if got[name] != want {
			t.Errorf("%s: waits at a barrier %v, want %v", name, got[name], want)
		}
	}
}
