package groupkeys

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/configmsg/groupconfig"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
	"golang.org/x/crypto/chacha20poly1305"
)

// TestSubaccountKnownAnswer: libsession-util tests/test_group_keys.cpp,
// "Group Keys - swarm authentication": a group seed, a member seed, the
// member's token, the group's signature over it, and the member's
// signature of "retrieve9991693340111000", byte for byte; auth data with
// any bit flipped is refused.
func TestSubaccountKnownAnswer(t *testing.T) {
	groupSeed := unhex(t, groupSeedHex)
	member := userKeys(t, admin2SeedHex)
	groupPub := ed25519.NewKeyFromSeed(groupSeed).Public().(ed25519.PublicKey)
	group := identity.AccountID{Prefix: identity.PrefixGroup, Key: [32]byte(groupPub)}
	if group.String() != "03c50cb3ae956947a8de19135b5be2685ff348afc63fc34a837aca12bc5c1f5625" {
		t.Fatalf("group %s", group)
	}
	if member.AccountID().String() != "05c5ba413c336f2fe1fb9a2c525f8a86a412a1db128a7841b4e0e217fa9eb7fd5e" {
		t.Fatalf("member %s", member.AccountID())
	}
	auth, err := MakeSubaccount(groupSeed, member.AccountID(), SubaccountFlags(true, false))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSubaccountSigner(member, group, auth, true, false)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("retrieve9991693340111000")
	b64 := base64.StdEncoding.EncodeToString
	tok := s.Token()
	if got := b64(tok[:]); got != "AwMAAIWvMR2nJXCFnK5+hNahNecWqMC39/TVVLjaR3imNug5" {
		t.Errorf("subaccount %s", got)
	}
	if got := b64(s.TokenSignature()); got != "6brvv/2jfciBAJeRKMGSepNJLullyrVVHijyVDE+8GC5Oc89UNxjNrq1kVV1P+pkUIRDOew24gSLFgLZfdl+BQ==" {
		t.Errorf("subaccount_sig %s", got)
	}
	sig := s.Sign(msg)
	if got := b64(sig); got != "c3PJ4g29v5RivKm8Tdg49vGU2/6kVd0yONnpz5U5zePMYptqW3iYQ0TYf2rEzv3qqkPhS5p67M5GAccHoBHGDQ==" {
		t.Errorf("signature %s", got)
	}
	if !ed25519.Verify(tok.Key(), msg, sig) {
		t.Error("the signature does not verify under kT")
	}
	if t2, _ := SubaccountToken(groupSeed, member.AccountID(), SubaccountFlags(true, false)); t2 != tok {
		t.Error("the admin's token differs from the member's")
	}
	for i := range auth {
		for bit := 0; bit < 8; bit++ {
			bad := bytes.Clone(auth)
			bad[i] ^= 1 << bit
			if _, err := NewSubaccountSigner(member, group, bad, false, false); err == nil {
				t.Errorf("auth data with bit %d of byte %d flipped accepted", bit, i)
			}
		}
	}
}

