package trainer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clipstream/clipstream/loader"
	"github.com/clipstream/clipstream/storage"
	"github.com/clipstream/clipstream/trainer/model"
	"github.com/clipstream/clipstream/trainer/safetensors"
)

// Checkpoint layout inside a run's store (DESIGN.md, "Checkpoint"):
//
//	RUN/checkpoints/step-{step:09d}/model.safetensors      fp32 weights, open_clip names
//	RUN/checkpoints/step-{step:09d}/optimizer.safetensors  exp_avg.NAME, exp_avg_sq.NAME
//	RUN/checkpoints/step-{step:09d}/state.json             State (written after the two above)
//	RUN/checkpoints/latest.json                            Latest (written last)
//	RUN/metrics.jsonl                                      see metrics.go
//
// The store has no rename, so completeness is carried by order and by
// hashes: a step directory's state.json is written after its two tensor
// files and records their sizes and SHA-256; latest.json is a plain Put
// after all three, and only then are old step directories deleted. A
// checkpoint is loaded only through a state.json whose files all match, so
// a missing object, a truncated or altered file, or a latest.json naming a
// missing step is an error (ErrCheckpoint), never a silent fresh start.
const (
	CheckpointsDir = "checkpoints/"
	LatestKey      = CheckpointsDir + "latest.json"
	ModelFile      = "model.safetensors"
	OptimizerFile  = "optimizer.safetensors"
	StateFile      = "state.json"
	MetricsKey     = "metrics.jsonl"

	StateFormat  = "clipstream.checkpoint/v1"
	LatestFormat = "clipstream.latest/v1"
)

// ErrCheckpoint is wrapped by every error about a checkpoint that is
// missing, partial or corrupt.
var ErrCheckpoint = errors.New("trainer: bad checkpoint")

// ErrDatasetChanged: resuming against a dataset whose fingerprint differs
// from the checkpoint's (Config.Force overrides).
var ErrDatasetChanged = errors.New("trainer: the dataset changed since the checkpoint")

// StepDir is the key prefix of step's checkpoint directory.
func StepDir(step int64) string { return fmt.Sprintf("%sstep-%09d/", CheckpointsDir, step) }

// parseStepDir returns the step of a key under a step directory.
func parseStepDir(key string) (int64, bool) {
	rest, ok := strings.CutPrefix(key, CheckpointsDir+"step-")
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, "/")
	if !ok || len(num) < 9 {
		return 0, false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	return n, err == nil && n >= 0
}

// Latest is latest.json: the newest complete checkpoint of a run.
type Latest struct {
	Format string    `json:"format"`
	Step   int64     `json:"step"`
	Dir    string    `json:"dir"` // relative to the run: "checkpoints/step-000000100/"
	Time   time.Time `json:"time"`
}

