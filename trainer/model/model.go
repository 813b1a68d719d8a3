package model

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/clipstream/clipstream/trainer/ops"
)

// Model is CLIP on a Backend: its parameters and gradients are two flat
// buffers of the same layout (Layout), and the activations of the last
// Forward live in a third, kept for Backward as in llm.c. Use it from one
// goroutine at a time.
type Model struct {
	Cfg Config

	be     ops.Backend
	layout []Param
	byName map[string]int
	nParam int

	params, grads ops.Tensor // whole buffers
	w, g          weights    // named views into params and grads

	// Activations for batch size batch (0: none yet).
	batch   int
	acts    activations
	gs      gradScratch
	patches []float32 // host patchify scratch
	ids     []int32   // token ids of the last Forward
	// Row indices for the gathers and scatters (EmbeddingForward and
	// EmbeddingBackward used as row gather and scatter-add) that do in a
	// few launches what would otherwise be 10 small ops per image.
	vPosIDs, tPosIDs []int32 // [B·T]: t, the position row of each token row
	vRows            []int32 // [B·T]: the patch-embedding row of each token row (B·P for the class token)
	vPoolIDs         []int32 // [B]: b·T, the class-token row of each image
	tPoolIDs         []int32 // [B]: b·T + the end-of-text position (argmax id) of each caption
	forwardOK        bool
}

// New returns a model for cfg on be, with parameters initialised from seed
// as open_clip initialises them (see Layout) and gradients zeroed.
func New(cfg Config, be ops.Backend, seed uint64) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Model{Cfg: cfg, be: be, byName: map[string]int{}}
	m.layout, m.nParam = Layout(cfg)
	for i, p := range m.layout {
		m.byName[p.Name] = i
	}
	pb, err := be.Alloc(m.nParam)
	if err != nil {
		return nil, fmt.Errorf("model: alloc parameters: %w", err)
	}
	gb, err := be.Alloc(m.nParam)
	if err != nil {
		return nil, fmt.Errorf("model: alloc gradients: %w", err)
	}
	m.params = ops.Tensor{Buf: pb, Len: m.nParam}
	m.grads = ops.Tensor{Buf: gb, Len: m.nParam}
	m.w = m.bind(m.params)
	m.g = m.bind(m.grads)
	if err := m.SetParams(initValues(m.layout, m.nParam, seed)); err != nil {
		return nil, err
	}
	return m, nil
}

// Layout returns the parameter tensors, in open_clip's state-dict order.
func (m *Model) Layout() []Param { return m.layout }

// NumParams returns the number of float32 parameters.
func (m *Model) NumParams() int { return m.nParam }

// Params and Grads return the whole flat buffers, for the optimizer and
// checkpoints.
func (m *Model) Params() ops.Tensor { return m.params }

// Grads returns the gradient buffer (see Params).
func (m *Model) Grads() ops.Tensor { return m.grads }

// Lookup returns the parameter called name (an open_clip state-dict key).
func (m *Model) Lookup(name string) (Param, bool) {
	i, ok := m.byName[name]
	if !ok {
		return Param{}, false
	}
	return m.layout[i], true
}

// GetParams copies the parameters to the host.
func (m *Model) GetParams() []float32 {
	out := make([]float32, m.nParam)
	m.be.Download(out, m.params)
	return out
}

// GetGrads copies the gradients to the host.
func (m *Model) GetGrads() []float32 {
	out := make([]float32, m.nParam)
	m.be.Download(out, m.grads)
	return out
}

// SetParams copies v (NumParams values, Layout order) into the parameters.
func (m *Model) SetParams(v []float32) error {
	if len(v) != m.nParam {
		return fmt.Errorf("model: %d parameter values, want %d", len(v), m.nParam)
	}
	m.be.Upload(m.params, v)
	m.forwardOK = false
	return m.be.Err()
}

// ZeroGrad sets every gradient to 0. Backward adds into the gradients, so
// the trainer calls this once per step (and not between micro-batches it
// wants to accumulate).
func (m *Model) ZeroGrad() { m.be.Zero(m.grads) }

// block holds one residual attention block's tensors
// (ln_1, attn.in_proj, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj).
type block struct {
	ln1w, ln1b, qkvw, qkvb, attprojw, attprojb, ln2w, ln2b, fcw, fcb, fcprojw, fcprojb ops.Tensor
}

// weights are named views into a flat buffer (parameters or gradients).
type weights struct {
	vCls, vPos, vProj, vConv, vLnPreW, vLnPreB, vLnPostW, vLnPostB ops.Tensor
	vBlocks                                                        []block
	tPos, tProj, tTok, tLnFinalW, tLnFinalB                        ops.Tensor
	tBlocks                                                        []block
	logitScale                                                     ops.Tensor
}