// Auth data is refused for another group, another account, or
// permissions it does not grant.
func TestSubaccountRefusals(t *testing.T) {
	groupSeed := unhex(t, groupSeedHex)
	member := userKeys(t, admin2SeedHex)
	group := identity.AccountID{Prefix: identity.PrefixGroup, Key: [32]byte(ed25519.NewKeyFromSeed(groupSeed).Public().(ed25519.PublicKey))}
	otherSeed := bytes.Repeat([]byte{7}, 32)
	other := identity.AccountID{Prefix: identity.PrefixGroup, Key: [32]byte(ed25519.NewKeyFromSeed(otherSeed).Public().(ed25519.PublicKey))}
	auth, _ := MakeSubaccount(groupSeed, member.AccountID(), SubaccountFlags(true, false))
	otherAuth, _ := MakeSubaccount(otherSeed, member.AccountID(), SubaccountFlags(true, true))
	for name, c := range map[string]struct {
		user       *identity.Keys
		group      identity.AccountID
		auth       []byte
		write, del bool
	}{
		"another group's auth data":   {member, group, otherAuth, false, false},
		"auth data for another group": {member, other, auth, false, false},
		"another account":             {userKeys(t, admin1SeedHex), group, auth, false, false},
		"delete not granted":          {member, group, auth, true, true},
		"short":                       {member, group, auth[:99], false, false},
		"not a group":                 {member, member.AccountID(), auth, false, false},
	} {
		if _, err := NewSubaccountSigner(c.user, c.group, c.auth, c.write, c.del); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := MakeSubaccount(groupSeed, member.AccountID(), storagerpc.FlagWrite); err == nil {
		t.Error("a token without the read flag")
	}
	if _, err := MakeSubaccount(groupSeed[:31], member.AccountID(), storagerpc.FlagRead); !errors.Is(err, ErrNotAdmin) {
		t.Errorf("a short seed: %v", err)
	}
}

// group is a small group for the behaviour tests: an admin, its keys and
// members config, and the members' views.
type group struct {
	t       testing.TB
	seed    []byte
	priv    ed25519.PrivateKey
	admin   *client
	members *configmsg.Message
	ts      int64
	n       int
}

func newGroup(t testing.TB) *group {
	g := &group{t: t, seed: unhex(t, groupSeedHex), ts: t0}
	g.priv = ed25519.NewKeyFromSeed(g.seed)
	g.admin = newClient(t, "admin", admin1SeedHex, true)
	g.members, _ = groupconfig.NewConfig(g.priv)
	a := groupconfig.NewMember(g.admin.id())
	a.SetPromotionAccepted()
	groupconfig.SetMember(g.members.Data(), a)
	return g
}

// store has every client load a keys message, as the swarm stores it.
func (g *group) store(msg []byte, cs ...*client) {
	g.t.Helper()
	g.n++
	g.ts += 1000
	for _, c := range append([]*client{g.admin}, cs...) {
		if _, err := c.keys.Load("hash"+string(rune('A'+g.n)), msg, g.ts); err != nil {
			g.t.Fatalf("%s loads: %v", c.name, err)
		}
	}
}

func (g *group) add(c *client) {
	g.members = g.members.Increment()
	groupconfig.SetMember(g.members.Data(), groupconfig.NewMember(c.id()))
}

func (g *group) remove(c *client) {
	g.members = g.members.Increment()
	groupconfig.DeleteMember(g.members.Data(), c.id())
}

func (g *group) rekey() []byte {
	g.t.Helper()
	ids, _ := groupconfig.MemberIDs(g.members.Data())
	msg, err := g.admin.keys.Rekey(ids)
	if err != nil {
		g.t.Fatal(err)
	}
	return msg
}

func (g *group) list() []groupconfig.Member {
	ms, _ := groupconfig.ListMembers(g.members.Data())
	return ms
}

// A removed member reads nothing sent after; what it sends with the keys
// it kept opens for the others but is refused as not a member's. A member
// added with a new key reads from that key on; one added with a
// supplement reads what the group wrote before.
func TestRemovalAndLateMembers(t *testing.T) {
	g := newGroup(t)
	bob := newClient(t, "bob", memberSeedsHex[0], false)
	carol := newClient(t, "carol", memberSeedsHex[1], false)
	g.add(bob)
	g.add(carol)
	g.store(g.rekey(), bob, carol)
	before := mustEncrypt(t, bob.keys, "before")
	if m, err := carol.keys.DecryptMessage(before); err != nil || string(m.Content) != "before" || m.CheckAuthor(g.list()) != nil {
		t.Fatalf("carol reads bob: %v", err)
	}

	g.remove(carol)
	g.store(g.rekey(), bob, carol)
	after := mustEncrypt(t, bob.keys, "after")
	if _, err := carol.keys.DecryptMessage(after); !errors.Is(err, ErrNoKeyOpens) {
		t.Fatalf("carol, removed, reads a later message: %v", err)
	}
	fromCarol := mustEncrypt(t, carol.keys, "I am still here")
	m, err := bob.keys.DecryptMessage(fromCarol)
	if err != nil {
		t.Fatal(err)
	}
	if m.Author.String() != carol.id() || m.Generation != 0 {
		t.Fatalf("author %s, generation %d", m.Author, m.Generation)
	}
	if err := m.CheckAuthor(g.list()); !errors.Is(err, ErrNotMember) {
		t.Fatalf("a removed member's message: %v", err)
	}
	// marked removed (not yet erased) is refused too
	ms := g.list()
	cm := groupconfig.NewMember(carol.id())
	cm.SetRemoved(true)
	if err := m.CheckAuthor(append(ms, cm)); !errors.Is(err, ErrNotMember) {
		t.Fatalf("a member marked removed: %v", err)
	}

	// dave joins with a new key: he reads "later", not "after"
	dave := newClient(t, "dave", memberSeedsHex[2], false)
	g.add(dave)
	g.store(g.rekey(), bob, dave)
	later := mustEncrypt(t, g.admin.keys, "later")
	if _, err := dave.keys.DecryptMessage(after); !errors.Is(err, ErrNoKeyOpens) {
		t.Fatalf("dave reads what was sent before he joined: %v", err)
	}
	if m, err := dave.keys.DecryptMessage(later); err != nil || m.Generation != 2 {
		t.Fatalf("dave: %v", err)
	}
	// erin joins with a supplement: she reads from the oldest key the group holds
	erin := newClient(t, "erin", memberSeedsHex[3], false)
	g.add(erin)
	supp, err := g.admin.keys.Supplement([]string{erin.id()})
	if err != nil {
		t.Fatal(err)
	}
	g.store(supp, bob, dave, erin)
	for _, ct := range [][]byte{before, after, later} {
		if _, err := erin.keys.DecryptMessage(ct); err != nil {
			t.Fatalf("erin: %v", err)
		}
	}
	if _, err := carol.keys.DecryptMessage(mustEncrypt(t, erin.keys, "x")); !errors.Is(err, ErrNoKeyOpens) {
		t.Fatalf("carol reads erin: %v", err)
	}
	if erin.keys.CurrentGeneration() != 2 || dave.keys.Size() != 1 || erin.keys.Size() != 3 {
		t.Fatalf("generation %d, sizes %d %d", erin.keys.CurrentGeneration(), dave.keys.Size(), erin.keys.Size())
	}
}

// TestLibsessionPromotion: libsession-util tests/test_group_keys.cpp,
// "Group Keys promotion": a member given the keys by a supplement reads the
// configs; once given the group's key it writes them, and the admin reads
// what it wrote. A key that is not the group's is refused.
func TestLibsessionPromotion(t *testing.T) {
	g := newGroup(t)
	member := newClient(t, "member", memberSeedsHex[0], false)
	first, err := g.admin.keys.Rekey(nil) // the admin's first key, made for no one
	if err != nil {
		t.Fatal(err)
	}
	lrrr := groupconfig.Member{ID: g.admin.id(), Admin: true, Name: "Lrrr"}
	groupconfig.SetMember(g.members.Data(), lrrr)
	nib := groupconfig.NewMember(member.id())
	nib.Name = "Nibbler"
	groupconfig.SetMember(g.members.Data(), nib)
	info, _ := groupconfig.NewConfig(g.priv)
	groupconfig.SetInfo(info.Data(), groupconfig.Info{Name: "Omicron Persei 8"})
	key, _ := g.admin.keys.EncryptionKey()
	mdata, _ := groupconfig.Seal(groupconfig.MembersKind, g.members, key)
	idata, _ := groupconfig.Seal(groupconfig.InfoKind, info, key)
	g.store(first, member)
	if member.keys.Size() != 0 {
		t.Fatal("the member opened a key made for no one")
	}
	supp, err := g.admin.keys.Supplement([]string{member.id()})
	if err != nil {
		t.Fatal(err)
	}
	g.store(supp, member)
	if !member.read(t, idata, mdata) || member.memberCount(t) != 2 || groupconfig.ReadInfo(member.info.Data()).Name != "Omicron Persei 8" {
		t.Fatal("the member does not read the configs")
	}
	if member.keys.Admin() {
		t.Fatal("a member is an admin")
	}
	edit := member.info.Edit()
	groupconfig.SetInfo(edit.Data(), groupconfig.Info{Name: "new name"})
	if _, err := groupconfig.Seal(groupconfig.InfoKind, edit, key); !errors.Is(err, groupconfig.ErrNotAdmin) {
		t.Fatalf("a member sealed a change: %v", err)
	}
	if err := member.keys.LoadAdminKey(bytes.Repeat([]byte{1}, 32)); err == nil || member.keys.Admin() {
		t.Fatal("another key was taken as the group's")
	}
	if err := member.keys.LoadAdminKey(g.priv); err != nil || !member.keys.Admin() {
		t.Fatalf("promotion: %v", err)
	}
	// promoted: it reads the configs with the key, and writes them
	if !member.read(t, idata, mdata) {
		t.Fatal("the promoted member does not read the configs")
	}
	edit = member.info.Edit()
	groupconfig.SetInfo(edit.Data(), groupconfig.Info{Name: "new name"})
	idata2, err := groupconfig.Seal(groupconfig.InfoKind, edit, key)
	if err != nil {
		t.Fatal(err)
	}
	if !g.admin.read(t, idata2, nil) || groupconfig.ReadInfo(g.admin.info.Data()).Name != "new name" {
		t.Fatal("the admin does not read the promoted member's change")
	}
}

// Two admins who rekey for different changes at once make two keys of one
// generation: NeedsRekey says so, and a new key settles it.
func TestConcurrentRekeys(t *testing.T) {
	g := newGroup(t)
	admin2 := newClient(t, "admin2", admin2SeedHex, true)
	bob := newClient(t, "bob", memberSeedsHex[0], false)
	g.store(g.rekey(), admin2, bob)
	ids, _ := groupconfig.MemberIDs(g.members.Data())
	m1, _ := g.admin.keys.Rekey(append(ids, bob.id()))
	m2, _ := admin2.keys.Rekey(ids)
	g.store(m1, admin2, bob)
	g.store(m2, admin2, bob)
	if !g.admin.keys.NeedsRekey() || !admin2.keys.NeedsRekey() || bob.keys.NeedsRekey() {
		t.Fatal("NeedsRekey after two keys of generation 1")
	}
	g.add(bob)
	g.store(g.rekey(), admin2, bob)
	if g.admin.keys.NeedsRekey() || g.admin.keys.CurrentGeneration() != 2 {
		t.Fatal("still NeedsRekey after a new key")
	}
	// the same change made twice makes the same key
	a, _ := g.admin.keys.Rekey([]string{bob.id(), g.admin.id()})
	b, _ := admin2.keys.Rekey([]string{g.admin.id(), bob.id(), bob.id()})
	if !bytes.Equal(a, b) {
		t.Fatal("two admins made different keys for the same members")
	}
}

// Malformed keys messages, truncated or changed anywhere, or forged, are
// refused whole: the keys held do not change.
func TestBadKeysMessages(t *testing.T) {
	g := newGroup(t)
	bob := newClient(t, "bob", memberSeedsHex[0], false)
	g.add(bob)
	msg := g.rekey()
	g.store(msg, bob)
	g.add(newClient(t, "carol", memberSeedsHex[1], false))
	next := g.rekey()
	supp, _ := g.admin.keys.Supplement([]string{bob.id()})
	for _, c := range []*client{g.admin, bob} {
		before := c.keys.Dump()
		for _, m := range [][]byte{next, supp} {
			for n := 0; n < len(m); n++ {
				if _, err := c.keys.Load("truncated", m[:n], t0); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSignature) {
					t.Fatalf("%s: %d of %d bytes: %v", c.name, n, len(m), err)
				}
			}
			for i := 0; i < len(m); i += 7 {
				bad := bytes.Clone(m)
				bad[i] ^= 0x20
				if _, err := c.keys.Load("changed", bad, t0); err == nil {
					t.Fatalf("%s: byte %d changed, accepted", c.name, i)
				}
			}
		}
		if !bytes.Equal(c.keys.Dump(), before) {
			t.Fatalf("%s: a refused message changed the keys", c.name)
		}
	}

	// signed by the group, but malformed inside
	nonce := strings.Repeat("n", 24)
	enc := strings.Repeat("e", 48)
	list := func(n int) []any {
		l := make([]any, n)
		for i := range l {
			l[i] = enc
		}
		return l
	}
	forger := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	for name, c := range map[string]struct {
		d    configmsg.Dict
		priv ed25519.PrivateKey
		want error
	}{
		"74 member keys":          {configmsg.Dict{"#": nonce, "G": int64(1), "K": enc, "k": list(74)}, g.priv, ErrMalformed},
		"a short member key":      {configmsg.Dict{"#": nonce, "G": int64(1), "K": enc, "k": append(list(74), "short")}, g.priv, ErrMalformed},
		"a short nonce":           {configmsg.Dict{"#": "n", "G": int64(1), "K": enc, "k": list(75)}, g.priv, ErrMalformed},
		"no admin key":            {configmsg.Dict{"#": nonce, "G": int64(1), "k": list(75)}, g.priv, ErrMalformed},
		"a negative gen":          {configmsg.Dict{"#": nonce, "G": int64(-1), "K": enc, "k": list(75)}, g.priv, ErrMalformed},
		"supplement and K":        {configmsg.Dict{"#": nonce, "+": []any{strings.Repeat("s", 70)}, "G": int64(1), "K": enc}, g.priv, ErrMalformed},
		"a short supplement":      {configmsg.Dict{"#": nonce, "+": []any{"s"}, "G": int64(1)}, g.priv, ErrMalformed},
		"no generation":           {configmsg.Dict{"#": nonce, "+": []any{strings.Repeat("s", 70)}}, g.priv, ErrMalformed},
		"signed by another":       {configmsg.Dict{"#": nonce, "G": int64(1), "K": enc, "k": list(75)}, forger, ErrSignature},
		"an unopenable admin key": {configmsg.Dict{"#": nonce, "G": int64(1), "K": enc, "k": list(75)}, g.priv, nil},
	} {
		m, err := configmsg.EncodeSigned(c.d, c.priv)
		if err != nil {
			t.Fatal(err)
		}
		for _, cl := range []*client{g.admin, bob} {
			before := cl.keys.Dump()
			_, err := cl.keys.Load("bad", m, t0)
			switch {
			case c.want != nil && !errors.Is(err, c.want):
				t.Errorf("%s, read by %s: %v, want %v", name, cl.name, err, c.want)
			case c.want == nil && cl == g.admin && err == nil:
				t.Errorf("%s, read by the admin: accepted", name)
			}
			if err != nil && !bytes.Equal(cl.keys.Dump(), before) {
				t.Errorf("%s, read by %s: refused, yet the keys changed", name, cl.name)
			}
		}
	}
}

