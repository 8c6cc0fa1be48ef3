package configmsg

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// The known answers below are libsession-util's, from its
// tests/test_configdata.cpp: the test cases "config message serialization",
// "config message example 1" to "example 3", and "config message
// deserialization" (the data, the changes made, and the bytes and hashes
// expected). Strings are written as the test writes them, one bt token per
// piece.

func hx(t testing.TB, s string) string {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkBytes(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	if string(got) != want {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func checkHash(t *testing.T, what string, got Hash, want string) {
	t.Helper()
	if h := hex.EncodeToString(got[:]); h != want {
		t.Fatalf("%s: hash %s, want %s", what, h, want)
	}
}

func d(m Dict, k string) Dict { return m[k].(Dict) }

// "config message serialization"
func TestSerializationKnownAnswer(t *testing.T) {
	m := New(DefaultLag)
	m.seqHash.Seqno = 10
	m.Data()["foo"] = int64(123)
	m.Data()["bar"] = Dict{"asdf": int64(123), "xyz": "abc", "": []any{int64(42), "a", "b"}}
	checkBytes(t, "seqno 10", m.Encode(), "d"+
		"1:#"+"i10e"+
		"1:&"+"d"+
		"3:bar"+"d"+"0:"+"li42e1:a1:be"+"4:asdf"+"i123e"+"3:xyz"+"3:abc"+"e"+
		"3:foo"+"i123e"+
		"e"+
		"1:<"+"le"+
		"1:="+"d"+
		"3:bar"+"d"+"0:"+"lli42e1:a1:belee"+"4:asdf"+"0:"+"3:xyz"+"0:"+"e"+
		"3:foo"+"0:"+
		"e"+
		"e")
	hash0 := "d65738bba88b0f3455cef20fe09a7b4b10f25f9db82be24a6ce1bd06da197526"
	checkHash(t, "seqno 10", m.Hash(), hash0)

	m1 := m.Increment()
	delete(m1.Data(), "foo")
	hash1 := "5b30b4abf4cba71db25dbc0d977cc25df1d0a8a87cad7f561cdec2b8caf65f5e"
	checkHash(t, "seqno 11", m1.Hash(), hash1)

	m2 := m1.Increment()
	m2.Data()["foo"] = int64(123)
	bar := d(m2.Data(), "bar")
	bar["xyz"] = int64(42)
	bar["a"] = int64(42)
	s := bar[""].([]any)
	s = SetInsert(s, "c")
	s = SetInsert(s, int64(99))
	s = SetErase(s, "b")
	s = SetInsert(s, int64(42)) // already there
	bar[""] = s
	hash2 := "027552203cf669070d3ecbeecfa65c65497d59aa4da490e0f68f8131ce081320"
	checkHash(t, "seqno 12", m2.Hash(), hash2)
	diff12 := "d" +
		"3:bar" + "d" + "0:" + "l" + "li99e1:ce" + "l1:be" + "e" + "1:a" + "0:" + "3:xyz" + "0:" + "e" +
		"3:foo" + "0:" +
		"e"
	data12 := "d" +
		"3:bar" + "d" + "0:" + "li42ei99e1:a1:ce" + "1:a" + "i42e" + "4:asdf" + "i123e" + "3:xyz" + "i42e" + "e" +
		"3:foo" + "i123e" +
		"e"
	checkBytes(t, "seqno 12", m2.Encode(), "d"+
		"1:#"+"i12e"+
		"1:&"+data12+
		"1:<"+"l"+
		"l"+"i10e"+"32:"+hx(t, hash0)+
		"d"+"3:bar"+"d"+"0:"+"lli42e1:a1:belee"+"4:asdf"+"0:"+"3:xyz"+"0:"+"e"+"3:foo"+"0:"+"e"+
		"e"+
		"l"+"i11e"+"32:"+hx(t, hash1)+"d"+"3:foo"+"1:-"+"e"+"e"+
		"e"+
		"1:="+diff12+
		"e")

	hash3 := "b83871ea06587f9254cdf2b2af8daff19bd7fb550fb90d5f8f9f546464c08bc5"
	hash4 := "c30e2cfa7ec93c64a1ab6420c9bccfb63da8e4c2940ed6509ffb64f3f0131860"
	hash5 := "3234eb7da8cf4b79b9eec2a144247279d10f6f118184f82429a42c5996bea60c"
	checkHash(t, "seqno 13", m2.Increment().Hash(), hash3)
	checkHash(t, "seqno 14", m2.Increment().Increment().Hash(), hash4)
	m5 := m2.Increment().Increment().Increment()
	checkHash(t, "seqno 15", m5.Hash(), hash5)
	checkBytes(t, "seqno 15", m5.Encode(), "d"+
		"1:#"+"i15e"+
		"1:&"+data12+
		"1:<"+"l"+
		"l"+"i11e"+"32:"+hx(t, hash1)+"d"+"3:foo"+"1:-"+"e"+"e"+
		"l"+"i12e"+"32:"+hx(t, hash2)+diff12+"e"+
		"l"+"i13e"+"32:"+hx(t, hash3)+"de"+"e"+
		"l"+"i14e"+"32:"+hx(t, hash4)+"de"+"e"+
		"e"+
		"1:="+"de"+
		"e")
}

func data118() Dict {
	return Dict{
		"dictB":   Dict{"changed": int64(-1), "foo": int64(123), "removed": "x", "removed2": "y"},
		"dictC":   Dict{"x": Dict{"y": int64(1)}},
		"good":    []any{int64(99), int64(456), "bar"},
		"great":   []any{int64(-42), "omg"},
		"int0":    int64(-9999),
		"int1":    int64(100),
		"string1": "hello",
		"string2": "goodbye",
	}
}

const (
	h119  = "43094f68c1faa37eff79e1c2f3973ffd5f9d6423b00ccda306fc6e7dac5f0c44"
	h120  = "e3a237f91014d31e4d30569c4a8bfcd72157804f99b8732c611c48bf126432b5"
	h121  = "1a7f602055124deaf21175ef3f32983dee7c9de570e5d9c9a0bbc2db71dcb97f"
	h122  = "46560604fe352101bb869435260d7100ccfe007be5f741c7e96303f02f394e8a"
	h123  = "d9398c597b058ac7e28e3febb76ed68eb8c5b6c369610562ab5f2b596775d73c"
	h124  = "8b73f316178765b9b3b37168e865c84bb5a78610cbb59b84d0fa4d3b4b3c102b"
	h125a = "80f229c3667de6d0fa6f96b53118e097fbda82db3ca1aea221a3db91ea9c45fb"
	h125b = "ab12f0efe9a9ed00db6b17b44ae0ff36b9f49094077fb114f415522f2a0e98de"
)

const diff123 = "d" + "4:int0" + "1:-" + "4:int1" + "0:" + "4:int2" + "0:" + "e"

func m123(t testing.TB) string {
	return "d" +
		"1:#" + "i123e" +
		"1:&" + "d" +
		"5:dictB" + "d" + "7:changed" + "i-1e" + "3:foo" + "i123e" + "7:removed" + "1:x" + "8:removed2" + "1:y" + "e" +
		"5:dictC" + "d" + "1:x" + "d" + "1:y" + "i1e" + "e" + "e" +
		"4:good" + "l" + "i99e" + "i456e" + "3:bar" + "e" +
		"5:great" + "l" + "i-42e" + "3:omg" + "e" +
		"4:int1" + "i1e" +
		"4:int2" + "i2e" +
		"7:string1" + "5:hello" +
		"7:string2" + "7:goodbye" +
		"e" +
		"1:<" + "l" +
		"l" + "i119e" + "32:" + hx(t, h119) + "de" + "e" +
		"l" + "i120e" + "32:" + hx(t, h120) + "de" + "e" +
		"l" + "i121e" + "32:" + hx(t, h121) + "de" + "e" +
		"l" + "i122e" + "32:" + hx(t, h122) + "de" + "e" +
		"e" +
		"1:=" + diff123 +
		"e"
}

// "config message example 1": an ordinary update.
func TestExample1KnownAnswer(t *testing.T) {
	m := New(5)
	m.seqHash.Seqno = 118
	m.data = data118()
	checkBytes(t, "seqno 118", m.Encode(), "d"+
		"1:#"+"i118e"+
		"1:&"+"d"+
		"5:dictB"+"d"+"7:changed"+"i-1e"+"3:foo"+"i123e"+"7:removed"+"1:x"+"8:removed2"+"1:y"+"e"+
		"5:dictC"+"d"+"1:x"+"d"+"1:y"+"i1e"+"e"+"e"+
		"4:good"+"l"+"i99e"+"i456e"+"3:bar"+"e"+
		"5:great"+"l"+"i-42e"+"3:omg"+"e"+
		"4:int0"+"i-9999e"+
		"4:int1"+"i100e"+
		"7:string1"+"5:hello"+
		"7:string2"+"7:goodbye"+
		"e"+
		"1:<"+"le"+
		"1:="+"d"+
		"5:dictB"+"d"+"7:changed"+"0:"+"3:foo"+"0:"+"7:removed"+"0:"+"8:removed2"+"0:"+"e"+
		"5:dictC"+"d"+"1:x"+"d"+"1:y"+"0:"+"e"+"e"+
		"4:good"+"l"+"l"+"i99e"+"i456e"+"3:bar"+"e"+"le"+"e"+
		"5:great"+"l"+"l"+"i-42e"+"3:omg"+"e"+"le"+"e"+
		"4:int0"+"0:"+
		"4:int1"+"0:"+
		"7:string1"+"0:"+
		"7:string2"+"0:"+
		"e"+
		"e")
	for _, h := range []string{h119, h120, h121, h122} {
		m = m.Increment()
		checkHash(t, "an empty increment", m.Hash(), h)
	}
	m = m.Increment()
	m.Data()["int1"] = int64(1)
	m.Data()["int2"] = int64(2)
	delete(m.Data(), "int0")
	m.Data()["string1"] = "hello" // unchanged: not in the diff
	checkBytes(t, "seqno 123", m.Encode(), m123(t))
}

// "config message deserialization"
func TestParseKnownAnswer(t *testing.T) {
	m, err := Parse([]byte(m123(t)), DefaultLag)
	if err != nil {
		t.Fatal(err)
	}
	if m.Seqno() != 123 {
		t.Fatalf("seqno %d", m.Seqno())
	}
	checkHash(t, "parsed", m.Hash(), h123)
	checkBytes(t, "its diff", Encode(m.Diff()), diff123)
	want := data118()
	want["int1"] = int64(1)
	want["int2"] = int64(2)
	delete(want, "int0")
	checkBytes(t, "its data", Encode(m.Data()), string(Encode(want)))
	checkBytes(t, "re-encoded", m.Encode(), m123(t))

	mut := m.Edit()
	if mut.Seqno() != 124 || len(mut.Diff()) != 0 {
		t.Fatalf("edit: seqno %d, diff %v", mut.Seqno(), mut.Diff())
	}
	checkHash(t, "edited", mut.Hash(), "3ea36410cf7086ce816eb193b0c94e88632abfb75771d82f8ddb3a909124c580")
}

// updates124 is the test's updates_124.
func updates124(m *Message) {
	m.Data()["dictA"] = Dict{"hello": int64(123), "goodbye": []any{int64(123), int64(456)}}
	b := d(m.Data(), "dictB")
	b["changed"] = int64(1)
	b["added"] = int64(9999)
	b["nested"] = Dict{"a": int64(1)}
	delete(b, "removed")
	delete(b, "removed2")
	delete(m.Data(), "dictC")
	g := m.Data()["good"].([]any)
	g = SetInsert(g, "Foo")
	g = SetErase(g, int64(456))
	g = SetInsert(g, int64(123))
	m.Data()["good"] = g
	m.Data()["int1"] = int64(42)
	delete(m.Data(), "string1")
	m.Data()["string2"] = "hello"
	m.Data()["string3"] = "omg"
	delete(m.Data(), "great")
}

const diff124 = "d" +
	"5:dictA" + "d" + "7:goodbye" + "l" + "l" + "i123e" + "i456e" + "e" + "le" + "e" + "5:hello" + "0:" + "e" +
	"5:dictB" + "d" + "5:added" + "0:" + "7:changed" + "0:" + "6:nested" + "d" + "1:a" + "0:" + "e" +
	"7:removed" + "1:-" + "8:removed2" + "1:-" + "e" +
	"5:dictC" + "d" + "1:x" + "d" + "1:y" + "1:-" + "e" + "e" +
	"4:good" + "l" + "l" + "i123e" + "3:Foo" + "e" + "l" + "i456e" + "e" + "e" +
	"5:great" + "l" + "le" + "l" + "i-42e" + "3:omg" + "e" + "e" +
	"4:int1" + "0:" +
	"7:string1" + "1:-" +
	"7:string2" + "0:" +
	"7:string3" + "0:" +
	"e"

func m124(t *testing.T) *Message {
	t.Helper()
	p, err := Parse([]byte(m123(t)), DefaultLag)
	if err != nil {
		t.Fatal(err)
	}
	m := p.Edit()
	updates124(m)
	return m
}

// "config message example 2": a large update.
func TestExample2KnownAnswer(t *testing.T) {
	m := m124(t)
	checkBytes(t, "diff 124", Encode(m.Diff()), diff124)
	checkHash(t, "seqno 124", m.Hash(), h124)
}

// "config message example 3 - simple conflict": two devices change seqno
// 124 at once; every reader merges their two 125s into the same 126.
func TestMergeKnownAnswer(t *testing.T) {
	m := m124(t)
	a := m.Increment()
	delete(d(a.Data(), "dictB"), "foo")
	b := m.Increment()
	b.Data()["int1"] = int64(5)
	checkHash(t, "125a", a.Hash(), h125a)
	checkHash(t, "125b", b.Hash(), h125b)

	want := "d" +
		"1:#" + "i126e" +
		"1:&" + "d" +
		"5:dictA" + "d" + "7:goodbye" + "l" + "i123e" + "i456e" + "e" + "5:hello" + "i123e" + "e" +
		"5:dictB" + "d" + "5:added" + "i9999e" + "7:changed" + "i1e" + "6:nested" + "d" + "1:a" + "i1e" + "e" + "e" +
		"4:good" + "l" + "i99e" + "i123e" + "3:Foo" + "3:bar" + "e" +
		"4:int1" + "i5e" +
		"4:int2" + "i2e" +
		"7:string2" + "5:hello" +
		"7:string3" + "3:omg" +
		"e" +
		"1:<" + "l" +
		"l" + "i122e" + "32:" + hx(t, h122) + "de" + "e" +
		"l" + "i123e" + "32:" + hx(t, h123) + diff123 + "e" +
		"l" + "i124e" + "32:" + hx(t, h124) + diff124 + "e" +
		"l" + "i125e" + "32:" + hx(t, h125a) + "d" + "5:dictB" + "d" + "3:foo" + "1:-" + "e" + "e" + "e" +
		"l" + "i125e" + "32:" + hx(t, h125b) + "d" + "4:int1" + "0:" + "e" + "e" +
		"e" +
		"1:=" + "de" +
		"e"

	old := New(5)
	old.seqHash.Seqno = 118
	m120b := old.Increment().Increment()
	m120b.Data()["too old"] = "won't see"

	for name, in := range map[string][][]byte{
		"a, b":          {a.Encode(), b.Encode()},
		"b, a":          {b.Encode(), a.Encode()},
		"124, b, a":     {m.Encode(), b.Encode(), a.Encode()},
		"b, a, 124":     {b.Encode(), a.Encode(), m.Encode()},
		"b, 120b, a":    {b.Encode(), m120b.Encode(), a.Encode()},
		"a, junk, b, a": {a.Encode(), []byte("d1:#i1e"), b.Encode(), a.Encode()},
	} {
		got, used, _, err := Load(in, DefaultLag)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !got.Merged() || used != -1 || got.Seqno() != 126 {
			t.Fatalf("%s: merged %v, used %d, seqno %d", name, got.Merged(), used, got.Seqno())
		}
		checkBytes(t, name, got.Encode(), want)
	}
}

func TestLoadPicksTheNewest(t *testing.T) {
	m := New(DefaultLag)
	m.Data()["n"] = "first"
	n := m.Increment()
	n.Data()["n"] = "second"
	got, used, _, err := Load([][]byte{m.Encode(), n.Encode()}, DefaultLag)
	if err != nil || used != 1 || got.Merged() || got.Data()["n"] != "second" {
		t.Fatalf("used %d, merged %v, data %v, err %v", used, got.Merged(), got.Data(), err)
	}
	if _, _, skipped, err := Load([][]byte{[]byte("x"), []byte("de")}, DefaultLag); !errors.Is(err, ErrNoMessage) || len(skipped) != 2 {
		t.Fatalf("nothing valid: %v, %v", skipped, err)
	}
}

func TestParseRefusals(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"d1:!i1e1:#i1e1:&dee", "before"},
		{"d1:&de1:#i1ee", "out of order"},
		{"d1:#i1ee", "no data"},
		{"d1:&dee", "no seqno"},
		{"d1:#i01e1:&dee", "not canonical"},
		{"d1:#i1e1:&d1:ad1:xleeee", "empty set"},
		{"d1:#i1e1:&d1:adeee", "empty dict"},
		{"d1:#i1e1:&d1:ali2ei1eeee", "out of order or repeat"},
		{"d1:#i1e1:&d1:ali1e1:xi3eeee", "out of order or repeat"},
		{"d1:#i1e1:&de1:=d1:a1:xee", "want"},
		{"d1:#i1e1:&de1:<lli1e32:" + strings.Repeat("h", 32) + "deeee", "not below"},
		{"d1:#i1e1:&de1:~3:abce", "64 bytes"},
		{"d1:#i1e1:&de2:~~i1ee", "after the signature"},
		{"d1:#i1e1:&de1:=d1:ai1eee", "int64"},
		{strings.Repeat("l", 40) + strings.Repeat("e", 40), "nested"},
		{"d1:#i1e1:&d", "does not end"}, {"d1:#i1e1:&d1:a", "ends early"},
		{"4294967296:x", "not canonical"},
	} {
		_, err := Parse([]byte(c.in), DefaultLag)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error with %q", c.in, err, c.want)
		}
	}
}

// FuzzParse: any input parses or is refused, never panics; one that parses
// encodes canonically and merges with an edit of itself.
func FuzzParse(f *testing.F) {
	f.Add([]byte(m123(f)))
	f.Add([]byte("d1:#i1e1:&de1:<le1:=dee"))
	f.Add([]byte("d1:#i5e1:&d1:ali1e1:xe1:bd1:ci-3eee1:<le1:=d1:ali1ei2eeleeee"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b, DefaultLag)
		if err != nil {
			return
		}
		// Encoding is canonical: what it gives parses and encodes the same.
		once := m.Encode()
		m2, err := Parse(once, DefaultLag)
		if err != nil {
			t.Fatalf("%q encodes as %q, which does not parse: %v", b, once, err)
		}
		if twice := m2.Encode(); !bytes.Equal(once, twice) {
			t.Fatalf("%q encodes as %q, then %q", b, once, twice)
		}
		e := m.Edit()
		e.Data()["fuzz"] = int64(1)
		if _, _, _, err := Load([][]byte{b, e.Encode()}, DefaultLag); err != nil {
			t.Fatal(err)
		}
	})
}
