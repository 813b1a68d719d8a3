package loader

import (
	"fmt"
	"slices"
	"testing"
)

// SplitMix64's published reference outputs for seed 0: the generator, and
// with it every order and crop, must not change across Go versions.
func TestRNGReference(t *testing.T) {
	r := newRNG(0)
	want := []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f}
	for i, w := range want {
		if got := r.uint64(); got != w {
			t.Fatalf("output %d: %#x, want %#x", i, got, w)
		}
	}
	r = newRNG(1)
	for range 10000 {
		if v := r.intn(7); v >= 7 {
			t.Fatalf("intn(7) = %d", v)
		}
		if f := r.float64(); f < 0 || f >= 1 {
			t.Fatalf("float64() = %v", f)
		}
	}
}

// The order for fixed inputs, written down: a change here breaks the
// resumption of every saved run and must be deliberate.
func TestOrderGolden(t *testing.T) {
	o, err := NewOrder(42, 3, []SourceCounts{{Weight: 1, Counts: []int{3, 2, 4}}, {Weight: 1, Counts: []int{2, 2}}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range o.Len() {
		r := o.At(i)
		got = append(got, fmt.Sprintf("%d.%d", r.Shard, r.Sample))
	}
	want := goldenOrder
	if fmt.Sprint(got) != want {
		t.Fatalf("order changed:\n got %v\nwant %s", got, want)
	}
}

const goldenOrder = "[2.0 2.1 4.0 2.2 2.3 4.1 1.0 0.2 0.1 0.0 1.1 3.0 3.1]"

func TestOrderIsPermutationInBlocks(t *testing.T) {
	counts := []int{7, 5, 9, 3, 8, 6, 7, 5, 1, 2, 10}
	for _, bs := range []int{1, 2, 3, 4, 11, 20} {
		for epoch := range 3 {
			o, err := NewOrder(1, epoch, []SourceCounts{{Weight: 1, Counts: counts}}, bs)
			if err != nil {
				t.Fatal(err)
			}
			if o.Len() != 63 {
				t.Fatalf("len %d", o.Len())
			}
			seen := map[SampleRef]bool{}
			for i := range o.Len() {
				r := o.At(i)
				if seen[r] || r.Sample >= counts[r.Shard] {
					t.Fatalf("block %d epoch %d: %v twice or out of range", bs, epoch, r)
				}
				seen[r] = true
				if !slices.Contains(o.blockSlots(o.blockOf(i)), r.Shard) {
					t.Fatalf("index %d from shard %d outside its block", i, r.Shard)
				}
			}
			// Same inputs, same order; random access equals a scan.
			o2, _ := NewOrder(1, epoch, []SourceCounts{{Weight: 1, Counts: counts}}, bs)
			for i := o.Len() - 1; i >= 0; i -= 5 {
				if o2.At(i) != o.At(i) {
					t.Fatalf("index %d differs between equal orders", i)
				}
			}
		}
	}
}

func TestOrderWeights(t *testing.T) {
	srcs := []SourceCounts{{Weight: 0, Counts: []int{4, 4}}, {Weight: 2.5, Counts: []int{1, 2, 3, 4}}}
	picked := map[string]bool{}
	for epoch := range 8 {
		o, err := NewOrder(3, epoch, srcs, 3)
		if err != nil {
			t.Fatal(err)
		}
		n := map[int]int{}
		for _, s := range o.Slots() {
			n[s]++
		}
		if n[0]+n[1] != 0 {
			t.Fatal("weight 0 source in the order")
		}
		extra := 0
		for s := 2; s < 6; s++ {
			if n[s] < 2 || n[s] > 3 {
				t.Fatalf("shard %d in %d slots", s, n[s])
			}
			extra += n[s] - 2
		}
		if extra != 2 {
			t.Fatalf("%d extra slots, want 2 (half of 4)", extra)
		}
		picked[fmt.Sprint(n)] = true
	}
	if len(picked) < 2 {
		t.Fatal("the fractional weight picks the same shards every epoch")
	}
	if _, err := NewOrder(1, 0, []SourceCounts{{Weight: 0, Counts: []int{3}}}, 1); err != ErrEmpty {
		t.Fatalf("no slots: %v", err)
	}
}

// TestRankPlan checks the rank split arithmetic exhaustively on small
// cases: every rank takes the same number of steps; indices i ≡ rank
// (mod world); the union over ranks is [start, N) (TailShort) or the whole
// steps of it (TailDrop), each index once.
func TestRankPlan(t *testing.T) {
	for n := int64(0); n <= 30; n++ {
		for world := 1; world <= 4; world++ {
			for batch := 1; batch <= 4; batch++ {
				for start := int64(0); start <= n; start++ {
					for _, tail := range []TailPolicy{TailShort, TailDrop} {
						checkRankPlan(t, n, start, world, batch, tail)
					}
				}
			}
		}
	}
}

func checkRankPlan(t *testing.T, n, start int64, world, batch int, tail TailPolicy) {
	t.Helper()
	seen := map[int64]int{}
	var steps int64 = -1
	var end int64
	for rank := range world {
		p := newRankPlan(n, start, world, rank, batch, tail)
		if steps >= 0 && p.steps != steps {
			t.Fatalf("n %d start %d world %d batch %d: ranks take %d and %d steps", n, start, world, batch, steps, p.steps)
		}
		steps, end = p.steps, p.end()
		for k := range p.steps {
			_, hi, first := p.step(k)
			rows := 0
			for i := first; i < hi; i += int64(world) {
				if i%int64(world) != int64(rank) {
					t.Fatalf("rank %d got %d", rank, i)
				}
				seen[i]++
				rows++
			}
			if rows > batch || (tail == TailDrop && rows != batch) {
				t.Fatalf("n %d start %d world %d batch %d tail %d: step %d has %d rows", n, start, world, batch, tail, k, rows)
			}
		}
	}
	want := n
	if tail == TailDrop {
		want = start + (n-start)/int64(world*batch)*int64(world*batch)
	}
	if end != want && steps > 0 {
		t.Fatalf("end %d, want %d", end, want)
	}
	for i := start; i < want; i++ {
		if seen[i] != 1 {
			t.Fatalf("n %d start %d world %d batch %d tail %d: index %d seen %d times", n, start, world, batch, tail, i, seen[i])
		}
	}
	if int64(len(seen)) != want-start {
		t.Fatalf("%d indices seen, want %d", len(seen), want-start)
	}
}
