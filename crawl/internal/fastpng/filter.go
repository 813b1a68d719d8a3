package fastpng

import "encoding/binary"

// Filter types, as per the PNG spec.
const (
	ftNone    = 0
	ftSub     = 1
	ftUp      = 2
	ftAverage = 3
	ftPaeth   = 4
)

// unfilter reverses filter ft on the row cdat in place; pdat is the previous
// row, already unfiltered (zeros for the first row), and bpp the bytes per
// complete pixel (at least 1). The results are those of the PNG spec's
// definitions, byte for byte.
func unfilter(ft byte, cdat, pdat []byte, bpp int) error {
	pdat = pdat[:len(cdat)]
	// kind selects the unrolled loops; 0 is byte at a time, the only loop
	// that handles a partial last pixel (no PNG row of bpp ≥ 2 has one).
	kind := bpp
	if len(cdat)%bpp != 0 {
		kind = 0
	}
	switch ft {
	case ftNone:
	case ftSub:
		unfilterSub(cdat, bpp, kind)
	case ftUp:
		unfilterUp(cdat, pdat)
	case ftAverage:
		unfilterAverage(cdat, pdat, bpp, kind)
	case ftPaeth:
		unfilterPaeth(cdat, pdat, bpp, kind)
	default:
		return FormatError("bad filter type")
	}
	return nil
}

// add8 adds the bytes of x and y lane by lane (mod 256 in each byte, no
// carry between lanes).
func add8(x, y uint64) uint64 {
	const hi = 0x8080808080808080
	return ((x &^ hi) + (y &^ hi)) ^ ((x ^ y) & hi)
}

// avg8 is (x+y)>>1 lane by lane, without overflow.
func avg8(x, y uint64) uint64 {
	return (x & y) + ((x ^ y) & 0xfefefefefefefefe >> 1)
}

func unfilterSub(cdat []byte, bpp, kind int) {
	switch kind {
	case 4:
		if len(cdat) < 4 {
			return
		}
		a := uint64(binary.LittleEndian.Uint32(cdat))
		for i := 4; i+4 <= len(cdat); i += 4 {
			a = add8(uint64(binary.LittleEndian.Uint32(cdat[i:])), a)
			binary.LittleEndian.PutUint32(cdat[i:], uint32(a))
		}
	case 8:
		if len(cdat) < 8 {
			return
		}
		a := binary.LittleEndian.Uint64(cdat)
		for i := 8; i+8 <= len(cdat); i += 8 {
			a = add8(binary.LittleEndian.Uint64(cdat[i:]), a)
			binary.LittleEndian.PutUint64(cdat[i:], a)
		}
	case 3:
		if len(cdat) < 3 {
			return
		}
		a0, a1, a2 := cdat[0], cdat[1], cdat[2]
		for i := 3; i+3 <= len(cdat); i += 3 {
			c := cdat[i : i+3 : i+3]
			a0 += c[0]
			a1 += c[1]
			a2 += c[2]
			c[0], c[1], c[2] = a0, a1, a2
		}
	default:
		for i := bpp; i < len(cdat); i++ {
			cdat[i] += cdat[i-bpp]
		}
	}
}

func unfilterUp(cdat, pdat []byte) {
	i := 0
	for ; i+8 <= len(cdat); i += 8 {
		v := add8(binary.LittleEndian.Uint64(cdat[i:]), binary.LittleEndian.Uint64(pdat[i:]))
		binary.LittleEndian.PutUint64(cdat[i:], v)
	}
	for ; i < len(cdat); i++ {
		cdat[i] += pdat[i]
	}
}

func unfilterAverage(cdat, pdat []byte, bpp, kind int) {
	n := min(bpp, len(cdat))
	for i := 0; i < n; i++ {
		cdat[i] += pdat[i] / 2
	}
	switch kind {
	case 4:
		if len(cdat) < 4 {
			return
		}
		a := uint64(binary.LittleEndian.Uint32(cdat))
		for i := 4; i+4 <= len(cdat); i += 4 {
			b := uint64(binary.LittleEndian.Uint32(pdat[i:]))
			a = add8(uint64(binary.LittleEndian.Uint32(cdat[i:])), avg8(a, b))
			binary.LittleEndian.PutUint32(cdat[i:], uint32(a))
		}
	case 8:
		if len(cdat) < 8 {
			return
		}
		a := binary.LittleEndian.Uint64(cdat)
		for i := 8; i+8 <= len(cdat); i += 8 {
			a = add8(binary.LittleEndian.Uint64(cdat[i:]), avg8(a, binary.LittleEndian.Uint64(pdat[i:])))
			binary.LittleEndian.PutUint64(cdat[i:], a)
		}
	case 3:
		if len(cdat) < 3 {
			return
		}
		a0, a1, a2 := uint(cdat[0]), uint(cdat[1]), uint(cdat[2])
		for i := 3; i+3 <= len(cdat); i += 3 {
			c, p := cdat[i:i+3:i+3], pdat[i:i+3:i+3]
			a0 = uint(c[0]+uint8((a0+uint(p[0]))>>1)) & 0xff
			a1 = uint(c[1]+uint8((a1+uint(p[1]))>>1)) & 0xff
			a2 = uint(c[2]+uint8((a2+uint(p[2]))>>1)) & 0xff
			c[0], c[1], c[2] = uint8(a0), uint8(a1), uint8(a2)
		}
	default:
		for i := bpp; i < len(cdat); i++ {
			cdat[i] += uint8((uint(cdat[i-bpp]) + uint(pdat[i])) >> 1)
		}
	}
}