func (m *Model) bind(buf ops.Tensor) weights {
	view := func(name string) ops.Tensor {
		p := m.layout[m.byName[name]]
		return buf.View(p.Off, p.Len)
	}
	blocks := func(prefix string, n int) []block {
		bs := make([]block, n)
		for l := range bs {
			p := fmt.Sprintf("%s.%d.", prefix, l)
			bs[l] = block{
				ln1w: view(p + "ln_1.weight"), ln1b: view(p + "ln_1.bias"),
				qkvw: view(p + "attn.in_proj_weight"), qkvb: view(p + "attn.in_proj_bias"),
				attprojw: view(p + "attn.out_proj.weight"), attprojb: view(p + "attn.out_proj.bias"),
				ln2w: view(p + "ln_2.weight"), ln2b: view(p + "ln_2.bias"),
				fcw: view(p + "mlp.c_fc.weight"), fcb: view(p + "mlp.c_fc.bias"),
				fcprojw: view(p + "mlp.c_proj.weight"), fcprojb: view(p + "mlp.c_proj.bias"),
			}
		}
		return bs
	}
	return weights{
		vCls: view("visual.class_embedding"), vPos: view("visual.positional_embedding"),
		vProj: view("visual.proj"), vConv: view("visual.conv1.weight"),
		vLnPreW: view("visual.ln_pre.weight"), vLnPreB: view("visual.ln_pre.bias"),
		vLnPostW: view("visual.ln_post.weight"), vLnPostB: view("visual.ln_post.bias"),
		vBlocks: blocks("visual.transformer.resblocks", m.Cfg.Vision.Layers),
		tPos:    view("positional_embedding"), tProj: view("text_projection"),
		tTok: view("token_embedding.weight"), tLnFinalW: view("ln_final.weight"), tLnFinalB: view("ln_final.bias"),
		tBlocks:    blocks("transformer.resblocks", m.Cfg.Text.Layers),
		logitScale: view("logit_scale"),
	}
}

// arena hands out consecutive views of one buffer; with a nil buffer it
// only measures.
type arena struct {
	buf ops.Buffer
	off int
}

func (a *arena) take(n int) ops.Tensor {
	t := ops.Tensor{Buf: a.buf, Off: a.off, Len: n}
	a.off += n
	return t
}

// layerActs is what one block keeps for its backward.
type layerActs struct {
	ln1, ln1Mean, ln1Rstd, qkv, att, atty, res2, ln2, ln2Mean, ln2Rstd, fch, fchg, res3 ops.Tensor
}

// tower is one encoder's activations: B sequences of T tokens of width W,
// NH heads, embedded to E.
type tower struct {
	B, T, W, NH, E int
	x0             ops.Tensor // embeddings: ln_pre's input (vision), block 0's input (text)
	lnPre          ops.Tensor // vision only: ln_pre output, block 0's input
	lnPreMean      ops.Tensor
	lnPreRstd      ops.Tensor
	layers         []layerActs
	poolIn         ops.Tensor // [B,W] the pooled rows of the last block's output
	pooled         ops.Tensor // [B,W] ln_post / ln_final of the pooled rows
	pooledMean     ops.Tensor
	pooledRstd     ops.Tensor
	feat           ops.Tensor // [B,E] projected
	featN          ops.Tensor // [B,E] L2-normalised
	norm           ops.Tensor // [B]
	// forward scratch (not needed by the backward)
	preatt, tmp, rows ops.Tensor
}

type activations struct {
	img, txt                  tower
	patches, patchEmb, tokEmb ops.Tensor
	patchTable                ops.Tensor // [B·P+1, W]: patchEmb, then the class token
	zeros                     ops.Tensor // [W]: never written
	loss, logits, pr, pc      ops.Tensor
}

// towerGrads are the backward scratch views of one tower; both towers'
// views start at the same offset of one buffer, since they run in turn.
type towerGrads struct {
	dres, dx0, dpatch                                   ops.Tensor // [N,W]: residual-stream gradient, embedding gradient, patch/token gradient
	dpool                                               ops.Tensor // [B,W]: gradient of the pooled rows
	layer                                               ops.Tensor // the per-layer scratch below, zeroed per layer
	dln1, dqkv, dpreatt, datt, datty, dln2, dfch, dfchg ops.Tensor
}

type gradScratch struct {
	img, txt                 towerGrads
	head                     ops.Tensor // all of the below, zeroed per Backward
	dimgN, dtxtN, dimg, dtxt ops.Tensor // [B,E]
	dimgPooled, dtxtPooled   ops.Tensor // [B,W]
}

