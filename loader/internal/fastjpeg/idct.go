package fastjpeg

// Fixed-point constants of the inverse DCT: round(x·4096) as stb_image
// computes them.
const (
	f0541  = 2217   // 0.5411961
	fm1847 = -7567  // -1.847759065
	f0765  = 3135   // 0.765366865
	f1175  = 4816   // 1.175875602
	f0298  = 1223   // 0.298631336
	f2053  = 8410   // 2.053119869
	f3072  = 12586  // 3.072711026
	f1501  = 6149   // 1.501321110
	fm0899 = -3685  // -0.899976223
	fm2562 = -10497 // -2.562915447
	fm1961 = -8034  // -1.961570560
	fm0390 = -1597  // -0.390180644
)

// idct writes the inverse DCT of blk (dequantised, natural order) as
// 8×8 samples at dst with the given stride, and zeroes blk. last is
// decodeBlock's result: 1 means only the DC coefficient is set.
func idct(blk *[64]int32, last int, dst []byte, stride int) {
	if last <= 1 {
		v := clamp(((blk[0] + 4) >> 3) + 128)
		blk[0] = 0
		for y := range 8 {
			row := dst[y*stride : y*stride+8 : y*stride+8]
			row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7] = v, v, v, v, v, v, v, v
		}
		return
	}
	if useAVX2 {
		_ = dst[7*stride+7]
		idctAVX2(blk, &dst[0], stride)
		return
	}
	var tmp [64]int32
	// Columns.
	for i := range 8 {
		d0, d1, d2, d3 := blk[i], blk[8+i], blk[16+i], blk[24+i]
		d4, d5, d6, d7 := blk[32+i], blk[40+i], blk[48+i], blk[56+i]
		if d1|d2|d3|d4|d5|d6|d7 == 0 {
			dc := d0 * 4
			tmp[i], tmp[8+i], tmp[16+i], tmp[24+i] = dc, dc, dc, dc
			tmp[32+i], tmp[40+i], tmp[48+i], tmp[56+i] = dc, dc, dc, dc
			continue
		}
		x0, x1, x2, x3, t0, t1, t2, t3 := idct1(d0, d1, d2, d3, d4, d5, d6, d7)
		x0 += 512
		x1 += 512
		x2 += 512
		x3 += 512
		tmp[i] = (x0 + t3) >> 10
		tmp[56+i] = (x0 - t3) >> 10
		tmp[8+i] = (x1 + t2) >> 10
		tmp[48+i] = (x1 - t2) >> 10
		tmp[16+i] = (x2 + t1) >> 10
		tmp[40+i] = (x2 - t1) >> 10
		tmp[24+i] = (x3 + t0) >> 10
		tmp[32+i] = (x3 - t0) >> 10
	}
	*blk = [64]int32{}
	// Rows.
	for y := range 8 {
		v := (*[8]int32)(tmp[y*8 : y*8+8])
		x0, x1, x2, x3, t0, t1, t2, t3 := idct1(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7])
		const bias = 65536 + 128<<17
		x0 += bias
		x1 += bias
		x2 += bias
		x3 += bias
		row := dst[y*stride : y*stride+8 : y*stride+8]
		row[0] = clamp((x0 + t3) >> 17)
		row[7] = clamp((x0 - t3) >> 17)
		row[1] = clamp((x1 + t2) >> 17)
		row[6] = clamp((x1 - t2) >> 17)
		row[2] = clamp((x2 + t1) >> 17)
		row[5] = clamp((x2 - t1) >> 17)
		row[3] = clamp((x3 + t0) >> 17)
		row[4] = clamp((x3 - t0) >> 17)
	}
}

// idct1 is one 1-D pass (jidctint's, scaled by 4096): even part x0..x3,
// odd part t0..t3.
func idct1(s0, s1, s2, s3, s4, s5, s6, s7 int32) (x0, x1, x2, x3, t0, t1, t2, t3 int32) {
	p2, p3 := s2, s6
	p1 := (p2 + p3) * f0541
	t2 = p1 + p3*fm1847
	t3 = p1 + p2*f0765
	p2, p3 = s0, s4
	t0 = (p2 + p3) << 12
	t1 = (p2 - p3) << 12
	x0 = t0 + t3
	x3 = t0 - t3
	x1 = t1 + t2
	x2 = t1 - t2
	t0, t1, t2, t3 = s7, s5, s3, s1
	p3 = t0 + t2
	p4 := t1 + t3
	p1 = t0 + t3
	p2 = t1 + t2
	p5 := (p3 + p4) * f1175
	t0 *= f0298
	t1 *= f2053
	t2 *= f3072
	t3 *= f1501
	p1 = p5 + p1*fm0899
	p2 = p5 + p2*fm2562
	p3 *= fm1961
	p4 *= fm0390
	t3 += p1 + p4
	t2 += p2 + p3
	t1 += p2 + p4
	t0 += p1 + p3
	return
}

func clamp(x int32) uint8 {
	if uint32(x) > 255 {
		if x < 0 {
			return 0
		}
		return 255
	}
	return uint8(x)
}
