package client_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/devnet/devnettest"
)

// texts are the text messages among msgs.
func texts(msgs []client.Message) []string {
	var out []string
	for _, m := range msgs {
		if m.Kind == "" {
			out = append(out, m.Text)
		}
	}
	return out
}

// TestUnsend: a message taken back disappears for its recipient, whether
// it had read it already or reads it in the same fetch as the request, and
// from both swarms (a new device of either account no longer finds it); an
// UnsendRequest from anyone but the author is shown, not obeyed; an unknown
// hash is refused.
func TestUnsend(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 7})
	ctx := context.Background()
	aliceK, bobK, carolK := newKeys(t), newKeys(t), newKeys(t)
	dir := t.TempDir()
	alice := devnettest.ClientConfig(t, nw, client.Config{Keys: aliceK, StatePath: filepath.Join(dir, "alice.json")})
	bob := devnettest.ClientConfig(t, nw, client.Config{Keys: bobK, StatePath: filepath.Join(dir, "bob.json")})
	carol := devnettest.Client(t, nw, carolK)

	keep, err := alice.Send(ctx, bobK.AccountID(), "keep me")
	if err != nil {
		t.Fatal(err)
	}
	oops, err := alice.Send(ctx, bobK.AccountID(), "wrong chat")
	if err != nil {
		t.Fatal(err)
	}
	if !oops.Synced || oops.SyncHash == "" {
		t.Fatalf("no sync copy: %+v", oops)
	}
	msgs, _, err := bob.Fetch(ctx)
	if err != nil || !slices.Equal(texts(msgs), []string{"keep me", "wrong chat"}) {
		t.Fatalf("bob read %v (%v)", texts(msgs), err)
	}
	// Someone else asks bob to forget alice's message: not obeyed.
	var sentAt int64
	for _, m := range msgs {
		if m.Hash == oops.Hash {
			sentAt = m.SentAt
		}
	}
	if _, err := carol.SendContent(ctx, bobK.AccountID(), client.Content{Unsend: &client.Unsend{Timestamp: sentAt, Author: aliceK.AccountID().String()}}); err != nil {
		t.Fatal(err)
	}
	res, err := alice.Unsend(ctx, oops.Hash)
	if err != nil || !res.SyncDeleted || res.To != bobK.AccountID().String() {
		t.Fatalf("unsend: %+v %v", res, err)
	}
	if _, err := alice.Unsend(ctx, oops.Hash); !errors.Is(err, client.ErrNotSent) {
		t.Fatalf("a second unsend: %v", err)
	}
	if _, err := alice.Unsend(ctx, "no-such-hash"); !errors.Is(err, client.ErrNotSent) {
		t.Fatalf("an unknown hash: %v", err)
	}
	f, err := bob.FetchPending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	requests := 0
	for _, m := range f.Messages {
		if m.Kind == client.KindUnsend {
			requests++
		}
	}
	if !slices.Equal(f.Unsent, []string{oops.Hash}) || requests != 2 {
		t.Fatalf("unsent %v, %d requests, want the one message and both requests", f.Unsent, requests)
	}
	f.Commit()

	// Sent and taken back before the recipient looked: never shown.
	late, err := alice.Send(ctx, bobK.AccountID(), "never mind")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Unsend(ctx, late.Hash); err != nil {
		t.Fatal(err)
	}
	f, err = bob.FetchPending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(texts(f.Messages)) != 0 || !slices.Equal(f.Unsent, []string{late.Hash}) {
		t.Fatalf("read %v, unsent %v", texts(f.Messages), f.Unsent)
	}
	f.Commit()

	// New devices of both accounts find only what stands.
	bob2 := devnettest.Client(t, nw, bobK)
	msgs, _, err = bob2.Fetch(ctx)
	if err != nil || !slices.Equal(texts(msgs), []string{"keep me"}) {
		t.Fatalf("bob's new device read %v (%v)", texts(msgs), err)
	}
	alice2 := devnettest.Client(t, nw, aliceK)
	msgs, _, err = alice2.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var synced []string
	for _, m := range msgs {
		if m.SyncTarget != "" {
			synced = append(synced, m.Text)
		}
	}
	if !slices.Equal(synced, []string{"keep me"}) {
		t.Fatalf("alice's new device found her sync copies %v", synced)
	}
	if slices.Contains(f.Unsent, keep.Hash) {
		t.Fatal("the message kept was taken back")
	}
}

// TestDeleteAll: an account clears its own inbox; nothing is left for any
// device.
func TestDeleteAll(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 7})
	ctx := context.Background()
	aliceK, bobK := newKeys(t), newKeys(t)
	alice := devnettest.Client(t, nw, aliceK)
	bob := devnettest.Client(t, nw, bobK)
	for _, s := range []string{"one", "two", "three"} {
		if _, err := alice.Send(ctx, bobK.AccountID(), s); err != nil {
			t.Fatal(err)
		}
	}
	n, err := bob.DeleteAll(ctx)
	if err != nil || n != 3 {
		t.Fatalf("deleted %d (%v), want 3", n, err)
	}
	msgs, _, err := devnettest.Client(t, nw, bobK).Fetch(ctx)
	if err != nil || len(msgs) != 0 {
		t.Fatalf("after delete_all: %v (%v)", texts(msgs), err)
	}
}

// TestUnsendBeforeItsMessage: a message whose UnsendRequest a device read
// first (a swarm member that missed the request, or members that order
// messages their own way, can hand them over in that order) is never
// shown; the sender's other device is told of the unsend too, and so never
// shows the copy it had not read yet.
func TestUnsendBeforeItsMessage(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 5})
	ctx := context.Background()
	aliceK, bobK := newKeys(t), newKeys(t)
	alice := devnettest.Client(t, nw, aliceK)
	alice2 := devnettest.Client(t, nw, aliceK)
	bob := devnettest.Client(t, nw, bobK)

	at := alice.Now().UnixMilli() - 5_000
	if _, err := alice.SendContent(ctx, bobK.AccountID(), client.Content{Unsend: &client.Unsend{Timestamp: at, Author: aliceK.AccountID().String()}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bob.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.SendContent(ctx, bobK.AccountID(), client.Content{Text: "taken back before it came", SentAt: at}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Send(ctx, bobK.AccountID(), "still here"); err != nil {
		t.Fatal(err)
	}
	msgs, _, err := bob.Fetch(ctx)
	if err != nil || !slices.Equal(texts(msgs), []string{"still here"}) {
		t.Fatalf("bob read %v (%v)", texts(msgs), err)
	}

	// Alice's phone had not read the copy when her laptop took it back.
	oops, err := alice.Send(ctx, bobK.AccountID(), "wrong chat")
	if err != nil {
		t.Fatal(err)
	}
	res, err := alice.Unsend(ctx, oops.Hash)
	if err != nil || !res.Synced {
		t.Fatalf("unsend: %+v %v", res, err)
	}
	msgs, _, err = alice2.Fetch(ctx)
	if err != nil || slices.Contains(texts(msgs), "wrong chat") {
		t.Fatalf("alice's other device read %v (%v)", texts(msgs), err)
	}
}
