package trainer

import (
	"bytes"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/clipstream/clipstream/loader"
	"github.com/clipstream/clipstream/trainer/model"
	"github.com/clipstream/clipstream/trainer/ops"
)

// TestLearning: on the fixture corpus the tiny config's loss falls and
// held-out retrieval recall@5 (emoji concepts never trained on) rises well
// above chance, in a bounded CPU time.
func TestLearning(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("a minute of CPU training; skipped with -short and -race")
	}
	train, held := fixtureData(t)
	steps := int64(120)
	if s := os.Getenv("CLIPSTREAM_LEARN_STEPS"); s != "" {
		steps, _ = strconv.ParseInt(s, 10, 64)
	}
	lr := 2e-3
	if s := os.Getenv("CLIPSTREAM_LEARN_LR"); s != "" {
		lr, _ = strconv.ParseFloat(s, 64)
	}
	modelName := "tiny"
	if s := os.Getenv("CLIPSTREAM_LEARN_MODEL"); s != "" {
		modelName = s
	}
	// The untrained model's held-out numbers, for comparison.
	tok, err := sharedTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := model.LookupConfig(modelName)
	m0, err := model.New(cfg, ops.NewCPU(), 1)
	if err != nil {
		t.Fatal(err)
	}
	ev0, err := Evaluate(t.Context(), m0, tok, EvalConfig{Data: []string{held}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	t0 := time.Now()
	res, err := Run(t.Context(), Config{
		Data: []loader.Source{{URL: train}}, Run: t.TempDir(), Model: modelName,
		Batch: 64, Steps: steps, LR: lr, Warmup: steps / 10, Seed: 1,
		EvalEvery: steps / 2, Eval: EvalConfig{Data: []string{held}}, Out: &out,
	})
	el := time.Since(t0)
	if testing.Verbose() {
		t.Log("\n" + out.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	first, last := mean(res.Losses[:10]), mean(res.Losses[len(res.Losses)-10:])
	ev := res.Eval
	t.Logf("untrained: %s", FormatEval(ev0))
	t.Logf("%d steps in %v: loss %.3f → %.3f; held-out: %s", steps, el.Round(time.Second), first, last, FormatEval(ev))
	if last > 0.6*first {
		t.Errorf("loss fell only from %.3f to %.3f", first, last)
	}
	r := ev.Retrieval
	if r0 := ev0.Retrieval; r.ImageR5 < r0.ImageR5+0.15 || r.TextR5 < r0.TextR5+0.15 {
		t.Errorf("held-out recall@5 rose only from %.3f/%.3f to %.3f/%.3f", r0.ImageR5, r0.TextR5, r.ImageR5, r.TextR5)
	}
	if r.ImageR5 < 3*r.ChanceR5 || r.TextR5 < 3*r.ChanceR5 {
		t.Errorf("held-out recall@5 %.3f / %.3f, want at least 3× chance %.3f", r.ImageR5, r.TextR5, r.ChanceR5)
	}
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
