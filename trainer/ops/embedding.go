package ops

// embeddingForward copies row ids[n] of table[V,C] to out[n]. ids are
// checked by the caller to lie in [0,V).
func embeddingForward[T Float](out, table []T, ids []int32, C int) {
	for n, id := range ids {
		copy(out[n*C:(n+1)*C], table[int(id)*C:(int(id)+1)*C])
	}
}

// embeddingBackward adds dout[n] into row ids[n] of dtable.
func embeddingBackward[T Float](dtable, dout []T, ids []int32, C int) {
	for n, id := range ids {
		row := dtable[int(id)*C : (int(id)+1)*C]
		for i, d := range dout[n*C : (n+1)*C] {
			row[i] += d
		}
	}
}
