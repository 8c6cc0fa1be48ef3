package device_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/device"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/group"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
)

// A devnet's directory is a device's home.
var _ device.Home = devnet.Dir("")

// devnetDir runs a devnet (alice, bob and carol its clients) for a test.
func devnetDir(t *testing.T) (devnet.Dir, *ledgerrpc.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := devnet.Up(ctx, devnet.UpConfig{Dir: t.TempDir(), Nodes: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	dir := devnet.Dir(d.Network.Dir())
	lc, err := dir.Ledger(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return dir, lc
}

func open(t *testing.T, dir devnet.Dir, lc *ledgerrpc.Client, name string) *device.Device {
	t.Helper()
	d, err := device.Open(context.Background(), dir, lc, name, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestDevice(t *testing.T) {
	dir, lc := devnetDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ks := dir.Keystore()
	alice, bob := open(t, dir, lc, "alice"), open(t, dir, lc, "bob")

	t.Run("resolve", func(t *testing.T) {
		if id, err := device.Resolve(ctx, ks, lc, "bob"); err != nil || id != bob.AccountID() {
			t.Fatalf("Resolve(bob) = %v, %v", id, err)
		}
		if id, err := device.Resolve(ctx, ks, lc, bob.AccountID().String()); err != nil || id != bob.AccountID() {
			t.Fatalf("Resolve(bob's ID) = %v, %v", id, err)
		}
		for _, bad := range []string{"nobody", "not a name!", "05" + strings.Repeat("z", 64)} {
			if _, err := device.Resolve(ctx, ks, lc, bad); err == nil || (errkind.Of(err) != errkind.Invalid && !errors.Is(err, identity.ErrAccountIDFormat)) {
				t.Errorf("Resolve(%q): %v", bad, err)
			}
		}
		if _, err := device.Open(ctx, dir, lc, "nobody", zerolog.Nop()); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("Open(nobody): %v", err)
		}
	})

	t.Run("send and fetch, files saved before read", func(t *testing.T) {
		note := filepath.Join(t.TempDir(), "notes.txt")
		os.WriteFile(note, []byte("the notes"), 0o600)
		res, err := alice.Send(ctx, device.Message{To: "bob", Text: "hi bob", Attach: []string{note}})
		if err != nil || res.Stored == 0 {
			t.Fatalf("Send: %+v, %v", res, err)
		}
		if _, err := alice.Send(ctx, device.Message{To: "bob", Text: "x", Attach: []string{"/nowhere"}}); errkind.Of(err) != errkind.Invalid {
			t.Fatalf("a missing attachment: %v", err)
		}
		save := filepath.Join(t.TempDir(), "inbox")
		var reported []string
		got, err := bob.Fetch(ctx, device.FetchOptions{SaveDir: save, Report: func(l string) { reported = append(reported, l) }})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Shown) != 1 || got.Shown[0].Text != "hi bob" {
			t.Fatalf("shown %+v", got.Shown)
		}
		if b, err := os.ReadFile(filepath.Join(save, "notes.txt")); err != nil || string(b) != "the notes" || len(reported) != 1 {
			t.Fatalf("saved %q (%v), reported %q", b, err, reported)
		}
		var out, errs bytes.Buffer
		if err := got.WriteText(&out, &errs, device.TextOptions{As: "bob", Names: device.AccountNames(ks)}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "from alice (05") || !strings.Contains(out.String(), "hi bob [attachment notes.txt, 9 bytes]") {
			t.Fatalf("text:\n%s", out.String())
		}
		if err := got.Commit(); err != nil {
			t.Fatal(err)
		}
		again, err := bob.Fetch(ctx, device.FetchOptions{})
		if err != nil || len(again.Shown) != 0 || again.News() {
			t.Fatalf("fetched again: %+v, %v", again, err)
		}
		again.Abort()
	})

	t.Run("files", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "f.bin")
		os.WriteFile(f, bytes.Repeat([]byte{7}, 1000), 0o600)
		att, err := alice.Upload(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		data, unsized, err := alice.Download(ctx, client.Attachment{ID: att.ID, Key: att.Key}, false)
		if err != nil || unsized != "" || !bytes.Equal(data, bytes.Repeat([]byte{7}, 1000)) {
			t.Fatalf("download by the uploader: %d bytes, unsized %q, %v", len(data), unsized, err)
		}
		// Another device knows no pointer of it: the padding stays, and it says so.
		data, unsized, err = bob.Download(ctx, client.Attachment{ID: att.ID, Key: att.Key}, false)
		if err != nil || unsized != att.ID || len(data) < 1000 {
			t.Fatalf("download by another: %d bytes, unsized %q, %v", len(data), unsized, err)
		}
		if _, _, err := bob.Download(ctx, client.Attachment{URL: "http://evil.example/file/1", Key: att.Key}, true); errkind.Of(err) != errkind.Invalid {
			t.Fatalf("a foreign URL: %v", err)
		}
	})

	t.Run("groups", func(t *testing.T) {
		gs, err := device.OpenGroups(ctx, dir, lc, "alice", zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		inv, err := device.Members(ctx, ks, lc, "bob, carol")
		if err != nil || len(inv) != 2 || inv[0].Name != "bob" {
			t.Fatalf("Members: %+v, %v", inv, err)
		}
		g, err := gs.Create(ctx, "team", inv)
		gs.Close()
		if err != nil {
			t.Fatal(err)
		}
		if info := device.Info(ctx, ks, g, false, nil); info.Role != "admin" || len(info.Members) != 3 || info.Members[0].Name == "" {
			t.Fatalf("Info: %+v", info)
		}
		bs, err := device.OpenGroups(ctx, dir, lc, "bob", zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		defer bs.Close()
		if n := strings.Join(bs.Notices(), "\n"); !strings.Contains(n, `invited to group "team"`) || !strings.Contains(n, "by alice") {
			t.Fatalf("bob's notices: %s", n)
		}
		bg, old, err := bs.Find("team")
		if err != nil || old || device.Role(bg, false) != "invited" {
			t.Fatalf("bob finds %+v, %v, %v", bg, old, err)
		}
		if lg, _, err := device.FindLocal(dir, "team"); err != nil || !lg.IsAdmin() {
			t.Fatalf("FindLocal: an admin's view first: %v", err)
		}
		if _, _, err := device.FindLocal(dir, "nope"); errkind.Of(err) != errkind.Invalid {
			t.Fatalf("FindLocal(nope): %v", err)
		}
	})

	t.Run("community", func(t *testing.T) {
		cc, err := device.OpenCommunity(ctx, dir, lc, "alice", zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		m, err := cc.Post(ctx, "lobby", "hello\nroom", nil)
		if err != nil {
			t.Fatal(err)
		}
		if rm := device.RoomMessageOf(m, "lobby"); rm.Text != "hello\nroom" || rm.From == "" {
			t.Fatalf("RoomMessageOf: %+v", rm)
		}
		if line := device.RoomLine(m, cc.Names()); !strings.HasPrefix(line, "#") || !strings.Contains(line, `alice: hello\nroom`) {
			t.Fatalf("RoomLine: %s", line)
		}
		if id, err := cc.UserID("bob"); err != nil || !strings.HasPrefix(id, "15") {
			t.Fatalf("UserID(bob) = %s, %v", id, err)
		}
	})
}

func TestReadPicture(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.png")
	os.WriteFile(empty, nil, 0o600)
	for _, path := range []string{empty, dir, filepath.Join(dir, "missing.png")} {
		if _, err := device.ReadPicture(path); errkind.Of(err) != errkind.Invalid {
			t.Errorf("ReadPicture(%s): %v", filepath.Base(path), err)
		}
	}
	pic := filepath.Join(dir, "pic.png")
	os.WriteFile(pic, []byte("\x89PNG\r\n\x1a\n"), 0o600)
	if b, err := device.ReadPicture(pic); err != nil || len(b) != 8 {
		t.Fatalf("ReadPicture: %d bytes, %v", len(b), err)
	}
}

// The commands show what they did, as text or JSON.
func TestCommandsShow(t *testing.T) {
	dir, lc := devnetDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errs bytes.Buffer
	reset := func() { out.Reset(); errs.Reset() }
	text := display.Output{W: &out, Err: &errs}
	asJSON := display.Output{W: &out, Err: &errs, JSON: true}
	carol := open(t, dir, lc, "carol")

	x := device.Cmd{D: carol, Out: text}
	if err := x.Send(ctx, device.Message{To: "alice", Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.HasPrefix(s, "sent ") || !strings.Contains(s, "path: you -> node-") || !strings.Contains(s, "(guard)") {
		t.Errorf("send:\n%s", s)
	}
	// The devnet's dashboard shows it, as sent by carol.
	m, err := dir.ReadManifest()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(m.Dashboard.URL + "state")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Send struct{ From, To string }
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.Send.From != "carol" || st.Send.To != "alice" {
		t.Errorf("the dashboard's last send: %+v (%v), want carol's to alice", st.Send, err)
	}
	reset()
	x.Out = asJSON
	if err := x.Send(ctx, device.Message{To: "alice", Text: "again"}); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, `"guard": {`) || !strings.Contains(s, `"node": "node-`) || !strings.Contains(s, `"ed25519_pubkey"`) {
		t.Errorf("send --json:\n%s", s)
	}
	reset()
	if err := x.Unsend(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"request"`) {
		t.Errorf("unsend --json:\n%s", out.String())
	}
	reset()
	x.Out = text
	if err := x.Contacts(ctx); err != nil || !strings.Contains(out.String(), "CONTACT") || !strings.Contains(out.String(), "alice") {
		t.Errorf("contacts: %v\n%s", err, out.String())
	}

	reset()
	gs, err := device.OpenGroups(ctx, dir, lc, "carol", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer gs.Close()
	g := device.GroupCmd{G: gs, Out: text}
	if err := g.Create(ctx, "crew", nil); err != nil || !strings.HasPrefix(out.String(), `created group "crew": 03`) {
		t.Fatalf("group create: %v\n%s", err, out.String())
	}
	reset()
	if err := g.List(ctx); err != nil || !strings.Contains(out.String(), "crew") || !strings.Contains(out.String(), "admin") {
		t.Errorf("group ls: %v\n%s", err, out.String())
	}
	reset()
	if err := g.Send(ctx, "nope", "hi"); errkind.Of(err) != errkind.Invalid && !errors.Is(err, group.ErrUnknown) {
		t.Errorf("a group that is not: %v", err)
	}

	cc, err := device.OpenCommunity(ctx, dir, lc, "carol", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cx := device.CommunityCmd{C: cc, Out: text}
	if err := cx.Post(ctx, "lobby", "from carol", nil); err != nil {
		t.Fatal(err)
	}
	reset()
	if err := cx.Read(ctx, "lobby", 0); err != nil || !strings.Contains(out.String(), "carol: from carol") {
		t.Errorf("community read: %v\n%s", err, out.String())
	}
	reset()
	cx.Out = asJSON
	if err := cx.Rooms(ctx); err != nil || !strings.Contains(out.String(), `"join_url"`) {
		t.Errorf("community rooms --json: %v\n%s", err, out.String())
	}
}
