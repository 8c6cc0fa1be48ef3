package devnet

import "testing"

func TestMemoryLimitFor(t *testing.T) {
	for _, c := range []struct {
		nodes int
		want  int64
	}{
		{-1, 1 << 30}, {0, 1 << 30}, {12, 1 << 30}, {1365, 1 << 30},
		{2000, 1500 << 20}, // 1.5 GiB at one process's most nodes
		{MaxWorkerNodes, 7500 << 20},
	} {
		if got := MemoryLimitFor(c.nodes); got != c.want {
			t.Errorf("MemoryLimitFor(%d) = %d MiB, want %d MiB", c.nodes, got>>20, c.want>>20)
		}
	}
}
