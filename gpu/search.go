package gpu

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Library search. Each library is looked for, in this order:
//
//  1. the directories of CLIPSTREAM_CUDA_LIBS (colon-separated), an
//     explicit override;
//  2. CUDA_HOME and CUDA_PATH: lib64, lib and targets/<arch>-linux/lib
//     under each (never lib64/stubs: the toolkit's stub libcuda answers
//     every call with CUDA_ERROR_STUB_LIBRARY);
//  3. the directories of LD_LIBRARY_PATH;
//  4. the bare soname, which the dynamic loader resolves through its own
//     cache (ldconfig) and default directories;
//  5. the usual system directories: the container driver mount
//     /usr/local/nvidia/lib64, the multiarch /usr/lib/<triple>, /usr/lib64,
//     /usr/lib, /usr/local/cuda, /opt/cuda, WSL's /usr/lib/wsl/lib;
//  6. the nvidia/*/lib directories of pip's nvidia-* wheels and torch/lib of
//     an installed PyTorch, in every site-packages directory found: those
//     python3 reports (site.getsitepackages and the user site, asked only
//     when python3 is on PATH and only when steps 1–5 found nothing, with a
//     5 s limit), and those of common virtual environments, scanned without
//     running Python: $VIRTUAL_ENV, $CONDA_PREFIX, /opt/*/.venv, /opt/conda,
//     ~/.local, /usr/local and /usr (lib/python3*/site-packages and
//     dist-packages).
//
// A directory is tried only when the file exists in it; the error of a
// failed search lists every path handed to dlopen and every directory
// looked in.

// libSpec names one library and the sonames to try, newest first.
type libSpec struct {
	what     string
	names    []string
	sentinel error
	// companions are glob patterns of libraries the main one opens by bare
	// soname at run time (NVRTC's builtins, cuBLAS's Lt). When the main
	// library was found in a directory the dynamic loader does not search
	// (a pip wheel's), the first match of each pattern in that directory
	// is opened first, so that the later open by soname finds it loaded.
	companions []string
}

