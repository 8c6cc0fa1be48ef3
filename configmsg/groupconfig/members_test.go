package groupconfig

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sessionctl/sessionctl/configmsg"
)

// The 101st member is refused by SetMember, by Seal and by Load; nothing
// of the refused change is written.
func TestMemberBound(t *testing.T) {
	pub, priv := groupKey(t)
	m, _ := NewConfig(priv)
	for i := 0; i < MaxMembers; i++ {
		mustSet(t, m.Data(), NewMember(sid(i)))
	}
	if err := SetMember(m.Data(), NewMember(sid(200))); !errors.Is(err, ErrTooManyMembers) {
		t.Fatalf("the 101st member: %v", err)
	}
	if _, ok := GetMember(m.Data(), sid(200)); ok {
		t.Fatal("the refused member was written")
	}
	// changing one of the 100 is fine
	m5 := getOrNew(m.Data(), sid(5))
	m5.Name = "five"
	mustSet(t, m.Data(), m5)
	full := seal(t, MembersKind, m, keyA)
	if l := load(t, MembersKind, [][]byte{full}, [][]byte{keyA}, pub, nil); l.Used != 0 {
		t.Fatal("100 members not read")
	}
	// forced past the bound (as another writer might): refused everywhere
	over := m.Increment()
	over.Data()["m"].(configmsg.Dict)[string(append([]byte{5}, bytes.Repeat([]byte{0xee}, 32)...))] = configmsg.Dict{"n": ""}
	if _, err := ListMembers(over.Data()); !errors.Is(err, ErrTooManyMembers) {
		t.Fatalf("ListMembers of 101: %v", err)
	}
	if _, err := Seal(MembersKind, over, keyA); !errors.Is(err, ErrTooManyMembers) {
		t.Fatalf("Seal of 101: %v", err)
	}
	raw, _ := configmsg.Seal(over.Encode(), keyA, MembersKind.Domain)
	l, err := Load(MembersKind, [][]byte{full, raw}, [][]byte{keyA}, pub, nil)
	if err != nil || l.Used != 0 || len(l.Skipped) != 1 || !errors.Is(l.Skipped[0], ErrTooManyMembers) {
		t.Fatalf("Load with a 101-member message: %v %v", err, l.Skipped)
	}
	// and two admins who each add a 100th member at once: their merge is
	// refused rather than read as 101
	base, _ := NewConfig(priv)
	for i := 0; i < MaxMembers-1; i++ {
		mustSet(t, base.Data(), NewMember(sid(i)))
	}
	b := seal(t, MembersKind, base, keyA)
	lb := load(t, MembersKind, [][]byte{b}, [][]byte{keyA}, pub, priv).Message
	x, y := lb.Edit(), lb.Edit()
	mustSet(t, x.Data(), NewMember(sid(150)))
	mustSet(t, y.Data(), NewMember(sid(151)))
	if _, err := Load(MembersKind, [][]byte{seal(t, MembersKind, x, keyA), seal(t, MembersKind, y, keyA)}, [][]byte{keyA}, pub, priv); !errors.Is(err, ErrTooManyMembers) {
		t.Fatalf("a merge of 101: %v", err)
	}
}

// Bad values are refused, and what the config holds that is not a member
// is skipped, as libsession skips it.
func TestMemberValues(t *testing.T) {
	d := configmsg.Dict{}
	for _, m := range []Member{
		{ID: "03" + strings.Repeat("00", 32)},
		{ID: "05" + strings.Repeat("00", 31)},
		{ID: "05" + strings.Repeat("zz", 32)},
		{ID: sid(1), Invite: 4},
		{ID: sid(1), Removed: 3},
		{ID: sid(1), PicURL: "http://x"},
		{ID: sid(1), PicKey: picK},
		{ID: sid(1), Name: "a\x00b"},
		{ID: sid(1), Name: "\xff"},
	} {
		if err := SetMember(d, m); err == nil {
			t.Errorf("%+v taken", m)
		}
	}
	if len(d) != 0 {
		t.Fatalf("refused members left %v", d)
	}
	d["m"] = configmsg.Dict{
		"short":                  configmsg.Dict{"n": "x"},
		string(make([]byte, 33)): configmsg.Dict{"n": "00-prefixed"},
		string(append([]byte{5}, make([]byte, 32)...)): "not a dict",
	}
	if ms, err := ListMembers(d); err != nil || len(ms) != 0 {
		t.Fatalf("%v %v", ms, err)
	}
	// an admin's invite status is not kept; the supplement flag only with an invite
	m := NewMember(sid(2))
	m.SetPromoted()
	m.Supplement = true
	mustSet(t, d, m)
	got, _ := GetMember(d, strings.ToUpper(sid(2)))
	if got.Invite != 0 || got.Supplement || got.Status() != PromotionNotSent {
		t.Fatalf("%+v %s", got, got.Status())
	}
	if !DeleteMember(d, sid(2)) || DeleteMember(d, sid(2)) {
		t.Fatal("delete")
	}
	d["m"] = "not a dict"
	if err := CheckMembers(d); err == nil {
		t.Fatal("\"m\" not a dict")
	}
}

func TestInfoValues(t *testing.T) {
	d := configmsg.Dict{"n": int64(5), "E": "x", "c": "y", "!": int64(0), "zz": "kept"}
	if in := ReadInfo(d); fmt.Sprint(in) != fmt.Sprint(Info{}) {
		t.Fatalf("values of the wrong type read as %+v", in)
	}
	for _, in := range []Info{{ExpiryTimer: -1}, {ExpiryTimer: 1500}, {PicURL: strings.Repeat("u", 224), PicKey: picK}, {PicKey: picK}} {
		if err := SetInfo(d, in); err == nil {
			t.Errorf("%+v taken", in)
		}
	}
	if err := SetInfo(d, Info{Name: "n", Created: -5}); err != nil {
		t.Fatal(err)
	}
	if _, ok := d["c"]; ok || d["zz"] != "kept" || d["n"] != "n" {
		t.Fatalf("%v", d)
	}
}

// FuzzLoad: stored messages of any kind, under a key the reader holds,
// never panic a reader, and what it reads lists at most MaxMembers.
func FuzzLoad(f *testing.F) {
	pub, priv := groupKey(f)
	m, _ := NewConfig(priv)
	for i := 0; i < 3; i++ {
		mm := NewMember(sid(i))
		mm.Name = "x"
		SetMember(m.Data(), mm)
	}
	plain := m.Encode()
	f.Add(plain)
	f.Add([]byte("de"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, kind := range []configmsg.Kind{InfoKind, MembersKind} {
			sealed, err := configmsg.Encrypt(configmsg.Pad(b), keyA, kind.Domain)
			if err != nil {
				t.Fatal(err)
			}
			l, err := Load(kind, [][]byte{sealed, b}, [][]byte{keyA}, pub, nil)
			if err != nil {
				continue
			}
			ReadInfo(l.Message.Data())
			if ms, err := ListMembers(l.Message.Data()); err != nil || len(ms) > MaxMembers {
				t.Fatalf("%d members, %v", len(ms), err)
			}
		}
	})
}
