package loader

import "math/bits"

// rng is SplitMix64 (Steele, Lea, Flood 2014): a 64-bit state advanced by a
// fixed odd constant and finalised by a bijective mixer. It is defined here,
// not taken from math/rand, so that every order and every crop the loader
// makes is the same on every Go version and platform: the state of a run is
// portable across builds. Quality is ample for shuffling and augmentation
// (it passes BigCrush); it is not for cryptography.
type rng struct{ s uint64 }

const golden = 0x9e3779b97f4a7c15

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// seedOf derives a stream seed from a domain tag and integers, so that
// streams for different purposes (shard permutation, block shuffle,
// augmentation of sample i) never overlap in a predictable way.
func seedOf(domain uint64, vals ...uint64) uint64 {
	h := mix64(domain ^ golden)
	for _, v := range vals {
		h = mix64(h ^ mix64(v+golden))
	}
	return h
}

// Domain tags (arbitrary distinct constants).
const (
	domMix   = 0x6d6978 // "mix": which shards a fractional weight picks
	domShard = 0x7368   // "sh": shard permutation of an epoch
	domBlock = 0x626c6b // "blk": sample shuffle inside a block
	domAug   = 0x617567 // "aug": augmentation of one sample
)

func newRNG(seed uint64) *rng { return &rng{s: seed} }

func (r *rng) uint64() uint64 {
	r.s += golden
	return mix64(r.s)
}

// intn returns a uniform integer in [0, n) for n > 0 (Lemire's method with
// rejection, so there is no modulo bias).
func (r *rng) intn(n uint64) uint64 {
	hi, lo := bits.Mul64(r.uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(r.uint64(), n)
		}
	}
	return hi
}

// float64 returns a uniform float64 in [0, 1) with 53 random bits.
func (r *rng) float64() float64 {
	return float64(r.uint64()>>11) * (1.0 / (1 << 53))
}

// uniform returns a uniform float64 in [lo, hi).
func (r *rng) uniform(lo, hi float64) float64 { return lo + (hi-lo)*r.float64() }

// shuffleInt32 is a Fisher-Yates shuffle.
func (r *rng) shuffleInt32(a []int32) {
	for i := len(a) - 1; i > 0; i-- {
		j := r.intn(uint64(i + 1))
		a[i], a[j] = a[j], a[i]
	}
}

func (r *rng) shuffleInt(a []int) {
	for i := len(a) - 1; i > 0; i-- {
		j := r.intn(uint64(i + 1))
		a[i], a[j] = a[j], a[i]
	}
}
