package loader

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
)

// Tokenizer turns a caption into token ids, writing exactly len(dst) ids
// (the context length: start, ids, end, zero padding). The CLIP tokenizer
// in trainer/tokenizer satisfies it; it must be safe for concurrent use.
type Tokenizer interface {
	TokenizeTo(dst []int32, text string) error
}

// Source is one dataset: the storage URL of its root (the prefix holding
// shards/), and its weight in the mix (0 means 1). See Order for what a
// weight does.
type Source struct {
	URL    string
	Weight float64
}

// Config configures a Loader. Zero fields take the defaults noted.
// The fields marked "order" fix the epoch order together with the sidecar
// lists; a State resumes exactly only under the same values (State.Order
// checks this).
type Config struct {
	Sources []Source // order
	// Store configures storage.Open for every source.
	Store storage.Options

	BatchSize   int        // samples per batch on each rank (required)
	Rank, World int        // this rank and the number of ranks (World 0 means 1)
	BlockShards int        // order: shards per shuffle block (default 8)
	Tail        TailPolicy // the last, partial step of an epoch

	ImageSize     int  // output side in pixels (default 224)
	ContextLength int  // tokens per caption (default 77)
	Eval          bool // resize + centre crop instead of RandomResizedCrop
	// Uint8 delivers images as uint8 NCHW in Batch.ImagesU8: the cropped,
	// resized pixels 0..255, not normalised (Batch.Images is nil). A
	// quarter of the bytes of float32 to move to the GPU, which applies
	// CLIPMean and CLIPStd there.
	Uint8     bool
	Tokenizer Tokenizer
	// MaxPixels rejects images whose header claims more pixels, before
	// decoding (default 1<<24, 4096×4096).
	MaxPixels int

	Workers          int   // decode goroutines (default GOMAXPROCS)
	FetchConcurrency int   // shard downloads at once (default 4)
	MemoryBudget     int64 // bytes of shards held at once (default 1 GiB); see budget
	BatchPool        int   // batch buffers per iterator (default 3)

	Retries      int           // extra attempts of a failing shard read (default 3; <0 means 0)
	RetryBackoff time.Duration // first wait between attempts, doubling (default 200 ms)

	// CacheDir, when set, keeps fetched shards on local disk, evicting the
	// least recently used beyond CacheBytes (default 10 GiB).
	CacheDir   string
	CacheBytes int64

	Logger *slog.Logger // nil discards
}

