package ops

// residualForward: out = a + b.
func residualForward[T Float](out, a, b []T) {
	for i := range out {
		out[i] = a[i] + b[i]
	}
}

// residualBackward: da += dout, db += dout.
func residualBackward[T Float](da, db, dout []T) {
	for i, d := range dout {
		da[i] += d
		db[i] += d
	}
}
