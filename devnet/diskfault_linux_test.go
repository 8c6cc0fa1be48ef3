package devnet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestDiskFault: a node's data directory filled to the last block under
// the running node, or made read-only under a node started again on it; healed, the node runs on its own
// directory again with what it had.
func TestDiskFault(t *testing.T) {
	nw := StartT(t, Config{Nodes: 4})
	if why := nw.DiskFaults(); why != "" {
		t.Skip(why)
	}
	ctx := context.Background()
	data := Dir(nw.Dir()).NodeData(NodeName(1))
	for _, readOnly := range []bool{false, true} {
		heal, err := nw.DiskFault(ctx, 1, readOnly)
		if err != nil {
			t.Fatal(err)
		}
		if !readOnly && !nw.Running(1) {
			t.Fatal("node-2 does not run on a full disk")
		}
		err = os.WriteFile(filepath.Join(data, "probe"), make([]byte, 1<<20), 0o600)
		want := syscall.ENOSPC
		if readOnly {
			want = syscall.EROFS
		}
		if !errors.Is(err, want) {
			t.Fatalf("read-only %v: a write into the data directory: %v", readOnly, err)
		}
		if err := heal(ctx); err != nil {
			t.Fatal(err)
		}
		if !nw.Running(1) {
			t.Fatal("node-2 does not run after the heal")
		}
		if err := os.WriteFile(filepath.Join(data, "probe"), []byte("x"), 0o600); err != nil {
			t.Fatalf("after the heal: %v", err)
		}
		os.Remove(filepath.Join(data, "probe"))
		if _, err := os.Stat(filepath.Join(data, "storage.db")); err != nil {
			t.Fatal(err)
		}
	}
}
