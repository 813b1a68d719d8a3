package gpu

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// The kernels: CUDA C files under kernels/, each compiled as one NVRTC
// program with kernels/common.cuh prepended (NVRTC is given no include
// path), for the architecture of the device found.

//go:embed kernels/*.cu kernels/common.cuh
var kernelFS embed.FS

// kernelFiles maps each kernel file to its extern "C" entry points. The
// NVRTC test checks that this table and the compiled PTX agree.
var kernelFiles = map[string][]string{
	"activation.cu": {"gelu_forward", "gelu_backward", "quickgelu_forward", "quickgelu_backward", "add_bias", "bias_backward",
		"bias_gelu_forward", "bias_quickgelu_forward"},
	"attention.cu":   {"attn_permute", "attn_permute_backward", "attn_unpermute", "attn_unpermute_backward", "attn_softmax_forward", "attn_softmax_backward"},
	"cast.cu":        {"f32_to_bf16_kernel", "bf16_to_f32_kernel", "image_normalize", "image_patches"},
	"contrastive.cu": {"contrastive_rows", "contrastive_cols", "contrastive_loss", "contrastive_grad", "contrastive_dscale"},
	"embedding.cu":   {"embedding_forward", "embedding_backward"},
	"layernorm.cu":   {"layernorm_forward", "residual_layernorm_forward", "layernorm_backward"},
	"normalize.cu":   {"normalize_forward", "normalize_backward"},
	"optim.cu":       {"adamw", "sum_squares"},
	"residual.cu":    {"residual_forward", "residual_backward"},
}

// kernelFileNames returns the kernel files in a fixed order.
func kernelFileNames() []string {
	names := make([]string, 0, len(kernelFiles))
	for f := range kernelFiles {
		names = append(names, f)
	}
	sort.Strings(names)
	return names
}

// kernelSource returns the text NVRTC compiles for file: common.cuh, then
// the file, with #line directives so the compiler's log names the right
// file and line.
func kernelSource(file string) (string, error) {
	common, err := kernelFS.ReadFile("kernels/common.cuh")
	if err != nil {
		return "", err
	}
	body, err := kernelFS.ReadFile("kernels/" + file)
	if err != nil {
		return "", fmt.Errorf("gpu: kernel file %s: %w", file, err)
	}
	return fmt.Sprintf("#line 1 \"common.cuh\"\n%s\n#line 1 \"%s\"\n%s", common, file, body), nil
}

// archName turns a compute capability into NVRTC's real-architecture name
// (9, 0 → "sm_90").
func archName(major, minor int) string { return fmt.Sprintf("sm_%d%d", major, minor) }

// compiler compiles kernel files with NVRTC, caching the output on disk.
type compiler struct {
	lib      *nvrtc
	version  string // NVRTC's, "13.0"
	cacheDir string // "" disables the cache
}

// compileOptions are the NVRTC options besides the architecture. No fast
// math: the fp32 checks ask for 1e-5 against the CPU reference.
var compileOptions = []string{"--std=c++17", "--generate-line-info"}

// defaultCacheDir is CLIPSTREAM_CACHE/kernels, else the user cache
// directory's clipstream/kernels; "" when neither is known.
func defaultCacheDir() string {
	if c := os.Getenv("CLIPSTREAM_CACHE"); c != "" {
		return filepath.Join(c, "kernels")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "clipstream", "kernels")
	}
	return ""
}

func newCompiler(lib *nvrtc, cacheDir string) (*compiler, error) {
	major, minor, err := lib.versionOf()
	if err != nil {
		return nil, err
	}
	return &compiler{lib: lib, version: fmt.Sprintf("%d.%d", major, minor), cacheDir: cacheDir}, nil
}

// compiled is one kernel file's output for one architecture.
type compiled struct {
	PTX    []byte // NUL-terminated
	CUBIN  []byte // nil when this NVRTC cannot emit one
	Cached bool
}

