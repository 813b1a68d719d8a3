package gpu

import (
	"go/ast"
	"go/build"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// kernelNameVars lists the launch sites whose kernel name is a variable:
// for each "function/variable", every kernel it can name. A new such site
// must be added here, or TestLaunchSitesMatchKernels fails.
var kernelNameVars = map[string][]string{
	"MatmulActivationForward/kernel": {"bias_gelu_forward", "bias_quickgelu_forward"},
	"ActivationForward/fwd":          {"gelu_forward", "quickgelu_forward"},
	"ActivationBackward/bwd":         {"gelu_backward", "quickgelu_backward"},
}

// launchSite is one call that launches a kernel, with the byte size of
// each argument it passes (0: a type packArgs refuses).
type launchSite struct {
	pos     string
	fn      string
	kernels []string
	sizes   []int
}

// TestLaunchSitesMatchKernels checks, without a GPU, that every kernel
// launch in the package passes the arguments its kernel takes: it type-
// checks the package's Go source, finds each b.launch and
// b.launchShadowed call, and compares the sizes of the arguments (as
// packArgs packs them) with the parameters of the kernel in the PTX that
// NVRTC makes of it. A kernel whose signature changed without its launch
// site would otherwise read garbage on the device (Backend.launch also
// refuses such a launch at run time, with checkParams).
func TestLaunchSitesMatchKernels(t *testing.T) {
	lib := testNVRTC(t)
	goCmd, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the launch-site check needs the go command to type-check the package source")
		}
		t.Skip("no go command to type-check the package source (a GPU machine running a test binary built elsewhere)")
	}
	if build.Default.GOROOT == "" {
		// A binary built with -trimpath does not know its GOROOT; the
		// source importer needs it for the standard library.
		out, err := exec.Command(goCmd, "env", "GOROOT").Output()
		if err != nil {
			t.Fatalf("go env GOROOT: %v", err)
		}
		build.Default.GOROOT = strings.TrimSpace(string(out))
	}
	c, err := newCompiler(lib, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	params := map[string][]int{}
	for _, file := range kernelFileNames() {
		out, err := c.compile(file, "sm_90")
		if err != nil {
			t.Fatal(err)
		}
		p, err := ptxParams(out.PTX)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range p {
			params[k] = v
		}
	}
	sites := launchSites(t)
	launched := map[string]bool{}
	for _, s := range sites {
		for _, k := range s.kernels {
			launched[k] = true
			want, ok := params[k]
			if !ok {
				t.Errorf("%s (%s): launches %s, which no kernel file defines", s.pos, s.fn, k)
				continue
			}
			if err := checkParams(k, want, s.sizes); err != nil {
				t.Errorf("%s (%s): %v", s.pos, s.fn, err)
			}
		}
	}
	var never []string
	for k := range params {
		if !launched[k] {
			never = append(never, k)
		}
	}
	sort.Strings(never)
	if len(never) > 0 {
		t.Errorf("kernels no launch site names: %v", never)
	}
	t.Logf("%d launch sites checked against %d kernels", len(sites), len(params))
	if len(sites) < len(params)/2 {
		t.Errorf("only %d launch sites found for %d kernels: is the walker still finding them?", len(sites), len(params))
	}
}

