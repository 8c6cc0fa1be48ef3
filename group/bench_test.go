package group_test

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/devnet/devnettest"
	"github.com/sessionctl/sessionctl/group"
	"github.com/sessionctl/sessionctl/identity"
)

// bigGroup is a group of 100: alice, the admin, and 99 members.
func bigGroup(b *testing.B) (*devnet.Network, *person, *person, []group.Invitee) {
	nw := devnettest.Start(b, devnet.Config{Nodes: 12})
	dir := b.TempDir()
	alice, bob := newPerson(b, nw, "alice", dir, nil), newPerson(b, nw, "bob", dir, nil)
	members := []group.Invitee{bob.invitee()}
	for len(members) < 99 {
		k, _ := identity.NewAccount(rand.Reader)
		members = append(members, group.Invitee{ID: k.AccountID()})
	}
	return nw, alice, bob, members
}

// BenchmarkKickFrom100: kicking one member of a 100-member group: revoke
// the token, leave the notice in -11, a new key for the 98 others, the
// info and members configs pushed under it, the group told.
func BenchmarkKickFrom100(b *testing.B) {
	_, alice, _, members := bigGroup(b)
	ctx := context.Background()
	g, err := alice.s.Create(ctx, "hundred", members)
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		b.StopTimer()
		k, _ := identity.NewAccount(rand.Reader)
		victim := members[1+i%98]
		i++
		b.StartTimer()
		if err := alice.s.Kick(ctx, g, []identity.AccountID{victim.ID}, false); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := alice.s.Add(ctx, g, []group.Invitee{{ID: k.AccountID()}}, false); err != nil { // back to 100
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkFetch100: a member of a 100-member group reads one new message.
func BenchmarkFetch100(b *testing.B) {
	_, alice, bob, members := bigGroup(b)
	ctx := context.Background()
	ga, err := alice.s.Create(ctx, "hundred", members)
	if err != nil {
		b.Fatal(err)
	}
	gb := bob.join(b)
	for b.Loop() {
		b.StopTimer()
		if err := alice.s.Send(ctx, ga, "news"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		texts, _, _ := bob.fetch(b, gb)
		if len(texts) != 1 {
			b.Fatalf("%d messages", len(texts))
		}
	}
}
