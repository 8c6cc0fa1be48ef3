package node

import "testing"

// TestNewTestSlots: a bound of at least one test.
func TestNewTestSlots(t *testing.T) {
	for n, want := range map[int]int{-3: 1, 0: 1, 1: 1, 8: 8} {
		if got := cap(NewTestSlots(n)); got != want {
			t.Errorf("NewTestSlots(%d) holds %d, want %d", n, got, want)
		}
	}
}