func newTower(a *arena, B, T, W, NH, E, layers, mlp int, vision bool) tower {
	N := B * T
	tw := tower{B: B, T: T, W: W, NH: NH, E: E}
	tw.x0 = a.take(N * W)
	if vision {
		tw.lnPre, tw.lnPreMean, tw.lnPreRstd = a.take(N*W), a.take(N), a.take(N)
	}
	tw.layers = make([]layerActs, layers)
	for l := range tw.layers {
		tw.layers[l] = layerActs{
			ln1: a.take(N * W), ln1Mean: a.take(N), ln1Rstd: a.take(N),
			qkv: a.take(N * 3 * W), att: a.take(B * NH * T * T), atty: a.take(N * W),
			res2: a.take(N * W), ln2: a.take(N * W), ln2Mean: a.take(N), ln2Rstd: a.take(N),
			fch: a.take(N * mlp), fchg: a.take(N * mlp), res3: a.take(N * W),
		}
	}
	tw.poolIn, tw.pooled, tw.pooledMean, tw.pooledRstd = a.take(B*W), a.take(B*W), a.take(B), a.take(B)
	tw.feat, tw.featN, tw.norm = a.take(B*E), a.take(B*E), a.take(B)
	tw.preatt, tw.tmp, tw.rows = a.take(B*NH*T*T), a.take(N*W), a.take(N*W)
	return tw
}

func newTowerGrads(a *arena, B, T, W, NH, mlp int) towerGrads {
	N := B * T
	g := towerGrads{dres: a.take(N * W), dx0: a.take(N * W), dpatch: a.take(N * W), dpool: a.take(B * W)}
	start := a.off
	g.dln1, g.dqkv = a.take(N*W), a.take(N*3*W)
	g.dpreatt, g.datt = a.take(B*NH*T*T), a.take(B*NH*T*T)
	g.datty, g.dln2 = a.take(N*W), a.take(N*W)
	g.dfch, g.dfchg = a.take(N*mlp), a.take(N*mlp)
	g.layer = ops.Tensor{Buf: a.buf, Off: start, Len: a.off - start}
	return g
}

// layoutActs lays out activations (in actBuf) and backward scratch (in
// gradBuf) for batch B, returning the sizes each needs.
func (m *Model) layoutActs(actBuf, gradBuf ops.Buffer, B int) (activations, gradScratch, int, int) {
	v, t, E := m.Cfg.Vision, m.Cfg.Text, m.Cfg.EmbedDim
	a := &arena{buf: actBuf}
	var acts activations
	acts.img = newTower(a, B, v.Tokens(), v.Width, v.Heads, E, v.Layers, v.Width*v.MLPRatio, true)
	acts.txt = newTower(a, B, t.Context, t.Width, t.Heads, E, t.Layers, t.Width*t.MLPRatio, false)
	P := v.Grid() * v.Grid()
	acts.patches, acts.patchTable = a.take(B*P*v.PatchDim()), a.take((B*P+1)*v.Width)
	acts.patchEmb = acts.patchTable.View(0, B*P*v.Width)
	acts.zeros = a.take(max(v.Width, t.Width))
	acts.tokEmb = a.take(B * t.Context * t.Width)
	acts.loss, acts.logits, acts.pr, acts.pc = a.take(1), a.take(B*B), a.take(B*B), a.take(B*B)

	g := &arena{buf: gradBuf}
	var gs gradScratch
	gs.head = ops.Tensor{Buf: gradBuf, Off: 0}
	gs.dimgN, gs.dtxtN, gs.dimg, gs.dtxt = g.take(B*E), g.take(B*E), g.take(B*E), g.take(B*E)
	gs.dimgPooled, gs.dtxtPooled = g.take(B*v.Width), g.take(B*t.Width)
	gs.head.Len = g.off
	base := g.off
	gs.img = newTowerGrads(g, B, v.Tokens(), v.Width, v.Heads, v.Width*v.MLPRatio)
	end := g.off
	g.off = base
	gs.txt = newTowerGrads(g, B, t.Context, t.Width, t.Heads, t.Width*t.MLPRatio)
	return acts, gs, a.off, max(end, g.off)
}

// ActivationBytes returns the bytes of activations and backward scratch a
// batch of B needs.
func (m *Model) ActivationBytes(B int) int64 {
	_, _, na, ng := m.layoutActs(nil, nil, B)
	return 4 * int64(na+ng)
}

