package group

import (
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/configmsg/groupconfig"
	"github.com/sessionctl/sessionctl/groupkeys"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/sessionpb"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// fuzzGroup is a group of one admin (seeded), its keys made, for readers.
func fuzzGroup(t testing.TB) (*Group, *live, *identity.Keys) {
	t.Helper()
	seed := make([]byte, 32)
	seed[0] = 7
	user := keysOfSeed(t, "0123456789abcdef0123456789abcdef00000000000000000000000000000000")
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	id := identity.AccountID{Prefix: identity.PrefixGroup, Key: [32]byte(pub)}
	keys, err := groupkeys.New(user, pub, seed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Rekey([]string{user.AccountID().String()}); err != nil {
		t.Fatal(err)
	}
	me := groupconfig.Member{ID: user.AccountID().String(), Admin: true}
	g := &Group{Version: Format, ID: id.String(), Me: me.ID, Members: []groupconfig.Member{me}, LastHash: map[string]string{}}
	return g, &live{keys: keys}, user
}

// FuzzReadGroupMessage: whatever a member signed and encrypted with the
// group's key, reading it never panics; what it accepts is well formed.
func FuzzReadGroupMessage(f *testing.F) {
	g, lv, _ := fuzzGroup(f)
	text, _ := client.EncodeContent(client.Content{Text: "hi", SentAt: 1})
	env, _ := wrapGroup(text, g.ID, 1)
	f.Add(env)
	mc, _ := client.EncodeContent(client.Content{SentAt: 5, GroupUpdate: &sessionpb.GroupUpdateMessage{MemberChangeMessage: &sessionpb.GroupUpdateMemberChangeMessage{
		Type: sessionpb.GroupUpdateMemberChangeMessage_ADDED.Enum(), MemberSessionIds: []string{"05ab"}, AdminSignature: make([]byte, 64)}}})
	env2, _ := wrapGroup(mc, g.ID, 5)
	f.Add(env2)
	f.Add([]byte{0x08, 0x07})
	s := &Device{}
	f.Fuzz(func(t *testing.T, plain []byte) {
		ct, err := lv.keys.EncryptMessage(plain)
		if err != nil {
			return
		}
		m, why := s.read(g, lv, storagerpc.Message{Hash: "h", Data: base64.StdEncoding.EncodeToString(ct)})
		if (m == nil) == (why == "") {
			t.Fatalf("read gave %+v and %q", m, why)
		}
	})
}

// FuzzReadGroupFile: a group file of any content is read, or refused with
// an error; never a panic.
func FuzzReadGroupFile(f *testing.F) {
	f.Add([]byte(`{"version":2,"id":"03ab","last_hash":{}}`))
	f.Add([]byte(`{"id":"03ab","keys":{"0":"aa"},"members":[{"account_id":"05"}]}`))
	f.Add([]byte(`{"version":3}`))
	dir := f.TempDir()
	n := 0
	f.Fuzz(func(t *testing.T, data []byte) {
		n++
		path := filepath.Join(dir, strconv.Itoa(n)+".json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		g, _, err := readGroup(path)
		if err == nil && (g == nil || g.LastHash == nil) {
			t.Fatal("a group read without its maps")
		}
	})
}
