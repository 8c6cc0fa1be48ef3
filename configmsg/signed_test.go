package configmsg

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
)

func testKey(b byte) ed25519.PrivateKey {
	seed := bytes.Repeat([]byte{b}, ed25519.SeedSize)
	return ed25519.NewKeyFromSeed(seed)
}

// A signed message verifies with the signer's key only, and any changed
// byte breaks it; its hash covers the signature; a message built on it is
// signed too and names its hash.
func TestSignedMessage(t *testing.T) {
	priv := testKey(1)
	pub := priv.Public().(ed25519.PublicKey)
	m := FirstSigned(DefaultLag, priv)
	m.Data()["n"] = "a group"
	enc := m.Encode()
	if !bytes.HasSuffix(enc[:len(enc)-1-64], []byte("1:~64:")) {
		t.Fatalf("the signature is not the last key: %q", enc)
	}
	got, err := ParseSigned(enc, DefaultLag, pub)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash() != m.Hash() || !bytes.Equal(got.Encode(), enc) {
		t.Fatal("a loaded signed message does not encode back to its bytes")
	}
	if _, err := ParseSigned(enc, DefaultLag, testKey(2).Public().(ed25519.PublicKey)); !errors.Is(err, ErrSignature) {
		t.Fatalf("another key: %v", err)
	}
	for i := range enc {
		bad := bytes.Clone(enc)
		bad[i] ^= 0x01
		if _, err := ParseSigned(bad, DefaultLag, pub); err == nil {
			t.Fatalf("byte %d changed, still accepted", i)
		}
	}
	unsigned := New(DefaultLag).Increment()
	if _, err := ParseSigned(unsigned.Encode(), DefaultLag, pub); !errors.Is(err, ErrSignature) {
		t.Fatalf("an unsigned message: %v", err)
	}
	next := got.Increment()
	next.signer = priv // an admin's (LoadSigned with the key sets it)
	next.Data()["n"] = "renamed"
	n2, err := ParseSigned(next.Encode(), DefaultLag, pub)
	if err != nil {
		t.Fatal(err)
	}
	if !n2.hasLag(SeqHash{1, m.Hash()}) {
		t.Fatal("the next message does not name the signed message's hash")
	}
	// A reader's Edit of a message it could not sign is not signed.
	if r, _ := ParseSigned(enc, DefaultLag, pub); r.Signed() && r.Increment().Signed() {
		t.Fatal("an increment by a reader without the key claims a signature")
	}
}

// Two admins change the config at once: a reader without the key takes the
// newer; an admin merges and signs the merge, which readers then accept.
func TestLoadSigned(t *testing.T) {
	priv := testKey(3)
	pub := priv.Public().(ed25519.PublicKey)
	base := FirstSigned(DefaultLag, priv)
	base.Data()["n"] = "base"
	baseEnc := base.Encode()
	b, _ := ParseSigned(baseEnc, DefaultLag, pub)
	a1, a2 := b.Increment(), b.Increment()
	a1.signer, a2.signer = priv, priv
	a1.Data()["n"] = "one"
	a2.Data()["c"] = int64(12345)
	e1, e2 := a1.Encode(), a2.Encode()
	forged := testKey(4)
	f := FirstSigned(DefaultLag, forged)
	f.Data()["n"] = "forged"

	r, used, skipped, err := LoadSigned([][]byte{e1, e2, f.Encode()}, DefaultLag, pub, nil)
	if err != nil || len(skipped) != 1 || r.Merged() {
		t.Fatalf("reader: %v, skipped %v", err, skipped)
	}
	newest := map[bool]int{true: 0, false: 1}[a1.Hash() == maxHash(a1.Hash(), a2.Hash())]
	if used != newest {
		t.Fatalf("reader used %d, want the newer %d", used, newest)
	}
	m, used, _, err := LoadSigned([][]byte{e1, e2}, DefaultLag, pub, priv)
	if err != nil || used != -1 || !m.Merged() || m.Data()["n"] != "one" || m.Data()["c"] != int64(12345) {
		t.Fatalf("admin's merge: %v %d %v", err, used, m.Data())
	}
	merged := m.Encode()
	r2, _, _, err := LoadSigned([][]byte{e1, e2, merged}, DefaultLag, pub, nil)
	if err != nil || !bytes.Equal(r2.Encode(), merged) {
		t.Fatalf("the reader does not take the signed merge: %v", err)
	}
	if _, _, _, err := LoadSigned([][]byte{e1}, DefaultLag, pub, forged); err == nil {
		t.Fatal("a signing key that is not the group's")
	}
}

func maxHash(a, b Hash) Hash {
	if bytes.Compare(a[:], b[:]) > 0 {
		return a
	}
	return b
}

func TestEncodeSigned(t *testing.T) {
	priv := testKey(5)
	pub := priv.Public().(ed25519.PublicKey)
	enc, err := EncodeSigned(Dict{"#": "nonce", "G": int64(3)}, priv)
	if err != nil {
		t.Fatal(err)
	}
	d, err := DecodeSigned(enc, pub)
	if err != nil || d["G"] != int64(3) || len(d) != 2 {
		t.Fatalf("%v %v", d, err)
	}
	if _, err := EncodeSigned(Dict{"~": "x"}, priv); err == nil {
		t.Fatal("a dict that already holds ~")
	}
	for _, bad := range [][]byte{enc[:len(enc)-1], append(bytes.Clone(enc[:len(enc)-1]), "1:~1:xe"...), []byte("le"), []byte("de")} {
		if _, err := DecodeSigned(bad, pub); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}

// FuzzDecodeSigned: bytes from a swarm never panic the signed decoders.
func FuzzDecodeSigned(f *testing.F) {
	priv := testKey(6)
	pub := priv.Public().(ed25519.PublicKey)
	enc, _ := EncodeSigned(Dict{"#": "n", "k": []any{"a", "b"}}, priv)
	f.Add(enc)
	m := FirstSigned(DefaultLag, priv)
	m.Data()["x"] = int64(1)
	f.Add(m.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := DecodeSigned(b, pub); err == nil {
			if _, ok := d["~"]; ok {
				t.Fatal("the signature is left in the dict")
			}
		}
		ParseSigned(b, DefaultLag, pub)
	})
}
