package ops

import "testing"

func TestAdamWArgsDecays(t *testing.T) {
	h := AdamWArgs{NoDecay: [][2]int{{2, 4}, {7, 8}, {10, 13}}}
	want := "dd--ddd-dd---dd"
	for i, c := range want {
		if got := h.Decays(i); got != (c == 'd') {
			t.Errorf("element %d: decays %v, want %v (spans %v)", i, got, c == 'd', h.NoDecay)
		}
	}
	var none AdamWArgs
	if !none.Decays(0) || !none.Decays(100) {
		t.Error("without spans every element decays")
	}
}
