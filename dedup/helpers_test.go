package dedup

import (
	"fmt"
	"math"
)

var mathCos = math.Cos

func sizeName(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("n=%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("n=%dk", n/1000)
	default:
		return fmt.Sprintf("n=%d", n)
	}
}