func (c Config) withDefaults() (Config, error) {
	if c.World == 0 {
		c.World = 1
	}
	if c.BatchSize <= 0 {
		return c, fmt.Errorf("loader: batch size %d: want at least 1", c.BatchSize)
	}
	if c.World < 1 || c.Rank < 0 || c.Rank >= c.World {
		return c, fmt.Errorf("loader: rank %d of world %d: want 0 <= rank < world", c.Rank, c.World)
	}
	if len(c.Sources) == 0 {
		return c, errors.New("loader: no sources")
	}
	if c.Tail != TailShort && c.Tail != TailDrop {
		return c, fmt.Errorf("loader: unknown tail policy %d", c.Tail)
	}
	if c.BlockShards <= 0 {
		c.BlockShards = 8
	}
	if c.ImageSize <= 0 {
		c.ImageSize = 224
	}
	if c.ContextLength <= 0 {
		c.ContextLength = 77
	}
	if c.MaxPixels <= 0 {
		c.MaxPixels = 1 << 24
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.FetchConcurrency <= 0 {
		c.FetchConcurrency = 4
	}
	if c.MemoryBudget <= 0 {
		c.MemoryBudget = 1 << 30
	}
	if c.BatchPool <= 0 {
		c.BatchPool = 3
	}
	if c.Retries == 0 {
		c.Retries = 3
	} else if c.Retries < 0 {
		c.Retries = 0
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = 200 * time.Millisecond
	}
	if c.CacheBytes <= 0 {
		c.CacheBytes = 10 << 30
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// State is where a run stands: enough, with the order-fixing Config fields,
// to resume exactly. Position counts global samples of the epoch consumed
// by all ranks together, so it is independent of the world size.
type State struct {
	Seed     uint64 `json:"seed"`
	Epoch    int    `json:"epoch"`
	Position int64  `json:"position"`
	// Order fingerprints what fixes the order (sources, weights, block
	// size, every sidecar's name, count and SHA-256). Iter refuses a State
	// whose Order differs from the loader's, since the position would
	// point into a different sequence; leave it empty to skip the check.
	Order string `json:"order,omitempty"`
}

// ErrOrderChanged: a State from a run whose order inputs differ.
var ErrOrderChanged = errors.New("loader: the epoch order changed since this state was saved")

type source struct {
	url    string
	store  storage.Store
	weight float64
}

type shardEntry struct {
	src int
	url string
	sc  *shardwriter.Sidecar
}

func (s *shardEntry) name() string { return s.url + "/" + shardwriter.ShardsDir + s.sc.Shard }

func (s *shardEntry) cacheName() string {
	h := sha256.Sum256([]byte(s.url + "\n" + s.sc.Shard + "\n" + s.sc.SHA256))
	return hex.EncodeToString(h[:16]) + cacheExt
}

// Loader streams the committed shards of its sources as batches. Open it
// once; each epoch (or the rest of one) is an Iter.
type Loader struct {
	cfg    Config
	log    *slog.Logger
	srcs   []*source
	shards []shardEntry
	counts []SourceCounts
	fp     string
	cache  *diskCache
	met    metrics
}

// New opens every source with storage.Open and lists its committed shards
// (sidecars only, never data objects). A sidecar that does not parse is
// logged, counted and left out; a listing that fails is an error.
func New(ctx context.Context, cfg Config) (*Loader, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	l := &Loader{cfg: cfg, log: cfg.Logger}
	if cfg.CacheDir != "" {
		if l.cache, err = openDiskCache(cfg.CacheDir, cfg.CacheBytes); err != nil {
			return nil, err
		}
	}
	fp := sha256.New()
	fmt.Fprintf(fp, "clipstream.loader/v1 block=%d\n", cfg.BlockShards)
	for d, s := range cfg.Sources {
		w := s.Weight
		if w == 0 {
			w = 1
		}
		store, err := storage.Open(ctx, s.URL, cfg.Store)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("loader: source %d: %w", d, err)
		}
		src := &source{url: store.URL(), store: store, weight: w}
		l.srcs = append(l.srcs, src)
		var scs []*shardwriter.Sidecar
		for sc, err := range shardwriter.Committed(ctx, store, "") {
			if err != nil {
				if errors.Is(err, shardwriter.ErrCorrupt) || errors.Is(err, shardwriter.ErrTooLarge) || errors.Is(err, storage.ErrNotExist) {
					l.met.badSidecars.Add(1)
					l.log.Warn("loader: leaving out a bad sidecar", "source", src.url, "err", err)
					continue
				}
				l.Close()
				return nil, fmt.Errorf("loader: list %s: %w", src.url, err)
			}
			scs = append(scs, sc)
		}
		slices.SortFunc(scs, func(a, b *shardwriter.Sidecar) int { return cmpString(a.Shard, b.Shard) })
		sc := SourceCounts{Weight: w}
		fmt.Fprintf(fp, "source %d weight %s shards %d\n", d, strconv.FormatFloat(w, 'g', -1, 64), len(scs))
		for _, s := range scs {
			l.shards = append(l.shards, shardEntry{src: d, url: src.url, sc: s})
			sc.Counts = append(sc.Counts, s.Samples)
			fmt.Fprintf(fp, "%s %d %s\n", s.Shard, s.Samples, s.SHA256)
		}
		l.counts = append(l.counts, sc)
	}
	l.fp = hex.EncodeToString(fp.Sum(nil)[:16])
	return l, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Close closes the sources' stores. Iterators must be closed first.
func (l *Loader) Close() error {
	var errs []error
	for _, s := range l.srcs {
		errs = append(errs, s.store.Close())
	}
	return errors.Join(errs...)
}

// Fingerprint identifies the order inputs (see State.Order).
func (l *Loader) Fingerprint() string { return l.fp }

// Order returns the epoch order for a state's seed and epoch.
func (l *Loader) Order(seed uint64, epoch int) (*Order, error) {
	return NewOrder(seed, epoch, l.counts, l.cfg.BlockShards)
}

// Locate names the sample a SampleRef points at: its source (index into
// Config.Sources), its shard's data object name and its position there.
func (l *Loader) Locate(ref SampleRef) (source int, shard string, sample int) {
	e := &l.shards[ref.Shard]
	return e.src, e.sc.Shard, ref.Sample
}

// StepsPerEpoch is how many batches each rank yields in a whole epoch.
func (l *Loader) StepsPerEpoch(seed uint64, epoch int) (int64, error) {
	o, err := l.Order(seed, epoch)
	if err != nil {
		return 0, err
	}
	return newRankPlan(o.Len(), 0, l.cfg.World, l.cfg.Rank, l.cfg.BatchSize, l.cfg.Tail).steps, nil
}

// Batch is one rank's batch. Images is N×3×S×S float32 (NCHW, CLIP-
// normalised; with Config.Uint8, ImagesU8 is N×3×S×S uint8 instead) and
// Tokens N×ContextLength int32, all views of buffers the loader reuses:
// call Release when done with them. Rows are in epoch order;
// a skipped sample leaves no row, so N may be below the batch size (and is
// 0 for a rank with nothing left in the last step of an epoch under
// TailShort).
type Batch struct {
	Images   []float32
	ImagesU8 []uint8
	Tokens   []int32
	N        int
	Keys     []string // sample keys, per row
	Indices  []int64  // global index in the epoch order, per row
	// Step numbers the batches of one Iter from 0 (the same on every
	// rank of a run that started together).
	Step int64
	// State is where to resume after this batch: on every rank the same.
	// After an epoch's last batch it is the next epoch at position 0.
	State State

	images   []float32 // whole buffer (float32 output)
	imagesU8 []uint8   // whole buffer (uint8 output)
	tokens   []int32
	ok       []bool
	rows     int
	pending  atomic.Int64
	done     chan struct{}
	free     chan *Batch
}

// Release hands the buffers back for reuse. The batch must not be used
// afterwards. Next blocks while every buffer of the pool is out.
func (b *Batch) Release() {
	select {
	case b.free <- b:
	default:
	}
}

func (b *Batch) finishOne() {
	if b.pending.Add(-1) == 0 {
		close(b.done)
	}
}

// compact moves the rows of delivered samples to the front.
func (b *Batch) compact(img, ctxLen int) {
	n := 0
	for r := range b.rows {
		if !b.ok[r] {
			continue
		}
		if n != r {
			if b.imagesU8 != nil {
				copy(b.imagesU8[n*img:(n+1)*img], b.imagesU8[r*img:(r+1)*img])
			} else {
				copy(b.images[n*img:(n+1)*img], b.images[r*img:(r+1)*img])
			}
			copy(b.tokens[n*ctxLen:(n+1)*ctxLen], b.tokens[r*ctxLen:(r+1)*ctxLen])
			b.Keys[n], b.Indices[n] = b.Keys[r], b.Indices[r]
		}
		n++
	}
	b.N = n
	if b.imagesU8 != nil {
		b.ImagesU8 = b.imagesU8[:n*img]
	} else {
		b.Images = b.images[:n*img]
	}
	b.Tokens = b.tokens[:n*ctxLen]
	b.Keys = b.Keys[:n]
	b.Indices = b.Indices[:n]
}

// Iter delivers one rank's batches from a State to the end of its epoch.
// Next is for one goroutine.
type Iter struct {
	l       *Loader
	ctx     context.Context
	cancel  context.CancelFunc
	g       *errgroup.Group
	order   *Order
	plan    rankPlan
	st      State
	emitted chan *Batch
	end     error
}

type task struct {
	b     *Batch
	row   int
	rec   *shardwriter.Record
	index int64
	blk   *block
}

// Iter starts delivering batches from st: the rest of epoch st.Epoch from
// global position st.Position. The iterator's goroutines stop when ctx is
// cancelled or Close is called; Close must be called.
func (l *Loader) Iter(ctx context.Context, st State) (*Iter, error) {
	if st.Order != "" && st.Order != l.fp {
		return nil, fmt.Errorf("%w (state %s, loader %s)", ErrOrderChanged, st.Order, l.fp)
	}
	order, err := l.Order(st.Seed, st.Epoch)
	if err != nil {
		return nil, err
	}
	if st.Position < 0 || st.Position > order.Len() {
		return nil, fmt.Errorf("loader: position %d outside epoch of %d samples", st.Position, order.Len())
	}
	st.Order = l.fp
	l.met.started.CompareAndSwap(0, time.Now().UnixNano())
	cfg := &l.cfg
	ctx, cancel := context.WithCancel(ctx)
	g, ctx := errgroup.WithContext(ctx)
	it := &Iter{
		l: l, ctx: ctx, cancel: cancel, g: g, order: order, st: st,
		plan:    newRankPlan(order.Len(), st.Position, cfg.World, cfg.Rank, cfg.BatchSize, cfg.Tail),
		emitted: make(chan *Batch, cfg.BatchPool),
	}
	free := make(chan *Batch, cfg.BatchPool)
	img := 3 * cfg.ImageSize * cfg.ImageSize
	for range cfg.BatchPool {
		b := &Batch{
			tokens:  make([]int32, cfg.BatchSize*cfg.ContextLength),
			ok:      make([]bool, cfg.BatchSize),
			Keys:    make([]string, cfg.BatchSize),
			Indices: make([]int64, cfg.BatchSize),
			free:    free,
		}
		if cfg.Uint8 {
			b.imagesU8 = make([]uint8, cfg.BatchSize*img)
		} else {
			b.images = make([]float32, cfg.BatchSize*img)
		}
		free <- b
	}
	blocks := make(chan *block, 4)
	tasks := make(chan task, 4*cfg.Workers)
	g.Go(func() error { return it.prefetch(blocks) })
	g.Go(func() error { return it.produce(free, blocks, tasks) })
	for range cfg.Workers {
		g.Go(func() error { return it.work(tasks) })
	}
	return it, nil
}

// prefetch admits the blocks the walk needs, in order, under the memory
// budget, and starts their shard fetches with bounded concurrency.
func (it *Iter) prefetch(blocks chan<- *block) error {
	defer close(blocks)
	l, o := it.l, it.order
	if it.plan.steps == 0 {
		return nil
	}
	first := o.blockOf(it.plan.start)
	last := o.blockOf(it.plan.end() - 1)
	bud := newBudget(l.cfg.MemoryBudget)
	var fg errgroup.Group
	fg.SetLimit(l.cfg.FetchConcurrency)
	defer fg.Wait() //nolint:errcheck // fetches return nil
	for b := first; b <= last; b++ {
		blk := &block{idx: b, slots: o.blockSlots(b), uniq: map[int]int{}, ready: make(chan struct{})}
		blk.lo, blk.hi = o.blockRange(b)
		blk.perm, blk.pre = o.blockPlan(b)
		var uniq []int
		for _, sh := range blk.slots {
			if _, ok := blk.uniq[sh]; !ok {
				blk.uniq[sh] = len(uniq)
				uniq = append(uniq, sh)
				blk.cost += shardCost(l.shards[sh].sc)
			}
		}
		blk.data = make([]shardData, len(uniq))
		blk.left.Store(int32(len(uniq)))
		blk.refs.Store(1)
		if err := bud.acquire(it.ctx, blk.cost); err != nil {
			return err
		}
		l.met.residentBytes.Add(blk.cost)
		l.met.prefetchBlocks.Add(1)
		blk.onFree = func() {
			l.met.residentBytes.Add(-blk.cost)
			bud.release(blk.cost)
		}
		for k, sh := range uniq {
			fg.Go(func() error {
				blk.data[k] = l.fetchShard(it.ctx, &l.shards[sh])
				if blk.left.Add(-1) == 0 {
					close(blk.ready)
				}
				return nil
			})
		}
		select {
		case blocks <- blk:
		case <-it.ctx.Done():
			return it.ctx.Err()
		}
	}
	return nil
}

// produce walks the rank's indices step by step, fills batch rows with
// decode tasks, and emits batches in order.
func (it *Iter) produce(free chan *Batch, blocks <-chan *block, tasks chan<- task) error {
	defer close(it.emitted)
	defer close(tasks)
	l, p, ctx := it.l, it.plan, it.ctx
	var cur *block
	// leave drops the producer's hold on a block once its fetches are
	// done (fetches end promptly on cancel, so this never hangs).
	leave := func(b *block) {
		<-b.ready
		l.met.prefetchBlocks.Add(-1)
		b.unref()
	}
	defer func() {
		// On the way out, done or cancelled, settle every admitted block.
		if cur != nil {
			leave(cur)
		}
		for b := range blocks {
			leave(b)
		}
	}()
	for k := range p.steps {
		var b *Batch
		select {
		case b = <-free:
		case <-ctx.Done():
			return ctx.Err()
		}
		_, hi, first := p.step(k)
		b.done = make(chan struct{})
		b.pending.Store(1)
		b.Keys, b.Indices = b.Keys[:cap(b.Keys)], b.Indices[:cap(b.Indices)]
		b.Step = k
		row := 0
		for i := first; i < hi; i += p.world {
			for cur == nil || i >= cur.hi {
				if cur != nil {
					leave(cur)
					cur = nil
				}
				select {
				case nb, ok := <-blocks:
					if !ok {
						return fmt.Errorf("loader: internal error: no block for index %d", i)
					}
					cur = nb
				case <-ctx.Done():
					return ctx.Err()
				}
				select {
				case <-cur.ready:
				default:
					t0 := time.Now()
					select {
					case <-cur.ready:
					case <-ctx.Done():
						return ctx.Err()
					}
					l.met.fetchWait.Add(int64(time.Since(t0)))
				}
			}
			slot, sample := cur.at(i)
			sd := cur.data[cur.uniq[cur.slots[slot]]]
			b.Indices[row] = i
			if sd.recs == nil {
				b.ok[row] = false
				b.Keys[row] = ""
				l.met.skipLost.Add(1)
				row++
				continue
			}
			rec := sd.recs[sample]
			b.Keys[row] = rec.Key
			b.ok[row] = true
			b.pending.Add(1)
			cur.refs.Add(1)
			select {
			case tasks <- task{b: b, row: row, rec: rec, index: i, blk: cur}:
			case <-ctx.Done():
				b.pending.Add(-1)
				cur.refs.Add(-1)
				return ctx.Err()
			}
			row++
		}
		b.rows = row
		b.State = State{Seed: it.st.Seed, Epoch: it.st.Epoch, Position: hi, Order: it.st.Order}
		if k == p.steps-1 {
			b.State.Epoch, b.State.Position = it.st.Epoch+1, 0
		}
		select {
		case it.emitted <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		b.finishOne()
	}
	return nil
}

// work decodes, augments and tokenises samples into their batch rows.
func (it *Iter) work(tasks <-chan task) error {
	l := it.l
	cfg := &l.cfg
	tr := newTransformer(cfg.ImageSize, !cfg.Eval, cfg.MaxPixels)
	img := 3 * cfg.ImageSize * cfg.ImageSize
	var r rng
	for t := range tasks {
		if it.ctx.Err() == nil {
			b := t.b
			r.s = seedOf(domAug, it.st.Seed, uint64(it.st.Epoch), uint64(t.index))
			var dst imageDst
			if b.imagesU8 != nil {
				dst.u8 = b.imagesU8[t.row*img : (t.row+1)*img]
			} else {
				dst.f32 = b.images[t.row*img : (t.row+1)*img]
			}
			err := it.sample(tr, &r, dst, b.tokens[t.row*cfg.ContextLength:(t.row+1)*cfg.ContextLength], t.rec)
			if err != nil {
				b.ok[t.row] = false
				l.log.Debug("loader: skipping sample", "key", t.rec.Key, "index", t.index, "err", err)
			}
		}
		t.b.finishOne()
		t.blk.unref()
	}
	return nil
}

var (
	errMissing = errors.New("loader: sample lacks an image or caption member")
	errBadText = errors.New("loader: caption is not UTF-8")
)

// imageExts are the members tried as the image, in order.
var imageExts = [...]string{"jpg", "jpeg", "png"}

// sample transforms one record; the decision to skip it depends on its
// bytes only, so a replay skips the same samples.
func (it *Iter) sample(tr *transformer, r *rng, imgDst imageDst, tokDst []int32, rec *shardwriter.Record) error {
	m := &it.l.met
	var data []byte
	for _, ext := range imageExts {
		if d, ok := rec.Members[ext]; ok {
			data = d
			break
		}
	}
	txt, ok := rec.Members["txt"]
	if data == nil || !ok {
		m.skipMissing.Add(1)
		return errMissing
	}
	if !utf8.Valid(txt) {
		m.skipBadText.Add(1)
		return errBadText
	}
	if tok := it.l.cfg.Tokenizer; tok != nil {
		if err := tok.TokenizeTo(tokDst, string(txt)); err != nil {
			m.skipBadText.Add(1)
			return fmt.Errorf("tokenize: %w", err)
		}
	}
	if err := tr.applyTo(imgDst, data, r); err != nil {
		if errors.Is(err, ErrImageTooLarge) {
			m.skipTooLarge.Add(1)
		} else {
			m.skipBadImage.Add(1)
		}
		return err
	}
	return nil
}

// Next returns the next batch, or io.EOF after the epoch's last. The time
// it waits counts as stall time in Metrics.
func (it *Iter) Next() (*Batch, error) {
	if it.end != nil {
		return nil, it.end
	}
	t0 := time.Now()
	defer func() { it.l.met.stall.Add(int64(time.Since(t0))) }()
	b, ok := <-it.emitted
	if !ok {
		if err := it.g.Wait(); err != nil {
			it.end = err
		} else {
			it.end = io.EOF
		}
		return nil, it.end
	}
	select {
	case <-b.done:
	case <-it.ctx.Done():
		it.end = it.ctx.Err()
		return nil, it.end
	}
	if err := it.ctx.Err(); err != nil {
		it.end = err
		return nil, err
	}
	cfg := &it.l.cfg
	b.compact(3*cfg.ImageSize*cfg.ImageSize, cfg.ContextLength)
	it.l.met.batches.Add(1)
	it.l.met.samples.Add(int64(b.N))
	return b, nil
}

// Steps is how many batches this iterator yields in all.
func (it *Iter) Steps() int64 { return it.plan.steps }

// Close stops the iterator's goroutines and waits for them.
func (it *Iter) Close() error {
	it.cancel()
	err := it.g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
