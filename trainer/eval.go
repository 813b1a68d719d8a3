package trainer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/clipstream/clipstream/loader"
	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
	"github.com/clipstream/clipstream/trainer/model"
	"github.com/clipstream/clipstream/trainer/ops"
	"github.com/clipstream/clipstream/trainer/tokenizer"
)

// EvalConfig configures Evaluate.
type EvalConfig struct {
	// Data are the held-out datasets' store URLs (each the prefix holding
	// shards/); every committed sample is evaluated once.
	Data  []string
	Store storage.Options
	// LabelField is the metadata (KEY.json) field holding a sample's class
	// for zero-shot classification (default "category"), at the top level
	// or under "extra" (where the crawl keeps a URL list's extra columns).
	// Samples without it take part in retrieval only.
	LabelField string
	// Templates are the zero-shot prompts, "{}" standing for the label
	// (default DefaultTemplates). A class's text embedding is the
	// normalised mean of its prompts' normalised embeddings, as open_clip's
	// zero_shot_classifier.
	Templates  []string
	Batch      int // samples per forward (default 64)
	MaxSamples int // evaluate at most this many (0: all)
	Workers    int // loader decode goroutines (0: GOMAXPROCS)
}

// DefaultTemplates are generic prompts for zero-shot classification.
var DefaultTemplates = []string{"{}", "a photo of {}.", "an emoji of {}.", "an image of {}."}

// ZeroShot is zero-shot classification accuracy over the labelled samples.
type ZeroShot struct {
	Classes  int     `json:"classes"`
	Samples  int     `json:"samples"`
	Top1     float64 `json:"top1"`
	Top5     float64 `json:"top5"`
	Chance1  float64 `json:"chance_top1"` // 1/classes
	Majority float64 `json:"majority"`    // accuracy of always naming the largest class
}

// Retrieval is recall@K of image→text and text→image retrieval among the
// evaluated pairs (open_clip's retrieval metrics). A query is a hit at K
// when fewer than K candidates score strictly above its own pair, so
// identical captions (ties) do not count against each other.
type Retrieval struct {
	Samples   int     `json:"samples"`
	ImageR1   float64 `json:"image_to_text_r1"`
	ImageR5   float64 `json:"image_to_text_r5"`
	ImageR10  float64 `json:"image_to_text_r10"`
	TextR1    float64 `json:"text_to_image_r1"`
	TextR5    float64 `json:"text_to_image_r5"`
	TextR10   float64 `json:"text_to_image_r10"`
	ChanceR5  float64 `json:"chance_r5"` // 5/N
	MeanRankI float64 `json:"image_to_text_mean_rank"`
}

// EvalResult is one evaluation.
type EvalResult struct {
	Samples   int       `json:"samples"`
	Loss      float64   `json:"loss"` // the contrastive loss over the eval batches
	ZeroShot  *ZeroShot `json:"zero_shot,omitempty"`
	Retrieval Retrieval `json:"retrieval"`
}