func (m *Model) ensureBatch(B int) error {
	if B == m.batch {
		return nil
	}
	_, _, na, ng := m.layoutActs(nil, nil, B)
	ab, err := m.be.Alloc(na)
	if err != nil {
		return fmt.Errorf("model: alloc activations for batch %d: %w", B, err)
	}
	gb, err := m.be.Alloc(ng)
	if err != nil {
		return fmt.Errorf("model: alloc backward scratch for batch %d: %w", B, err)
	}
	m.acts, m.gs, _, _ = m.layoutActs(ab, gb, B)
	m.batch = B
	v, t := m.Cfg.Vision, m.Cfg.Text
	m.patches = make([]float32, B*v.Grid()*v.Grid()*v.PatchDim())
	VT, P := v.Tokens(), v.Grid()*v.Grid()
	m.vPosIDs, m.tPosIDs, m.vRows = make([]int32, B*VT), make([]int32, B*t.Context), make([]int32, B*VT)
	m.vPoolIDs, m.tPoolIDs = make([]int32, B), make([]int32, B)
	for b := range B {
		for i := range VT {
			m.vPosIDs[b*VT+i] = int32(i)
			m.vRows[b*VT+i] = int32(b*P + i - 1)
		}
		m.vRows[b*VT] = int32(B * P) // the class token, the table's last row
		m.vPoolIDs[b] = int32(b * VT)
		for i := range t.Context {
			m.tPosIDs[b*t.Context+i] = int32(i)
		}
	}
	return nil
}

// ErrInput is wrapped by Forward's errors about its arguments.
var ErrInput = errors.New("model: bad input")

// Forward runs both towers and the contrastive loss on a batch of B
// images (float32 [B,3,S,S], normalised as for open_clip) and B captions
// (token ids [B,Context]), returning the loss. The activations stay for
// Backward.
func (m *Model) Forward(images []float32, tokens []int32, B int) (float32, error) {
	v := m.Cfg.Vision
	if want := B * 3 * v.ImageSize * v.ImageSize; B >= 1 && len(images) != want {
		return 0, fmt.Errorf("%w: %d image values, want %d (B=%d × 3×%d×%d)", ErrInput, len(images), want, B, v.ImageSize, v.ImageSize)
	}
	return m.forward(tokens, B, func() {
		patchify(m.patches, images, B, v.ImageSize, v.PatchSize)
		m.be.Upload(m.acts.patches, m.patches)
	})
}

// CLIP's normalisation (OpenAI's constants, open_clip's
// OPENAI_DATASET_MEAN and OPENAI_DATASET_STD), which ForwardPixels applies.
var (
	CLIPMean = [3]float32{0.48145466, 0.4578275, 0.40821073}
	CLIPStd  = [3]float32{0.26862954, 0.26130258, 0.27577711}
)

// PatchUploader is a backend that turns uint8 pixels into the vision
// tower's normalised patch rows itself, so that a quarter of the bytes of
// float32 images cross to it (the CUDA backend does this on the device).
type PatchUploader interface {
	// UploadPatches writes pix (uint8 [B,3,S,S], 0..255) as patch rows
	// [B·G·G, 3·p·p] (patchify's layout) into dst, each value normalised
	// to (x/255 − mean[c]) / std[c].
	UploadPatches(dst ops.Tensor, pix []uint8, B, S, p int, mean, std [3]float32)
}

// PixelPrefetcher is a PatchUploader that can start moving a batch's
// pixels before the step that uses them, so that the transfer overlaps
// the step before (the CUDA backend's copy stream).
type PixelPrefetcher interface {
	PatchUploader
	// PrefetchPixels starts the upload of pix; the next UploadPatches of
	// the same slice uses it instead of uploading again. pix must not
	// change in between.
	PrefetchPixels(pix []uint8)
}

// PrefetchPixels starts moving the images of a later ForwardPixels to the
// backend when it is a PixelPrefetcher, and does nothing otherwise. Call
// it from BackwardWhile, so the transfer overlaps the backward pass; pix
// must not change until its ForwardPixels.
func (m *Model) PrefetchPixels(pix []uint8) {
	if pp, ok := m.be.(PixelPrefetcher); ok && len(pix) > 0 {
		pp.PrefetchPixels(pix)
	}
}

// ForwardPixels is Forward on uint8 images ([B,3,S,S], 0..255, as the
// loader's Uint8 output), normalised with CLIPMean and CLIPStd: by the
// backend when it is a PatchUploader, else on the host. The two give the
// same patches up to float32 rounding.
func (m *Model) ForwardPixels(pix []uint8, tokens []int32, B int) (float32, error) {
	v := m.Cfg.Vision
	if want := B * 3 * v.ImageSize * v.ImageSize; B >= 1 && len(pix) != want {
		return 0, fmt.Errorf("%w: %d pixel values, want %d (B=%d × 3×%d×%d)", ErrInput, len(pix), want, B, v.ImageSize, v.ImageSize)
	}
	return m.forward(tokens, B, func() {
		if pu, ok := m.be.(PatchUploader); ok {
			pu.UploadPatches(m.acts.patches, pix, B, v.ImageSize, v.PatchSize, CLIPMean, CLIPStd)
			return
		}
		patchifyPixels(m.patches, pix, B, v.ImageSize, v.PatchSize, CLIPMean, CLIPStd)
		m.be.Upload(m.acts.patches, m.patches)
	})
}