// FileInfo is a checkpoint file's size and SHA-256, recorded in state.json.
type FileInfo struct {
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// DatasetFingerprint identifies one training source: its URL, weight and
// shardwriter.Summary.Fingerprint (SHA-256 over the committed shards'
// names and hashes).
type DatasetFingerprint struct {
	URL         string  `json:"url"`
	Weight      float64 `json:"weight"`
	Fingerprint string  `json:"fingerprint"`
	Shards      int     `json:"shards"`
	Samples     int64   `json:"samples"`
}

// RNGState lists every source of randomness a run has. The model's
// initialisation generator (PCG seeded by InitSeed) runs once, before step
// 0; the loader's generators (shard and sample order, crops) are pure
// functions of (LoaderSeed, epoch, sample index), so their whole state is
// the loader seed plus loader.State. Training has no other randomness (no
// dropout), so these seeds and the loader state fix every later step.
type RNGState struct {
	InitSeed   uint64 `json:"init_seed"`
	LoaderSeed uint64 `json:"loader_seed"`
}

// State is state.json: everything the next step depends on besides the
// weights and the optimizer moments.
type State struct {
	Format string `json:"format"`
	// Step is the number of optimizer steps taken; the next is Step.
	Step        int64                `json:"step"`
	SamplesSeen int64                `json:"samples_seen"`
	Loader      loader.State         `json:"loader"`
	RNG         RNGState             `json:"rng"`
	Config      RunConfig            `json:"config"`
	Datasets    []DatasetFingerprint `json:"datasets"`
	// AdamStep is the optimizer's own step count (bias correction).
	AdamStep int64               `json:"adam_step"`
	Files    map[string]FileInfo `json:"files"`
	Time     time.Time           `json:"time"`
}

// Checkpoint is a loaded checkpoint.
type Checkpoint struct {
	State  State
	Params []float32 // the model's flat parameters, Layout order
	M, V   []float32 // the optimizer moments, same layout
	Where  string    // store URL and directory it was read from
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func putBytes(ctx context.Context, store storage.Store, key string, b []byte) error {
	if err := store.Put(ctx, key, bytes.NewReader(b), int64(len(b))); err != nil {
		return fmt.Errorf("trainer: write %s: %w", key, err)
	}
	return nil
}

// encodeOptimizer writes the moments as safetensors: exp_avg.NAME and
// exp_avg_sq.NAME per parameter (torch's AdamW state names), with the step
// in the metadata.
func encodeOptimizer(layout []model.Param, opt *AdamW) ([]byte, error) {
	ts := make([]safetensors.Tensor, 0, 2*len(layout))
	for _, p := range layout {
		ts = append(ts, safetensors.Float32("exp_avg."+p.Name, p.Shape, opt.M[p.Off:p.Off+p.Len]))
	}
	for _, p := range layout {
		ts = append(ts, safetensors.Float32("exp_avg_sq."+p.Name, p.Shape, opt.V[p.Off:p.Off+p.Len]))
	}
	meta := map[string]string{
		"format": "pt", "optimizer": "AdamW", "step": strconv.FormatInt(opt.Step, 10),
		"beta1": strconv.FormatFloat(opt.Cfg.Beta1, 'g', -1, 64), "beta2": strconv.FormatFloat(opt.Cfg.Beta2, 'g', -1, 64),
		"eps": strconv.FormatFloat(opt.Cfg.Eps, 'g', -1, 64), "weight_decay": strconv.FormatFloat(opt.Cfg.WeightDecay, 'g', -1, 64),
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, meta); err != nil {
		return nil, fmt.Errorf("trainer: encode optimizer: %w", err)
	}
	return buf.Bytes(), nil
}

// SaveCheckpoint writes step st.Step's checkpoint of m and opt into the
// run's store: model.safetensors, optimizer.safetensors, then state.json
// (with the two files' sizes and hashes), then latest.json. It returns
// after latest.json names the new checkpoint.
func SaveCheckpoint(ctx context.Context, store storage.Store, m *model.Model, opt *AdamW, st State) error {
	dir := StepDir(st.Step)
	var mb bytes.Buffer
	if err := m.Export(&mb); err != nil {
		return err
	}
	ob, err := encodeOptimizer(m.Layout(), opt)
	if err != nil {
		return err
	}
	st.Format = StateFormat
	st.AdamStep = opt.Step
	st.Time = time.Now().UTC()
	st.Files = map[string]FileInfo{
		ModelFile:     {Bytes: int64(mb.Len()), SHA256: sha(mb.Bytes())},
		OptimizerFile: {Bytes: int64(len(ob)), SHA256: sha(ob)},
	}
	sb, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		b    []byte
	}{{ModelFile, mb.Bytes()}, {OptimizerFile, ob}, {StateFile, sb}} {
		if err := putBytes(ctx, store, dir+f.name, f.b); err != nil {
			return err
		}
	}
	lb, err := json.MarshalIndent(Latest{Format: LatestFormat, Step: st.Step, Dir: dir, Time: st.Time}, "", "  ")
	if err != nil {
		return err
	}
	return putBytes(ctx, store, LatestKey, lb)
}

// ReadLatest reads latest.json; ok is false when the run has none.
func ReadLatest(ctx context.Context, store storage.Store) (l Latest, ok bool, err error) {
	b, err := readAll(ctx, store, LatestKey, 1<<20)
	if errors.Is(err, storage.ErrNotExist) {
		return Latest{}, false, nil
	}
	if err != nil {
		return Latest{}, false, err
	}
	if err := json.Unmarshal(b, &l); err != nil || l.Format != LatestFormat || l.Step < 0 {
		return Latest{}, false, fmt.Errorf("%w: %s/%s does not parse (%v)", ErrCheckpoint, store.URL(), LatestKey, err)
	}
	if want := StepDir(l.Step); l.Dir != want {
		return Latest{}, false, fmt.Errorf("%w: %s/%s names dir %q for step %d, want %q", ErrCheckpoint, store.URL(), LatestKey, l.Dir, l.Step, want)
	}
	return l, true, nil
}

func readAll(ctx context.Context, store storage.Store, key string, limit int64) ([]byte, error) {
	rc, err := store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("trainer: read %s/%s: %w", store.URL(), key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("trainer: read %s/%s: %w", store.URL(), key, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s/%s is over %d bytes", ErrCheckpoint, store.URL(), key, limit)
	}
	return b, nil
}

// LoadCheckpoint reads the checkpoint in directory dir ("" or ending in
// "/") of store, for a model of layout (n parameters). Every file must be
// present and match the size and SHA-256 state.json records, and the
// tensors must match the layout exactly; anything else is an error
// wrapping ErrCheckpoint that names the object.
func LoadCheckpoint(ctx context.Context, store storage.Store, dir string, layout []model.Param, n int) (*Checkpoint, error) {
	where := store.URL() + "/" + dir
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrCheckpoint, where, fmt.Sprintf(format, args...))
	}
	sb, err := readAll(ctx, store, dir+StateFile, 64<<20)
	if errors.Is(err, storage.ErrNotExist) {
		return nil, bad("no %s (a partial checkpoint, or not a checkpoint directory)", StateFile)
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(sb, &st); err != nil {
		return nil, bad("%s does not parse: %v", StateFile, err)
	}
	if st.Format != StateFormat {
		return nil, bad("%s has format %q, want %q", StateFile, st.Format, StateFormat)
	}
	ck := &Checkpoint{State: st, Where: where}
	open := func(name string) (*safetensors.File, error) {
		fi, ok := st.Files[name]
		if !ok {
			return nil, bad("%s does not list %s", StateFile, name)
		}
		b, err := readAll(ctx, store, dir+name, fi.Bytes)
		if errors.Is(err, storage.ErrNotExist) {
			return nil, bad("%s is missing (a partial checkpoint)", name)
		}
		if err != nil {
			return nil, bad("%v", err)
		}
		if int64(len(b)) != fi.Bytes || sha(b) != fi.SHA256 {
			return nil, bad("%s has %d bytes with SHA-256 %.12s…, state.json records %d bytes, %.12s… (truncated or altered)",
				name, len(b), sha(b), fi.Bytes, fi.SHA256)
		}
		f, err := safetensors.Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return nil, bad("%s: %v", name, err)
		}
		return f, nil
	}
	mf, err := open(ModelFile)
	if err != nil {
		return nil, err
	}
	if ck.Params, err = readLayout(mf, layout, n, ""); err != nil {
		return nil, bad("%s: %v", ModelFile, err)
	}
	of, err := open(OptimizerFile)
	if err != nil {
		return nil, err
	}
	if ck.M, err = readLayout(of, layout, n, "exp_avg."); err != nil {
		return nil, bad("%s: %v", OptimizerFile, err)
	}
	if ck.V, err = readLayout(of, layout, n, "exp_avg_sq."); err != nil {
		return nil, bad("%s: %v", OptimizerFile, err)
	}
	return ck, nil
}

