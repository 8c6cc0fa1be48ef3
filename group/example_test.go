package group_test

import (
	"context"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/group"
	"github.com/sessionctl/sessionctl/identity"
)

// The package's use, compiled: alice's device makes a group with bob and
// posts; bob's device takes the invite and reads. (cAlice and cBob are
// started clients of the two accounts; see package client.)
func ExampleDevice() {
	var (
		ctx          = context.Background()
		cAlice, cBob *client.Client
		dir          = "groups"
	)
	alice := &group.Device{C: cAlice, Store: &group.Store{Dir: dir}, Name: "alice"}
	g, err := alice.Create(ctx, "team", []group.Invitee{{ID: cBob.AccountID(), Name: "bob"}})
	if err != nil {
		return
	}
	if err := alice.Send(ctx, g, "hello"); err != nil {
		return
	}

	bob := &group.Device{C: cBob, Store: &group.Store{Dir: dir}, Name: "bob"}
	in, err := bob.ReadInbox(ctx) // in.Invited: pending invites
	if err != nil || len(in.Invited) == 0 {
		return
	}
	if err := bob.Join(ctx, in.Invited[0]); err != nil {
		return
	}
	msgs, unreadable, err := bob.Fetch(ctx, in.Invited[0])
	_, _, _ = msgs, unreadable, err
	alice.Kick(ctx, g, []identity.AccountID{cBob.AccountID()}, false) // admins
}