// Evaluate runs m over the held-out datasets: image↔text retrieval among
// all evaluated pairs, and zero-shot classification of the samples whose
// metadata has cfg.LabelField. Images are resized and centre-cropped
// (loader Eval mode).
func Evaluate(ctx context.Context, m *model.Model, tok *tokenizer.Tokenizer, cfg EvalConfig) (*EvalResult, error) {
	if len(cfg.Data) == 0 {
		return nil, errors.New("trainer: eval: no datasets")
	}
	if cfg.LabelField == "" {
		cfg.LabelField = "category"
	}
	if len(cfg.Templates) == 0 {
		cfg.Templates = DefaultTemplates
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	E := m.Cfg.EmbedDim
	var img, txt []float32
	var labels []string
	var lossSum float64
	var batches int
	for _, url := range cfg.Data {
		lab, err := readLabels(ctx, url, cfg.Store, cfg.LabelField)
		if err != nil {
			return nil, err
		}
		ld, err := loader.New(ctx, loader.Config{
			Sources: []loader.Source{{URL: url}}, Store: cfg.Store, BatchSize: cfg.Batch,
			ImageSize: m.Cfg.Vision.ImageSize, ContextLength: m.Cfg.Text.Context, Eval: true,
			Tokenizer: tok, Workers: cfg.Workers,
		})
		if err != nil {
			return nil, fmt.Errorf("trainer: eval data %s: %w", url, err)
		}
		err = func() error {
			defer ld.Close()
			it, err := ld.Iter(ctx, loader.State{})
			if err != nil {
				return err
			}
			defer it.Close()
			for cfg.MaxSamples <= 0 || len(labels) < cfg.MaxSamples {
				b, err := it.Next()
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				if b.N > 0 {
					loss, err := m.Forward(b.Images, b.Tokens, b.N)
					if err != nil {
						b.Release()
						return err
					}
					lossSum += float64(loss)
					batches++
					img = append(img, m.ImageEmbeddings()...)
					txt = append(txt, m.TextEmbeddings()...)
					for _, k := range b.Keys {
						labels = append(labels, lab[k])
					}
				}
				b.Release()
			}
			return nil
		}()
		if err != nil {
			return nil, fmt.Errorf("trainer: eval on %s: %w", url, err)
		}
	}
	n := len(labels)
	if cfg.MaxSamples > 0 && n > cfg.MaxSamples {
		n = cfg.MaxSamples
		img, txt, labels = img[:n*E], txt[:n*E], labels[:n]
	}
	if n == 0 {
		return nil, fmt.Errorf("trainer: eval: no samples in %v", cfg.Data)
	}
	res := &EvalResult{Samples: n, Loss: lossSum / float64(batches), Retrieval: retrieval(img, txt, n, E)}
	zs, err := zeroShot(m, tok, img, labels, cfg.Templates)
	if err != nil {
		return nil, err
	}
	res.ZeroShot = zs
	return res, nil
}

// readLabels maps sample keys of a dataset to their label field.
func readLabels(ctx context.Context, url string, opts storage.Options, field string) (map[string]string, error) {
	store, err := storage.Open(ctx, url, opts)
	if err != nil {
		return nil, fmt.Errorf("trainer: eval data: %w", err)
	}
	defer store.Close()
	out := map[string]string{}
	for sc, err := range shardwriter.Committed(ctx, store, "") {
		if err != nil {
			return nil, fmt.Errorf("trainer: eval data %s: %w", url, err)
		}
		err := shardwriter.ReadShard(ctx, store, "", sc, shardwriter.ReaderOptions{}, func(rec *shardwriter.Record) error {
			var meta map[string]any
			if json.Unmarshal(rec.Members["json"], &meta) == nil {
				if s, ok := meta[field].(string); ok && s != "" {
					out[rec.Key] = s
				} else if extra, ok := meta["extra"].(map[string]any); ok {
					// A crawled sample keeps a URL list's extra columns
					// under "extra".
					if s, ok := extra[field].(string); ok && s != "" {
						out[rec.Key] = s
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("trainer: eval data %s: %w", url, err)
		}
	}
	return out, nil
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func retrieval(img, txt []float32, n, E int) Retrieval {
	sim := make([]float64, n*n) // [image][text]
	for i := range n {
		for j := range n {
			sim[i*n+j] = dot(img[i*E:(i+1)*E], txt[j*E:(j+1)*E])
		}
	}
	r := Retrieval{Samples: n, ChanceR5: math.Min(1, 5/float64(n))}
	var rankSum float64
	for i := range n {
		ri, rt := 0, 0
		for j := range n {
			if sim[i*n+j] > sim[i*n+i] {
				ri++ // texts above image i's caption
			}
			if sim[j*n+i] > sim[i*n+i] {
				rt++ // images above caption i's image
			}
		}
		rankSum += float64(ri)
		for _, k := range []struct {
			k    int
			i, t *float64
		}{{1, &r.ImageR1, &r.TextR1}, {5, &r.ImageR5, &r.TextR5}, {10, &r.ImageR10, &r.TextR10}} {
			if ri < k.k {
				*k.i++
			}
			if rt < k.k {
				*k.t++
			}
		}
	}
	for _, p := range []*float64{&r.ImageR1, &r.ImageR5, &r.ImageR10, &r.TextR1, &r.TextR5, &r.TextR10} {
		*p /= float64(n)
	}
	r.MeanRankI = rankSum/float64(n) + 1
	return r
}

// TextEmbeddings embeds texts with m (normalised, [len(texts), EmbedDim]).
// The model runs both towers, so blank images go along.
func TextEmbeddings(m *model.Model, tok *tokenizer.Tokenizer, texts []string) ([]float32, error) {
	ctxLen, S := m.Cfg.Text.Context, m.Cfg.Vision.ImageSize
	const chunk = 64
	var out []float32
	for lo := 0; lo < len(texts); lo += chunk {
		hi := min(lo+chunk, len(texts))
		B := hi - lo
		ids := make([]int32, B*ctxLen)
		for i, t := range texts[lo:hi] {
			if err := tok.TokenizeTo(ids[i*ctxLen:(i+1)*ctxLen], t); err != nil {
				return nil, err
			}
		}
		if _, err := m.Forward(make([]float32, B*3*S*S), ids, B); err != nil {
			return nil, err
		}
		out = append(out, m.TextEmbeddings()...)
	}
	return out, nil
}

func zeroShot(m *model.Model, tok *tokenizer.Tokenizer, img []float32, labels, templates []string) (*ZeroShot, error) {
	E := m.Cfg.EmbedDim
	count := map[string]int{}
	for _, l := range labels {
		if l != "" {
			count[l]++
		}
	}
	if len(count) < 2 {
		return nil, nil // nothing to classify
	}
	var classes []string
	for c := range count {
		classes = append(classes, c)
	}
	slices.Sort(classes)
	var prompts []string
	for _, c := range classes {
		for _, t := range templates {
			prompts = append(prompts, strings.ReplaceAll(t, "{}", c))
		}
	}
	pe, err := TextEmbeddings(m, tok, prompts)
	if err != nil {
		return nil, err
	}
	ce := make([]float64, len(classes)*E)
	for c := range classes {
		row := ce[c*E : (c+1)*E]
		for t := range templates {
			p := pe[(c*len(templates)+t)*E:]
			for d := range E {
				row[d] += float64(p[d])
			}
		}
		var nrm float64
		for _, x := range row {
			nrm += x * x
		}
		nrm = math.Sqrt(nrm) + 1e-12
		for d := range row {
			row[d] /= nrm
		}
	}
	idx := map[string]int{}
	maxCount := 0
	for i, c := range classes {
		idx[c] = i
		maxCount = max(maxCount, count[c])
	}
	zs := &ZeroShot{Classes: len(classes), Chance1: 1 / float64(len(classes))}
	scores := make([]float64, len(classes))
	for i, l := range labels {
		if l == "" {
			continue
		}
		zs.Samples++
		v := img[i*E : (i+1)*E]
		for c := range classes {
			var s float64
			for d := range E {
				s += float64(v[d]) * ce[c*E+d]
			}
			scores[c] = s
		}
		truth := scores[idx[l]]
		above := 0
		for _, s := range scores {
			if s > truth {
				above++
			}
		}
		if above < 1 {
			zs.Top1++
		}
		if above < 5 {
			zs.Top5++
		}
	}
	zs.Top1 /= float64(zs.Samples)
	zs.Top5 /= float64(zs.Samples)
	zs.Majority = float64(maxCount) / float64(zs.Samples)
	return zs, nil
}

// LoadModel loads the checkpoint at url (a step directory, or a run whose
// latest.json is followed) into a new model of the config the checkpoint
// names, on be.
func LoadModel(ctx context.Context, url string, opts storage.Options, be ops.Backend) (*model.Model, State, error) {
	store, dir, err := OpenCheckpoint(ctx, url, opts)
	if err != nil {
		return nil, State{}, err
	}
	defer store.Close()
	b, err := readAll(ctx, store, dir+StateFile, 64<<20)
	if err != nil {
		return nil, State{}, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, State{}, fmt.Errorf("%w: %s/%s%s does not parse: %v", ErrCheckpoint, store.URL(), dir, StateFile, err)
	}
	cfg, err := model.LookupConfig(st.Config.Model)
	if err != nil {
		return nil, State{}, fmt.Errorf("%w: %s: %v", ErrCheckpoint, url, err)
	}
	m, err := model.New(cfg, be, 0)
	if err != nil {
		return nil, State{}, err
	}
	ck, err := LoadCheckpoint(ctx, store, dir, m.Layout(), m.NumParams())
	if err != nil {
		return nil, State{}, err
	}
	if err := m.SetParams(ck.Params); err != nil {
		return nil, State{}, err
	}
	return m, ck.State, nil
}