func TestRefusals(t *testing.T) {
	g := newGroup(t)
	bob := newClient(t, "bob", memberSeedsHex[0], false)
	if _, err := bob.keys.Rekey(nil); !errors.Is(err, ErrNotAdmin) {
		t.Fatalf("a member's rekey: %v", err)
	}
	if _, err := bob.keys.Supplement([]string{bob.id()}); !errors.Is(err, ErrNotAdmin) {
		t.Fatalf("a member's supplement: %v", err)
	}
	if _, err := g.admin.keys.Supplement([]string{bob.id()}); !errors.Is(err, ErrNoKeys) {
		t.Fatalf("a supplement before any key: %v", err)
	}
	if _, err := bob.keys.EncryptMessage([]byte("x")); !errors.Is(err, ErrNoKeys) {
		t.Fatalf("a message without a key: %v", err)
	}
	var many []string
	for i := 0; i <= MaxMembers; i++ {
		many = append(many, identity.AccountID{Prefix: identity.PrefixSession, Key: [32]byte{byte(i), 1}}.String())
	}
	if _, err := g.admin.keys.Rekey(many); err == nil {
		t.Fatal("a key for 101 members")
	}
	if _, err := g.admin.keys.Rekey(many[:MaxMembers]); err != nil {
		t.Fatalf("a key for 100 members: %v", err)
	}
	for _, id := range []string{"03" + strings.Repeat("00", 32), "05", "05" + strings.Repeat("zz", 32)} {
		if _, err := g.admin.keys.Rekey([]string{id}); err == nil {
			t.Errorf("a key for %q", id)
		}
	}
	if _, err := New(bob.user, make([]byte, 32), nil); err == nil {
		t.Error("a group key that is not a point")
	}
	if _, err := New(bob.user, g.admin.keys.GroupPublic(), bytes.Repeat([]byte{1}, 32)); err == nil {
		t.Error("a seed that is not the group's")
	}
	if _, err := g.admin.keys.EncryptMessage(make([]byte, MaxPlaintext+1)); err == nil {
		t.Error("a message past MaxPlaintext")
	}
}