// forward checks the batch and the tokens, sizes the activations, lets
// patches fill the patch rows, and runs both towers and the loss.
func (m *Model) forward(tokens []int32, B int, patches func()) (float32, error) {
	m.forwardOK = false
	t := m.Cfg.Text
	if B < 1 {
		return 0, fmt.Errorf("%w: batch %d", ErrInput, B)
	}
	if want := B * t.Context; len(tokens) != want {
		return 0, fmt.Errorf("%w: %d token ids, want %d (B=%d × context %d)", ErrInput, len(tokens), want, B, t.Context)
	}
	for i, id := range tokens {
		if id < 0 || int(id) >= t.Vocab {
			return 0, fmt.Errorf("%w: token %d of caption %d is %d, outside [0,%d)", ErrInput, i%t.Context, i/t.Context, id, t.Vocab)
		}
	}
	if err := m.ensureBatch(B); err != nil {
		return 0, err
	}
	m.ids = append(m.ids[:0], tokens...)
	for b := range B {
		row := tokens[b*t.Context : (b+1)*t.Context]
		best := 0
		for i, id := range row {
			if id > row[best] {
				best = i
			}
		}
		m.tPoolIDs[b] = int32(b*t.Context + best) // first maximum, as torch.argmax
	}
	patches()

	m.visionForward()
	m.textForward()
	a := &m.acts
	E := m.Cfg.EmbedDim
	m.be.ContrastiveForward(a.loss, a.logits, a.pr, a.pc, a.img.featN, a.txt.featN, m.w.logitScale, B, E)
	var loss [1]float32
	m.be.Download(loss[:], a.loss)
	if err := m.be.Err(); err != nil {
		return 0, fmt.Errorf("model: forward: %w", err)
	}
	m.forwardOK = true
	return loss[0], nil
}

// patchifyPixels is patchify from uint8 pixels, normalising each value to
// (x/255 − mean[c]) / std[c] on the way: the reference for PatchUploader.
// dst holds B·3·S·S values.
func patchifyPixels(dst []float32, pix []uint8, B, S, p int, mean, std [3]float32) {
	G := S / p
	pd := 3 * p * p
	var sc, sh [3]float32
	for c := range 3 {
		sc[c], sh[c] = 1/(255*std[c]), -mean[c]/std[c]
	}
	for b := range B {
		for gy := range G {
			for gx := range G {
				row := dst[((b*G+gy)*G+gx)*pd:][:pd]
				for c := range 3 {
					for i := range p {
						src := pix[((b*3+c)*S+gy*p+i)*S+gx*p:][:p]
						out := row[(c*p+i)*p:][:p]
						for j, x := range src {
							out[j] = float32(x)*sc[c] + sh[c]
						}
					}
				}
			}
		}
	}
}

// patchify writes images [B,3,S,S] as rows of patches [B·G·G, 3·p·p], in
// the order of open_clip's conv1 (stride = kernel = p) output flattened
// over the grid: patch (gy,gx) at row gy·G+gx, value (c,i,j) at c·p²+i·p+j,
// so that conv1.weight [W,3,p,p] is the matmul weight [W,3p²].
func patchify(dst, img []float32, B, S, p int) {
	// A ViT-B-32 batch of 256 is 154 MB: cut it across the cores (a
	// device backend waits for this copy before the upload).
	per := 3 * S * S
	workers := min(B, runtime.GOMAXPROCS(0), max(1, B*per/(1<<20)))
	if workers <= 1 {
		patchifyRange(dst, img, 0, B, S, p)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := B*w/workers, B*(w+1)/workers
		wg.Go(func() { patchifyRange(dst, img, lo, hi, S, p) })
	}
	wg.Wait()
}

// patchifyRange does patchify's work for the images [lo, hi).
func patchifyRange(dst, img []float32, lo, hi, S, p int) {
	G := S / p
	pd := 3 * p * p
	for b := lo; b < hi; b++ {
		for gy := range G {
			for gx := range G {
				row := dst[((b*G+gy)*G+gx)*pd:][:pd]
				for c := range 3 {
					for i := range p {
						src := img[((b*3+c)*S+gy*p+i)*S+gx*p:][:p]
						copy(row[(c*p+i)*p:][:p], src)
					}
				}
			}
		}
	}
}

