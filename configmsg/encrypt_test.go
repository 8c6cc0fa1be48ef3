package configmsg

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEncryptKnownAnswer: libsession-util's tests/test_encrypt.cpp
// ("config message encryption"): the same message, key and domains, the
// same bytes.
func TestEncryptKnownAnswer(t *testing.T) {
	msg := []byte("some message 1")
	key1 := unhex(t, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
	key2 := unhex(t, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	enc1, err := Encrypt(msg, key1, "test-suite1")
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(enc1); got != "f14f242a26638f3305707d1035e734577f943cd7d28af58e32637e"+
		"0966dcaf2f4860cb4d0f8ba7e09d29e31f5e4a18f65847287a54a0" {
		t.Fatalf("enc1 = %s", got)
	}
	enc2, _ := Encrypt(msg, key1, "test-suite2")
	enc3, _ := Encrypt(msg, key2, "test-suite1")
	if bytes.Equal(enc2, enc1) || bytes.Equal(enc3, enc1) {
		t.Fatal("another domain or key gave the same bytes")
	}
	nonce := func(b []byte) string { return hex.EncodeToString(b[len(b)-24:]) }
	if nonce(enc1) != "af2f4860cb4d0f8ba7e09d29e31f5e4a18f65847287a54a0" || nonce(enc2) != "277e639d36ba46470dfff509a68cb73d9a96386c51739bdd" || nonce(enc3) != nonce(enc1) {
		t.Fatalf("nonces %s %s %s", nonce(enc1), nonce(enc2), nonce(enc3))
	}
	plain, err := Decrypt(enc1, key1, "test-suite1")
	if err != nil || !bytes.Equal(plain, msg) {
		t.Fatalf("decrypt: %q %v", plain, err)
	}
	if _, err := Decrypt(enc1, key1, "test-suite2"); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("another domain: %v", err)
	}
	if _, err := Decrypt(enc1, key2, "test-suite1"); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("another key: %v", err)
	}
	bad := bytes.Clone(enc1)
	bad[3] = 0x42
	if _, err := Decrypt(bad, key1, "test-suite1"); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("a changed byte: %v", err)
	}
}

// TestPaddedSize: libsession-util's tests/test_encrypt.cpp ("config
// message padding").
func TestPaddedSize(t *testing.T) {
	const kiB = 1024
	for _, c := range []struct{ s, overhead, want int }{
		{1, 0, 256}, {1, 10, 246}, {246, 10, 246}, {247, 10, 502}, {247, 256, 256},
		{3839, 96, 4000}, {3744, 96, 3744}, {3745, 96, 4000}, {4864, 0, 4864}, {4865, 0, 5 * kiB},
		{5*kiB + 1, 0, 6 * kiB}, {9 * kiB, 0, 9 * kiB}, {9*kiB + 1, 0, 10 * kiB}, {10*kiB + 1, 0, 11 * kiB},
		{20 * kiB, 0, 20 * kiB}, {20*kiB + 1, 0, 22 * kiB}, {38 * kiB, 0, 38 * kiB}, {38*kiB + 1, 0, 40 * kiB},
		{40*kiB + 1, 0, 45 * kiB}, {45*kiB + 1, 0, 50 * kiB}, {70 * kiB, 0, 70 * kiB}, {70*kiB + 1, 0, 75 * kiB},
		{75 * kiB, 0, 75 * kiB}, {75*kiB - 24, 24, 75*kiB - 24},
	} {
		if got := PaddedSize(c.s, c.overhead); got != c.want {
			t.Errorf("PaddedSize(%d, %d) = %d, want %d", c.s, c.overhead, got, c.want)
		}
	}
	p := Pad([]byte("x"))
	if len(p)+Overhead != 256 || p[len(p)-1] != 'x' || p[0] != 0 {
		t.Fatalf("Pad: %d bytes", len(p))
	}
}

// TestRefusals: bad keys and domains are errors, not panics.
func TestRefusals(t *testing.T) {
	k := make([]byte, 32)
	for _, c := range []struct {
		key    []byte
		domain string
	}{{k[:31], "UserProfile"}, {k, ""}, {k, "a-domain-longer-than-24-bytes"}} {
		if _, err := Encrypt([]byte("x"), c.key, c.domain); err == nil {
			t.Errorf("Encrypt with a %d-byte key, domain %q", len(c.key), c.domain)
		}
		if _, err := Decrypt(make([]byte, 64), c.key, c.domain); err == nil {
			t.Errorf("Decrypt with a %d-byte key, domain %q", len(c.key), c.domain)
		}
	}
	if _, err := Decrypt(make([]byte, Overhead-1), k, "UserProfile"); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("a short message: %v", err)
	}
}

// FuzzDecrypt: whatever arrives from a swarm, Decrypt answers without
// panicking, and what Encrypt made opens again.
func FuzzDecrypt(f *testing.F) {
	k := unhex(f, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
	enc, _ := Encrypt([]byte("some message 1"), k, UserProfile.Domain)
	f.Add(enc)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		Decrypt(data, k, UserProfile.Domain)
		enc, err := Encrypt(data, k, Contacts.Domain)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := Decrypt(enc, k, Contacts.Domain); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