// sealBody encrypts body as a group message under key, as a forger with
// the key could.
func sealBody(key, body []byte) []byte {
	aead, _ := chacha20poly1305.NewX(key)
	nonce := make([]byte, nonceSize)
	return aead.Seal(nonce, nonce, body, nil)
}

// Group messages that open but are not good messages are refused.
func TestBadMessages(t *testing.T) {
	g := newGroup(t)
	g.store(g.rekey())
	key, _ := g.admin.keys.EncryptionKey()
	me := g.admin.user
	data := []byte("content")
	sig := ed25519.Sign(me.Ed25519, data)
	pub := []byte(me.Ed25519Public())
	good := configmsg.Dict{"": int64(1), "a": pub, "d": data, "s": sig}
	if m, err := g.admin.keys.DecryptMessage(sealBody(key, configmsg.Encode(good))); err != nil || string(m.Content) != "content" {
		t.Fatalf("a good message: %v", err)
	}
	with := func(k string, v any) []byte {
		d := configmsg.Dict{}
		for kk, vv := range good {
			d[kk] = vv
		}
		if v == nil {
			delete(d, k)
		} else {
			d[k] = v
		}
		return configmsg.Encode(d)
	}
	for name, body := range map[string][]byte{
		"version 2":        with("", int64(2)),
		"no version":       with("", nil),
		"no author":        with("a", nil),
		"a short author":   with("a", pub[:31]),
		"no signature":     with("s", nil),
		"another's sig":    with("s", ed25519.Sign(g.priv, data)),
		"no content":       with("d", nil),
		"empty content":    with("d", []byte{}),
		"both d and z":     with("z", configmsg.ZstdCompress(data)),
		"not a dict":       []byte("le"),
		"trailing bytes":   append(configmsg.Encode(good), 'x'),
		"only zeros":       make([]byte, 10),
		"author not point": with("a", make([]byte, 32)),
	} {
		if _, err := g.admin.keys.DecryptMessage(sealBody(key, body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	z := configmsg.Dict{"": int64(1), "a": pub, "z": []byte("not zstd at all"), "s": ed25519.Sign(me.Ed25519, []byte("not zstd at all"))}
	if _, err := g.admin.keys.DecryptMessage(sealBody(key, configmsg.Encode(z))); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad zstd: %v", err)
	}
	if _, err := g.admin.keys.DecryptMessage(make([]byte, messageOverhead-1)); !errors.Is(err, ErrMalformed) {
		t.Errorf("short: %v", err)
	}
}

func TestDumpRestore(t *testing.T) {
	g := newGroup(t)
	bob := newClient(t, "bob", memberSeedsHex[0], false)
	g.add(bob)
	g.store(g.rekey(), bob)
	g.rekey() // pending
	for _, c := range []*client{g.admin, bob} {
		seed := []byte(nil)
		if c.keys.Admin() {
			seed = g.seed
		}
		r, err := Restore(c.user, c.keys.GroupPublic(), seed, c.keys.Dump())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r.Dump(), c.keys.Dump()) || r.Size() != c.keys.Size() {
			t.Fatalf("%s: the restored keys differ", c.name)
		}
		d := c.keys.Dump()
		for n := 0; n < len(d); n++ {
			if _, err := Restore(c.user, c.keys.GroupPublic(), seed, d[:n]); err == nil {
				t.Fatalf("%s: %d of %d bytes restored", c.name, n, len(d))
			}
		}
	}
	for _, bad := range []configmsg.Dict{
		{"A": []any{}},
		{"L": []any{}},
		{"A": []any{}, "L": []any{configmsg.Dict{"g": int64(1), "k": "short", "t": int64(1)}}},
		{"A": []any{}, "L": []any{
			configmsg.Dict{"g": int64(2), "k": strings.Repeat("k", 32), "t": int64(1)},
			configmsg.Dict{"g": int64(1), "k": strings.Repeat("k", 32), "t": int64(1)},
		}},
		{"A": []any{[]any{int64(1)}, []any{int64(1)}}, "L": []any{}},
		{"A": []any{}, "L": []any{}, "P": configmsg.Dict{"g": int64(1)}},
	} {
		if _, err := Restore(bob.user, bob.keys.GroupPublic(), nil, configmsg.Encode(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%v restored: %v", bad, err)
		}
	}
}

// FuzzLoad: a keys message from a swarm never panics a reader, and one
// refused changes nothing.
func FuzzLoad(f *testing.F) {
	g := newGroup(f)
	bob := newClient(f, "bob", memberSeedsHex[0], false)
	g.add(bob)
	ids, _ := groupconfig.MemberIDs(g.members.Data())
	msg, _ := g.admin.keys.Rekey(ids)
	bob.keys.Load("h", msg, t0)
	g.admin.keys.Load("h", msg, t0)
	supp, _ := g.admin.keys.Supplement([]string{bob.id()})
	f.Add(msg)
	f.Add(supp)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, k := range []*Keys{g.admin.keys, bob.keys} {
			before := k.Dump()
			if _, err := k.Load("fuzz", b, t0); err != nil && !bytes.Equal(k.Dump(), before) {
				t.Fatal("a refused message changed the keys")
			}
		}
	})
}

