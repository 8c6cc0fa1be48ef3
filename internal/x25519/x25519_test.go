package x25519

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"golang.org/x/crypto/curve25519"
)

func TestX25519(t *testing.T) {
	// RFC 7748, section 5.2.
	for _, v := range []struct{ k, u, out string }{
		{"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4", "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c", "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
		{"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d", "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493", "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
	} {
		got, err := X25519([32]byte(unhex(t, v.k)), [32]byte(unhex(t, v.u)))
		if err != nil || hex.EncodeToString(got[:]) != v.out {
			t.Fatalf("x25519 = %x, %v; want %s", got, err, v.out)
		}
	}
	for i := 0; i < 200; i++ {
		var k, u [32]byte
		rand.Read(k[:])
		rand.Read(u[:])
		want, err := curve25519.X25519(k[:], u[:])
		got, err2 := X25519(k, u)
		if (err == nil) != (err2 == nil) || err == nil && !bytes.Equal(want, got[:]) {
			t.Fatalf("k=%x u=%x: %x %v, curve25519 gives %x %v", k, u, got, err2, want, err)
		}
	}
	if _, err := X25519([32]byte{1}, [32]byte{}); err == nil {
		t.Fatal("the zero point gave a secret")
	}
}

// PublicKey must give the X25519 public key of its private key.
func TestPublicKey(t *testing.T) {
	for i := 0; i < 100; i++ {
		priv, pub, err := NewKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := curve25519.X25519(priv[:], curve25519.Basepoint)
		if !bytes.Equal(want, pub[:]) {
			t.Fatalf("public key %x, X25519 gives %x", pub, want)
		}
	}
}

func unhex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func BenchmarkX25519(b *testing.B) {
	var k, u [32]byte
	rand.Read(k[:])
	u[0] = 9
	for b.Loop() {
		X25519(k, u)
	}
}
