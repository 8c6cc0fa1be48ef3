package client

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
)

// countingLedger is a ledger of four active nodes in one swarm that counts
// the questions it is asked.
type countingLedger struct {
	mu    sync.Mutex
	info  chain.Info
	nodes []chain.ServiceNode
	infos int
	lists int
}

func (l *countingLedger) Info(context.Context) (chain.Info, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.infos++
	return l.info, nil
}

func (l *countingLedger) Nodes(context.Context) ([]chain.ServiceNode, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lists++
	return l.nodes, nil
}

func (l *countingLedger) asked() (infos, lists int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.infos, l.lists
}

func newCountingLedger(t *testing.T) *countingLedger {
	t.Helper()
	l := &countingLedger{info: chain.Info{Height: 5, NodesHeight: 3, SwarmsHeight: 3}}
	for range 4 {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key := hex.EncodeToString(pub)
		pid, err := peerOf(key)
		if err != nil {
			t.Fatal(err)
		}
		l.nodes = append(l.nodes, chain.ServiceNode{Key: key, X25519: hex.EncodeToString(make([]byte, 32)),
			State: chain.StateActive, SwarmID: 1, PeerID: pid.String(), Addrs: []string{"/ip4/127.0.0.1/tcp/1"}})
	}
	return l
}

// TestNodeListReused: the node list is used for NodesMaxAge of the client's
// clock without asking the ledger, then checked again; a forced refresh (a
// 421), a failed request, a clock that went back and a negative
// NodesMaxAge each make the client ask at once.
func TestNodeListReused(t *testing.T) {
	l := newCountingLedger(t)
	k, err := identity.NewAccount(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_000_000, 0)
	c, err := New(Config{Keys: k, Ledger: l, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := func(step string, infos, lists int) {
		t.Helper()
		if err := c.refresh(ctx, false); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if i, n := l.asked(); i != infos || n != lists {
			t.Fatalf("%s: the ledger was asked for its info %d times and its nodes %d, want %d and %d", step, i, n, infos, lists)
		}
	}
	want("first request", 1, 1)
	if len(c.nodes) != 4 {
		t.Fatalf("%d nodes, want 4", len(c.nodes))
	}
	want("at once", 1, 1)
	at = at.Add(DefaultNodesMaxAge - time.Millisecond)
	want("just before the list's age", 1, 1)
	at = at.Add(time.Millisecond)
	want("at its age, unchanged", 2, 1)

	// The ledger's list changes: a node leaves. The client goes on with
	// the list it has until it is due, then follows.
	l.mu.Lock()
	l.nodes, l.info.NodesHeight = l.nodes[1:], 4
	l.mu.Unlock()
	want("changed, not yet due", 2, 1)
	at = at.Add(DefaultNodesMaxAge)
	want("changed, due", 3, 2)
	if len(c.nodes) != 3 {
		t.Fatalf("%d nodes after one left, want 3", len(c.nodes))
	}

	if err := c.refresh(ctx, true); err != nil {
		t.Fatal(err)
	}
	if i, n := l.asked(); i != 4 || n != 3 {
		t.Fatalf("forced: asked %d and %d, want 4 and 3", i, n)
	}
	want("after a forced refresh", 4, 3)

	c.mu.Lock()
	c.nodesStale = true // what a request that failed leaves
	c.mu.Unlock()
	want("after a failed request", 5, 3)
	want("and then", 5, 3)

	at = at.Add(-time.Hour)
	want("a clock that went back", 6, 3)
	want("and then", 6, 3)

	c.cfg.NodesMaxAge = -1
	want("NodesMaxAge < 0", 7, 3)
	want("NodesMaxAge < 0, again", 8, 3)
}