func (m *Model) visionForward() {
	be, v, a, w := m.be, m.Cfg.Vision, &m.acts, &m.w
	tw := &a.img
	B, T, W, P, PD := tw.B, tw.T, tw.W, v.Grid()*v.Grid(), v.PatchDim()
	N := B * T
	// conv1 as a matmul over patches, no bias
	be.MatmulForward(a.patchEmb, a.patches, w.vConv, ops.Tensor{}, B*P, PD, W)
	// [class; patches] + positions: the class token goes after the patch
	// rows, each token row is gathered from that table, and the position
	// rows are gathered and added, in 5 launches for any batch
	be.ResidualForward(a.patchTable.View(B*P*W, W), w.vCls, a.zeros.View(0, W))
	be.EmbeddingForward(tw.tmp, a.patchTable, m.vRows, N, W, B*P+1)
	be.EmbeddingForward(tw.rows, w.vPos, m.vPosIDs, N, W, T)
	be.ResidualLayerNormForward(tw.x0, tw.lnPre, tw.lnPreMean, tw.lnPreRstd, tw.tmp, tw.rows, ops.Tensor{}, w.vLnPreW, w.vLnPreB, B*T, W)
	x := tw.lnPre
	la, bw := &tw.layers[0], w.vBlocks[0]
	be.LayerNormForward(la.ln1, la.ln1Mean, la.ln1Rstd, x, bw.ln1w, bw.ln1b, N, W)
	for l := range w.vBlocks {
		m.blockForward(tw, l, x, w.vBlocks, false)
		x = tw.layers[l].res3
	}
	// ln_post on the class token (LayerNorm is per row, so normalising only
	// the pooled rows equals open_clip's ln_post-then-pool)
	be.EmbeddingForward(tw.poolIn, x, m.vPoolIDs, B, W, N)
	be.LayerNormForward(tw.pooled, tw.pooledMean, tw.pooledRstd, tw.poolIn, w.vLnPostW, w.vLnPostB, B, W)
	m.headForward(tw, w.vProj)
}

func (m *Model) textForward() {
	be, t, a, w := m.be, m.Cfg.Text, &m.acts, &m.w
	tw := &a.txt
	B, T, W := tw.B, tw.T, tw.W
	be.EmbeddingForward(a.tokEmb, w.tTok, m.ids, B*T, W, t.Vocab)
	be.EmbeddingForward(tw.rows, w.tPos, m.tPosIDs, B*T, W, T)
	la, bw := &tw.layers[0], w.tBlocks[0]
	be.ResidualLayerNormForward(tw.x0, la.ln1, la.ln1Mean, la.ln1Rstd, a.tokEmb, tw.rows, ops.Tensor{}, bw.ln1w, bw.ln1b, B*T, W)
	x := tw.x0
	for l := range w.tBlocks {
		m.blockForward(tw, l, x, w.tBlocks, true)
		x = tw.layers[l].res3
	}
	// ln_final on the end-of-text token (the argmax id), then pool
	be.EmbeddingForward(tw.poolIn, x, m.tPoolIDs, B, W, B*T)
	be.LayerNormForward(tw.pooled, tw.pooledMean, tw.pooledRstd, tw.poolIn, w.tLnFinalW, w.tLnFinalB, B, W)
	m.headForward(tw, w.tProj)
}

// headForward projects the pooled features and L2-normalises them.
func (m *Model) headForward(tw *tower, proj ops.Tensor) {
	m.be.ProjectForward(tw.feat, tw.pooled, proj, tw.B, tw.W, tw.E)
	m.be.NormalizeForward(tw.featN, tw.norm, tw.feat, tw.B, tw.E)
}

// blockForward is open_clip's ResidualAttentionBlock l (pre-LN):
// x + attn(ln_1(x)), then + mlp(ln_2(·)). On entry the layer's ln1 already
// holds ln_1(x): the caller, or the previous block, fused it with the
// residual add that made x. Likewise this block's closing residual add
// computes the next block's ln_1 in the same pass, and the one inside the
// block computes ln_2; the MLP's bias and activation follow its first GEMM
// in one pass, the residual adds also add the bias of the GEMM before them,
// and the attention adds the in-projection's (ops' fused forwards).
func (m *Model) blockForward(tw *tower, l int, x ops.Tensor, blocks []block, causal bool) {
	be, la, bw := m.be, &tw.layers[l], blocks[l]
	B, T, C, NH := tw.B, tw.T, tw.W, tw.NH
	N, H := B*T, la.fch.Len/(B*T)
	// in_proj without its bias: the attention adds it as it splits the heads
	be.MatmulForward(la.qkv, la.ln1, bw.qkvw, ops.Tensor{}, N, C, 3*C)
	be.AttentionForward(la.atty, tw.preatt, la.att, la.qkv, bw.qkvb, B, T, C, NH, causal)
	// out_proj without its bias: the residual add takes it (no pass of its own)
	be.MatmulForward(tw.tmp, la.atty, bw.attprojw, ops.Tensor{}, N, C, C)
	be.ResidualLayerNormForward(la.res2, la.ln2, la.ln2Mean, la.ln2Rstd, x, tw.tmp, bw.attprojb, bw.ln2w, bw.ln2b, N, C)
	be.MatmulActivationForward(la.fch, la.fchg, la.ln2, bw.fcw, bw.fcb, N, C, H, m.Cfg.Activation)
	if l+1 == len(blocks) {
		be.MatmulForward(tw.tmp, la.fchg, bw.fcprojw, bw.fcprojb, N, H, C)
		be.ResidualForward(la.res3, la.res2, tw.tmp)
		return
	}
	be.MatmulForward(tw.tmp, la.fchg, bw.fcprojw, ops.Tensor{}, N, H, C)
	next, nw := &tw.layers[l+1], blocks[l+1]
	be.ResidualLayerNormForward(la.res3, next.ln1, next.ln1Mean, next.ln1Rstd, la.res2, tw.tmp, bw.fcprojb, nw.ln1w, nw.ln1b, N, C)
}

