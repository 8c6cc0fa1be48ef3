package devnet

import "testing"

func TestMemoryLimitFor(t *testing.T) {
	for _, c := range []struct {
		nodes int
		want  int64
	}{
		{-1, 1 << 30}, {0, 1 << 30}, {12, 1 << 30}, {1497, 1 << 30},
		{2000, 2000 * 700 << 10}, // 1.33 GiB at one process's most nodes
		{MaxWorkerNodes, MaxWorkerNodes * 700 << 10},
	} {
		if got := MemoryLimitFor(c.nodes); got != c.want {
			t.Errorf("MemoryLimitFor(%d) = %d MiB, want %d MiB", c.nodes, got>>20, c.want>>20)
		}
	}
}
