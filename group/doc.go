// Package group is Session's closed groups as the apps make them today:
// libsession's 03 groups (at most 100 members), on top of package
// groupkeys (the keys config, message encryption, member tokens) and
// package configmsg/groupconfig (the info and members configs).
//
// # Design
//
// A group is an Ed25519 key pair; its Account ID is 03 and the public key,
// and its swarm holds
//
//	11  messages: the padded Content in a CLOSED_GROUP_MESSAGE envelope,
//	    encrypted with the group's current key, signed by its author
//	12  keys: each key generation, encrypted for every member (and admins)
//	13  info: name, creation, disappearing timer, destroyed
//	14  members: each member's ID, name, invite, promotion and removal state
//	-11 notices to kicked members, which a revoked token may still read
//
// Admins hold the group's seed and sign every request and every config
// with it; a member signs with its subaccount token (auth data an admin
// made for its key). Every member reads the three configs and merges them
// as libsession does; an admin pushes a merge it had to make; anyone
// extends a config message past half its life.
//
// An invite is a GroupUpdateInviteMessage sent one-to-one: the group's ID
// and name, the member's auth data, the group key's signature over
// "INVITE" || member || timestamp. It stays pending until Join, which
// tells the group (a GroupUpdateInviteResponseMessage) and the account's
// other devices. A promotion is the group's seed, one-to-one. A kick
// revokes the member's token on the swarm, leaves it a notice in -11,
// erases it from the members config and rotates the key, so it reads
// nothing sent after; the group is told by a signed
// GroupUpdateMemberChangeMessage. A member who leaves posts a
// GroupUpdateMemberLeftMessage, which an admin's fetch carries out as a
// kick. Deleting a group marks its info config destroyed.
//
// Each device of an account keeps its own state (Store); the account's
// user groups config (namespace 5) holds each group's seed or auth data,
// so another device, or a restored one, finds them (Recover).
//
// Groups made by sessionctl before it made libsession's are read only
// enough to say so (ErrOldKind) and to leave them.
//
// # Use
//
//	d := &group.Device{C: client, Store: &group.Store{Dir: dir}, Name: "alice"}
//	g, _ := d.Create(ctx, "team", []group.Invitee{{ID: bob}})
//	d.Send(ctx, g, "hello")
//
//	// bob's device
//	in, _ := d.ReadInbox(ctx)       // in.Invited: pending invites
//	d.Join(ctx, in.Invited[0])
//	msgs, unreadable, _ := d.Fetch(ctx, g)
//	d.Kick(ctx, g, []identity.AccountID{carol}, false)  // admins
//
// (ExampleDevice is this, compiled.)
package group
