package gpu

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/clipstream/clipstream/trainer/ops"
)

// The op checks: every op on the GPU against the CPU reference
// (trainer/ops) on fresh random inputs, outputs poisoned with NaN first,
// compared by ‖gpu − cpu‖ / ‖cpu‖: under 1e-5 in FP32 mode, under 1e-2
// in BF16 mode. They need a CUDA device: without one they skip, except
// with CLIPSTREAM_REQUIRE_GPU=1 (scripts/gpu-check.sh sets it), where that
// is a failure. Each result is a row of the table TestMain prints last,
// also written as TSV to CLIPSTREAM_GPU_REPORT when set.

// tolerance per precision. BF16 is checked against the CPU's bf16
// reference (ops.CPU.BF16GEMM, the same operands rounded): what is left is
// summation order and the rare operand that rounds the other way.
var tolerance = map[Precision]float64{FP32: 1e-5, BF16: 1e-3}

type reportRow struct {
	op, prec, tensor string
	relErr, tol      float64
	ok               bool
}

var report struct {
	sync.Mutex
	rows []reportRow
}

func TestMain(m *testing.M) {
	code := m.Run()
	report.Lock()
	rows := report.rows
	report.Unlock()
	if len(rows) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "\n%-34s %-5s %-12s %10s %8s  %s\n", "op", "prec", "tensor", "rel.err", "tol", "result")
		tsv := "op\tprecision\ttensor\trel_err\ttol\tresult\n"
		pass := 0
		for _, r := range rows {
			res := "FAIL"
			if r.ok {
				res, pass = "ok", pass+1
			}
			fmt.Fprintf(&b, "%-34s %-5s %-12s %10.2e %8.0e  %s\n", r.op, r.prec, r.tensor, r.relErr, r.tol, res)
			tsv += fmt.Sprintf("%s\t%s\t%s\t%.3e\t%.0e\t%s\n", r.op, r.prec, r.tensor, r.relErr, r.tol, res)
		}
		fmt.Fprintf(&b, "op checks: %d passed, %d failed\n", pass, len(rows)-pass)
		fmt.Print(b.String())
		if p := os.Getenv("CLIPSTREAM_GPU_REPORT"); p != "" {
			if err := os.WriteFile(p, []byte(tsv), 0o644); err != nil {
				fmt.Fprintln(os.Stderr, "writing the report:", err)
			}
		}
	}
	os.Exit(code)
}

var gpuOnce struct {
	sync.Mutex
	bes map[Precision]*Backend
	err error
}

// gpuBackend returns a shared Backend in precision p, or skips (fails
// under CLIPSTREAM_REQUIRE_GPU=1) when no device answers.
func gpuBackend(t *testing.T, p Precision) *Backend {
	t.Helper()
	gpuOnce.Lock()
	defer gpuOnce.Unlock()
	if gpuOnce.bes == nil {
		gpuOnce.bes = map[Precision]*Backend{}
	}
	if be := gpuOnce.bes[p]; be != nil {
		return be
	}
	if gpuOnce.err == nil {
		be, err := New(Options{Precision: p}.WithEnv(os.Getenv))
		if err == nil {
			gpuOnce.bes[p] = be
			t.Logf("device: %s, %s GEMMs", be.Info(), p)
			return be
		}
		gpuOnce.err = err
	}
	if os.Getenv("CLIPSTREAM_REQUIRE_GPU") == "1" {
		t.Fatalf("no CUDA backend: %v", gpuOnce.err)
	}
	t.Skipf("no CUDA backend: %v", gpuOnce.err)
	return nil
}

// Tensor roles in a case: inputs are random; acc tensors (backward
// outputs, which accumulate) start random too, the same on both
// backends; out tensors start as NaN on both.
const (
	in = iota
	acc
	out
)

type tspec struct {
	name string
	n    int
	role int
	cmp  bool // compared between the backends
}

type opCase struct {
	name    string
	tensors []tspec
	run     func(be ops.Backend, ts map[string]ops.Tensor)
	init    func(name string, v []float32) // optional: replaces the random values
}