// cacheKey identifies a compile: the source, the architecture, the NVRTC
// version and the options.
func cacheKey(src, arch, nvrtcVersion string, opts []string) string {
	h := sha256.New()
	for _, s := range []string{src, arch, nvrtcVersion, strings.Join(opts, " ")} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// compile compiles file for arch ("sm_90"), or returns the cached result.
func (c *compiler) compile(file, arch string) (*compiled, error) {
	src, err := kernelSource(file)
	if err != nil {
		return nil, err
	}
	return c.build(file, src, arch)
}

// build compiles src, named file in messages and cache entries, for arch.
func (c *compiler) build(file, src, arch string) (*compiled, error) {
	key := cacheKey(src, arch, c.version, compileOptions)
	base := ""
	if c.cacheDir != "" {
		base = filepath.Join(c.cacheDir, strings.TrimSuffix(file, ".cu")+"-"+arch+"-"+key[:24])
		if ptx, err := os.ReadFile(base + ".ptx"); err == nil && len(ptx) > 0 {
			out := &compiled{PTX: ptx, Cached: true}
			if cubin, err := os.ReadFile(base + ".cubin"); err == nil && len(cubin) > 0 {
				out.CUBIN = cubin
			}
			return out, nil
		}
	}
	opts := append([]string{"--gpu-architecture=" + arch}, compileOptions...)
	ptx, cubin, log, err := c.lib.compileSource(src, file, opts)
	if err != nil {
		return nil, &CompileError{File: file, Arch: arch, Log: log, Err: err}
	}
	if len(ptx) == 0 || ptx[len(ptx)-1] != 0 {
		ptx = append(ptx, 0)
	}
	out := &compiled{PTX: ptx, CUBIN: cubin}
	if base != "" {
		// The cache is an optimisation: a failure to write it is not an error.
		if os.MkdirAll(c.cacheDir, 0o755) == nil {
			if len(cubin) > 0 {
				_ = writeAtomic(base+".cubin", cubin)
			}
			_ = writeAtomic(base+".ptx", ptx) // written last: its presence marks the entry complete
		}
	}
	return out, nil
}

// writeAtomic writes data to a temporary file beside path and renames it
// into place.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}

// ptxParams returns the byte size of each parameter of every .entry in
// PTX text (".param .u64 name_param_0," is 8 bytes), so that a launch
// whose Go arguments do not match its kernel's is refused with an error
// naming both instead of running on garbage.
func ptxParams(ptx []byte) (map[string][]int, error) {
	out := map[string][]int{}
	var name string
	var sizes []int
	in := false
	for _, line := range strings.Split(strings.TrimRight(string(ptx), "\x00"), "\n") {
		line = strings.TrimSpace(line)
		if !in {
			for _, prefix := range []string{".visible .entry ", ".entry "} {
				if rest, ok := strings.CutPrefix(line, prefix); ok {
					n, after, _ := strings.Cut(rest, "(")
					name, sizes, in = strings.TrimSpace(n), []int{}, true
					if strings.HasPrefix(strings.TrimSpace(after), ")") {
						out[name], in = sizes, false
					}
					break
				}
			}
			continue
		}
		if strings.HasPrefix(line, ")") {
			out[name], in = sizes, false
			continue
		}
		rest, ok := strings.CutPrefix(line, ".param ")
		if !ok {
			return nil, fmt.Errorf("gpu: PTX entry %s: unexpected parameter line %q", name, line)
		}
		f := strings.Fields(rest)
		if len(f) < 2 || len(f[0]) < 3 {
			return nil, fmt.Errorf("gpu: PTX entry %s: unexpected parameter line %q", name, line)
		}
		bits, err := strconv.Atoi(f[0][2:]) // .u64, .f32, .b32, .s32 ...
		if err != nil || bits <= 0 || bits%8 != 0 {
			return nil, fmt.Errorf("gpu: PTX entry %s: parameter type %s is not a scalar", name, f[0])
		}
		sizes = append(sizes, bits/8)
	}
	if in {
		return nil, fmt.Errorf("gpu: PTX entry %s: parameter list not closed", name)
	}
	return out, nil
}

// ptxEntries lists the .entry names in PTX text.
func ptxEntries(ptx []byte) []string {
	var out []string
	for _, line := range strings.Split(string(ptx), "\n") {
		line = strings.TrimSpace(line)
		for _, prefix := range []string{".visible .entry ", ".entry "} {
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				name, _, _ := strings.Cut(rest, "(")
				out = append(out, strings.TrimSpace(name))
				break
			}
		}
	}
	sort.Strings(out)
	return out
}
