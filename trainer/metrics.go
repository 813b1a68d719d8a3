package trainer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/clipstream/clipstream/storage"
)

// StepMetrics is one optimizer step: a line of the step log and of
// RUN/metrics.jsonl.
type StepMetrics struct {
	Kind          string    `json:"kind"` // "step"
	Step          int64     `json:"step"` // 1-based: the step just taken
	Epoch         int       `json:"epoch"`
	Loss          float64   `json:"loss"` // mean over the step's micro-batches
	LR            float64   `json:"lr"`
	LogitScale    float64   `json:"logit_scale"` // exp(logit_scale) after the step
	GradNorm      float64   `json:"grad_norm"`   // before clipping
	Samples       int       `json:"samples"`     // rows in the step
	Ms            float64   `json:"ms"`
	SamplesPerSec float64   `json:"samples_per_s"`
	Time          time.Time `json:"time"`
}

// EvalRecord is an evaluation during training, in RUN/metrics.jsonl.
type EvalRecord struct {
	Kind string      `json:"kind"` // "eval"
	Step int64       `json:"step"`
	Eval *EvalResult `json:"eval"`
}

// metricsLog keeps a run's metrics records in memory and rewrites
// RUN/metrics.jsonl whole at each checkpoint (the store has no append).
// On resume the file is read back and records after the restored step are
// dropped: those steps run again. Memory is about 300 bytes a step.
type metricsLog struct {
	lines [][]byte
	steps []int64 // step of each line
}

func (l *metricsLog) add(step int64, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	l.lines = append(l.lines, b)
	l.steps = append(l.steps, step)
}

// load reads RUN/metrics.jsonl, keeping the records of steps ≤ upTo. A
// missing file is empty; an unparsable line ends the read (the file is
// rewritten whole, so that happens only for a file written elsewhere).
func (l *metricsLog) load(ctx context.Context, store storage.Store, upTo int64) error {
	rc, err := store.Get(ctx, MetricsKey)
	if errors.Is(err, storage.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("trainer: read %s: %w", MetricsKey, err)
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct {
			Step int64 `json:"step"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			break
		}
		if rec.Step <= upTo {
			l.lines = append(l.lines, bytes.Clone(sc.Bytes()))
			l.steps = append(l.steps, rec.Step)
		}
	}
	return sc.Err()
}

func (l *metricsLog) flush(ctx context.Context, store storage.Store) error {
	var buf bytes.Buffer
	for _, b := range l.lines {
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return putBytes(ctx, store, MetricsKey, buf.Bytes())
}

// ReadMetrics reads a run's metrics.jsonl: step records and eval records.
func ReadMetrics(ctx context.Context, store storage.Store) ([]StepMetrics, []EvalRecord, error) {
	rc, err := store.Get(ctx, MetricsKey)
	if err != nil {
		return nil, nil, fmt.Errorf("trainer: read %s/%s: %w", store.URL(), MetricsKey, err)
	}
	defer rc.Close()
	return parseMetrics(rc)
}

func parseMetrics(r io.Reader) ([]StepMetrics, []EvalRecord, error) {
	var steps []StepMetrics
	var evals []EvalRecord
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var kind struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(sc.Bytes(), &kind); err != nil {
			return nil, nil, fmt.Errorf("trainer: %s line %d: %w", MetricsKey, n, err)
		}
		switch kind.Kind {
		case "step":
			var s StepMetrics
			if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
				return nil, nil, fmt.Errorf("trainer: %s line %d: %w", MetricsKey, n, err)
			}
			steps = append(steps, s)
		case "eval":
			var e EvalRecord
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				return nil, nil, fmt.Errorf("trainer: %s line %d: %w", MetricsKey, n, err)
			}
			evals = append(evals, e)
		}
	}
	return steps, evals, sc.Err()
}