func randVals(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// relErr is ‖got − want‖ / ‖want‖ (‖·‖ when want is 0); NaN anywhere in
// got is +Inf.
func relErr(got, want []float32) float64 {
	var num, den float64
	for i := range got {
		if math.IsNaN(float64(got[i])) || math.IsInf(float64(got[i]), 0) {
			return math.Inf(1)
		}
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// runCase runs c on the CPU reference and on be from the same random
// values and compares every tensor marked cmp.
func runCase(t *testing.T, be *Backend, c opCase) {
	seed := rand.Uint64()
	r := rand.New(rand.NewPCG(seed, 7))
	cpu := ops.NewCPU()
	cpu.BF16GEMM = be.Precision() == BF16 // the reference of the bf16 mode rounds the same operands
	vals := map[string][]float32{}
	for _, s := range c.tensors {
		switch s.role {
		case out:
			v := make([]float32, s.n)
			for i := range v {
				v[i] = float32(math.NaN())
			}
			vals[s.name] = v
		default:
			vals[s.name] = randVals(r, s.n)
			if c.init != nil {
				c.init(s.name, vals[s.name])
			}
		}
	}
	results := map[string]map[string][]float32{}
	for _, b := range []ops.Backend{cpu, be} {
		ts := map[string]ops.Tensor{}
		var bufs []ops.Buffer
		for _, s := range c.tensors {
			buf, err := b.Alloc(s.n)
			if err != nil {
				t.Fatal(err)
			}
			bufs = append(bufs, buf)
			ts[s.name] = ops.Tensor{Buf: buf, Len: s.n}
			b.Upload(ts[s.name], vals[s.name])
		}
		c.run(b, ts)
		res := map[string][]float32{}
		for _, s := range c.tensors {
			if s.cmp {
				res[s.name] = make([]float32, s.n)
				b.Download(res[s.name], ts[s.name])
			}
		}
		if err := b.Err(); err != nil {
			t.Fatalf("%s backend: %v (seed %d)", b.Name(), err, seed)
		}
		if g, ok := b.(*Backend); ok {
			for _, buf := range bufs {
				if err := g.Free(buf); err != nil {
					t.Fatal(err)
				}
			}
		}
		results[b.Name()] = res
	}
	tol := tolerance[be.Precision()]
	for _, s := range c.tensors {
		if !s.cmp {
			continue
		}
		e := relErr(results["cuda"][s.name], results["cpu"][s.name])
		ok := e < tol
		report.Lock()
		report.rows = append(report.rows, reportRow{c.name, be.Precision().String(), s.name, e, tol, ok})
		report.Unlock()
		if !ok {
			t.Errorf("%s: relative error %.3e ≥ %.0e (seed %d)", s.name, e, tol, seed)
		}
	}
}

// qkvBias is the attention cases' in-projection bias: with it when with.
func qkvBias(t map[string]ops.Tensor, with bool) ops.Tensor {
	if with {
		return t["qkvb"]
	}
	return ops.Tensor{}
}

func opCases() []opCase {
	const N, C, OC = 300, 96, 160
	const B, T, AC, NH = 3, 77, 64, 4
	const V = 50
	ids := make([]int32, N)
	for i := range ids {
		ids[i] = int32(rand.IntN(V))
	}
	ids[1] = ids[0] // repeated ids accumulate in the backward
	const CB, CD = 64, 32
	unit := func(name string, v []float32) {
		if name == "logitScale" {
			v[0] = float32(math.Log(1 / 0.07))
		}
	}
	var cases []opCase
	cases = append(cases,
		opCase{name: "MatmulForward", tensors: []tspec{{"out", N * OC, out, true}, {"inp", N * C, in, false}, {"weight", OC * C, in, false}, {"bias", OC, in, false}},
			run: func(b ops.Backend, t map[string]ops.Tensor) {
				b.MatmulForward(t["out"], t["inp"], t["weight"], t["bias"], N, C, OC)
			}},
		opCase{name: "MatmulForward/nobias", tensors: []tspec{{"out", N * OC, out, true}, {"inp", N * C, in, false}, {"weight", OC * C, in, false}},
			run: func(b ops.Backend, t map[string]ops.Tensor) {
				b.MatmulForward(t["out"], t["inp"], t["weight"], ops.Tensor{}, N, C, OC)
			}},
		opCase{name: "MatmulBackward", tensors: []tspec{{"dinp", N * C, acc, true}, {"dweight", OC * C, acc, true}, {"dbias", OC, acc, true}, {"dout", N * OC, in, false}, {"inp", N * C, in, false}, {"weight", OC * C, in, false}},
			run: func(b ops.Backend, t map[string]ops.Tensor) {
				b.MatmulBackward(t["dinp"], t["dweight"], t["dbias"], t["dout"], t["inp"], t["weight"], N, C, OC)
			}},
		opCase{name: "MatmulBackward/weight-only", tensors: []tspec{{"dweight", OC * C, acc, true}, {"dout", N * OC, in, false}, {"inp", N * C, in, false}, {"weight", OC * C, in, false}},
			run: func(b ops.Backend, t map[string]ops.Tensor) {
				b.MatmulBackward(ops.Tensor{}, t["dweight"], ops.Tensor{}, t["dout"], t["inp"], t["weight"], N, C, OC)
			}},
		opCase{name: "ProjectForward", tensors: []tspec{{"out", N * OC, out, true}, {"inp", N * C, in, false}, {"weight", C * OC, in, false}},
			run: func(b ops.Backend, t map[string]ops.Tensor) {
				b.ProjectForward(t["out"], t["inp"], t["weight"], N, C, OC)
			}},
		opCase{name: "ProjectBackward", tensors: []tspec{{"dinp", N * C, acc, true}, {"dweight", C * OC, acc, true}, {"dout", N * OC, in, false}, {"inp", N * C, in, false}, {"weight", C * OC, in, false}},
			run: func(b ops.Backend, t map[string]ops.Tensor) {
				b.ProjectBackward(t["dinp"], t["dweight"], t["dout"], t["inp"], t["weight"], N, C, OC)
			}},
		opCase{name: "LayerNormForward", tensors: []tspec{{"out", N * C, out, true}, {"mean", N, out, true}, {"rstd", N, out, true}, {"inp", N * C, in, false}, {"weight", C, in, false}, {"bias", C, in, false}},
			run: func(b ops.Backend, t map[string]ops.Tensor) {
				b.LayerNormForward(t["out"], t["mean"], t["rstd"], t["inp"], t["weight"], t["bias"], N, C)
			}},
		opCase{name: "LayerNormBackward", tensors: []tspec{{"dinp", N * C, acc, true}, {"dweight", C, acc, true}, {"dbias", C, acc, true}, {"dout", N * C, in, false}, {"inp", N * C, in, false}, {"weight", C, in, false}, {"bias", C, in, false}, {"out", N * C, out, false}, {"mean", N, out, false}, {"rstd", N, out, false}},
			run: func(b ops.Backend, t map[string]ops.Tensor) {
				b.LayerNormForward(t["out"], t["mean"], t["rstd"], t["inp"], t["weight"], t["bias"], N, C)
				b.LayerNormBackward(t["dinp"], t["dweight"], t["dbias"], t["dout"], t["inp"], t["weight"], t["mean"], t["rstd"], N, C)
			}},
	)
	for _, act := range []struct {
		name string
		a    ops.Activation
	}{{"GELU", ops.GELU}, {"QuickGELU", ops.QuickGELU}} {
		cases = append(cases,
			opCase{name: "ActivationForward/" + act.name, tensors: []tspec{{"out", N * C, out, true}, {"inp", N * C, in, false}},
				run: func(b ops.Backend, t map[string]ops.Tensor) { b.ActivationForward(t["out"], t["inp"], act.a) }},
			opCase{name: "MatmulActivationForward/" + act.name, tensors: []tspec{{"pre", N * OC, out, true}, {"out", N * OC, out, true}, {"inp", N * C, in, false}, {"weight", OC * C, in, false}, {"bias", OC, in, false}},
				run: func(b ops.Backend, t map[string]ops.Tensor) {
					b.MatmulActivationForward(t["pre"], t["out"], t["inp"], t["weight"], t["bias"], N, C, OC, act.a)
				}},
			opCase{name: "MatmulActivationForward/" + act.name + "/nobias", tensors: []tspec{{"pre", N * OC, out, true}, {"out", N * OC, out, true}, {"inp", N * C, in, false}, {"weight", OC * C, in, false}},
				run: func(b ops.Backend, t map[string]ops.Tensor) {
					b.MatmulActivationForward(t["pre"], t["out"], t["inp"], t["weight"], ops.Tensor{}, N, C, OC, act.a)
				}},
			opCase{name: "ActivationBackward/" + act.name, tensors: []tspec{{"dinp", N * C, acc, true}, {"inp", N * C, in, false}, {"dout", N * C, in, false}},
				run: func(b ops.Backend, t map[string]ops.Tensor) {
					b.ActivationBackward(t["dinp"], t["inp"], t["dout"], act.a)
				}},
		)
	}
	for _, causal := range []bool{true, false} {
		suffix := "/causal"
		if !causal {
			suffix = "/full"
		}
		att := B * NH * T * T
		cases = append(cases,
			// the causal cases add the in-projection's bias, the full ones do not
			opCase{name: "AttentionForward" + suffix, tensors: []tspec{{"out", B * T * AC, out, true}, {"preatt", att, out, true}, {"att", att, out, true}, {"qkv", B * T * 3 * AC, in, false}, {"qkvb", 3 * AC, in, false}},
				run: func(b ops.Backend, t map[string]ops.Tensor) {
					b.AttentionForward(t["out"], t["preatt"], t["att"], t["qkv"], qkvBias(t, causal), B, T, AC, NH, causal)
				}},
			opCase{name: "AttentionBackward" + suffix, tensors: []tspec{{"dqkv", B * T * 3 * AC, acc, true}, {"dpreatt", att, out, true}, {"datt", att, out, true}, {"dout", B * T * AC, in, false}, {"qkv", B * T * 3 * AC, in, false}, {"qkvb", 3 * AC, in, false}, {"out", B * T * AC, out, false}, {"preatt", att, out, false}, {"att", att, out, false}},
				run: func(b ops.Backend, t map[string]ops.Tensor) {
					b.AttentionForward(t["out"], t["preatt"], t["att"], t["qkv"], qkvBias(t, causal), B, T, AC, NH, causal)
					b.AttentionBackward(t["dqkv"], t["dpreatt"], t["datt"], t["dout"], t["qkv"], qkvBias(t, causal), t["att"], B, T, AC, NH, causal)
				}},
		)
	}
	cases = append(cases,
		opCase{name: "ResidualForward", tensors: []tspec{{"out", N * C, out, true}, {"a", N * C, in, false}, {"b", N * C, in, false}},
			run: func(b ops.Backend, t map[string]ops.Tensor) { b.ResidualForward(t["out"], t["a"], t["b"]) }},
		opCase{name: "ResidualBackward", tensors: []tspec{{"da", N * C, acc, true}, {"db", N * C, acc, true}, {"dout", N * C, in, false}},
			run: func(b ops.Backend, t map[string]ops.Tensor) { b.ResidualBackward(t["da"], t["db"], t["dout"]) }},
		opCase{name: "ResidualLayerNormForward", tensors: []tspec{{"res", N * C, out, true}, {"out", N * C, out, true}, {"mean", N, out, true}, {"rstd", N, out, true}, {"a", N * C, in, false}, {"b", N * C, in, false}, {"weight", C, in, false}, {"bias", C, in, false}},
			run: func(b ops.Backend, t map[string]ops.Tensor) {
				b.ResidualLayerNormForward(t["res"], t["out"], t["mean"], t["rstd"], t["a"], t["b"], ops.Tensor{}, t["weight"], t["bias"], N, C)
			}},
		opCase{name: "ResidualLayerNormForward/b-bias", tensors: []tspec{{"res", N * C, out, true}, {"out", N * C, out, true}, {"mean", N, out, true}, {"rstd", N, out, true}, {"a", N * C, in, false}, {"b", N * C, in, false}, {"bBias", C, in, false}, {"weight", C, in, false}, {"bias", C, in, false}},
			run: func(b ops.Backend, t map[string]ops.Tensor) {
				b.ResidualLayerNormForward(t["res"], t["out"], t["mean"], t["rstd"], t["a"], t["b"], t["bBias"], t["weight"], t["bias"], N, C)
			}},
		opCase{name: "EmbeddingForward", tensors: []tspec{{"out", N * C, out, true}, {"table", V * C, in, false}},
			run: func(b ops.Backend, t map[string]ops.Tensor) { b.EmbeddingForward(t["out"], t["table"], ids, N, C, V) }},
		opCase{name: "EmbeddingBackward", tensors: []tspec{{"dtable", V * C, acc, true}, {"dout", N * C, in, false}},
			run: func(b ops.Backend, t map[string]ops.Tensor) {
				b.EmbeddingBackward(t["dtable"], t["dout"], ids, N, C, V)
			}},
		opCase{name: "NormalizeForward", tensors: []tspec{{"out", N * C, out, true}, {"norm", N, out, true}, {"inp", N * C, in, false}},
			run: func(b ops.Backend, t map[string]ops.Tensor) { b.NormalizeForward(t["out"], t["norm"], t["inp"], N, C) }},
		opCase{name: "NormalizeBackward", tensors: []tspec{{"dinp", N * C, acc, true}, {"dout", N * C, in, false}, {"inp", N * C, in, false}, {"out", N * C, out, false}, {"norm", N, out, false}},
			run: func(b ops.Backend, t map[string]ops.Tensor) {
				b.NormalizeForward(t["out"], t["norm"], t["inp"], N, C)
				b.NormalizeBackward(t["dinp"], t["dout"], t["out"], t["norm"], N, C)
			}},
		opCase{name: "ContrastiveForward", init: unit,
			tensors: []tspec{{"loss", 1, out, true}, {"logits", CB * CB, out, true}, {"probsRow", CB * CB, out, true}, {"probsCol", CB * CB, out, true}, {"img", CB * CD, in, false}, {"txt", CB * CD, in, false}, {"logitScale", 1, in, false}, {"nimg", CB * CD, out, false}, {"ntxt", CB * CD, out, false}, {"n1", CB, out, false}, {"n2", CB, out, false}},
			run: func(b ops.Backend, t map[string]ops.Tensor) {
				b.NormalizeForward(t["nimg"], t["n1"], t["img"], CB, CD)
				b.NormalizeForward(t["ntxt"], t["n2"], t["txt"], CB, CD)
				b.ContrastiveForward(t["loss"], t["logits"], t["probsRow"], t["probsCol"], t["nimg"], t["ntxt"], t["logitScale"], CB, CD)
			}},
		opCase{name: "ContrastiveBackward", init: unit,
			tensors: []tspec{{"dimg", CB * CD, acc, true}, {"dtxt", CB * CD, acc, true}, {"dlogitScale", 1, acc, true}, {"loss", 1, out, false}, {"logits", CB * CB, out, false}, {"probsRow", CB * CB, out, false}, {"probsCol", CB * CB, out, false}, {"img", CB * CD, in, false}, {"txt", CB * CD, in, false}, {"logitScale", 1, in, false}, {"nimg", CB * CD, out, false}, {"ntxt", CB * CD, out, false}, {"n1", CB, out, false}, {"n2", CB, out, false}},
			run: func(b ops.Backend, t map[string]ops.Tensor) {
				b.NormalizeForward(t["nimg"], t["n1"], t["img"], CB, CD)
				b.NormalizeForward(t["ntxt"], t["n2"], t["txt"], CB, CD)
				b.ContrastiveForward(t["loss"], t["logits"], t["probsRow"], t["probsCol"], t["nimg"], t["ntxt"], t["logitScale"], CB, CD)
				b.ContrastiveBackward(t["dimg"], t["dtxt"], t["dlogitScale"], t["nimg"], t["ntxt"], t["logitScale"], t["logits"], t["probsRow"], t["probsCol"], 1, CB, CD)
			}},
	)
	return cases
}

// TestOpsAgainstCPU is the op check, in both precisions.
func TestOpsAgainstCPU(t *testing.T) {
	for _, p := range []Precision{FP32, BF16} {
		t.Run(p.String(), func(t *testing.T) {
			be := gpuBackend(t, p)
			for _, c := range opCases() {
				t.Run(c.name, func(t *testing.T) { runCase(t, be, c) })
			}
		})
	}
}

func record(t *testing.T, op, prec, tensor string, e, tol float64) {
	ok := e < tol
	report.Lock()
	report.rows = append(report.rows, reportRow{op, prec, tensor, e, tol, ok})
	report.Unlock()
	if !ok {
		t.Errorf("%s %s: relative error %.3e ≥ %.0e", op, tensor, e, tol)
	}
}

// TestGPUExtras checks the ops outside ops.Backend against Go references:
// AdamW (and its bf16 copy), image normalisation, the bf16 casts, the sum
// of squares.
func TestGPUExtras(t *testing.T) {
	be := gpuBackend(t, FP32)
	r := rand.New(rand.NewPCG(rand.Uint64(), 3))
	const n = 10007
	alloc := func(v []float32) ops.Tensor {
		buf, err := be.Alloc(len(v))
		if err != nil {
			t.Fatal(err)
		}
		tn := ops.Tensor{Buf: buf, Len: len(v)}
		be.Upload(tn, v)
		return tn
	}
	down := func(tn ops.Tensor) []float32 {
		v := make([]float32, tn.Len)
		be.Download(v, tn)
		if err := be.Err(); err != nil {
			t.Fatal(err)
		}
		return v
	}

	// AdamW, two steps, over a view in the middle of the buffer, with
	// weight decay off in three spans (the first and last elements of the
	// view among them)
	p0, g0 := randVals(r, n), randVals(r, n)
	m0, v0 := randVals(r, n), randVals(r, n)
	for i := range v0 {
		v0[i] = v0[i] * v0[i]
	}
	h := AdamW{LR: 1e-3, Beta1: 0.9, Beta2: 0.98, Eps: 1e-6, WeightDecay: 0.2, GradScale: 0.5,
		NoDecay: [][2]int{{0, 5}, {17, 40}, {n - 13, n - 10}}}
	P, G, M, Vt := alloc(p0), alloc(g0), alloc(m0), alloc(v0)
	if err := be.EnableBF16Copy(P.Buf); err != nil {
		t.Fatal(err)
	}
	view := func(x ops.Tensor) ops.Tensor { return x.View(3, n-10) }
	wp, wm, wv := slices.Clone(p0), slices.Clone(m0), slices.Clone(v0)
	for step := 1; step <= 2; step++ {
		h.Step = step
		be.AdamWStep(view(P), view(G), view(M), view(Vt), h)
		bc1, bc2 := 1-math.Pow(0.9, float64(step)), 1-math.Pow(0.98, float64(step))
		for i := 3; i < n-7; i++ {
			g := float64(g0[i]) * 0.5
			wd := 0.2
			if !h.Decays(i - 3) {
				wd = 0
			}
			w := float64(wp[i]) * (1 - 1e-3*wd)
			mi := 0.9*float64(wm[i]) + 0.1*g
			vi := 0.98*float64(wv[i]) + 0.02*g*g
			w -= 1e-3 / bc1 * mi / (math.Sqrt(vi)/math.Sqrt(bc2) + 1e-6)
			wp[i], wm[i], wv[i] = float32(w), float32(mi), float32(vi)
		}
	}
	record(t, "AdamWStep", "fp32", "params", relErr(down(P), wp), 1e-5)
	record(t, "AdamWStep", "fp32", "m", relErr(down(M), wm), 1e-5)
	record(t, "AdamWStep", "fp32", "v", relErr(down(Vt), wv), 1e-5)
	d := P.Buf.(*deviceBuffer)
	if d.stale {
		t.Error("AdamW left the bf16 copy stale")
	}
	// the bf16 copy, read back through the cast kernel, is the rounded master
	copyBack := alloc(make([]float32, n))
	_ = be.dev.Do(func() error {
		return be.launch("bf16_to_f32_kernel", elementwise(n), copyBack.Buf.(*deviceBuffer).ptr, d.bf16, int64(n))
	})
	got16 := down(copyBack)
	want16 := down(P)
	for i := range want16 {
		want16[i] = ops.RoundBF16(want16[i])
	}
	record(t, "AdamWStep bf16 copy", "bf16", "params16", relErr(got16, want16), 1e-7)

	// bf16 round trip equals the host's rounding, bit for bit
	x := randVals(r, n)
	x[0], x[1] = float32(math.Float32frombits(0x3f808000)), float32(math.Float32frombits(0x3f818000))
	X, Y := alloc(x), alloc(make([]float32, n))
	be.roundTripBF16(Y, X)
	y := down(Y)
	for i := range x {
		if math.Float32bits(y[i]) != math.Float32bits(ops.RoundBF16(x[i])) {
			t.Fatalf("bf16 cast of %g (%#08x): GPU %g, host %g", x[i], math.Float32bits(x[i]), y[i], ops.RoundBF16(x[i]))
		}
	}
	record(t, "bf16 casts", "bf16", "roundtrip", 0, 1e-7)

	// sum of squares
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	got := be.SumSquares(X)
	record(t, "SumSquares", "fp32", "sum", math.Abs(float64(got)-ss)/ss, 1e-5)

	// image normalisation, HWC uint8 → NCHW
	const NI, S = 3, 17
	pix := make([]uint8, NI*S*S*3)
	for i := range pix {
		pix[i] = uint8(r.IntN(256))
	}
	mean, std := [3]float32{0.48145466, 0.4578275, 0.40821073}, [3]float32{0.26862954, 0.26130258, 0.27577711}
	O := alloc(make([]float32, NI*3*S*S))
	be.NormalizeImages(O, pix, NI, S, mean, std)
	want := make([]float32, NI*3*S*S)
	for img := range NI {
		for c := range 3 {
			for p := range S * S {
				sc, sh := 1/(255*std[c]), -mean[c]/std[c]
				want[(img*3+c)*S*S+p] = float32(pix[(img*S*S+p)*3+c])*sc + sh
			}
		}
	}
	record(t, "NormalizeImages", "fp32", "out", relErr(down(O), want), 1e-6)

	// patch rows from NCHW uint8 (model.PatchUploader), poisoned first
	const PB, PS, PP = 3, 64, 16
	pixN := make([]uint8, PB*3*PS*PS)
	for i := range pixN {
		pixN[i] = uint8(r.IntN(256))
	}
	poison := make([]float32, len(pixN))
	for i := range poison {
		poison[i] = float32(math.NaN())
	}
	PO := alloc(poison)
	be.UploadPatches(PO, pixN, PB, PS, PP, mean, std)
	const PG = PS / PP
	wantPatches := func(pix []uint8) []float32 {
		w := make([]float32, len(pix))
		for b := range PB {
			for c := range 3 {
				for y := range PS {
					for x := range PS {
						sc, sh := 1/(255*std[c]), -mean[c]/std[c]
						row := (b*PG+y/PP)*PG + x/PP
						w[row*3*PP*PP+(c*PP+y%PP)*PP+x%PP] = float32(pix[((b*3+c)*PS+y)*PS+x])*sc + sh
					}
				}
			}
		}
		return w
	}
	wantP := wantPatches(pixN)
	record(t, "UploadPatches", "fp32", "out", relErr(down(PO), wantP), 1e-6)

	// the same through the copy stream (model.PixelPrefetcher), with the
	// device kept busy. Two device buffers take the prefetches in turn:
	// after filler batches, b0 and b1 go in, b2 replaces b0, b2's patches
	// are queued, then b3 replaces b1 and b4 goes into b2's buffer while
	// b2's kernel may not have run. Every copy must land before the kernel
	// that reads it and after the kernel that read the buffer before.
	batch := func() []uint8 {
		p := make([]uint8, len(pixN))
		for i := range p {
			p[i] = uint8(r.IntN(256))
		}
		return p
	}
	const BN = 256
	bx, bw := alloc(make([]float32, BN*BN)), alloc(make([]float32, BN*BN))
	by := alloc(make([]float32, BN*BN))
	hits := be.pixelHits()
	for range 10 {
		be.MatmulForward(by, bx, bw, ops.Tensor{}, BN, BN, BN) // work for the prefetches to overlap
		be.PrefetchPixels(batch())
		be.PrefetchPixels(batch())
	}
	bs := [][]uint8{batch(), batch(), batch(), batch(), batch()}
	outs := make([]ops.Tensor, len(bs))
	for k := range outs {
		outs[k] = alloc(poison) // before: an upload orders the copy stream after the work before it
	}
	upload := func(k int) { be.UploadPatches(outs[k], bs[k], PB, PS, PP, mean, std) }
	be.MatmulForward(by, bx, bw, ops.Tensor{}, BN, BN, BN)
	be.PrefetchPixels(bs[0])
	be.PrefetchPixels(bs[1])
	be.PrefetchPixels(bs[2])
	upload(2)
	be.PrefetchPixels(bs[3])
	be.PrefetchPixels(bs[4])
	for _, k := range []int{0, 1, 4, 3} {
		upload(k)
	}
	for k := range bs {
		record(t, "PrefetchPixels", "fp32", fmt.Sprintf("batch %d", k), relErr(down(outs[k]), wantPatches(bs[k])), 1e-6)
	}
	wantHits := 3 // b2, b4 and b3; b0 and b1 were replaced and are uploaded again
	if be.opts.NoPrefetch {
		wantHits = 0
	}
	if got := be.pixelHits() - hits; got != wantHits {
		t.Errorf("%d of the five UploadPatches used a prefetched copy, want %d", got, wantHits)
	}
	// a slice whose bytes changed after its prefetch (memory a later batch
	// reuses) is uploaded afresh
	hits = be.pixelHits()
	reused := batch()
	be.PrefetchPixels(reused)
	copy(reused, batch())
	outR := alloc(poison)
	be.UploadPatches(outR, reused, PB, PS, PP, mean, std)
	record(t, "PrefetchPixels", "fp32", "reused slice", relErr(down(outR), wantPatches(reused)), 1e-6)
	if got := be.pixelHits() - hits; got != 0 {
		t.Errorf("a slice whose bytes changed after its prefetch used the prefetched copy")
	}
}

// TestGPUErrors checks the device backend's sticky error: a bad shape is
// recorded and returned by Err, as on the CPU, and a closed backend says
// so. It uses a backend of its own so the shared ones stay clean.
func TestGPUErrors(t *testing.T) {
	gpuBackend(t, FP32) // skip without a device
	be, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	buf, err := be.Alloc(10)
	if err != nil {
		t.Fatal(err)
	}
	x := ops.Tensor{Buf: buf, Len: 10}
	be.ResidualForward(x, x.View(0, 5), x)
	if err := be.Err(); !errors.Is(err, ops.ErrShape) {
		t.Fatalf("Err: %v, want ErrShape", err)
	}
	if err := be.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := be.Alloc(1); !errors.Is(err, ErrClosed) {
		t.Errorf("Alloc after Close: %v, want ErrClosed", err)
	}
}

// pixelHits returns how many UploadPatches have used a prefetched copy.
func (b *Backend) pixelHits() int {
	var n int
	if err := b.dev.Do(func() error { n = b.pixHits; return nil }); err != nil {
		b.fail(err)
	}
	return n
}