var (
	// The driver only by its versioned soname: plain libcuda.so is the
	// toolkit's link-time stub on most systems.
	specCUDA   = libSpec{"libcuda.so.1", []string{"libcuda.so.1"}, ErrNoCUDA, nil}
	specNVRTC  = libSpec{"libnvrtc.so (CUDA 13 or 12)", []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"}, ErrNoNVRTC, []string{"libnvrtc-builtins.so.*"}}
	specCUBLAS = libSpec{"libcublas.so (CUDA 13 or 12)", []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so"}, ErrNoCUBLAS, []string{"libcublasLt.so.*"}}
)

// searchEnv is what the search reads from the outside world; tests replace
// its parts.
type searchEnv struct {
	getenv       func(string) string
	sitePackages func() []string // python3's own list; called lazily
	glob         func(string) ([]string, error)
	exists       func(string) bool
	goarch       string
}

func defaultSearchEnv() searchEnv {
	return searchEnv{
		getenv:       os.Getenv,
		sitePackages: pythonSitePackages,
		glob:         filepath.Glob,
		exists: func(p string) bool {
			st, err := os.Stat(p)
			return err == nil && !st.IsDir()
		},
		goarch: runtime.GOARCH,
	}
}

// archTriple returns the Debian multiarch triple and the CUDA targets/
// directory name for a GOARCH.
func archTriple(goarch string) (multiarch, target string) {
	switch goarch {
	case "arm64":
		return "aarch64-linux-gnu", "sbsa-linux"
	default:
		return "x86_64-linux-gnu", "x86_64-linux"
	}
}

// stage is one step of the search: a list of directories ("" for the bare
// soname), produced when the search gets to it.
type stage func() []string

func (e searchEnv) stages() []stage {
	multi, target := archTriple(e.goarch)
	split := func(v string) []string {
		var out []string
		for _, d := range strings.Split(v, ":") {
			if d != "" {
				out = append(out, d)
			}
		}
		return out
	}
	home := func() []string {
		var out []string
		for _, v := range []string{"CUDA_HOME", "CUDA_PATH"} {
			if h := e.getenv(v); h != "" {
				out = append(out, filepath.Join(h, "lib64"), filepath.Join(h, "lib"), filepath.Join(h, "targets", target, "lib"))
			}
		}
		return out
	}
	system := func() []string {
		return []string{
			"/usr/local/nvidia/lib64", "/usr/local/nvidia/lib",
			"/usr/lib/" + multi, "/usr/lib64", "/usr/lib",
			"/usr/local/cuda/lib64", "/usr/local/cuda/targets/" + target + "/lib",
			"/opt/cuda/lib64", "/usr/lib/wsl/lib",
		}
	}
	python := func() []string {
		var out []string
		for _, sp := range e.pythonDirs() {
			if m, _ := e.glob(filepath.Join(sp, "nvidia", "*", "lib")); len(m) > 0 {
				out = append(out, m...)
			}
			out = append(out, filepath.Join(sp, "torch", "lib"))
		}
		return out
	}
	return []stage{
		func() []string { return split(e.getenv("CLIPSTREAM_CUDA_LIBS")) },
		home,
		func() []string { return split(e.getenv("LD_LIBRARY_PATH")) },
		func() []string { return []string{""} },
		system,
		python,
	}
}

// pythonDirs returns site-packages directories: scanned ones first, then
// python3's own answer.
func (e searchEnv) pythonDirs() []string {
	var roots []string
	if v := e.getenv("VIRTUAL_ENV"); v != "" {
		roots = append(roots, v)
	}
	if v := e.getenv("CONDA_PREFIX"); v != "" {
		roots = append(roots, v)
	}
	if m, _ := e.glob("/opt/*/.venv"); len(m) > 0 {
		roots = append(roots, m...)
	}
	roots = append(roots, "/opt/conda")
	if h := e.getenv("HOME"); h != "" {
		roots = append(roots, filepath.Join(h, ".local"))
	}
	roots = append(roots, "/usr/local", "/usr")
	var dirs []string
	for _, r := range roots {
		for _, pat := range []string{"lib/python3*/site-packages", "lib/python3*/dist-packages", "lib/python3/dist-packages"} {
			if m, _ := e.glob(filepath.Join(r, pat)); len(m) > 0 {
				dirs = append(dirs, m...)
			}
		}
	}
	if e.sitePackages != nil {
		dirs = append(dirs, e.sitePackages()...)
	}
	return dirs
}

// pythonSitePackages asks python3, when it is on PATH, for its
// site-packages directories.
func pythonSitePackages() []string {
	py, err := exec.LookPath("python3")
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-c",
		"import site\nfor d in site.getsitepackages()+[site.getusersitepackages()]: print(d)").Output()
	if err != nil {
		return nil
	}
	return strings.Fields(string(out))
}

// search yields the paths to hand to dlopen for spec, in order, each at most
// once, and records every directory it looked in. yield returns false to
// stop.
func (e searchEnv) search(spec libSpec, dirs *[]string, yield func(path string) bool) {
	seenDir := map[string]bool{}
	seenPath := map[string]bool{}
	for _, st := range e.stages() {
		for _, d := range st() {
			if d != "" {
				d = filepath.Clean(d)
				if strings.Contains(d+"/", "/stubs/") || seenDir[d] {
					continue
				}
				seenDir[d] = true
				*dirs = append(*dirs, d)
			}
			for _, name := range spec.names {
				p := name
				if d != "" {
					p = filepath.Join(d, name)
					if !e.exists(p) {
						continue
					}
				}
				if seenPath[p] {
					continue
				}
				seenPath[p] = true
				if !yield(p) {
					return
				}
			}
		}
	}
}

// companionPaths returns, for a library found at path, the companion
// libraries to open first: for each pattern, the first match in path's
// directory whose name has no ".alt." (NVRTC's alternative builds). None
// for a bare soname.
func (e searchEnv) companionPaths(spec libSpec, path string) []string {
	if !strings.Contains(path, "/") {
		return nil
	}
	var out []string
	for _, pat := range spec.companions {
		m, _ := e.glob(filepath.Join(filepath.Dir(path), pat))
		for _, p := range m {
			if !strings.Contains(filepath.Base(p), ".alt.") {
				out = append(out, p)
				break
			}
		}
	}
	return out
}