// abs is |x| without a branch.
func abs(x int) int {
	m := x >> 63
	return (x ^ m) - m
}

// paeth is the Paeth predictor of the PNG spec for left a, up b and up-left
// c, written so that it inlines and the compiler uses conditional moves: the
// choice between a, b and c is data-dependent and unpredictable, and a
// mispredicted branch costs more than computing all three distances. With
// p = a + b - c: |p-a| = |b-c|, |p-b| = |a-c|, |p-c| = |(a-c) + (b-c)|.
func paeth(a, b, c int) int {
	pa, pb, pc := b-c, a-c, a+b-2*c
	if pa < 0 {
		pa = -pa
	}
	if pb < 0 {
		pb = -pb
	}
	if pc < 0 {
		pc = -pc
	}
	if pb <= pc {
		c = b
	}
	if pa <= min(pb, pc) {
		c = a
	}
	return c
}

func unfilterPaeth(cdat, pdat []byte, bpp, kind int) {
	// The first pixel has no left or up-left neighbour: the predictor is the
	// byte above.
	n := min(bpp, len(cdat))
	for i := 0; i < n; i++ {
		cdat[i] += pdat[i]
	}
	switch kind {
	case 4:
		if len(cdat) < 4 {
			return
		}
		// The four channels are independent chains; interleaving them lets
		// the CPU overlap their latencies. Only the left bytes are carried:
		// up-left is loaded again, which keeps everything in registers.
		a0, a1, a2, a3 := cdat[0], cdat[1], cdat[2], cdat[3]
		for i := 4; i+4 <= len(cdat); i += 4 {
			c, b, u := cdat[i:i+4:i+4], pdat[i:i+4:i+4], pdat[i-4:i:i]
			a0 = c[0] + uint8(paeth(int(a0), int(b[0]), int(u[0])))
			a1 = c[1] + uint8(paeth(int(a1), int(b[1]), int(u[1])))
			a2 = c[2] + uint8(paeth(int(a2), int(b[2]), int(u[2])))
			a3 = c[3] + uint8(paeth(int(a3), int(b[3]), int(u[3])))
			c[0], c[1], c[2], c[3] = a0, a1, a2, a3
		}
	case 3:
		if len(cdat) < 3 {
			return
		}
		a0, a1, a2 := cdat[0], cdat[1], cdat[2]
		for i := 3; i+3 <= len(cdat); i += 3 {
			c, b, u := cdat[i:i+3:i+3], pdat[i:i+3:i+3], pdat[i-3:i:i]
			a0 = c[0] + uint8(paeth(int(a0), int(b[0]), int(u[0])))
			a1 = c[1] + uint8(paeth(int(a1), int(b[1]), int(u[1])))
			a2 = c[2] + uint8(paeth(int(a2), int(b[2]), int(u[2])))
			c[0], c[1], c[2] = a0, a1, a2
		}
	default:
		for i := bpp; i < len(cdat); i++ {
			cdat[i] += uint8(paeth(int(cdat[i-bpp]), int(pdat[i]), int(pdat[i-bpp])))
		}
	}
}

// adler32 updates the zlib checksum s with p. Within one block of at most
// nmax bytes the sums cannot overflow 32 bits (zlib's bound); in a run of 8
// bytes x0…x7, s2 grows by 8·s1 + 8·x0 + 7·x1 + … + 1·x7 and s1 by their
// sum, which is what adding them one at a time gives.
func adler32(s uint32, p []byte) uint32 {
	const (
		mod  = 65521
		nmax = 5552
	)
	s1, s2 := s&0xffff, s>>16
	for len(p) > 0 {
		q := p
		if len(q) > nmax {
			q = q[:nmax]
		}
		p = p[len(q):]
		for len(q) >= 8 {
			v := q[:8:8]
			x0, x1, x2, x3 := uint32(v[0]), uint32(v[1]), uint32(v[2]), uint32(v[3])
			x4, x5, x6, x7 := uint32(v[4]), uint32(v[5]), uint32(v[6]), uint32(v[7])
			s2 += 8*s1 + 8*x0 + 7*x1 + 6*x2 + 5*x3 + 4*x4 + 3*x5 + 2*x6 + x7
			s1 += x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7
			q = q[8:]
		}
		for _, x := range q {
			s1 += uint32(x)
			s2 += s1
		}
		s1 %= mod
		s2 %= mod
	}
	return s2<<16 | s1
}
