package loader

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// ErrEmpty: the sources hold no committed sample (after weights).
var ErrEmpty = errors.New("loader: no samples")

// SourceCounts is what the epoch order needs of one source: its weight and
// the sample count of each committed shard, in sidecar-name order.
type SourceCounts struct {
	Weight float64
	Counts []int
}

// SampleRef names one sample: the shard (an index into the flat shard table,
// sources in order, each source's shards in name order) and the sample's
// position in that shard.
type SampleRef struct {
	Shard  int
	Sample int
}

// Order is the sample order of one epoch, a pure function of
// (seed, epoch, the sources' shard lists and weights, block size):
//
//  1. Slots. Each source contributes floor(w) copies of each of its shards
//     plus, for the fractional part of its weight w, the first
//     round(frac(w)·n) shards of a permutation of its n shards seeded by
//     (seed, epoch, source). Weight 1 is every shard once; 2 is every shard
//     twice; 0.5 is a different half of the shards each epoch.
//  2. The slots are permuted (Fisher-Yates, seeded by (seed, epoch)).
//  3. Consecutive runs of blockShards slots form blocks; the samples of a
//     block are shuffled together (seeded by (seed, epoch, block)), and the
//     epoch's global sequence is block 0's samples, then block 1's, and so
//     on. A block is what must be in memory at once, so blockShards bounds
//     memory and sets how far apart two samples of one shard can land.
//
// Global index i of the sequence is found without replaying anything: a
// binary search over block boundaries and one block permutation.
type Order struct {
	seed        uint64
	epoch       int
	blockShards int
	counts      []int   // samples per shard of the flat table
	slots       []int   // flat shard index per slot, in epoch order
	blockLo     []int64 // first global index of each block; last entry = Len

	cachedBlock int
	cachedPerm  []int32
	cachedPre   []int64
}

// NewOrder computes the order of one epoch.
func NewOrder(seed uint64, epoch int, sources []SourceCounts, blockShards int) (*Order, error) {
	if blockShards <= 0 {
		return nil, fmt.Errorf("loader: block size %d shards: want at least 1", blockShards)
	}
	if epoch < 0 {
		return nil, fmt.Errorf("loader: epoch %d is negative", epoch)
	}
	o := &Order{seed: seed, epoch: epoch, blockShards: blockShards, cachedBlock: -1}
	base := 0
	for d, src := range sources {
		w := src.Weight
		if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
			return nil, fmt.Errorf("loader: source %d: weight %v: want a finite number >= 0", d, w)
		}
		n := len(src.Counts)
		for _, c := range src.Counts {
			if c <= 0 {
				return nil, fmt.Errorf("loader: source %d: shard with %d samples", d, c)
			}
		}
		o.counts = append(o.counts, src.Counts...)
		reps := int(math.Floor(w))
		for range reps {
			for s := range n {
				o.slots = append(o.slots, base+s)
			}
		}
		if extra := int(math.Round((w - float64(reps)) * float64(n))); extra > 0 {
			pick := make([]int, n)
			for s := range pick {
				pick[s] = s
			}
			newRNG(seedOf(domMix, seed, uint64(epoch), uint64(d))).shuffleInt(pick)
			for _, s := range pick[:extra] {
				o.slots = append(o.slots, base+s)
			}
		}
		base += n
	}
	if len(o.slots) == 0 {
		return nil, ErrEmpty
	}
	newRNG(seedOf(domShard, seed, uint64(epoch))).shuffleInt(o.slots)
	nb := (len(o.slots) + blockShards - 1) / blockShards
	o.blockLo = make([]int64, nb+1)
	var total int64
	for b := range nb {
		o.blockLo[b] = total
		for _, sh := range o.blockSlots(b) {
			total += int64(o.counts[sh])
		}
	}
	o.blockLo[nb] = total
	return o, nil
}

// Len is the number of samples in the epoch.
func (o *Order) Len() int64 { return o.blockLo[len(o.blockLo)-1] }

// Blocks is the number of blocks.
func (o *Order) Blocks() int { return len(o.blockLo) - 1 }

// Slots is the epoch's shard order (flat shard indices; a shard appears
// once per copy its weight gives it).
func (o *Order) Slots() []int { return o.slots }

