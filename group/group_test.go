package group_test

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/devnet/devnettest"
	"github.com/sessionctl/sessionctl/group"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
	"github.com/sessionctl/sessionctl/storagerpc"
)

type person struct {
	name string
	keys *identity.Keys
	s    *group.Session
}

func newPerson(t testing.TB, nw *devnet.Network, name string, dir string) *person {
	t.Helper()
	k, _ := identity.NewAccount(rand.Reader)
	c, err := client.New(client.Config{Keys: k, Ledger: ledgerrpc.NewClient(nw.LedgerURL(), "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &person{name: name, keys: k, s: &group.Session{C: c, Store: &group.Store{Dir: dir}}}
}

// acceptInvites reads p's inbox and accepts the group invites in it.
func (p *person) acceptInvites(t testing.TB) *group.Group {
	t.Helper()
	msgs, _, err := p.s.C.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var g *group.Group
	for _, m := range msgs {
		if m.Kind == "group_invite" {
			if g, err = p.s.Accept(context.Background(), m); err != nil {
				t.Fatalf("%s accepts: %v", p.name, err)
			}
		}
	}
	if g == nil {
		t.Fatalf("%s has no invite", p.name)
	}
	return g
}

func texts(ms []group.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Text)
	}
	return out
}

func TestGroupTalkAndKick(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 12})
	ctx := context.Background()
	dir := t.TempDir()
	alice, bob, carol := newPerson(t, nw, "alice", dir), newPerson(t, nw, "bob", dir), newPerson(t, nw, "carol", dir)
	ga, err := alice.s.Create(ctx, "friends", []identity.AccountID{bob.keys.AccountID(), carol.keys.AccountID()})
	if err != nil {
		t.Fatal(err)
	}
	gb, gc := bob.acceptInvites(t), carol.acceptInvites(t)
	if gb.ID != ga.ID || gc.Name != "friends" || len(gb.Members) != 3 {
		t.Fatalf("bob sees %+v", gb)
	}
	// Non-admins cannot administer.
	if err := bob.s.Kick(ctx, gb, carol.keys.AccountID()); !errors.Is(err, group.ErrNotAdmin) {
		t.Fatalf("bob kicks: %v", err)
	}
	for _, p := range []struct {
		who *person
		g   *group.Group
	}{{alice, ga}, {bob, gb}, {carol, gc}} {
		if err := p.who.s.Send(ctx, p.g, "hi from "+p.who.name); err != nil {
			t.Fatalf("%s sends: %v", p.who.name, err)
		}
	}
	got, bad, err := bob.s.Fetch(ctx, gb)
	if err != nil || len(bad) != 0 || len(got) != 3 {
		t.Fatalf("bob reads %v %v %v", texts(got), bad, err)
	}
	if got[0].From != alice.keys.AccountID().String() {
		t.Fatalf("sender %s", got[0].From)
	}
	if seen, _, err := carol.s.Fetch(ctx, gc); err != nil || len(seen) != 3 {
		t.Fatalf("carol before the kick: %v, %v", texts(seen), err)
	}

	// Carol is kicked: her token is revoked and the key rotates.
	if err := alice.s.Kick(ctx, ga, carol.keys.AccountID()); err != nil {
		t.Fatal(err)
	}
	if ga.Generation != 1 || len(ga.Members) != 2 {
		t.Fatalf("after the kick: generation %d, %d members", ga.Generation, len(ga.Members))
	}
	if err := alice.s.Send(ctx, ga, "carol is gone"); err != nil {
		t.Fatal(err)
	}
	if err := bob.s.Send(ctx, gb, "indeed"); err != nil {
		t.Fatal(err)
	}
	got, _, err = bob.s.Fetch(ctx, gb)
	if err != nil || len(got) != 2 || got[0].Generation != 1 {
		t.Fatalf("bob after the kick: %v (generation %v), %v", texts(got), got, err)
	}
	// Carol: refused by the nodes, told in -11, can read nothing new.
	if _, _, err := carol.s.Fetch(ctx, gc); !errors.Is(err, group.ErrKicked) {
		t.Fatalf("carol fetches after the kick: %v", err)
	}
	if err := carol.s.Send(ctx, gc, "let me in"); !errors.Is(err, group.ErrKicked) {
		t.Fatalf("carol sends after the kick: %v", err)
	}
	if _, ok := gc.Keys[1]; ok {
		t.Fatal("carol has the new key generation")
	}
	// Nobody without the group key or a valid token reads the group.
	resp, err := carol.s.C.Call(ctx, ga.Account(), "retrieve", func() any {
		return storagerpc.RetrieveParams{Pubkey: ga.ID, Namespace: group.NSMessages, Timestamp: time.Now().UnixMilli()}
	})
	if err != nil || resp.Code != 401 {
		t.Fatalf("an unsigned retrieve of the group: %v %v", resp, err)
	}
	// A group of more than 100 members is refused.
	var many []identity.AccountID
	for i := 0; i < 100; i++ {
		k, _ := identity.NewAccount(rand.Reader)
		many = append(many, k.AccountID())
	}
	if _, err := alice.s.Create(ctx, "crowd", many); !errors.Is(err, group.ErrTooMany) {
		t.Fatalf("101 members: %v", err)
	}
}