// launchSites type-checks the package's non-test files (the cgo-free
// build, which has the same Backend code) and returns its launch calls.
func launchSites(t *testing.T) []launchSite {
	t.Helper()
	ctx := build.Default
	ctx.CgoEnabled = false
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	bp, err := ctx.ImportDir(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range bp.GoFiles {
		src, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	if _, err := conf.Check(bp.ImportPath, fset, files, info); err != nil {
		t.Fatalf("type-checking the package: %v", err)
	}
	size := func(e ast.Expr) int {
		switch tt := info.TypeOf(e).(type) {
		case *types.Named:
			if tt.Obj().Name() == "devicePtr" {
				return 8
			}
		case *types.Basic:
			switch tt.Kind() {
			case types.Int64:
				return 8
			case types.Int, types.Int32, types.Uint32, types.Float32:
				return 4
			}
		}
		return 0
	}
	var sites []launchSite
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			fn := fd.Name.Name
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "launch" && sel.Sel.Name != "launchShadowed") || len(call.Args) < 2 {
					return true
				}
				if !isBackend(info.TypeOf(sel.X)) {
					return true // the driver's launch
				}
				if fn == "launchShadowed" {
					return true // the generic call inside it
				}
				site := launchSite{pos: fset.Position(call.Pos()).String(), fn: fn}
				name := call.Args[0]
				if tv := info.Types[name]; tv.Value != nil && tv.Value.Kind() == constant.String {
					site.kernels = []string{constant.StringVal(tv.Value)}
				} else if id, ok := name.(*ast.Ident); ok {
					site.kernels = kernelNameVars[fn+"/"+id.Name]
				}
				if len(site.kernels) == 0 {
					t.Errorf("%s (%s): the kernel name is not a constant; add the names it can take to kernelNameVars", site.pos, fn)
					return true
				}
				var args []ast.Expr
				if sel.Sel.Name == "launch" {
					if call.Ellipsis.IsValid() {
						t.Errorf("%s (%s): arguments spread from a slice cannot be checked", site.pos, fn)
						return true
					}
					args = call.Args[2:]
				} else {
					args = shadowedArgs(call)
					if args == nil {
						t.Errorf("%s (%s): launchShadowed's last argument is not a func literal returning []any{...}", site.pos, fn)
						return true
					}
				}
				for _, a := range args {
					site.sizes = append(site.sizes, size(a))
				}
				sites = append(sites, site)
				return true
			})
		}
	}
	slices.SortFunc(sites, func(a, b launchSite) int {
		if a.pos < b.pos {
			return -1
		}
		return 1
	})
	return sites
}

// isBackend reports whether t is *Backend.
func isBackend(t types.Type) bool {
	p, ok := t.(*types.Pointer)
	if !ok {
		return false
	}
	n, ok := p.Elem().(*types.Named)
	return ok && n.Obj().Name() == "Backend"
}

// shadowedArgs returns the elements of the []any{...} that launchShadowed's
// argument builder returns, or nil.
func shadowedArgs(call *ast.CallExpr) []ast.Expr {
	lit, ok := call.Args[len(call.Args)-1].(*ast.FuncLit)
	if !ok || len(lit.Body.List) != 1 {
		return nil
	}
	ret, ok := lit.Body.List[0].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != 1 {
		return nil
	}
	cl, ok := ret.Results[0].(*ast.CompositeLit)
	if !ok {
		return nil
	}
	return cl.Elts
}

func TestPTXParams(t *testing.T) {
	for _, c := range []struct {
		name, ptx string
		want      map[string][]int
		err       bool
	}{
		{"two entries", `.version 8.0
.visible .entry a(
	.param .u64 a_param_0,
	.param .u32 a_param_1,
	.param .f32 a_param_2
)
{
	ret;
}
.entry b(
	.param .s64 b_param_0
)
{ ret; }
`, map[string][]int{"a": {8, 4, 4}, "b": {8}}, false},
		{"no parameters", ".visible .entry c()\n{ ret; }\n\x00", map[string][]int{"c": {}}, false},
		{"struct parameter", ".visible .entry d(\n\t.param .align 8 .b8 d_param_0[16]\n)\n", nil, true},
		{"not closed", ".visible .entry e(\n\t.param .u64 e_param_0,\n", nil, true},
		{"negative width", ".entry g(\n\t.param .u-8 g_param_0\n)\n", nil, true},
		{"junk in the list", ".visible .entry f(\n\tld.param.u64 %rd1, [f_param_0];\n)\n", nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ptxParams([]byte(c.ptx))
			if (err != nil) != c.err {
				t.Fatalf("error %v, want one: %v", err, c.err)
			}
			if err != nil {
				return
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for k, v := range c.want {
				if !slices.Equal(got[k], v) {
					t.Errorf("%s: %v, want %v", k, got[k], v)
				}
			}
		})
	}
}

// FuzzPTXParams: PTX comes back from the on-disk kernel cache, so its
// parser must fail cleanly on any bytes.
func FuzzPTXParams(f *testing.F) {
	f.Add([]byte(".visible .entry a(\n\t.param .u64 a_param_0,\n\t.param .u32 a_param_1\n)\n{\n}\n"))
	f.Add([]byte(".entry b()\n"))
	f.Add([]byte(".entry c(\n.param .u\n"))
	f.Fuzz(func(t *testing.T, ptx []byte) {
		got, err := ptxParams(ptx)
		if err != nil {
			return
		}
		for name, sizes := range got {
			for _, s := range sizes {
				if s <= 0 {
					t.Fatalf("entry %s: parameter of %d bytes", name, s)
				}
			}
		}
	})
}
