package groupconfig

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/configmsg"
)

// The group key of libsession-util's tests/test_group_info.cpp and
// test_group_members.cpp, and the encryption keys they load by hand.
const groupSeedHex = "0123456789abcdef0123456789abcdeffedcba9876543210fedcba9876543210"

var (
	keyA = bytes.Repeat([]byte{0xaa}, 32)
	keyB = bytes.Repeat([]byte{0xbb}, 32)
	keyC = bytes.Repeat([]byte{0xcc}, 32)
	keyD = bytes.Repeat([]byte{0xdd}, 32)
	picK = bytes.Repeat([]byte{0xab, 0xcd}, 16)
)

func groupKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	seed, _ := hex.DecodeString(groupSeedHex)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	if hex.EncodeToString(pub) != "cbd569f56fb13ea95a3f0c05c331cc24139c0090feb412069dc49fab34406ece" {
		t.Fatalf("group key %x", pub)
	}
	return pub, priv
}

// libsessionConfigs reads what libsession-util (commit 8762e9d, branch dev)
// pushed for the steps of its own tests (test_group_info.cpp, "Group Info
// settings"; test_group_members.cpp, "Group Members"), run with fixed
// timestamps and a counter as the random source, as "name hex" lines.
func libsessionConfigs(t testing.TB) map[string][]byte {
	t.Helper()
	f, err := os.Open("testdata/libsession-configs.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		name, h, _ := strings.Cut(sc.Text(), " ")
		if out[name], err = hex.DecodeString(h); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func seal(t testing.TB, kind configmsg.Kind, m *configmsg.Message, key []byte) []byte {
	t.Helper()
	out, err := Seal(kind, m, key)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func load(t testing.TB, kind configmsg.Kind, stored [][]byte, keys [][]byte, pub ed25519.PublicKey, priv ed25519.PrivateKey) *Loaded {
	t.Helper()
	l, err := Load(kind, stored, keys, pub, priv)
	if err != nil {
		t.Fatalf("load: %v (skipped %v)", err, l.Skipped)
	}
	return l
}

// sameConfig: what we sealed is libsession's, byte for byte, or (when
// compressed: zstd implementations differ) the same size and, opened, the
// same message.
func sameConfig(t *testing.T, what string, kind configmsg.Kind, key, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	gp, _, err1 := configmsg.Open(got, [][]byte{key}, kind.Domain)
	wp, _, err2 := configmsg.Open(want, [][]byte{key}, kind.Domain)
	if err1 != nil || err2 != nil || !bytes.Equal(gp, wp) || len(got) != len(want) {
		t.Fatalf("%s differs from libsession's (%d bytes, want %d; %v %v):\n got %q\nwant %q", what, len(got), len(want), err1, err2, gp, wp)
	}
}

// TestLibsessionInfoSettings: libsession-util tests/test_group_info.cpp,
// "Group Info settings". The first two pushes are libsession's byte for
// byte (and 256 and 512 bytes, as the test pins); the conflicting rename,
// which cannot be read before the key is known, merges with every field.
func TestLibsessionInfoSettings(t *testing.T) {
	v := libsessionConfigs(t)
	pub, priv := groupKey(t)
	g1, _ := NewConfig(priv)
	if err := SetInfo(g1.Data(), Info{Name: "GROUP Name"}); err != nil {
		t.Fatal(err)
	}
	p1 := seal(t, InfoKind, g1, keyA)
	if g1.Seqno() != 1 || len(p1) != 256 {
		t.Fatalf("push 1: seqno %d, %d bytes", g1.Seqno(), len(p1))
	}
	sameConfig(t, "push 1", InfoKind, keyA, p1, v["info.p1"])

	keys2 := [][]byte{keyB, keyA, keyC, keyD}
	l := load(t, InfoKind, [][]byte{p1}, keys2, pub, priv)
	if l.Used != 0 || ReadInfo(l.Message.Data()).Name != "GROUP Name" {
		t.Fatalf("g2 reads %+v", ReadInfo(l.Message.Data()))
	}
	g2 := l.Message.Edit()
	const created = 1682529839
	want := Info{
		Name: "GROUP Name", PicURL: "http://example.com/12345", PicKey: picK, ExpiryTimer: time.Hour,
		Created: created, DeleteBefore: created + 50*86400, DeleteAttachmentsBefore: created + 70*86400, Destroyed: true,
	}
	if err := SetInfo(g2.Data(), want); err != nil {
		t.Fatal(err)
	}
	p2 := seal(t, InfoKind, g2, keyB)
	if g2.Seqno() != 2 || len(p2) != 512 {
		t.Fatalf("push 2: seqno %d, %d bytes", g2.Seqno(), len(p2))
	}
	sameConfig(t, "push 2", InfoKind, keyB, p2, v["info.p2"])

	// g1 renames the group meanwhile; without key b it cannot read push 2.
	g1b := g1.Increment()
	in := ReadInfo(g1b.Data())
	in.Name = "Better name!"
	SetInfo(g1b.Data(), in)
	mine := seal(t, InfoKind, g1b, keyA)
	if _, err := Load(InfoKind, [][]byte{p2}, [][]byte{keyA}, pub, priv); !errors.Is(err, configmsg.ErrNoMessage) {
		t.Fatalf("push 2 without its key: %v", err)
	}
	l = load(t, InfoKind, [][]byte{mine, p2}, [][]byte{keyB, keyA, keyC}, pub, priv)
	if l.Used != -1 || !l.Message.Merged() {
		t.Fatal("the two renames did not merge")
	}
	want.Name = "Better name!"
	if got := ReadInfo(l.Message.Data()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("merged:\n got %+v\nwant %+v", got, want)
	}
	p3 := seal(t, InfoKind, l.Message, keyB)
	l2 := load(t, InfoKind, [][]byte{p3}, keys2, pub, priv)
	if got := ReadInfo(l2.Message.Data()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("g2 reads the merge as %+v", got)
	}

	long := strings.Repeat("1234567890", 10) + "A"
	if err := SetInfo(g1b.Data(), Info{Name: long}); err == nil {
		t.Fatal("a 101-byte name was taken")
	}
	if err := SetInfo(g1b.Data(), Info{Description: strings.Repeat("z", 2001)}); err == nil {
		t.Fatal("a 2001-byte description was taken")
	}
}

// TestLibsessionVerifyOnlyInfo: libsession-util tests/test_group_info.cpp,
// "Verify-only Group Info": a reader without the group's private key
// cannot write; a message signed by another key is refused; two admins'
// conflicting pushes are taken as the newest by the reader and merged by
// each admin into the same bytes; an admin with another first key pushes
// the same seqno under that key, which a reader opens once it has the key.
func TestLibsessionVerifyOnlyInfo(t *testing.T) {
	pub, priv := groupKey(t)
	keys1 := [][]byte{keyA}
	rw, _ := NewConfig(priv)
	SetInfo(rw.Data(), Info{Name: "Super Group!!"})
	tp1 := seal(t, InfoKind, rw, keyA)
	ro := load(t, InfoKind, [][]byte{tp1}, keys1, pub, nil).Message
	if ReadInfo(ro.Data()).Name != "Super Group!!" {
		t.Fatal("the reader does not read the name")
	}
	edit := ro.Edit()
	SetInfo(edit.Data(), Info{Name: "Super Group11"})
	if _, err := Seal(InfoKind, edit, keyA); !errors.Is(err, ErrNotAdmin) {
		t.Fatalf("a reader's change was sealed: %v", err)
	}

	// signed by another key: refused
	badPriv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	bad, _ := NewConfig(badPriv)
	SetInfo(bad.Data(), Info{Name: "Bad name, BAD!"})
	pbad := seal(t, InfoKind, bad, keyA)
	if l, err := Load(InfoKind, [][]byte{pbad}, keys1, pub, nil); !errors.Is(err, configmsg.ErrNoMessage) || len(l.Skipped) != 1 || !errors.Is(l.Skipped[0], configmsg.ErrSignature) {
		t.Fatalf("a message signed by another key: %v", err)
	}
	if l := load(t, InfoKind, [][]byte{tp1, pbad}, keys1, pub, nil); l.Used != 0 || ReadInfo(l.Message.Data()).Name != "Super Group!!" {
		t.Fatal("the forged message changed what the reader reads")
	}

	// two admins at once
	rw2 := load(t, InfoKind, [][]byte{tp1}, keys1, pub, priv).Message.Edit()
	in2 := ReadInfo(rw2.Data())
	in2.Name, in2.Created = "Super Group 2", 12345
	SetInfo(rw2.Data(), in2)
	rw1 := rw.Increment()
	in1 := ReadInfo(rw1.Data())
	in1.Name, in1.ExpiryTimer = "Super Group 3", 365*24*time.Hour
	SetInfo(rw1.Data(), in1)
	tp2, tp3 := seal(t, InfoKind, rw2, keyA), seal(t, InfoKind, rw1, keyA)
	if rw1.Seqno() != 2 || rw2.Seqno() != 2 {
		t.Fatalf("seqnos %d and %d, want 2 and 2", rw1.Seqno(), rw2.Seqno())
	}
	r := load(t, InfoKind, [][]byte{tp2, tp3}, keys1, pub, nil)
	if r.Used < 0 || r.Message.Merged() {
		t.Fatal("a reader without the key merged")
	}
	m1 := load(t, InfoKind, [][]byte{tp2, tp3}, keys1, pub, priv)
	m2 := load(t, InfoKind, [][]byte{tp3, tp2}, keys1, pub, priv)
	t23, t32 := seal(t, InfoKind, m1.Message, keyA), seal(t, InfoKind, m2.Message, keyA)
	if !bytes.Equal(t23, t32) || m1.Message.Seqno() != 3 {
		t.Fatal("two admins merged the same messages differently")
	}
	check := func(who string, m *configmsg.Message) {
		t.Helper()
		in := ReadInfo(m.Data())
		if in.Name != "Super Group 2" || in.Created != 12345 || in.ExpiryTimer != 365*24*time.Hour {
			t.Fatalf("%s reads %+v", who, in)
		}
	}
	ro = load(t, InfoKind, [][]byte{t23}, keys1, pub, nil).Message
	check("the reader", ro)
	check("admin 1", m1.Message)

	// an admin whose first key is b pushes the same seqno under it
	rw3 := load(t, InfoKind, [][]byte{t23}, [][]byte{keyB, keyA}, pub, priv).Message
	t6 := seal(t, InfoKind, rw3, keyB)
	if rw3.Seqno() != 3 || len(t6) != len(t23) || bytes.Equal(t6, t23) {
		t.Fatal("the same config under key b")
	}
	rw3 = rw3.Edit()
	in3 := ReadInfo(rw3.Data())
	in3.PicURL, in3.PicKey = "http://example.com/12345", picK
	SetInfo(rw3.Data(), in3)
	t7 := seal(t, InfoKind, rw3, keyB)
	if rw3.Seqno() != 4 {
		t.Fatalf("seqno %d, want 4", rw3.Seqno())
	}
	if _, err := Load(InfoKind, [][]byte{t7}, keys1, pub, nil); err == nil {
		t.Fatal("read without key b")
	}
	l := load(t, InfoKind, [][]byte{t7}, [][]byte{keyB, keyA}, pub, nil)
	if in := ReadInfo(l.Message.Data()); in.PicURL != "http://example.com/12345" || !bytes.Equal(in.PicKey, picK) {
		t.Fatalf("the picture: %+v", in)
	}
}

// sids are the Account IDs of libsession's members test: 05, then 32 bytes
// of the index.
func sid(i int) string {
	return "05" + strings.Repeat(fmt.Sprintf("%02x", i), 32)
}

func isPrime100(i int) bool {
	for _, p := range []int{2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97} {
		if p >= i {
			return p == i
		}
	}
	return false
}

func mustSet(t testing.TB, d configmsg.Dict, m Member) {
	t.Helper()
	if err := SetMember(d, m); err != nil {
		t.Fatal(err)
	}
}

func getOrNew(d configmsg.Dict, id string) Member {
	if m, ok := GetMember(d, id); ok {
		return m
	}
	return NewMember(id)
}

// TestLibsessionGroupMembers: libsession-util tests/test_group_members.cpp,
// "Group Members": 10 admins, 10 members and 5 bare ones (one push of 768
// bytes, libsession's message once opened); another admin's view, then
// invites sent and failed, promotions, removals, and every status read
// back after each merge, as the test checks them (without the local
// "sending" states, which are not in the config).
func TestLibsessionGroupMembers(t *testing.T) {
	v := libsessionConfigs(t)
	pub, priv := groupKey(t)
	g1, _ := NewConfig(priv)
	for i := 0; i < 10; i++ {
		m := NewMember(sid(i))
		m.SetPromotionAccepted()
		m.Name = fmt.Sprintf("Admin %d", i)
		m.PicURL, m.PicKey = fmt.Sprintf("http://example.com/%d", i), picK
		mustSet(t, g1.Data(), m)
	}
	for i := 10; i < 20; i++ {
		m := NewMember(sid(i))
		m.Name = fmt.Sprintf("Member %d", i)
		m.PicURL, m.PicKey = fmt.Sprintf("http://example.com/%d", i), picK
		mustSet(t, g1.Data(), m)
	}
	for i := 20; i < 25; i++ {
		mustSet(t, g1.Data(), NewMember(sid(i)))
	}
	m14, _ := GetMember(g1.Data(), sid(14))
	m14.Name = strings.Repeat("c", 200)
	if err := SetMember(g1.Data(), m14); err == nil {
		t.Fatal("a 200-byte name was taken")
	}
	p1 := seal(t, MembersKind, g1, keyA)
	if len(p1) != 768 {
		t.Fatalf("push 1: %d bytes, want 768", len(p1))
	}
	sameConfig(t, "push 1", MembersKind, keyA, p1, v["members.p1"])

	keys2 := [][]byte{keyB, keyA, keyC, keyD}
	g2 := load(t, MembersKind, [][]byte{p1}, keys2, pub, priv).Message
	ms, err := ListMembers(g2.Data())
	if err != nil || len(ms) != 25 {
		t.Fatalf("%d members, %v", len(ms), err)
	}
	for i, m := range ms {
		if m.ID != sid(i) || m.Supplement {
			t.Fatalf("member %d: %+v", i, m)
		}
		switch {
		case i < 10:
			if !m.Admin || m.Name != fmt.Sprintf("Admin %d", i) || m.PicURL == "" || m.Status() != PromotionAccepted {
				t.Fatalf("admin %d: %+v %s", i, m, m.Status())
			}
		default:
			wantName := fmt.Sprintf("Member %d", i)
			if i >= 20 {
				wantName = ""
			}
			if m.Admin || m.Name != wantName || (m.PicURL != "") != (i < 20) || m.Status() != InviteNotSent {
				t.Fatalf("member %d: %+v %s", i, m, m.Status())
			}
		}
	}

	g2 = g2.Edit()
	for i := 22; i < 50; i++ {
		m := getOrNew(g2.Data(), sid(i))
		m.Name = fmt.Sprintf("Member %d", i)
		mustSet(t, g2.Data(), m)
	}
	for i := 50; i < 55; i++ {
		m := getOrNew(g2.Data(), sid(i))
		m.SetInviteSent()
		m.Supplement = i%2 == 1
		mustSet(t, g2.Data(), m)
	}
	for i := 55; i < 58; i++ {
		m := getOrNew(g2.Data(), sid(i))
		m.SetInviteFailed()
		m.Supplement = i%2 == 1
		mustSet(t, g2.Data(), m)
	}
	for i := 58; i < 62; i++ {
		m := getOrNew(g2.Data(), sid(i))
		if i >= 60 {
			m.SetPromotionFailed()
		} else {
			m.SetPromotionSent()
		}
		mustSet(t, g2.Data(), m)
	}
	for i := 62; i < 66; i++ {
		m := getOrNew(g2.Data(), sid(i))
		m.SetRemoved(i >= 64)
		mustSet(t, g2.Data(), m)
	}
	p2 := seal(t, MembersKind, g2, keyB)
	if l, err := Load(MembersKind, [][]byte{p1, p2}, [][]byte{keyA}, pub, priv); err != nil || l.Used != 0 || len(l.Skipped) != 1 {
		t.Fatalf("without key b: %v", err)
	}
	g1m := load(t, MembersKind, [][]byte{p1, p2}, [][]byte{keyB, keyA}, pub, priv)
	if g1m.Used != 1 {
		t.Fatalf("push 2 includes push 1, yet used %d", g1m.Used)
	}
	name := func(i int) string {
		switch {
		case i == 20 || i == 21 || i >= 50:
			return ""
		case i < 10:
			return fmt.Sprintf("Admin %d", i)
		}
		return fmt.Sprintf("Member %d", i)
	}
	checkCommon := func(i int, m Member) {
		t.Helper()
		if m.ID != sid(i) || m.Admin != (i < 10 || (i >= 58 && i < 62)) || m.Name != name(i) || (m.PicURL != "") != (i < 20) {
			t.Fatalf("member %d: %+v", i, m)
		}
		if i < 20 && (m.PicURL != fmt.Sprintf("http://example.com/%d", i) || !bytes.Equal(m.PicKey, picK)) {
			t.Fatalf("member %d's picture: %+v", i, m)
		}
	}
	ms, _ = ListMembers(g1m.Message.Data())
	if len(ms) != 66 {
		t.Fatalf("%d members after the merge, want 66", len(ms))
	}
	for i, m := range ms {
		checkCommon(i, m)
		var st Status
		switch {
		case i < 10:
			st = PromotionAccepted
		case i < 50:
			st = InviteNotSent
		case i < 55:
			st = InviteSent
		case i < 58:
			st = InviteFailed
		case i < 60:
			st = PromotionSent
		case i < 62:
			st = PromotionFailed
		case i < 64:
			st = StatusRemoved
		default:
			st = StatusRemovedAll
		}
		if m.Status() != st || m.Supplement != (i%2 == 1 && i > 50 && i < 58) {
			t.Fatalf("member %d: %s (supplement %v), want %s", i, m.Status(), m.Supplement, st)
		}
	}

	g1e := g1m.Message.Edit()
	for i := 0; i < 100; i++ {
		switch {
		case isPrime100(i):
			DeleteMember(g1e.Data(), sid(i))
		case i >= 50 && i <= 56:
			m, _ := GetMember(g1e.Data(), sid(i))
			if i >= 55 {
				m.SetInviteSent()
			} else {
				m.SetInviteAccepted()
			}
			mustSet(t, g1e.Data(), m)
		case i == 58:
			m, _ := GetMember(g1e.Data(), sid(i))
			m.SetPromotionAccepted()
			mustSet(t, g1e.Data(), m)
		case i == 59:
			m, _ := GetMember(g1e.Data(), sid(i))
			m.SetPromotionSent()
			mustSet(t, g1e.Data(), m)
		}
	}
	p3 := seal(t, MembersKind, g1e, keyB)
	g2l := load(t, MembersKind, [][]byte{p3}, keys2, pub, priv)
	ms, _ = ListMembers(g2l.Message.Data())
	i := 0
	for _, m := range ms {
		checkCommon(i, m)
		var st Status
		switch {
		case i < 10 || i == 58:
			st = PromotionAccepted
		case i < 50:
			st = InviteNotSent
		case i < 55:
			st = InviteAccepted
		case i < 57:
			st = InviteSent
		case i == 57:
			st = InviteFailed
		case i == 59:
			st = PromotionSent
		case i < 62:
			st = PromotionFailed
		case i < 64:
			st = StatusRemoved
		default:
			st = StatusRemovedAll
		}
		if m.Status() != st || m.Supplement != (i == 55 || i == 57) {
			t.Fatalf("member %d after push 3: %s (supplement %v), want %s", i, m.Status(), m.Supplement, st)
		}
		for i++; isPrime100(i); i++ {
		}
	}
	if i != 66 {
		t.Fatalf("ended at %d, want 66", i)
	}
	m0, _ := GetMember(g2l.Message.Data(), sid(0))
	m0.Name = strings.Repeat("1234567890", 10) + "A"
	if err := SetMember(g2l.Message.Edit().Data(), m0); err == nil {
		t.Fatal("a 101-byte name was taken")
	}
}

// TestLibsessionTooManyMembers: a members config libsession-util wrote
// listing 101 members (the 25 of the members test, then 76 more) is
// refused whole: the reader keeps what it had.
func TestLibsessionTooManyMembers(t *testing.T) {
	v := libsessionConfigs(t)
	pub, _ := groupKey(t)
	l, err := Load(MembersKind, [][]byte{v["members.p101"]}, [][]byte{keyA}, pub, nil)
	if !errors.Is(err, configmsg.ErrNoMessage) || len(l.Skipped) != 1 || !errors.Is(l.Skipped[0], ErrTooManyMembers) {
		t.Fatalf("101 members: %v %v", err, l.Skipped)
	}
	l = load(t, MembersKind, [][]byte{v["members.p1"], v["members.p101"]}, [][]byte{keyA}, pub, nil)
	if ms, _ := ListMembers(l.Message.Data()); l.Used != 0 || len(ms) != 25 {
		t.Fatalf("with the 25-member push too: used %d, %d members", l.Used, len(ms))
	}
}
