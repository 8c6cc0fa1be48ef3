package configmsg

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// The user profile's first push, from libsession-util's
// tests/test_config_userprofile.cpp ("user profile C API"): the hash of an
// empty seqno-0 message, the decrypted message after setting a name, a
// picture and the Note to Self priority, and that message encrypted (padded
// and sealed under the test's seed and the "UserProfile" domain).
func TestProfileKnownAnswer(t *testing.T) {
	seed := unhexString(t, "0123456789abcdef0123456789abcdef00000000000000000000000000000000")
	empty := New(DefaultLag)
	expHash0 := "ea173b57beca8af18c3519a7bbf69c3e7a05d1c049fa9558341d8ebb48b0c965"
	checkHash(t, "empty", empty.Hash(), expHash0)

	m := empty.Increment()
	if err := SetProfileName(m.Data(), "Kallie"); err != nil {
		t.Fatal(err)
	}
	if err := SetProfilePic(m.Data(), "http://example.org/omg-pic-123.bmp", []byte("secret78901234567890123456789012")); err != nil {
		t.Fatal(err)
	}
	SetNoteToSelfPriority(m.Data(), 9)
	plain := m.Encode()
	checkBytes(t, "push 1, decrypted", plain, "d"+
		"1:#"+"i1e"+
		"1:&"+"d"+
		"1:+"+"i9e"+
		"1:n"+"6:Kallie"+
		"1:p"+"34:http://example.org/omg-pic-123.bmp"+
		"1:q"+"32:secret78901234567890123456789012"+
		"e"+
		"1:<"+"l"+"l"+"i0e"+"32:"+hx(t, expHash0)+"de"+"e"+"e"+
		"1:="+"d"+"1:+"+"0:"+"1:n"+"0:"+"1:p"+"0:"+"1:q"+"0:"+"e"+
		"e")
	sealed, err := Encrypt(Pad(plain), seed, UserProfile.Domain)
	if err != nil {
		t.Fatal(err)
	}
	want := "9693a69686da3055f1ecdfb239c3bf8e746951a36d888c2fb7c02e856a5c2091b24e39a7e1af828f" +
		"1fa09fe8bf7d274afde0a0847ba143c43ffb8722301b5ae32e2f078b9a5e19097403336e50b18c84" +
		"aade446cd2823b011f97d6ad2116a53feb814efecc086bc172d31f4214b4d7c630b63bbe575b0868" +
		"2d146da44915063a07a78556ab5eff4f67f6aa26211e8d330b53d28567a931028c393709a325425d" +
		"e7486ccde24416a7fd4a8ba5fa73899c65f4276dfaddd5b2100adcf0f793104fb235b31ce32ec656" +
		"056009a9ebf58d45d7d696b74e0c7ff0499c4d23204976f19561dc0dba6dc53a2497d28ce03498ea" +
		"49bf122762d7bc1d6d9c02f6d54f8384"
	if got := hex.EncodeToString(sealed); got != want {
		t.Fatalf("push 1, encrypted:\n got %s\nwant %s", got, want)
	}
	p := ReadProfile(m.Data())
	if p.Name != "Kallie" || p.NoteToSelfPriority != 9 || p.PicURL == "" {
		t.Fatalf("read back %+v", p)
	}
	if err := SetProfileName(m.Data(), strings.Repeat("x", 101)); err == nil {
		t.Fatal("a 101-byte name was taken")
	}
}

