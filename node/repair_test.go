package node

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// groupAccount is a closed group's account (03) and its key.
func groupAccount(t testing.TB) (identity.AccountID, ed25519.PrivateKey) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return identity.AccountID{Prefix: identity.PrefixGroup, Key: [32]byte(k.Public().(ed25519.PublicKey))}, k
}

// TestRepairAfterMembersWereDown: with every member but one down, stores,
// a delete and a revocation reach only the survivor. The others come back,
// repair, and the survivor is lost for good: nothing acknowledged is lost,
// the deleted message stays deleted and the revoked token stays revoked.
func TestRepairAfterMembersWereDown(t *testing.T) {
	tn := startTestnet(t, 7, func(c *Config) { c.ForwardTimeout = time.Second; c.RepairInterval = -1 })
	ctx := context.Background()
	a := newAccount(t)
	members := tn.swarmOf(a.id)
	gid, gkey := groupAccount(t)
	if fmt.Sprint(tn.swarmOf(gid)) != fmt.Sprint(members) {
		t.Skip("the group lives in another swarm") // 7 nodes make one swarm
	}
	survivor := members[0]
	var gone storagerpc.SwarmResults
	if err := tn.call(survivor, "store", a.store(0, []byte("deleted while they were down"), false)).Decode(&gone); err != nil {
		t.Fatal(err)
	}
	for _, m := range members[1:] {
		tn.kill(m)
	}
	acked := map[string]bool{}
	for i := range 5 {
		var res storagerpc.SwarmResults
		if err := tn.call(survivor, "store", a.store(0, []byte(fmt.Sprint("while they were down ", i)), false)).Decode(&res); err != nil {
			t.Fatal(err)
		}
		acked[res.Hash] = true
	}
	ts := nowMS()
	del := storagerpc.DeleteParams{Pubkey: a.id.String(), Messages: []string{gone.Hash},
		Auth: storagerpc.SignAuth(a.keys.Ed25519, a.id, storagerpc.DeleteSigMsg([]string{gone.Hash}))}
	if resp := tn.call(survivor, "delete", del); resp.Code != 200 {
		t.Fatalf("delete: %d %s", resp.Code, resp.Body)
	}
	_, holder, _ := ed25519.GenerateKey(rand.Reader)
	tok := storagerpc.NewToken(byte(identity.PrefixGroup), storagerpc.FlagRead, holder.Public().(ed25519.PublicKey))
	rev := storagerpc.RevokeParams{Pubkey: gid.String(), Revoke: []string{tok.String()}, Timestamp: ts,
		Auth: storagerpc.SignAuth(gkey, gid, storagerpc.RevokeSigMsg("revoke_subaccount", ts, []storagerpc.Token{tok}))}
	if resp := tn.call(survivor, "revoke_subaccount", rev); resp.Code != 200 {
		t.Fatalf("revoke: %d %s", resp.Code, resp.Body)
	}

	for _, m := range members[1:] {
		tn.start(m)
	}
	tn.settle() // their new addresses reach the ledger
	for _, m := range members[1:] {
		st, err := tn.nodes[m].Repair(ctx)
		if err != nil {
			t.Fatalf("repair on %s: %v", m[:8], err)
		}
		if st.Pulled != 5 || st.Buried != 1 {
			t.Errorf("repair on %s: %+v, want 5 pulled and 1 buried", m[:8], st)
		}
	}
	tn.kill(survivor)
	for _, m := range members[1:] {
		got := map[string]bool{}
		for _, msg := range tn.messages(m, a, 0) {
			got[msg.Hash] = true
		}
		for h := range acked {
			if !got[h] {
				t.Errorf("%s lost acknowledged message %s", m[:8], h)
			}
		}
		if got[gone.Hash] {
			t.Errorf("%s brought back the deleted message", m[:8])
		}
		revoked, err := tn.nodes[m].store.isRevoked(ctx, gid.String(), tok)
		if err != nil || !revoked {
			t.Errorf("%s does not know the revocation (%v)", m[:8], err)
		}
	}
	// A second repair finds nothing to do: the replicas agree.
	st, err := tn.nodes[members[1]].Repair(ctx)
	if err == nil || st != (RepairStats{}) {
		// the survivor is down, so one member fails to answer; nothing changes
		if st != (RepairStats{}) {
			t.Errorf("a second repair changed %+v", st)
		}
	}
}

