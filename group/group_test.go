package group_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/devnet/devnettest"
	"github.com/sessionctl/sessionctl/group"
	"github.com/sessionctl/sessionctl/groupkeys"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/sessionpb"
	"github.com/sessionctl/sessionctl/storagerpc"
	"google.golang.org/protobuf/proto"
)

type person struct {
	name string
	keys *identity.Keys
	s    *group.Device
}

// newPerson is a device named name of a new account (keys nil) or of the
// account keys, keeping its groups under dir.
func newPerson(t testing.TB, nw *devnet.Network, name, dir string, keys *identity.Keys) *person {
	return newPersonAt(t, nw, name, dir, keys, nil)
}

// newPersonAt is newPerson with the device's clock.
func newPersonAt(t testing.TB, nw *devnet.Network, name, dir string, keys *identity.Keys, now func() time.Time) *person {
	t.Helper()
	if keys == nil {
		keys, _ = identity.NewAccount(rand.Reader)
	}
	c := devnettest.ClientConfig(t, nw, client.Config{Keys: keys, Now: now})
	return &person{name: name, keys: keys, s: &group.Device{C: c, Store: &group.Store{Dir: dir}, Name: name}}
}

func (p *person) id() identity.AccountID { return p.keys.AccountID() }

func (p *person) invitee() group.Invitee { return group.Invitee{ID: p.id(), Name: p.name} }

// inbox reads p's inbox for invites and promotions.
func (p *person) inbox(t testing.TB) *group.Inbox {
	t.Helper()
	in, err := p.s.ReadInbox(context.Background())
	if err != nil {
		t.Fatalf("%s reads the inbox: %v", p.name, err)
	}
	return in
}

// join takes p's invite and accepts it.
func (p *person) join(t testing.TB) *group.Group {
	t.Helper()
	in := p.inbox(t)
	if len(in.Invited) != 1 {
		t.Fatalf("%s has %d invites (refused: %+v)", p.name, len(in.Invited), in.Refused)
	}
	g := in.Invited[0]
	if err := p.s.Join(context.Background(), g); err != nil {
		t.Fatalf("%s joins: %v", p.name, err)
	}
	return g
}

func (p *person) send(t testing.TB, g *group.Group, text string) {
	t.Helper()
	if err := p.s.Send(context.Background(), g, text); err != nil {
		t.Fatalf("%s sends %q: %v", p.name, text, err)
	}
}

// fetch reads g's new messages: the texts, and the notices.
func (p *person) fetch(t testing.TB, g *group.Group) (texts []string, notices []string, bad []group.Unreadable) {
	t.Helper()
	msgs, bad, err := p.s.Fetch(context.Background(), g)
	if err != nil {
		t.Fatalf("%s fetches: %v", p.name, err)
	}
	for _, m := range msgs {
		if m.Kind == "" {
			texts = append(texts, m.Text)
		} else {
			notices = append(notices, m.Text)
		}
	}
	return texts, notices, bad
}

