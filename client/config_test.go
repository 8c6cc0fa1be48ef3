package client_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/devnet/devnettest"
	"github.com/sessionctl/sessionctl/identity"
)

// startDevice starts a client as a user's device: its fetches look after
// the account's configs.
func startDevice(t testing.TB, nw *devnet.Network, k *identity.Keys, statePath string, now func() time.Time) *client.Client {
	t.Helper()
	return devnettest.ClientConfig(t, nw, client.Config{Keys: k, StatePath: statePath, Now: now, KeepConfigs: true})
}

func profileName(t *testing.T, c *client.Client) string {
	t.Helper()
	cfg, err := c.LoadConfig(context.Background(), configmsg.UserProfile)
	if err != nil {
		t.Fatal(err)
	}
	return configmsg.ReadProfile(cfg.Data()).Name
}

func contact(t *testing.T, c *client.Client, id identity.AccountID) configmsg.Contact {
	t.Helper()
	cfg, err := c.LoadConfig(context.Background(), configmsg.Contacts)
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := configmsg.GetContact(cfg.Data(), id.String())
	return ct
}

// TestConfigSync: what one device of an account writes, another reads;
// when two write at once, every reader merges both changes the same way,
// and the first device online pushes the merge, replacing the two.
func TestConfigSync(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 5})
	ctx := context.Background()
	k := newKeys(t)
	dir := t.TempDir()
	laptop := startDevice(t, nw, k, filepath.Join(dir, "laptop.json"), nil)
	phone := startDevice(t, nw, k, filepath.Join(dir, "phone.json"), nil)

	push, err := laptop.SetProfile(ctx, "Alice", 0)
	if err != nil || push.Seqno != 1 || push.Hash == "" {
		t.Fatalf("set profile: %+v, %v", push, err)
	}
	if got := profileName(t, phone); got != "Alice" {
		t.Fatalf("the phone reads %q", got)
	}
	if push, err := phone.SetProfile(ctx, "Alice", 0); err != nil || push.Hash != "" || push.Seqno != 1 {
		t.Fatalf("an unchanged profile was pushed: %+v, %v", push, err)
	}
	if _, err := phone.SetProfile(ctx, "Alice Liddell", 0); err != nil {
		t.Fatal(err)
	}
	if got := profileName(t, laptop); got != "Alice Liddell" {
		t.Fatalf("the laptop reads %q", got)
	}

	// Both devices change the contacts from the same seqno: the phone's
	// write lands while the laptop's is being made.
	joe, ann := newKeys(t).AccountID(), newKeys(t).AccountID()
	if _, err := laptop.EditContact(ctx, joe, 0, func(c *configmsg.Contact) { c.Approved = true }); err != nil {
		t.Fatal(err)
	}
	_, _, err = laptop.UpdateConfig(ctx, configmsg.Contacts, 0, func(d configmsg.Dict) error {
		if _, err := phone.EditContact(ctx, ann, 0, func(c *configmsg.Contact) { c.Blocked = true }); err != nil {
			return err
		}
		ct, _ := configmsg.GetContact(d, joe.String())
		ct.Nickname = "Joey"
		return configmsg.SetContact(d, ct)
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := phone.LoadConfig(ctx, configmsg.Contacts)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Message.Merged() || cfg.Message.Seqno() != 3 || len(cfg.Hashes) != 2 {
		t.Fatalf("want a merge of two seqno-2 messages into 3: merged %v, seqno %d, %d messages", cfg.Message.Merged(), cfg.Message.Seqno(), len(cfg.Hashes))
	}
	// The next fetch of a device pushes the merge.
	if _, _, err := phone.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	cfg, err = laptop.LoadConfig(ctx, configmsg.Contacts)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Message.Merged() || cfg.Message.Seqno() != 3 || len(cfg.Hashes) != 1 {
		t.Fatalf("after the push: merged %v, seqno %d, %d messages", cfg.Message.Merged(), cfg.Message.Seqno(), len(cfg.Hashes))
	}
	if c := contact(t, laptop, joe); !c.Approved || c.Nickname != "Joey" {
		t.Fatalf("joe: %+v", c)
	}
	if c := contact(t, laptop, ann); !c.Blocked {
		t.Fatalf("ann: %+v", c)
	}
}

// TestMessageRequests: a stranger's message is a request until accepted;
// accepting tells the sender; a declined and blocked sender's later
// messages are dropped; another device of the account follows the
// contacts config.
func TestMessageRequests(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 5})
	ctx := context.Background()
	aliceK, bobK, carolK := newKeys(t), newKeys(t), newKeys(t)
	dir := t.TempDir()
	alice := devnettest.ClientConfig(t, nw, client.Config{Keys: aliceK, StatePath: filepath.Join(dir, "alice.json")})
	bob := devnettest.ClientConfig(t, nw, client.Config{Keys: bobK, StatePath: filepath.Join(dir, "bob.json")})
	carol := devnettest.Client(t, nw, carolK)

	if _, err := alice.Send(ctx, bobK.AccountID(), "hi bob, it's alice"); err != nil {
		t.Fatal(err)
	}
	if c := contact(t, alice, bobK.AccountID()); !c.Approved || c.Created == 0 {
		t.Fatalf("writing to bob did not make him alice's contact: %+v", c)
	}
	msgs, _, err := bob.Fetch(ctx)
	if err != nil || len(msgs) != 1 || !msgs[0].Request {
		t.Fatalf("bob's fetch: %+v, %v", msgs, err)
	}
	held, err := bob.Requests(ctx)
	if err != nil || len(held) != 1 || held[0].Text != "hi bob, it's alice" {
		t.Fatalf("held: %+v, %v", held, err)
	}
	got, err := bob.AcceptRequest(ctx, aliceK.AccountID())
	if err != nil || len(got) != 1 {
		t.Fatalf("accept: %+v, %v", got, err)
	}
	if held, _ := bob.Requests(ctx); len(held) != 0 {
		t.Fatalf("still held after accepting: %+v", held)
	}
	msgs, _, err = alice.Fetch(ctx)
	if err != nil || len(msgs) != 1 || msgs[0].Kind != client.KindMessageRequestResponse {
		t.Fatalf("alice's fetch: %+v, %v", msgs, err)
	}
	if c := contact(t, alice, bobK.AccountID()); !c.ApprovedMe {
		t.Fatalf("alice does not know bob accepted: %+v", c)
	}
	if _, err := alice.Send(ctx, bobK.AccountID(), "thanks"); err != nil {
		t.Fatal(err)
	}
	if msgs, _, err := bob.Fetch(ctx); err != nil || len(msgs) != 1 || msgs[0].Request {
		t.Fatalf("a contact's message: %+v, %v", msgs, err)
	}

	if _, err := carol.Send(ctx, bobK.AccountID(), "buy now"); err != nil {
		t.Fatal(err)
	}
	if msgs, _, err := bob.Fetch(ctx); err != nil || len(msgs) != 1 || !msgs[0].Request {
		t.Fatalf("carol's request: %+v, %v", msgs, err)
	}
	n, err := bob.DeclineRequest(ctx, carolK.AccountID(), true)
	if err != nil || n != 1 {
		t.Fatalf("decline: %d, %v", n, err)
	}
	if _, err := carol.Send(ctx, bobK.AccountID(), "buy now!!"); err != nil {
		t.Fatal(err)
	}
	f, err := bob.FetchPending(ctx)
	if err != nil || len(f.Messages) != 0 || f.Blocked != 1 {
		t.Fatalf("a blocked sender: %+v, blocked %d, %v", f.Messages, f.Blocked, err)
	}
	f.Commit()

	// Bob's new tablet reads his inbox: alice is a contact, carol blocked
	// and her declined message deleted.
	tablet := devnettest.ClientConfig(t, nw, client.Config{Keys: bobK, StatePath: filepath.Join(dir, "tablet.json")})
	msgs, _, err = tablet.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, m := range msgs {
		if m.Request {
			t.Fatalf("the tablet holds a request: %+v", m)
		}
		if m.Kind == "" {
			seen = append(seen, m.Text)
		}
	}
	if len(seen) != 2 || seen[0] != "hi bob, it's alice" || seen[1] != "thanks" {
		t.Fatalf("the tablet shows %q", seen)
	}
}

