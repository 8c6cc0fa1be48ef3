package client_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/devnet/devnettest"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/node"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// heldLedger keeps a node from its first view of the network until release
// is closed: the node listens and takes requests, and answers each storage
// request 503 (not ready), as one does that has just come back and has not
// learned its swarm's revocations yet.
type heldLedger struct {
	node.Ledger
	release <-chan struct{}
}

func (h heldLedger) Info(ctx context.Context) (chain.Info, error) {
	select {
	case <-h.release:
	case <-ctx.Done():
		return chain.Info{}, ctx.Err()
	}
	return h.Ledger.Info(ctx)
}

// TestCallTriesAnotherMemberWhenNotReady: a member of a group's swarm that
// answers 503 is passed over for another member, so a group member's reads
// succeed while a member of the swarm is not ready.
func TestCallTriesAnotherMemberWhenNotReady(t *testing.T) {
	held := atomic.Int64{}
	held.Store(-1)
	release := make(chan struct{})
	nw := devnettest.Start(t, devnet.Config{Nodes: 7, NodeConfig: func(i int, c *node.Config) {
		if int64(i) == held.Load() {
			c.Ledger = heldLedger{Ledger: c.Ledger, release: release}
		}
	}})
	defer close(release)
	_, gkey, _ := ed25519.GenerateKey(rand.Reader)
	gid := identity.AccountID{Prefix: identity.PrefixGroup, Key: [32]byte(gkey.Public().(ed25519.PublicKey))}
	_, holder, _ := ed25519.GenerateKey(rand.Reader)
	tok := storagerpc.NewToken(byte(identity.PrefixGroup), storagerpc.FlagRead, holder.Public().(ed25519.PublicKey))
	tokSig := ed25519.Sign(gkey, tok[:])

	members := nw.Ledger.SwarmOf(gid).Members
	x := -1
	for i := range 7 {
		if nw.NodeKey(i) == members[0] {
			x = i
		}
	}
	if x < 0 {
		t.Fatal("the group's swarm has no node of the devnet")
	}
	devnettest.Kill(t, nw, x)
	held.Store(int64(x))
	devnettest.Restart(t, nw, x)

	// Each call from a new client, which knows of no failed node: the
	// member it asks first is drawn from all seven.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var last int64
	passedOver := 0 // calls that asked the node not ready, then another
	for call := 0; call < 100 && passedOver == 0; call++ {
		c := devnettest.Client(t, nw, newKeys(t))
		var asked []string
		resp, dest, err := c.CallAt(ctx, gid, "retrieve", func(dest string) any {
			asked = append(asked, dest)
			ts := max(time.Now().UnixMilli(), last+1)
			last = ts
			a, sa := storagerpc.SignSubAuth(holder, tok, tokSig, storagerpc.RetrieveSigMsg(11, ts))
			return storagerpc.RetrieveParams{Pubkey: gid.String(), Namespace: 11, Timestamp: ts, Auth: a, SubAuth: sa}
		})
		c.Close()
		if err != nil {
			t.Fatalf("call %d (asked %d members): %v", call, len(asked), err)
		}
		if resp.Code != 200 {
			t.Fatalf("call %d (asked %d members): %d %s", call, len(asked), resp.Code, resp.Body)
		}
		if slices.Contains(asked, members[0]) && dest != members[0] {
			passedOver++
		}
	}
	if passedOver == 0 {
		t.Fatal("the node that is not ready was never asked first in 100 calls")
	}
}