func memberIDs(g *group.Group) []string {
	var out []string
	for _, m := range g.MemberList() {
		out = append(out, m.AccountID)
	}
	return out
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestGroupLifecycle: create, invite (one-to-one, pending until joined),
// talk, the members config seen by every member, kick (revoked, key
// rotated, told in -11), and members added later reading from the
// generation they were given.
func TestGroupLifecycle(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 12})
	ctx := context.Background()
	dir := t.TempDir()
	alice, bob, carol := newPerson(t, nw, "alice", dir, nil), newPerson(t, nw, "bob", dir, nil), newPerson(t, nw, "carol", dir, nil)
	ga, err := alice.s.Create(ctx, "friends", []group.Invitee{bob.invitee(), carol.invitee()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ga.ID, "03") || ga.Generation != 0 || !ga.IsAdmin() {
		t.Fatalf("created %+v", ga)
	}
	gid := ga.Account()
	if gid.Key != [32]byte(group.GroupKey(ga).Public().(ed25519.PublicKey)) {
		t.Fatal("the group's ID is not 03 and its Ed25519 key")
	}
	// The invite is in bob's inbox as Session apps send it.
	msgs, _, err := bob.s.C.Fetch(ctx)
	if err != nil || len(msgs) != 1 || msgs[0].Kind != client.KindGroupInvite || msgs[0].GroupUpdate.GetInviteMessage().GetGroupSessionId() != ga.ID {
		t.Fatalf("bob's inbox: %+v %v", msgs, err)
	}
	// A pending invite is not a membership.
	in := carol.inbox(t)
	gc := in.Invited[0]
	if !gc.Invited || gc.Name != "friends" {
		t.Fatalf("carol's invite %+v", gc)
	}
	if err := carol.s.Send(ctx, gc, "too early"); !errors.Is(err, group.ErrInvited) {
		t.Fatalf("carol sends before joining: %v", err)
	}
	if err := carol.s.Join(ctx, gc); err != nil {
		t.Fatal(err)
	}
	gb, err := bob.s.Store.Load("bob", bob.id().String(), "friends")
	if err == nil {
		t.Fatalf("bob has the group before reading his invite (the plain fetch read it): %+v", gb)
	}
	// Bob's plain fetch read the invite; his groups' client reads the
	// inbox with its own state in the CLI. Here: send it again.
	if err := alice.s.Add(ctx, ga, []group.Invitee{bob.invitee()}, false); !errors.Is(err, group.ErrAlready) {
		t.Fatalf("adding bob again: %v", err)
	}
	gb = inviteAgain(t, alice, ga, bob)

	// Everyone reads the members config: three members, alice the admin,
	// generation 0.
	if err := bob.s.Refresh(ctx, gb); err != nil {
		t.Fatal(err)
	}
	if ids := memberIDs(gb); len(ids) != 3 || !has(ids, carol.id().String()) || len(gb.Admins()) != 1 || gb.Admins()[0] != alice.id().String() || gb.Generation != 0 {
		t.Fatalf("bob sees members %v admins %v generation %d", ids, gb.Admins(), gb.Generation)
	}
	if err := bob.s.Kick(ctx, gb, []identity.AccountID{carol.id()}, false); !errors.Is(err, group.ErrNotAdmin) {
		t.Fatalf("bob kicks: %v", err)
	}
	for _, p := range []struct {
		who *person
		g   *group.Group
	}{{alice, ga}, {bob, gb}, {carol, gc}} {
		p.who.send(t, p.g, "hi from "+p.who.name)
	}
	texts, notices, bad := bob.fetch(t, gb)
	if len(bad) != 0 || len(texts) != 3 || !has(texts, "hi from carol") {
		t.Fatalf("bob reads %v %v %v", texts, notices, bad)
	}
	// Alice's fetch records the invites accepted.
	texts, notices, bad = alice.fetch(t, ga)
	for _, m := range ga.MemberList() {
		if m.Status != "invite_accepted" && m.Status != "promotion_accepted" {
			t.Fatalf("after the invite responses: %+v (read %v %v %+v)", ga.MemberList(), texts, notices, bad)
		}
	}
	if texts, _, _ := carol.fetch(t, gc); len(texts) != 3 {
		t.Fatalf("carol before the kick: %v", texts)
	}

	// Carol is kicked: revoked, told, the key rotates.
	if err := alice.s.Kick(ctx, ga, []identity.AccountID{carol.id()}, false); err != nil {
		t.Fatal(err)
	}
	if ga.Generation != 1 || len(ga.MemberList()) != 2 || len(ga.Revoked) != 1 {
		t.Fatalf("after the kick: generation %d, members %v", ga.Generation, memberIDs(ga))
	}
	alice.send(t, ga, "carol is gone")
	bob.send(t, gb, "indeed")
	texts, notices, _ = bob.fetch(t, gb)
	if len(texts) != 2 || !has(notices, "removed "+carol.id().String()) || gb.Generation != 1 || len(gb.MemberList()) != 2 {
		t.Fatalf("bob after the kick: %v %v (generation %d)", texts, notices, gb.Generation)
	}
	if _, _, err := carol.s.Fetch(ctx, gc); !errors.Is(err, group.ErrKicked) {
		t.Fatalf("carol fetches after the kick: %v", err)
	}
	if err := carol.s.Send(ctx, gc, "let me in"); !errors.Is(err, group.ErrKicked) {
		t.Fatalf("carol sends after the kick: %v", err)
	}
	// Carol holds no key that opens what was sent after: the messages of
	// generation 1 do not open with her keys even when handed to her.
	if gc.Generation != 0 {
		t.Fatalf("carol reached generation %d", gc.Generation)
	}
	// The account's other devices learn the kick from its user groups config.
	cfg, err := carol.s.C.LoadConfig(ctx, configmsg.UserGroups)
	if err != nil {
		t.Fatal(err)
	}
	if ug, ok := configmsg.GetUserGroup(cfg.Data(), ga.ID); !ok || ug.Removed != configmsg.UserGroupKicked || ug.AuthData != nil {
		t.Fatalf("carol's user groups entry %+v", ug)
	}
	// A message from a removed member, got into the swarm by someone
	// else, is refused by its readers.
	if err := group.ForgeMessage(ctx, alice.s, ga, carol.keys, "I am still here"); err != nil {
		t.Fatal(err)
	}
	texts, _, bad = bob.fetch(t, gb)
	if len(texts) != 0 || len(bad) != 1 || !strings.Contains(bad[0].Reason, "removed from the group") {
		t.Fatalf("a removed member's message: %v %+v", texts, bad)
	}

	// Dave joins without the history: he reads from generation 2 on.
	dave := newPerson(t, nw, "dave", dir, nil)
	if err := alice.s.Add(ctx, ga, []group.Invitee{dave.invitee()}, false); err != nil {
		t.Fatal(err)
	}
	gd := dave.join(t)
	if gd.Generation != 2 {
		t.Fatalf("dave's generation %d", gd.Generation)
	}
	alice.send(t, ga, "welcome dave")
	texts, _, bad = dave.fetch(t, gd)
	if len(texts) != 1 || texts[0] != "welcome dave" || len(bad) < 4 {
		t.Fatalf("dave reads %v, unreadable %d", texts, len(bad))
	}
	for _, b := range bad {
		if !strings.Contains(b.Reason, "not given") {
			t.Fatalf("dave: %+v", b)
		}
	}
	// Erin joins with the history: she reads what the group wrote before.
	erin := newPerson(t, nw, "erin", dir, nil)
	if err := alice.s.Add(ctx, ga, []group.Invitee{erin.invitee()}, true); err != nil {
		t.Fatal(err)
	}
	ge := erin.join(t)
	texts, _, _ = erin.fetch(t, ge)
	if !has(texts, "hi from carol") || !has(texts, "welcome dave") || ge.Generation != 2 {
		t.Fatalf("erin reads %v (generation %d)", texts, ge.Generation)
	}
}

