package devnet

import (
	"context"
	"fmt"
	"testing"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/internal/memtransport"
)

// TestFileBudget: nodes of one devnet talk to each other in memory, so what
// a node keeps open is its database and listeners (the package doc of node
// counts 5), however many peers it has talked to: after sends (stores
// forwarded to whole swarms) and a repair round (every node comparing with
// another member), every connection between two nodes is an in-memory one,
// and the process holds no more than 6 files a node beside a small base.
func TestFileBudget(t *testing.T) {
	before := openFiles()
	if before < 0 {
		t.Skip("no /proc/self/fd here")
	}
	const nodes = 30
	nw := StartT(t, Config{Nodes: nodes})
	ctx := context.Background()
	alice := clientT(t, nw.LedgerURL(), client.Config{Keys: ClientKeys("budget", "alice")})
	for i := range 12 {
		if _, err := alice.Send(ctx, ClientKeys("budget", fmt.Sprint("to-", i)).AccountID(), "count my files"); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nw.Nodes() {
		n.Repair(ctx)
	}
	isNode := map[string]bool{}
	for _, n := range nw.Nodes() {
		isNode[n.PeerID().String()] = true
	}
	between := 0
	for _, n := range nw.Nodes() {
		for _, c := range n.Host().Network().Conns() {
			if !isNode[c.RemotePeer().String()] {
				continue
			}
			between++
			if !memtransport.IsMemory(c.RemoteMultiaddr()) && !memtransport.IsMemory(c.LocalMultiaddr()) {
				t.Errorf("%s: a connection to another node over %s", n.Key()[:8], c.RemoteMultiaddr())
			}
		}
	}
	if between == 0 {
		t.Fatal("no connection between nodes after sends and repairs")
	}
	opened := openFiles() - before
	t.Logf("%d nodes: %d connection ends between nodes, %d files opened (%.1f a node)", nodes, between, opened, float64(opened)/nodes)
	if limit := 6*nodes + 60; opened > limit {
		t.Fatalf("%d files opened for %d nodes, want at most %d", opened, nodes, limit)
	}
}