// blockBackward adds the gradients of blockForward. On entry g.dres holds
// the gradient of the block's output; on return, that of its input x (the
// residual path is the identity, so both branches add into g.dres in place).
func (m *Model) blockBackward(tw *tower, g *towerGrads, l int, x ops.Tensor, bw, gw block, causal bool) {
	be, la := m.be, &tw.layers[l]
	B, T, C, NH := tw.B, tw.T, tw.W, tw.NH
	N, H := B*T, la.fch.Len/(B*T)
	be.Zero(g.layer)
	// MLP branch: res3 = res2 + c_proj(act(c_fc(ln_2(res2))))
	be.MatmulBackward(g.dfchg, gw.fcprojw, gw.fcprojb, g.dres, la.fchg, bw.fcprojw, N, H, C)
	be.ActivationBackward(g.dfch, la.fch, g.dfchg, m.Cfg.Activation)
	be.MatmulBackward(g.dln2, gw.fcw, gw.fcb, g.dfch, la.ln2, bw.fcw, N, C, H)
	be.LayerNormBackward(g.dres, gw.ln2w, gw.ln2b, g.dln2, la.res2, bw.ln2w, la.ln2Mean, la.ln2Rstd, N, C)
	// attention branch: res2 = x + out_proj(attn(in_proj(ln_1(x))))
	be.MatmulBackward(g.datty, gw.attprojw, gw.attprojb, g.dres, la.atty, bw.attprojw, N, C, C)
	be.AttentionBackward(g.dqkv, g.dpreatt, g.datt, g.datty, la.qkv, bw.qkvb, la.att, B, T, C, NH, causal)
	be.MatmulBackward(g.dln1, gw.qkvw, gw.qkvb, g.dqkv, la.ln1, bw.qkvw, N, C, 3*C)
	be.LayerNormBackward(g.dres, gw.ln1w, gw.ln1b, g.dln1, x, bw.ln1w, la.ln1Mean, la.ln1Rstd, N, C)
}

// Backward adds the gradient of the last Forward's loss into Grads (it
// does not zero them: see ZeroGrad). It uses the logits as scratch, so read
// Logits before calling it.
func (m *Model) Backward() error { return m.BackwardWhile(nil) }

// BackwardWhile is Backward that calls during (when not nil) once the
// backward's ops are queued and before it waits for them. On a backend
// whose ops return before they run (CUDA), the host work done there
// overlaps the backward on the device: the trainer takes the next batch
// from the loader and prefetches its pixels. On the CPU, during runs
// after the backward.
func (m *Model) BackwardWhile(during func()) error {
	if !m.forwardOK {
		return errors.New("model: Backward without a successful Forward")
	}
	m.forwardOK = false
	be, a, gs := m.be, &m.acts, &m.gs
	B, E := m.batch, m.Cfg.EmbedDim
	be.Zero(gs.head)
	be.ContrastiveBackward(gs.dimgN, gs.dtxtN, m.g.logitScale, a.img.featN, a.txt.featN, m.w.logitScale,
		a.logits, a.pr, a.pc, 1, B, E)
	m.textBackward()
	m.visionBackward()
	if during != nil {
		during()
	}
	if err := be.Err(); err != nil {
		return fmt.Errorf("model: backward: %w", err)
	}
	return nil
}