// FuzzDecryptMessage: whatever opens under a group key, DecryptMessage
// answers without panicking.
func FuzzDecryptMessage(f *testing.F) {
	g := newGroup(f)
	ids, _ := groupconfig.MemberIDs(g.members.Data())
	msg, _ := g.admin.keys.Rekey(ids)
	g.admin.keys.Load("h", msg, t0)
	key, _ := g.admin.keys.EncryptionKey()
	ct, _ := g.admin.keys.encryptMessage([]byte(strings.Repeat("hello ", 50)), make([]byte, nonceSize), true)
	aead, _ := chacha20poly1305.NewX(key)
	body, _ := aead.Open(nil, ct[:nonceSize], ct[nonceSize:], nil)
	f.Add(body)
	f.Fuzz(func(t *testing.T, b []byte) {
		g.admin.keys.DecryptMessage(sealBody(key, b))
		g.admin.keys.DecryptMessage(b)
	})
}

// FuzzRestore: a dump read from disk never panics Restore.
func FuzzRestore(f *testing.F) {
	g := newGroup(f)
	ids, _ := groupconfig.MemberIDs(g.members.Data())
	msg, _ := g.admin.keys.Rekey(ids)
	g.admin.keys.Load("h", msg, t0)
	g.admin.keys.Rekey(ids)
	f.Add(g.admin.keys.Dump())
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := Restore(g.admin.user, g.admin.keys.GroupPublic(), nil, b); err == nil {
			k.Dump()
			k.GroupKeys()
		}
	})
}