// TestConfigKeepAlive: a device that comes online in the second half of a
// config's life extends it; an account none of whose devices comes online
// loses its configs when they expire.
func TestConfigKeepAlive(t *testing.T) {
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	nw := devnettest.Start(t, devnet.Config{Nodes: 5, NodeNow: now})
	ctx := context.Background()
	aliceK, carolK := newKeys(t), newKeys(t)
	alice, carol := startDevice(t, nw, aliceK, "", now), startDevice(t, nw, carolK, "", now)
	if _, err := alice.SetProfile(ctx, "Alice", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.SetProfile(ctx, "Carol", 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := alice.Fetch(ctx); err != nil { // early: nothing to extend
		t.Fatal(err)
	}
	offset.Store(int64(16 * 24 * time.Hour))
	if _, _, err := alice.Fetch(ctx); err != nil { // past half-life: extended
		t.Fatal(err)
	}
	offset.Store(int64(31 * 24 * time.Hour))
	if got := profileName(t, alice); got != "Alice" {
		t.Fatalf("alice's profile, extended at day 16, reads %q at day 31", got)
	}
	if got := profileName(t, carol); got != "" {
		t.Fatalf("carol's profile, never extended, reads %q at day 31", got)
	}
}

// TestRequestAcceptedElsewhere: a request one device holds is shown there
// once another device of the account accepts it; one blocked elsewhere is
// dropped.
func TestRequestAcceptedElsewhere(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 5})
	ctx := context.Background()
	bobK, daveK, eveK := newKeys(t), newKeys(t), newKeys(t)
	laptop := startDevice(t, nw, bobK, "", nil)
	phone := startDevice(t, nw, bobK, "", nil)
	dave, eve := devnettest.Client(t, nw, daveK), devnettest.Client(t, nw, eveK)
	if _, err := dave.Send(ctx, bobK.AccountID(), "hi from dave"); err != nil {
		t.Fatal(err)
	}
	if _, err := eve.Send(ctx, bobK.AccountID(), "hi from eve"); err != nil {
		t.Fatal(err)
	}
	for _, dev := range []*client.Client{laptop, phone} {
		if msgs, _, err := dev.Fetch(ctx); err != nil || len(msgs) != 2 || !msgs[0].Request || !msgs[1].Request {
			t.Fatalf("two requests: %+v, %v", msgs, err)
		}
	}
	if _, err := laptop.AcceptRequest(ctx, daveK.AccountID()); err != nil {
		t.Fatal(err)
	}
	if _, err := laptop.DeclineRequest(ctx, eveK.AccountID(), true); err != nil {
		t.Fatal(err)
	}
	msgs, _, err := phone.Fetch(ctx)
	if err != nil || len(msgs) != 1 || msgs[0].Text != "hi from dave" || msgs[0].Request {
		t.Fatalf("the phone after the laptop accepted dave and blocked eve: %+v, %v", msgs, err)
	}
	if held, _ := phone.Requests(ctx); len(held) != 0 {
		t.Fatalf("the phone still holds %+v", held)
	}
}