// headBackward: through the normalisation, the projection and the final
// LayerNorm of the pooled rows (rows[b] of the last block's output),
// scattering the gradient into g.dres.
func (m *Model) headBackward(tw *tower, g *towerGrads, dfeatN, dfeat, dpooled, proj, dproj, lnw, dlnw, dlnb ops.Tensor, rows []int32) {
	be := m.be
	B, W, E := tw.B, tw.W, tw.E
	be.NormalizeBackward(dfeat, dfeatN, tw.featN, tw.norm, B, E)
	be.ProjectBackward(dpooled, dproj, dfeat, tw.pooled, proj, B, W, E)
	be.Zero(g.dpool)
	be.LayerNormBackward(g.dpool, dlnw, dlnb, dpooled, tw.poolIn, lnw, tw.pooledMean, tw.pooledRstd, B, W)
	be.Zero(g.dres)
	be.EmbeddingBackward(g.dres, g.dpool, rows, B, W, B*tw.T)
}

func (m *Model) textBackward() {
	be, t, a, w, gw, gs := m.be, m.Cfg.Text, &m.acts, &m.w, &m.g, &m.gs
	tw, g := &a.txt, &gs.txt
	B, T, W, L := tw.B, tw.T, tw.W, len(w.tBlocks)
	m.headBackward(tw, g, gs.dtxtN, gs.dtxt, gs.dtxtPooled, w.tProj, gw.tProj, w.tLnFinalW, gw.tLnFinalW, gw.tLnFinalB, m.tPoolIDs)
	for l := L - 1; l >= 0; l-- {
		x := tw.x0
		if l > 0 {
			x = tw.layers[l-1].res3
		}
		m.blockBackward(tw, g, l, x, w.tBlocks[l], gw.tBlocks[l], true)
	}
	// x0 = token embedding + position rows (scattered back into tPos)
	be.Zero(g.dx0)
	be.Zero(g.dpatch)
	be.ResidualBackward(g.dx0, g.dpatch, g.dres)
	be.EmbeddingBackward(gw.tPos, g.dpatch, m.tPosIDs, B*T, W, T)
	be.EmbeddingBackward(gw.tTok, g.dx0, m.ids, B*T, W, t.Vocab)
}

func (m *Model) visionBackward() {
	be, v, a, w, gw, gs := m.be, m.Cfg.Vision, &m.acts, &m.w, &m.g, &m.gs
	tw, g := &a.img, &gs.img
	B, T, W, L := tw.B, tw.T, tw.W, len(w.vBlocks)
	P, PD := v.Grid()*v.Grid(), v.PatchDim()
	m.headBackward(tw, g, gs.dimgN, gs.dimg, gs.dimgPooled, w.vProj, gw.vProj, w.vLnPostW, gw.vLnPostW, gw.vLnPostB, m.vPoolIDs)
	for l := L - 1; l >= 0; l-- {
		x := tw.lnPre
		if l > 0 {
			x = tw.layers[l-1].res3
		}
		m.blockBackward(tw, g, l, x, w.vBlocks[l], gw.vBlocks[l], false)
	}
	be.Zero(g.dx0)
	be.LayerNormBackward(g.dx0, gw.vLnPreW, gw.vLnPreB, g.dres, tw.x0, w.vLnPreW, tw.lnPreMean, tw.lnPreRstd, B*T, W)
	// x0 = gathered [class; patch] rows + gathered position rows: both
	// gradients are dx0, scattered back into the tables
	N := B * T
	be.Zero(g.dpatch)
	be.Zero(g.dres)
	be.ResidualBackward(g.dpatch, g.dres, g.dx0)
	be.EmbeddingBackward(gw.vPos, g.dres, m.vPosIDs, N, W, T)
	dtable := g.dx0.View(0, (B*P+1)*W) // N ≥ B·P+1 rows; dx0 is no longer needed
	be.Zero(dtable)
	be.EmbeddingBackward(dtable, g.dpatch, m.vRows, N, W, B*P+1)
	be.ResidualBackward(gw.vCls, g.dres.View(0, W), dtable.View(B*P*W, W)) // g.dres is scratch by now
	be.MatmulBackward(ops.Tensor{}, gw.vConv, ops.Tensor{}, dtable.View(0, B*P*W), a.patches, w.vConv, B*P, PD, W)
}

// download copies t to a new host slice.
func (m *Model) download(t ops.Tensor) []float32 {
	out := make([]float32, t.Len)
	m.be.Download(out, t)
	return out
}

// ImageEmbeddings returns the last Forward's normalised image features [B,E].
func (m *Model) ImageEmbeddings() []float32 { return m.download(m.acts.img.featN) }

// TextEmbeddings returns the last Forward's normalised text features [B,E].
func (m *Model) TextEmbeddings() []float32 { return m.download(m.acts.txt.featN) }

// Logits returns the image→text logits [B,B] of the last Forward
// (exp(logit_scale)·img·txtᵀ; text→image is the transpose). Backward
// overwrites them.
func (m *Model) Logits() []float32 { return m.download(m.acts.logits) }
