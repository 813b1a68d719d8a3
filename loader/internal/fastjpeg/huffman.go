package fastjpeg

// lutBits is the lookahead of the decoding tables: codes of up to this
// many bits decode with one lookup.
const lutBits = 10

// huffTable is one Huffman table, ready for decoding.
type huffTable struct {
	// lut, indexed by the next lutBits bits: code length << 8 | symbol,
	// or 0 when the code is longer.
	lut [1 << lutBits]uint16
	// fastAC (AC tables only), indexed likewise: value << 8 | run << 4 |
	// code length + value bits, when a code and the value bits after it
	// fit in lutBits and the value in an int8; else 0.
	fastAC [1 << lutBits]int16
	// For longer codes (F.2.2.3): maxcode[l] is the largest code of
	// length l (-1 if none) and valptr[l] the index in vals of length l's
	// first code minus that code.
	maxcode [17]int32
	valptr  [17]int32
	vals    [256]uint8
}

// build derives the tables from a DHT segment's counts (counts[l] codes
// of length l) and symbols.
func (h *huffTable) build(counts *[17]int, syms []byte, ac bool) error {
	copy(h.vals[:], syms)
	clear(h.lut[:])
	clear(h.fastAC[:])
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l])
		if n == 0 {
			h.maxcode[l] = -1
		} else {
			h.valptr[l] = k - code
			h.maxcode[l] = code + n - 1
		}
		for range n {
			if code >= 1<<l {
				return FormatError("bad Huffman table")
			}
			if l <= lutBits {
				sym := syms[k]
				shift := lutBits - l
				for j := range int32(1) << shift {
					h.lut[code<<shift|j] = uint16(l)<<8 | uint16(sym)
				}
			}
			code++
			k++
		}
		code <<= 1
	}
	if !ac {
		return nil
	}
	for i := range h.lut {
		e := h.lut[i]
		if e == 0 {
			continue
		}
		l, rs := int(e>>8), int(e&0xff)
		run, mag := rs>>4, rs&15
		if mag == 0 || l+mag > lutBits {
			continue
		}
		v := int32((i << l) & (1<<lutBits - 1) >> (lutBits - mag))
		if v < 1<<(mag-1) {
			v += 1 - 1<<mag
		}
		if v >= -128 && v <= 127 {
			h.fastAC[i] = int16(v*256 + int32(run*16) + int32(l+mag))
		}
	}
	return nil
}

// slow decodes a code longer than lutBits from the top of acc, returning
// its symbol and length, or length 0 for a code the table lacks.
func (h *huffTable) slow(acc uint64) (uint8, uint) {
	code := int32(acc >> 48)
	for l := lutBits + 1; l <= 16; l++ {
		c := code >> (16 - l)
		if c <= h.maxcode[l] {
			i := c + h.valptr[l]
			if i < 0 || i > 255 {
				return 0, 0
			}
			return h.vals[i], uint(l)
		}
	}
	return 0, 0
}