// TestReadElsewhere: what one device read, another shows as read there;
// what came after, as new.
func TestReadElsewhere(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 5})
	ctx := context.Background()
	aliceK, bobK := newKeys(t), newKeys(t)
	laptop := startDevice(t, nw, aliceK, "", nil)
	phone := startDevice(t, nw, aliceK, "", nil)
	bob := devnettest.Client(t, nw, bobK)
	if _, err := laptop.EditContact(ctx, bobK.AccountID(), 0, func(c *configmsg.Contact) { c.Approved = true }); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Send(ctx, aliceK.AccountID(), "read on the laptop"); err != nil {
		t.Fatal(err)
	}
	if msgs, _, err := laptop.Fetch(ctx); err != nil || len(msgs) != 1 || msgs[0].ReadElsewhere {
		t.Fatalf("the laptop: %+v, %v", msgs, err)
	}
	if _, err := bob.Send(ctx, aliceK.AccountID(), "new to both"); err != nil {
		t.Fatal(err)
	}
	msgs, _, err := phone.Fetch(ctx)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("the phone: %+v, %v", msgs, err)
	}
	if !msgs[0].ReadElsewhere || msgs[1].ReadElsewhere {
		t.Fatalf("read elsewhere: %q %v, %q %v", msgs[0].Text, msgs[0].ReadElsewhere, msgs[1].Text, msgs[1].ReadElsewhere)
	}
	cfg, err := laptop.LoadConfig(ctx, configmsg.ConvoInfoVolatile)
	if err != nil {
		t.Fatal(err)
	}
	if cv := configmsg.ListConvos(cfg.Data()); len(cv) != 1 || cv[0].ID != bobK.AccountID().String() || cv[0].LastRead != msgs[1].SentAt {
		t.Fatalf("the read mark after the phone read on: %+v", cv)
	}
}