func unhexString(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Two devices change the contacts at once; both readers settle on the same
// merge, holding both changes.
func TestContactsMerge(t *testing.T) {
	joe := "05" + strings.Repeat("00", 32)
	ann := "05" + strings.Repeat("11", 32)
	base := New(DefaultLag)
	if err := SetContact(base.Data(), Contact{ID: joe, Name: "Joe", Approved: true, Created: 1680064059}); err != nil {
		t.Fatal(err)
	}
	laptop := base.Increment()
	c, _ := GetContact(laptop.Data(), joe)
	c.Nickname = "Joey"
	if err := SetContact(laptop.Data(), c); err != nil {
		t.Fatal(err)
	}
	phone := base.Increment()
	if err := SetContact(phone.Data(), Contact{ID: ann, Blocked: true}); err != nil {
		t.Fatal(err)
	}
	one, _, _, err := Load([][]byte{laptop.Encode(), phone.Encode()}, DefaultLag)
	if err != nil {
		t.Fatal(err)
	}
	other, _, _, err := Load([][]byte{phone.Encode(), base.Encode(), laptop.Encode()}, DefaultLag)
	if err != nil {
		t.Fatal(err)
	}
	if string(one.Encode()) != string(other.Encode()) {
		t.Fatal("two readers merged differently")
	}
	cs := ListContacts(one.Data())
	if len(cs) != 2 || cs[0].ID != joe || cs[0].Nickname != "Joey" || !cs[0].Approved || cs[0].Created != 1680064059 || cs[1].ID != ann || !cs[1].Blocked {
		t.Fatalf("merged contacts: %+v", cs)
	}
	e := one.Edit()
	DeleteContact(e.Data(), ann)
	if got := ListContacts(e.Data()); len(got) != 1 {
		t.Fatalf("after delete: %+v", got)
	}
	if err := SetContact(e.Data(), Contact{ID: "06" + strings.Repeat("00", 32)}); err == nil {
		t.Fatal("a non-account ID was taken")
	}
}

func TestConvoReadMarks(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	bob := "05" + strings.Repeat("22", 32)
	old := "05" + strings.Repeat("33", 32)
	d := Dict{"1": Dict{string(unhexString(t, old)): Dict{"r": now.Add(-46 * 24 * time.Hour).UnixMilli()}},
		"o": Dict{"http://example.org": Dict{"#": strings.Repeat("k", 32)}}}
	if err := MarkRead(d, bob, now.UnixMilli()-5000, now); err != nil {
		t.Fatal(err)
	}
	if err := MarkRead(d, bob, now.UnixMilli()-9000, now); err != nil { // never back
		t.Fatal(err)
	}
	if err := MarkRead(d, "05"+strings.Repeat("44", 32), now.Add(-31*24*time.Hour).UnixMilli(), now); err != nil {
		t.Fatal(err)
	}
	PruneConvos(d, now)
	got := ListConvos(d)
	if len(got) != 1 || got[0].ID != bob || got[0].LastRead != now.UnixMilli()-5000 {
		t.Fatalf("%+v", got)
	}
	if _, ok := d["o"]; !ok {
		t.Fatal("the communities were dropped")
	}
	if err := MarkRead(d, "nope", 1, now); err == nil {
		t.Fatal("a bad ID was taken")
	}
}

// TestProfileUpdated: "t" says when the name or picture changed (unix
// seconds, read as ms); a re-upload ("P", "Q", "T") wins when it is newer,
// and a new picture replaces it (libsession-util's user_profile.hpp keys).
func TestProfileUpdated(t *testing.T) {
	d := Dict{}
	key := []byte(strings.Repeat("k", 32))
	if err := SetProfilePic(d, "http://filev2.getsession.org/file/1", key); err != nil {
		t.Fatal(err)
	}
	SetProfileUpdated(d, time.Unix(1700000000, 0))
	if p := ReadProfile(d); p.UpdatedAt != 1700000000000 || p.PicURL != "http://filev2.getsession.org/file/1" {
		t.Fatalf("read %+v", p)
	}
	d["P"], d["Q"], d["T"] = "http://filev2.getsession.org/file/2", strings.Repeat("K", 32), int64(1700000100)
	if p := ReadProfile(d); p.UpdatedAt != 1700000100000 || p.PicURL != "http://filev2.getsession.org/file/2" || string(p.PicKey) != strings.Repeat("K", 32) {
		t.Fatalf("the re-upload is not read: %+v", p)
	}
	d["T"] = int64(1600000000)
	if p := ReadProfile(d); p.PicURL != "http://filev2.getsession.org/file/1" {
		t.Fatalf("an older re-upload won: %+v", p)
	}
	if err := SetProfilePic(d, "http://filev2.getsession.org/file/3", []byte("short")); err == nil || d["P"] == nil {
		t.Fatalf("a short key: %v, and the dict changed", err)
	}
	if err := SetProfilePic(d, "", nil); err != nil || d["p"] != nil || d["P"] != nil || d["T"] != nil {
		t.Fatalf("removing the picture left %v (%v)", d, err)
	}
	SetProfileUpdated(d, time.Unix(0, 0))
	if _, ok := d["t"]; ok {
		t.Fatal("a zero time was written")
	}
}