// readLayout reads prefix+NAME for every parameter of layout, each with
// its exact shape.
func readLayout(f *safetensors.File, layout []model.Param, n int, prefix string) ([]float32, error) {
	v := make([]float32, n)
	for _, p := range layout {
		info, ok := f.Lookup(prefix + p.Name)
		if !ok {
			return nil, fmt.Errorf("no tensor %s%s (a checkpoint of another model?)", prefix, p.Name)
		}
		if !slices.Equal(info.Shape, p.Shape) {
			return nil, fmt.Errorf("tensor %s%s is %v, want %v (a checkpoint of another model?)", prefix, p.Name, info.Shape, p.Shape)
		}
		if err := f.ReadFloat32(prefix+p.Name, v[p.Off:p.Off+p.Len]); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// PruneCheckpoints deletes the step directories older than the newest
// keep that are at or below latest (the step latest.json names, which is
// never deleted). Directories above latest (a checkpoint being written, or
// left by a crash) are left alone. keep ≤ 0 keeps everything.
func PruneCheckpoints(ctx context.Context, store storage.Store, keep int, latest int64) error {
	if keep <= 0 {
		return nil
	}
	byStep := map[int64][]string{}
	for info, err := range store.List(ctx, CheckpointsDir+"step-") {
		if err != nil {
			return fmt.Errorf("trainer: list checkpoints: %w", err)
		}
		if s, ok := parseStepDir(info.Key); ok && s <= latest {
			byStep[s] = append(byStep[s], info.Key)
		}
	}
	var steps []int64
	for s := range byStep {
		steps = append(steps, s)
	}
	slices.Sort(steps)
	if len(steps) <= keep {
		return nil
	}
	for _, s := range steps[:len(steps)-keep] {
		if s == latest {
			continue
		}
		// state.json first, so a directory interrupted half-way reads as partial.
		keys := byStep[s]
		slices.SortFunc(keys, func(a, b string) int {
			return boolInt(!strings.HasSuffix(a, StateFile)) - boolInt(!strings.HasSuffix(b, StateFile))
		})
		for _, k := range keys {
			if err := store.Delete(ctx, k); err != nil {
				return fmt.Errorf("trainer: delete old checkpoint %s: %w", k, err)
			}
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ListCheckpoints returns the steps that have a state.json, ascending.
func ListCheckpoints(ctx context.Context, store storage.Store) ([]int64, error) {
	var steps []int64
	for info, err := range store.List(ctx, CheckpointsDir+"step-") {
		if err != nil {
			return nil, fmt.Errorf("trainer: list checkpoints: %w", err)
		}
		if s, ok := parseStepDir(info.Key); ok && strings.HasSuffix(info.Key, "/"+StateFile) {
			steps = append(steps, s)
		}
	}
	slices.Sort(steps)
	return steps, nil
}

// OpenCheckpoint resolves a checkpoint location for loading: the URL of a
// step directory (holding state.json), or the URL of a run (its
// latest.json is followed). It returns the opened store and the directory
// inside it; the caller closes the store.
func OpenCheckpoint(ctx context.Context, url string, opts storage.Options) (storage.Store, string, error) {
	store, err := storage.Open(ctx, url, opts)
	if err != nil {
		return nil, "", err
	}
	if _, err := store.Stat(ctx, StateFile); err == nil {
		return store, "", nil
	} else if !errors.Is(err, storage.ErrNotExist) {
		store.Close()
		return nil, "", err
	}
	l, ok, err := ReadLatest(ctx, store)
	if err != nil {
		store.Close()
		return nil, "", err
	}
	if !ok {
		store.Close()
		return nil, "", fmt.Errorf("%w: %s holds neither %s (a checkpoint directory) nor %s (a run)", ErrCheckpoint, url, StateFile, LatestKey)
	}
	return store, l.Dir, nil
}