// inviteAgain: alice sends bob the invite again (his first was read by a
// plain fetch), and bob joins.
func inviteAgain(t *testing.T, alice *person, g *group.Group, bob *person) *group.Group {
	t.Helper()
	auth, err := groupkeys.MakeSubaccount(group.GroupKey(g).Seed(), bob.id(), groupkeys.SubaccountFlags(true, false))
	if err != nil {
		t.Fatal(err)
	}
	sendInvite(t, alice, bob, g.ID, g.Name, auth, group.GroupKey(g))
	return bob.join(t)
}

// sendInvite sends to an invite naming gid, with auth, signed by key.
func sendInvite(t *testing.T, from, to *person, gid, name string, auth []byte, key ed25519.PrivateKey) {
	t.Helper()
	ts := from.s.C.Now().UnixMilli()
	sig := ed25519.Sign(key, []byte("INVITE"+to.id().String()+strconv.FormatInt(ts, 10)))
	u := &sessionpb.GroupUpdateMessage{InviteMessage: &sessionpb.GroupUpdateInviteMessage{GroupSessionId: proto.String(gid), Name: proto.String(name),
		MemberAuthData: auth, AdminSignature: sig}}
	if _, err := from.s.C.SendContent(context.Background(), to.id(), client.Content{SentAt: ts, GroupUpdate: u}); err != nil {
		t.Fatal(err)
	}
}