func findMember(t *testing.T, g *group.Group, id string) group.Member {
	for _, m := range g.Members {
		if m.AccountID == id {
			return m
		}
	}
	t.Fatalf("%s is not in the group", id[:10])
	return group.Member{}
}

// TestRevocationsKeepFifty: a 51st revocation drops the oldest.
func TestRevocationsKeepFifty(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 5})
	ctx := context.Background()
	alice := newPerson(t, nw, "alice", t.TempDir())
	g, err := alice.s.Create(ctx, "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []identity.AccountID
	for i := 0; i < 51; i++ {
		k, _ := identity.NewAccount(rand.Reader)
		ids = append(ids, k.AccountID())
		if err := alice.s.Add(ctx, g, k.AccountID()); err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
	}
	first := findMember(t, g, ids[0].String()).Token
	for i, id := range ids {
		if err := alice.s.Kick(ctx, g, id); err != nil {
			t.Fatalf("kick %d: %v", i, err)
		}
	}
	revoked := revokedOnSwarm(t, alice, g)
	if len(revoked) != 50 {
		t.Fatalf("%d revocations kept, want 50", len(revoked))
	}
	for _, r := range revoked {
		if r == first {
			t.Fatal("the oldest revocation was kept")
		}
	}
}

func revokedOnSwarm(t *testing.T, p *person, g *group.Group) []string {
	t.Helper()
	var out struct {
		Revoked []string `json:"revoked"`
	}
	resp, err := p.s.C.Call(context.Background(), g.Account(), "revoked_subaccounts", func() any {
		ts := time.Now().UnixMilli()
		return storagerpc.RevokeParams{Pubkey: g.ID, Timestamp: ts,
			Auth: storagerpc.Auth{Signature: storagerpc.Sign(group.GroupKey(g), storagerpc.RevokeSigMsg("revoked_subaccounts", ts, nil))}}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Revoked
}

// TestPromote: a promoted member administers; a plain member does not.
func TestPromote(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 5})
	ctx := context.Background()
	dir := t.TempDir()
	alice, bob, carol, dave := newPerson(t, nw, "alice", dir), newPerson(t, nw, "bob", dir), newPerson(t, nw, "carol", dir), newPerson(t, nw, "dave", dir)
	ga, err := alice.s.Create(ctx, "team", []identity.AccountID{bob.keys.AccountID(), carol.keys.AccountID()})
	if err != nil {
		t.Fatal(err)
	}
	gb := bob.acceptInvites(t)
	if err := bob.s.Add(ctx, gb, dave.keys.AccountID()); !errors.Is(err, group.ErrNotAdmin) {
		t.Fatalf("a member adds: %v", err)
	}
	if err := alice.s.Promote(ctx, ga, bob.keys.AccountID()); err != nil {
		t.Fatal(err)
	}
	gb = bob.acceptInvites(t)
	if !gb.IsAdmin() {
		t.Fatal("the promoted member has no group key")
	}
	if err := bob.s.Add(ctx, gb, dave.keys.AccountID()); err != nil {
		t.Fatalf("the new admin adds: %v", err)
	}
	gd := dave.acceptInvites(t)
	if err := dave.s.Send(ctx, gd, "hello, I am new"); err != nil {
		t.Fatal(err)
	}
	if msgs, _, err := bob.s.Fetch(ctx, gb); err != nil || len(msgs) != 1 {
		t.Fatalf("bob reads %v, %v", texts(msgs), err)
	}
}
