package client_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/devnet/devnettest"
)

// only returns the one message of msgs of kind, failing otherwise.
func only(t *testing.T, msgs []client.Message, kind string) client.Message {
	t.Helper()
	var out []client.Message
	for _, m := range msgs {
		if m.Kind == kind {
			out = append(out, m)
		}
	}
	if len(out) != 1 {
		t.Fatalf("%d messages of kind %q in %+v", len(out), kind, msgs)
	}
	return out[0]
}

// TestProfilesTravel: the name and picture set with SetProfile and
// SetAvatar travel with every message; the receiver names the sender (a
// nickname wins), notes a new picture once and downloads it; a message
// request and a request's acceptance carry them too.
func TestProfilesTravel(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 7})
	ctx := context.Background()
	aliceK, bobK := newKeys(t), newKeys(t)
	dir := t.TempDir()
	alice := startDevice(t, nw, aliceK, filepath.Join(dir, "alice.json"), nil)
	bob := startDevice(t, nw, bobK, filepath.Join(dir, "bob.json"), nil)
	srv := fileServer(nw, "")

	if _, err := alice.SetProfile(ctx, "Alice Liddell", 0); err != nil {
		t.Fatal(err)
	}
	face := bytes.Repeat([]byte("a face "), 100)
	av, err := alice.SetAvatar(ctx, srv, face, 0)
	if err != nil || av.Avatar == nil || av.Avatar.Size != len(face) || av.Seqno != 2 {
		t.Fatalf("set avatar: %+v, %v", av, err)
	}
	if _, err := alice.Send(ctx, bobK.AccountID(), "hello bob"); err != nil {
		t.Fatal(err)
	}
	f, err := bob.FetchPending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Held) != 1 {
		t.Fatalf("held %d requests, want alice's", len(f.Held))
	}
	m := f.Held[0]
	if m.FromName != "Alice Liddell" || m.Profile == nil || m.Profile.PicURL != av.Avatar.URL || !m.AvatarChanged || m.Profile.UpdatedAt == 0 {
		t.Fatalf("the request: name %q, profile %+v, changed %v", m.FromName, m.Profile, m.AvatarChanged)
	}
	pic, err := bob.DownloadAvatar(ctx, srv, m.Profile)
	if err != nil || !bytes.Equal(pic, face) {
		t.Fatalf("the picture: %d bytes, %v", len(pic), err)
	}
	f.Commit()
	if _, err := bob.AcceptRequest(ctx, aliceK.AccountID()); err != nil {
		t.Fatal(err)
	}
	msgs, _, err := alice.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rr := only(t, msgs, client.KindMessageRequestResponse); rr.FromName != "" || rr.Profile != nil {
		t.Fatalf("bob has no profile, yet his response carries %q %+v", rr.FromName, rr.Profile)
	}

	// Again: the same picture is not new; a nickname wins over the name.
	if _, err := bob.EditContact(ctx, aliceK.AccountID(), 0, func(ct *configmsg.Contact) { ct.Nickname = "Al" }); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Send(ctx, bobK.AccountID(), "again"); err != nil {
		t.Fatal(err)
	}
	msgs, _, err = bob.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m = only(t, msgs, "")
	if m.FromName != "Al" || m.AvatarChanged || m.Profile == nil || m.Profile.Name != "Alice Liddell" {
		t.Fatalf("the second message: name %q, changed %v, profile %+v", m.FromName, m.AvatarChanged, m.Profile)
	}

	// A profile older than the one held is not taken.
	if _, err := alice.RemoveAvatar(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.SetProfile(ctx, "", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Send(ctx, bobK.AccountID(), "plain now"); err != nil {
		t.Fatal(err)
	}
	msgs, _, err = bob.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m := only(t, msgs, ""); m.Profile != nil || m.FromName != "Al" {
		t.Fatalf("after removing it all: profile %+v, name %q", m.Profile, m.FromName)
	}

	// An avatar over the limit is refused before anything is uploaded.
	if _, err := alice.SetAvatar(ctx, srv, make([]byte, client.MaxAvatarSize+1), 0); err == nil {
		t.Fatal("an oversized avatar was set")
	}
	if p := configmsg.ReadProfile(mustConfig(t, alice, configmsg.UserProfile)); p.PicURL != "" {
		t.Fatalf("the refused avatar reached the profile: %+v", p)
	}
}

func mustConfig(t *testing.T, c *client.Client, kind configmsg.Kind) configmsg.Dict {
	t.Helper()
	cfg, err := c.LoadConfig(context.Background(), kind)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Data()
}

// TestReactionsAndQuotes: a reaction and a reply name a message by its
// author and time; the receiver finds it (the hash and text it showed),
// the sender's other device sees its copy as a reaction and the sending
// device not at all; read receipts and typing indicators arrive as such;
// a stranger's reaction is not held as a request; an unknown hash is
// refused.
func TestReactionsAndQuotes(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 7})
	ctx := context.Background()
	aliceK, bobK, zedK := newKeys(t), newKeys(t), newKeys(t)
	dir := t.TempDir()
	alice := devnettest.ClientConfig(t, nw, client.Config{Keys: aliceK, StatePath: filepath.Join(dir, "alice.json")})
	alicePhone := devnettest.ClientConfig(t, nw, client.Config{Keys: aliceK, StatePath: filepath.Join(dir, "alice-phone.json")})
	bob := devnettest.ClientConfig(t, nw, client.Config{Keys: bobK, StatePath: filepath.Join(dir, "bob.json")})
	zed := devnettest.Client(t, nw, zedK)

	// Alice wrote first: bob is her contact, and she his once he answers.
	if _, err := alice.Send(ctx, bobK.AccountID(), "hi bob"); err != nil {
		t.Fatal(err)
	}
	sent, err := bob.Send(ctx, aliceK.AccountID(), "lunch at noon?")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := alice.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := alicePhone.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := alice.React(ctx, sent.Hash, "👍", false); err != nil {
		t.Fatal(err)
	}
	ref, with, err := alice.Lookup(ctx, sent.Hash)
	if err != nil || with != bobK.AccountID() || ref.Author != bobK.AccountID().String() || ref.Text != "lunch at noon?" {
		t.Fatalf("lookup: %+v %s %v", ref, with, err)
	}
	reply := client.Content{Text: "yes!", Quote: &ref}
	if _, err := alice.SendContent(ctx, bobK.AccountID(), reply); err != nil {
		t.Fatal(err)
	}
	msgs, _, err := bob.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(texts(msgs)) != 2 {
		t.Fatalf("bob read %v", texts(msgs))
	}
	r := only(t, msgs, client.KindReaction)
	if r.Reaction.Emoji != "👍" || r.Reaction.Hash != sent.Hash || r.Reaction.Text != "lunch at noon?" || r.Request {
		t.Fatalf("bob's reaction: %+v", r.Reaction)
	}
	q := msgs[len(msgs)-1]
	if q.Text != "yes!" || q.Quote == nil || q.Quote.Hash != sent.Hash || q.Quote.Text != "lunch at noon?" {
		t.Fatalf("bob's reply: %+v %+v", q, q.Quote)
	}
	// The phone sees both as alice's own, the reaction as a reaction.
	msgs, _, err = alicePhone.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := only(t, msgs, client.KindReaction); r.SyncTarget != bobK.AccountID().String() || r.Reaction.Hash != sent.Hash {
		t.Fatalf("the phone's reaction: %+v %+v", r, r.Reaction)
	}
	// The laptop that sent them shows neither.
	msgs, _, err = alice.Fetch(ctx)
	if err != nil || len(msgs) != 0 {
		t.Fatalf("the laptop shows %+v (%v)", msgs, err)
	}

	// Bob reads the reply and says so; alice types.
	res := bob.SendReadReceipts(ctx, []client.Message{q})
	if len(res) != 1 || res[0].Error != "" || res[0].Messages != 1 {
		t.Fatalf("receipts: %+v", res)
	}
	if _, err := alice.SendTyping(ctx, bobK.AccountID(), true); err != nil {
		t.Fatal(err)
	}
	msgs, _, err = alice.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rc := only(t, msgs, client.KindReceipt); len(rc.Read) != 1 || rc.Read[0].Text != "yes!" || rc.Read[0].Hash == "" {
		t.Fatalf("alice's receipt: %+v", rc.Read)
	}
	msgs, _, err = bob.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ty := only(t, msgs, client.KindTyping); ty.Typing != client.TypingStarted {
		t.Fatalf("typing: %+v", ty)
	}

	// A stranger's reaction to a message bob never had: shown as a
	// reaction to an unknown message, not held as a request.
	if _, err := zed.SendContent(ctx, bobK.AccountID(), client.Content{Reaction: &client.Reaction{
		MessageRef: client.MessageRef{Author: zedK.AccountID().String(), Timestamp: 42}, Emoji: "🎉"}}); err != nil {
		t.Fatal(err)
	}
	f, err := bob.FetchPending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := only(t, f.Messages, client.KindReaction); r.Request || r.Reaction.Hash != "" || len(f.Held) != 0 {
		t.Fatalf("zed's reaction: %+v, %d held", r, len(f.Held))
	}
	f.Commit()

	if _, _, err := bob.React(ctx, "no-such-hash", "👍", false); !errors.Is(err, client.ErrUnknownMessage) {
		t.Fatalf("an unknown hash: %v", err)
	}
	if _, _, err := bob.React(ctx, sent.Hash, "", false); err == nil {
		t.Fatal("an empty emoji was sent")
	}
	// Unsend does not take a reaction for a message.
	if last, err := alice.LastSent(ctx); err != nil || last == "" {
		t.Fatalf("last sent: %q %v", last, err)
	} else if ref, _, err := alice.Lookup(ctx, last); err != nil || ref.Text != "yes!" {
		t.Fatalf("alice's last message is %+v (%v), want the reply", ref, err)
	}
}