// TestPromoteLeaveDelete: a promoted member administers; a member who
// leaves is removed by an admin's next fetch; a deleted group is gone for
// every member.
func TestPromoteLeaveDelete(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 7})
	ctx := context.Background()
	dir := t.TempDir()
	alice, bob, carol, dave := newPerson(t, nw, "alice", dir, nil), newPerson(t, nw, "bob", dir, nil), newPerson(t, nw, "carol", dir, nil), newPerson(t, nw, "dave", dir, nil)
	ga, err := alice.s.Create(ctx, "team", []group.Invitee{bob.invitee(), carol.invitee()})
	if err != nil {
		t.Fatal(err)
	}
	gb, gc := bob.join(t), carol.join(t)
	if err := bob.s.Add(ctx, gb, []group.Invitee{dave.invitee()}, false); !errors.Is(err, group.ErrNotAdmin) {
		t.Fatalf("a member adds: %v", err)
	}
	if err := alice.s.Promote(ctx, ga, bob.id()); err != nil {
		t.Fatal(err)
	}
	in := bob.inbox(t)
	if len(in.Promoted) != 1 {
		t.Fatalf("bob's inbox: %+v", in)
	}
	gb, err = bob.s.Store.Load("bob", bob.id().String(), "team")
	if err != nil || !gb.IsAdmin() {
		t.Fatalf("the promoted member: %+v %v", gb, err)
	}
	// Bob's first fetch as an admin records his promotion accepted.
	bob.fetch(t, gb)
	if err := alice.s.Refresh(ctx, ga); err != nil {
		t.Fatal(err)
	}
	if a := ga.Admins(); len(a) != 2 {
		t.Fatalf("admins %v", a)
	}
	if err := bob.s.Add(ctx, gb, []group.Invitee{dave.invitee()}, false); err != nil {
		t.Fatalf("the new admin adds: %v", err)
	}
	gd := dave.join(t)
	dave.send(t, gd, "hello, I am new")
	if texts, _, _ := alice.fetch(t, ga); !has(texts, "hello, I am new") {
		t.Fatalf("alice reads %v", texts)
	}

	// Carol leaves; alice's next fetch removes her and rotates the key.
	gen := ga.Generation
	if err := carol.s.Leave(ctx, gc, false); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.s.Store.Load("carol", carol.id().String(), "team"); !errors.Is(err, group.ErrUnknown) {
		t.Fatalf("carol still has the group: %v", err)
	}
	_, notices, _ := alice.fetch(t, ga)
	if !has(notices, "left the group") || ga.Generation != gen+1 || has(memberIDs(ga), carol.id().String()) {
		t.Fatalf("after carol left: %v, generation %d, members %v", notices, ga.Generation, memberIDs(ga))
	}
	// The only admin cannot leave; two admins can, one at a time.
	if err := bob.s.Leave(ctx, gb, false); err != nil {
		t.Fatalf("bob, one of two admins, leaves: %v", err)
	}

	// Alice deletes the group: dave finds it gone.
	if err := alice.s.Delete(ctx, ga); err != nil {
		t.Fatal(err)
	}
	if _, _, err := dave.s.Fetch(ctx, gd); !errors.Is(err, group.ErrDestroyed) {
		t.Fatalf("dave after the deletion: %v", err)
	}
	if err := dave.s.Send(ctx, gd, "anyone?"); !errors.Is(err, group.ErrDestroyed) {
		t.Fatalf("dave sends after the deletion: %v", err)
	}
	cfg, err := dave.s.C.LoadConfig(ctx, configmsg.UserGroups)
	if err != nil {
		t.Fatal(err)
	}
	if ug, _ := configmsg.GetUserGroup(cfg.Data(), gd.ID); ug.Removed != configmsg.UserGroupDestroyed || ug.AuthData != nil {
		t.Fatalf("dave's user groups entry after the deletion: %+v", ug)
	}
	if cfg, err = alice.s.C.LoadConfig(ctx, configmsg.UserGroups); err != nil {
		t.Fatal(err)
	}
	if _, ok := configmsg.GetUserGroup(cfg.Data(), ga.ID); ok {
		t.Fatal("the admin's account still lists the deleted group")
	}
	// The sole admin of a group cannot leave it.
	gx, err := dave.s.Create(ctx, "solo", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := dave.s.Leave(ctx, gx, false); !errors.Is(err, group.ErrLastAdmin) {
		t.Fatalf("the only admin leaves: %v", err)
	}
}

