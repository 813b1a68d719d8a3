package dedup

import (
	"fmt"
	"math/bits"
)

// Multi-index hashing with sub-radius search (Norouzi, Punjani and Fleet,
// "Fast Search in Hamming Space with Multi-Index Hashing", CVPR 2012).
//
// The stored hashes are split into m bands. Write the query radius as
// r = s·m + a with 0 ≤ a < m. If a stored hash g is within r of the query
// h, then one of the first a+1 bands of g is within s of h's, or one of the
// other m-a-1 bands is within s-1: otherwise the distance would be at least
// (a+1)(s+1) + (m-a-1)s = r+1. So a query enumerates, for each band, every
// value within that sub-radius of its own (the probes), seeks to each
// value's bucket, and checks each hash found by popcount. The search is
// exact for any m; m = r+1 is classic pigeonhole MIH (one probe per band),
// which is what layout version 1 did.
//
// Fewer, longer bands mean more probes and far fewer candidates: a bucket
// holds about n/2^(64/m) hashes. With n in the millions, 3 or 4 bands
// balance the two (bench/RESULTS.md).

// maxProbes bounds the probes one query may make (ErrBadOptions above it).
const maxProbes = 1 << 14

// autoBands is the number of bands an index built for radius r gets when
// Options.NearBands is 0: r+1 up to radius 2 (bands of 21 bits or more,
// one probe each), then 3 bands of 21–22 bits. A probe (one Badger seek)
// costs about as much as ten candidates, so at 10M stored hashes 3 bands
// beat 4 or 5 at radius 3 to 10, and they keep a query's cost nearly flat
// in n (bench/RESULTS.md).
func autoBands(r int) int { return min(r+1, 3) }

// subRadii returns, for a query radius r over m bands, the sub-radius each
// band is searched with; -1 means the band need not be searched.
func subRadii(r, m int) []int {
	s, a := r/m, r%m
	out := make([]int, m)
	for i := range out {
		if i <= a {
			out[i] = s
		} else {
			out[i] = s - 1
		}
	}
	return out
}

// probeMasks returns, per band, the masks XORed into the query's band value
// to get the values to look up: every mask of the band's width with at most
// the band's sub-radius bits set, the zero mask first.
func probeMasks(bs []band, r int) [][]uint64 {
	subs := subRadii(r, len(bs))
	out := make([][]uint64, len(bs))
	for i, b := range bs {
		out[i] = masksUpTo(b.n, subs[i])
	}
	return out
}

// masksUpTo lists the n-bit masks with at most k bits set, by weight.
func masksUpTo(n uint, k int) []uint64 {
	var out []uint64
	for w := 0; w <= k && w <= int(n); w++ {
		if w == 0 {
			out = append(out, 0)
			continue
		}
		// Gosper's hack: the w-bit masks of n bits in increasing order.
		m := uint64(1)<<w - 1
		for bits.Len64(m) <= int(n) {
			out = append(out, m)
			c := m & -m
			r := m + c
			if r == 0 { // the top w of 64 bits: the last mask
				break
			}
			m = (((r ^ m) >> 2) / c) | r
		}
	}
	return out
}

// countProbes is the number of bucket lookups one query at radius r makes
// over m bands, without building the masks.
func countProbes(r, m int) int {
	bs := splitBands(m)
	total := 0
	for i, s := range subRadii(r, m) {
		for w := 0; w <= s; w++ {
			total += binomial(int(bs[i].n), w)
			if total > maxProbes {
				return total
			}
		}
	}
	return total
}

func binomial(n, k int) int {
	if k < 0 || k > n {
		return 0
	}
	c := 1
	for i := range k {
		c = c * (n - i) / (i + 1)
	}
	return c
}

// checkBands validates a band count for an index built for radius r.
func checkBands(m, r int) error {
	if m < 1 || m > 64 {
		return fmt.Errorf("%w: NearBands %d not in 1..64", ErrBadOptions, m)
	}
	if p := countProbes(r, m); p > maxProbes {
		return fmt.Errorf("%w: NearBands %d at radius %d needs %d probes per query, more than %d",
			ErrBadOptions, m, r, p, maxProbes)
	}
	return nil
}

// lockKey is what the lock stripe of h's band i is derived from: the band
// index and the band's bits. Locks use the r+1 pigeonhole bands of the
// query radius (not the stored layout), so two hashes within the radius
// agree on one of them and their Checks share a stripe.
func lockKey(dst []byte, i int, b band, h PHash) []byte {
	dst = append(dst[:0], famMIH, 'L', byte(i))
	v := b.sub(h)
	for range 8 {
		dst = append(dst, byte(v))
		v >>= 8
	}
	return dst
}