// blockSlots are the flat shard indices of block b, in slot order.
func (o *Order) blockSlots(b int) []int {
	lo := b * o.blockShards
	return o.slots[lo:min(lo+o.blockShards, len(o.slots))]
}

// blockRange is block b's half-open range of global indices.
func (o *Order) blockRange(b int) (lo, hi int64) { return o.blockLo[b], o.blockLo[b+1] }

// blockOf is the block holding global index i (0 <= i < Len).
func (o *Order) blockOf(i int64) int {
	return sort.Search(len(o.blockLo)-1, func(b int) bool { return o.blockLo[b+1] > i })
}

// blockPlan returns block b's permutation (local position → local sample
// number) and the prefix sums of its slots' sample counts.
func (o *Order) blockPlan(b int) (perm []int32, pre []int64) {
	slots := o.blockSlots(b)
	pre = make([]int64, len(slots)+1)
	for k, sh := range slots {
		pre[k+1] = pre[k] + int64(o.counts[sh])
	}
	perm = make([]int32, pre[len(slots)])
	for j := range perm {
		perm[j] = int32(j)
	}
	newRNG(seedOf(domBlock, o.seed, uint64(o.epoch), uint64(b))).shuffleInt32(perm)
	return perm, pre
}

// locate turns a local sample number of a block into (slot in block,
// sample in shard).
func locate(pre []int64, v int32) (slot, sample int) {
	k := sort.Search(len(pre)-1, func(k int) bool { return pre[k+1] > int64(v) })
	return k, int(int64(v) - pre[k])
}

// At is the sample at global index i of the epoch. It keeps the last
// block's permutation, so a sequential scan costs O(1) per sample plus one
// permutation per block. It is not safe for concurrent use.
func (o *Order) At(i int64) SampleRef {
	if i < 0 || i >= o.Len() {
		panic(fmt.Sprintf("loader: index %d out of range [0, %d)", i, o.Len()))
	}
	b := o.blockOf(i)
	if b != o.cachedBlock {
		o.cachedPerm, o.cachedPre = o.blockPlan(b)
		o.cachedBlock = b
	}
	k, s := locate(o.cachedPre, o.cachedPerm[i-o.blockLo[b]])
	return SampleRef{Shard: o.blockSlots(b)[k], Sample: s}
}

// TailPolicy says what happens to the last global step of an epoch when the
// samples left are fewer than World × BatchSize.
type TailPolicy int

const (
	// TailShort (the default) delivers the last step with short batches:
	// every rank still takes the indices i ≡ rank (mod World) of the step,
	// so each rank gets ⌈or⌊ R/World samples (R left), possibly 0 when
	// R < World. All ranks take the same number of steps, and every sample
	// of the epoch is delivered exactly once across ranks.
	TailShort TailPolicy = iota
	// TailDrop drops the last partial step, as drop_last does: every
	// delivered batch is full (but for skipped samples); the up to
	// World×BatchSize−1 samples at the end of the epoch's order are not
	// seen this epoch (a different tail each epoch, since the order
	// changes).
	TailDrop
)

// rankPlan is one rank's walk over an epoch from a global position.
type rankPlan struct {
	n          int64 // epoch length
	start      int64 // global position resumed from
	world      int64
	rank       int64
	batch      int64
	steps      int64 // steps this walk takes
	stepGlobal int64 // world × batch
}

func newRankPlan(n, start int64, world, rank, batch int, tail TailPolicy) rankPlan {
	p := rankPlan{n: n, start: start, world: int64(world), rank: int64(rank), batch: int64(batch)}
	p.stepGlobal = p.world * p.batch
	left := max(n-start, 0)
	if tail == TailDrop {
		p.steps = left / p.stepGlobal
	} else {
		p.steps = (left + p.stepGlobal - 1) / p.stepGlobal
	}
	return p
}

// step returns step k's global range [lo, hi) and the rank's first index in
// it (indices first, first+world, ... < hi belong to the rank).
func (p rankPlan) step(k int64) (lo, hi, first int64) {
	lo = p.start + k*p.stepGlobal
	hi = min(lo+p.stepGlobal, p.n)
	first = lo + ((p.rank-lo%p.world)%p.world+p.world)%p.world
	return lo, hi, first
}

// end is the global position after the walk's last step.
func (p rankPlan) end() int64 {
	if p.steps == 0 {
		return p.start
	}
	_, hi, _ := p.step(p.steps - 1)
	return hi
}