// TestGroupsFollowTheAccount: a second device of a member (linked, or
// restored from the phrase: the same keys) finds the account's groups in
// its user groups config, reads and posts; so does an admin's.
func TestGroupsFollowTheAccount(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 7})
	ctx := context.Background()
	dir := t.TempDir()
	alice, bob := newPerson(t, nw, "alice", dir, nil), newPerson(t, nw, "bob", dir, nil)
	ga, err := alice.s.Create(ctx, "club", []group.Invitee{bob.invitee()})
	if err != nil {
		t.Fatal(err)
	}
	gb := bob.join(t)
	bob.send(t, gb, "from bob's laptop")

	phone := newPerson(t, nw, "bob-phone", dir, bob.keys)
	if _, err := phone.s.Store.Load("bob-phone", bob.id().String(), "club"); !errors.Is(err, group.ErrUnknown) {
		t.Fatalf("a new device knows the group before reading the config: %v", err)
	}
	added, err := phone.s.Recover(ctx)
	if err != nil || len(added) != 1 || added[0].ID != ga.ID || added[0].Invited || added[0].IsAdmin() {
		t.Fatalf("the phone recovers %+v, %v", added, err)
	}
	gp := added[0]
	texts, _, _ := phone.fetch(t, gp)
	if !has(texts, "from bob's laptop") {
		t.Fatalf("the phone reads %v", texts)
	}
	phone.send(t, gp, "from bob's phone")
	if texts, _, _ := alice.fetch(t, ga); !has(texts, "from bob's phone") {
		t.Fatalf("alice reads %v", texts)
	}
	// An admin's restored device administers.
	restored := newPerson(t, nw, "alice-restored", dir, alice.keys)
	added, err = restored.s.Recover(ctx)
	if err != nil || len(added) != 1 || !added[0].IsAdmin() {
		t.Fatalf("the restored admin: %+v, %v", added, err)
	}
	carol := newPerson(t, nw, "carol", dir, nil)
	if err := restored.s.Add(ctx, added[0], []group.Invitee{carol.invitee()}, true); err != nil {
		t.Fatal(err)
	}
	gc := carol.join(t)
	if texts, _, _ := carol.fetch(t, gc); !has(texts, "from bob's phone") {
		t.Fatalf("carol reads %v", texts)
	}
	// Bob leaves on his laptop: the phone's next recover does not bring
	// it back (the entry is gone), and the swarm tells it the rest.
	if err := bob.s.Leave(ctx, gb, false); err != nil {
		t.Fatal(err)
	}
	if added, err := phone.s.Recover(ctx); err != nil || len(added) != 0 {
		t.Fatalf("after leaving: %+v %v", added, err)
	}
}