// TestRepairUnrevokeWins: an unrevoke that one member missed wins over the
// older revoke it holds.
func TestRepairUnrevokeWins(t *testing.T) {
	tn := startTestnet(t, 5, func(c *Config) { c.ForwardTimeout = time.Second; c.RepairInterval = -1 })
	ctx := context.Background()
	gid, gkey := groupAccount(t)
	members := tn.swarmOf(gid)
	_, holder, _ := ed25519.GenerateKey(rand.Reader)
	tok := storagerpc.NewToken(byte(identity.PrefixGroup), storagerpc.FlagRead, holder.Public().(ed25519.PublicKey))
	call := func(method string, ts int64) {
		p := storagerpc.RevokeParams{Pubkey: gid.String(), Timestamp: ts,
			Auth: storagerpc.SignAuth(gkey, gid, storagerpc.RevokeSigMsg(method, ts, []storagerpc.Token{tok}))}
		if method == "revoke_subaccount" {
			p.Revoke = []string{tok.String()}
		} else {
			p.Unrevoke = []string{tok.String()}
		}
		if resp := tn.call(members[0], method, p); resp.Code != 200 {
			t.Fatalf("%s: %d %s", method, resp.Code, resp.Body)
		}
	}
	call("revoke_subaccount", nowMS())
	tn.kill(members[1])
	call("unrevoke_subaccount", nowMS()+1)
	// The member comes back while the others are down, so its revocation
	// sync at start (revsync.go) finds nobody to learn the unrevoke from.
	for _, k := range members {
		if k != members[1] {
			tn.kill(k)
		}
	}
	tn.start(members[1])
	ctx5, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tn.waitSynced(ctx5, tn.nodes[members[1]])
	for _, k := range members {
		if k != members[1] {
			tn.start(k)
		}
	}
	tn.settle()
	if r, _ := tn.nodes[members[1]].store.isRevoked(ctx, gid.String(), tok); !r {
		t.Fatal("the member that was down should still hold the revoke before repair")
	}
	if _, err := tn.nodes[members[1]].Repair(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := tn.nodes[members[1]].store.isRevoked(ctx, gid.String(), tok); r {
		t.Fatal("the unrevoke did not reach the member that was down")
	}
}

// TestDigestCached: a node's repair digest is read again from its store
// only after a write, a change of the swarms, or once an entry it counted
// comes near its expiry; otherwise the last one serves (an idle devnet read
// its whole replica at every repair).
func TestDigestCached(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixMilli())
	tn := startTestnet(t, 7, func(c *Config) {
		c.RepairInterval = -1
		c.ExpiryInterval = time.Hour
		c.Now = func() time.Time { return time.UnixMilli(clock.Load()) }
	})
	ctx := context.Background()
	a := newAccount(t)
	m := tn.swarmOf(a.id)[0]
	n := tn.nodes[m]
	o := ownedScan{n, n.view.Load()}
	d0, _, err := o.digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if resp := tn.call(m, "store", a.store(0, []byte("counted"), false)); resp.Code != 200 {
		t.Fatalf("store: %d %s", resp.Code, resp.Body)
	}
	d1, _, err := o.digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(d0.Buckets, d1.Buckets) {
		t.Fatal("the digest did not change with a store")
	}
	d2, _, _ := o.digest(ctx)
	if &d2.Buckets[0] != &d1.Buckets[0] {
		t.Fatal("the digest was read again with nothing changed")
	}
	// Past the message's expiry, with nothing written, it drops out.
	clock.Add((31 * 24 * time.Hour).Milliseconds())
	d3, _, _ := o.digest(ctx)
	if !slices.Equal(d3.Buckets, d0.Buckets) {
		t.Fatal("an expired message still counts in the digest")
	}
	// A clock set back reads it again: the message counts once more.
	clock.Add(-(31 * 24 * time.Hour).Milliseconds())
	if d4, _, _ := o.digest(ctx); !slices.Equal(d4.Buckets, d1.Buckets) {
		t.Fatal("a clock set back kept the later digest")
	}
}