// TestBadInput: forged invites, an invite to a group one is in, auth data
// for another group, a truncated keys message, a members config of 101
// members: refused with a reason, nothing changed, no panic.
func TestBadInput(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 7})
	ctx := context.Background()
	dir := t.TempDir()
	alice, bob, mallory := newPerson(t, nw, "alice", dir, nil), newPerson(t, nw, "bob", dir, nil), newPerson(t, nw, "mallory", dir, nil)
	ga, err := alice.s.Create(ctx, "real", []group.Invitee{bob.invitee()})
	if err != nil {
		t.Fatal(err)
	}
	gb := bob.join(t)
	other, err := alice.s.Create(ctx, "other", nil)
	if err != nil {
		t.Fatal(err)
	}
	authA, _ := groupkeys.MakeSubaccount(group.GroupKey(ga).Seed(), bob.id(), groupkeys.SubaccountFlags(true, false))
	authOther, _ := groupkeys.MakeSubaccount(group.GroupKey(other).Seed(), bob.id(), groupkeys.SubaccountFlags(true, false))
	fake := ed25519.NewKeyFromSeed(make([]byte, 32))
	// Forged: named for the other group, signed by a key that is not its.
	sendInvite(t, mallory, bob, other.ID, "other", authOther, fake)
	// Auth data for another group, under a genuine signature.
	sendInvite(t, alice, bob, other.ID, "other", authA, group.GroupKey(other))
	// An invite to a group bob is in.
	sendInvite(t, alice, bob, ga.ID, "real", authA, group.GroupKey(ga))
	// Not a group at all.
	sendInvite(t, mallory, bob, bob.id().String(), "x", authA, fake)
	in := bob.inbox(t)
	if len(in.Invited) != 0 || len(in.Refused) != 4 {
		t.Fatalf("bob took %+v", in)
	}
	for i, want := range []error{group.ErrBadInvite, group.ErrBadInvite, group.ErrAlready, group.ErrBadInvite} {
		if !errors.Is(in.Refused[i].Err, want) {
			t.Errorf("invite %d: %v, want %v", i, in.Refused[i].Err, want)
		}
	}
	if _, err := bob.s.Store.Load("bob", bob.id().String(), "other"); !errors.Is(err, group.ErrUnknown) {
		t.Fatalf("a refused invite was kept: %v", err)
	}
	// A forged promotion (a seed that is no group bob knows) is a pending
	// invite at most, never an admin of "real".
	if gb.IsAdmin() {
		t.Fatal("bob became an admin")
	}

	// A truncated keys message and a members config of 101 members, both
	// stored with the admin's rights: bob's fetch refuses them, keeps
	// what he knew, and goes on reading.
	if err := group.StoreRaw(ctx, alice.s, ga, group.NSKeys, []byte("d1:#24:")); err != nil {
		t.Fatal(err)
	}
	key, err := group.EncryptionKey(alice.s, ga)
	if err != nil {
		t.Fatal(err)
	}
	m := configmsg.FirstSigned(configmsg.DefaultLag, group.GroupKey(ga))
	for range 1000 {
		m = m.Increment() // newer than any the group has
	}
	crowd := configmsg.Dict{}
	for i := 0; i < 101; i++ {
		k, _ := identity.NewAccount(rand.Reader)
		crowd[string(k.AccountID().Bytes())] = configmsg.Dict{"n": "x"}
	}
	m.Data()["m"] = crowd
	sealed, err := configmsg.Seal(m.Encode(), key, "groups::Members")
	if err != nil {
		t.Fatal(err)
	}
	if err := group.StoreRaw(ctx, alice.s, ga, group.NSMembers, sealed); err != nil {
		t.Fatal(err)
	}
	alice.send(t, ga, "still here")
	texts, _, bad := bob.fetch(t, gb)
	if !has(texts, "still here") || len(gb.MemberList()) != 2 {
		t.Fatalf("bob reads %v with %d members", texts, len(gb.MemberList()))
	}
	var keysBad, membersBad bool
	for _, b := range bad {
		keysBad = keysBad || strings.Contains(b.Reason, "keys message refused")
		membersBad = membersBad || strings.Contains(b.Reason, "at most 100 members")
	}
	if !keysBad || !membersBad {
		t.Fatalf("bob's problems: %+v", bad)
	}
	// The admin's own writes refuse a 101st member before storing.
	var many []group.Invitee
	for i := 0; i < 100; i++ {
		k, _ := identity.NewAccount(rand.Reader)
		many = append(many, group.Invitee{ID: k.AccountID()})
	}
	if _, err := alice.s.Create(ctx, "crowd", many); !errors.Is(err, group.ErrTooMany) {
		t.Fatalf("101 members: %v", err)
	}
	// Nobody without the group key or a valid token reads the group.
	resp, err := mallory.s.C.Call(ctx, ga.Account(), "retrieve", func() any {
		return storagerpc.RetrieveParams{Pubkey: ga.ID, Namespace: group.NSMessages, Timestamp: time.Now().UnixMilli()}
	})
	if err != nil || resp.Code != 401 {
		t.Fatalf("an unsigned retrieve of the group: %v %v", resp, err)
	}
}

// TestOldKind: a group file of the format sessionctl used before is named
// as such, not misread, and can be left.
func TestOldKind(t *testing.T) {
	dir := t.TempDir()
	st := &group.Store{Dir: dir}
	me := "05" + strings.Repeat("ab", 32)
	gid := "03" + strings.Repeat("cd", 32)
	old := `{"id":"` + gid + `","name":"legacy","me":"` + me + `","generation":2,"keys":{"0":"aa","2":"bb"},` +
		`"members":[{"account_id":"` + me + `","admin":false,"token":"03"}],"last_hash":{}}`
	if err := writeFile(dir+"/"+me[:16]+"/"+gid+".json", old); err != nil {
		t.Fatal(err)
	}
	all, err := st.List("alice", me)
	if err != nil || len(all) != 1 || !all[0].Old || all[0].Name != "legacy" {
		t.Fatalf("listed %+v %v", all, err)
	}
	g, err := st.Load("alice", me, "legacy")
	if !errors.Is(err, group.ErrOldKind) || g == nil || g.ID != gid {
		t.Fatalf("loaded %+v %v", g, err)
	}
	s := &group.Device{Store: st, Name: "alice"}
	if err := s.Leave(context.Background(), g, true); err != nil {
		t.Fatal(err)
	}
	if all, _ := st.List("alice", me); len(all) != 0 {
		t.Fatalf("after leaving: %+v", all)
	}
	// A damaged file is an error, not a group.
	if err := writeFile(dir+"/device/alice/"+gid+".json", "{"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.List("alice", me); err == nil {
		t.Fatal("a damaged file was listed")
	}
	// Names that are not device names never become paths.
	if _, err := st.List("../x", me); err == nil {
		t.Fatal("a path as a device name")
	}
}

func writeFile(path, data string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(data), 0o600)
}

// TestConfigsKeptAlive: a member's device that reads the group's configs
// past half their life extends them (members' tokens may extend), as the
// account's own configs are kept.
func TestConfigsKeptAlive(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 5})
	ctx := context.Background()
	dir := t.TempDir()
	alice, bob := newPerson(t, nw, "alice", dir, nil), newPerson(t, nw, "bob", dir, nil)
	alice.s.ConfigTTL = 30 * time.Second
	ga, err := alice.s.Create(ctx, "short", []group.Invitee{bob.invitee()})
	if err != nil {
		t.Fatal(err)
	}
	bob.join(t)
	before := map[storagerpc.Namespace]map[string]int64{}
	for _, ns := range []storagerpc.Namespace{group.NSKeys, group.NSInfo, group.NSMembers} {
		if before[ns], err = group.Expirations(ctx, alice.s, ga, ns); err != nil {
			t.Fatal(err)
		}
	}
	// Bob's phone, whose clock runs 20 s ahead: past half the configs'
	// 30 s. It finds the group and reads it.
	phone := newPersonAt(t, nw, "bob-phone", dir, bob.keys, func() time.Time { return time.Now().Add(20 * time.Second) })
	phone.s.ConfigTTL = 30 * time.Second
	if added, err := phone.s.Recover(ctx); err != nil || len(added) != 1 {
		t.Fatalf("recover: %v %v", added, err)
	}
	for _, ns := range []storagerpc.Namespace{group.NSKeys, group.NSInfo, group.NSMembers} {
		after, err := group.Expirations(ctx, alice.s, ga, ns)
		if err != nil {
			t.Fatal(err)
		}
		longer := 0
		for h, exp := range after {
			if exp > before[ns][h] {
				longer++
			}
		}
		if longer == 0 {
			t.Errorf("namespace %d: nothing extended (%v, then %v)", ns, before[ns], after)
		}
	}
}

// TestConcurrentAdmins: two admins change the info config at once (each
// from the same message): the swarm holds both; members read the newest;
// an admin's next fetch merges them, as libsession merges, and pushes the
// merge, after which one message is left and every reader agrees.
func TestConcurrentAdmins(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 5})
	ctx := context.Background()
	dir := t.TempDir()
	alice, bob, carol := newPerson(t, nw, "alice", dir, nil), newPerson(t, nw, "bob", dir, nil), newPerson(t, nw, "carol", dir, nil)
	ga, err := alice.s.Create(ctx, "base", []group.Invitee{bob.invitee(), carol.invitee()})
	if err != nil {
		t.Fatal(err)
	}
	bob.join(t)
	gc := carol.join(t)
	if err := alice.s.Promote(ctx, ga, bob.id()); err != nil {
		t.Fatal(err)
	}
	bob.inbox(t)
	gb, err := bob.s.Store.Load("bob", bob.id().String(), ga.ID)
	if err != nil || !gb.IsAdmin() {
		t.Fatalf("bob: %v", err)
	}
	conflict := false
	for try := 0; try < 20 && !conflict; try++ {
		errs := make(chan error, 2)
		go func() { errs <- alice.s.Rename(ctx, ga, "by-alice-"+strconv.Itoa(try)) }()
		go func() { errs <- bob.s.Rename(ctx, gb, "by-bob-"+strconv.Itoa(try)) }()
		// Both answers before the test may end: a client closed under a
		// running call fails it.
		if err := errors.Join(<-errs, <-errs); err != nil {
			t.Fatal(err)
		}
		exp, err := group.Expirations(ctx, alice.s, ga, group.NSInfo)
		if err != nil {
			t.Fatal(err)
		}
		conflict = len(exp) > 1
	}
	if !conflict {
		t.Skip("the two admins never wrote at once")
	}
	if err := carol.s.Refresh(ctx, gc); err != nil {
		t.Fatalf("carol reads two info messages: %v", err)
	}
	alice.fetch(t, ga) // merges and pushes
	exp, err := group.Expirations(ctx, alice.s, ga, group.NSInfo)
	if err != nil || len(exp) != 1 {
		t.Fatalf("after the merge: %d info messages, %v", len(exp), err)
	}
	for _, p := range []struct {
		who *person
		g   *group.Group
	}{{bob, gb}, {carol, gc}} {
		if err := p.who.s.Refresh(ctx, p.g); err != nil {
			t.Fatal(err)
		}
		if p.g.Name != ga.Name {
			t.Fatalf("%s reads %q, alice %q", p.who.name, p.g.Name, ga.Name)
		}
	}
}
