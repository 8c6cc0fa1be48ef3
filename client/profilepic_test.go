package client

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
)

// TestAvatarLayout: IV || AES-256-GCM ciphertext || 16-byte tag, as
// session-desktop's encryptProfile lays it out. No upstream test has
// profile picture bytes, so the known answer is the GCM specification's
// test case 15 (AES-256, a 96-bit IV, no additional data; McGrew and
// Viega, "The Galois/Counter Mode of Operation").
func TestAvatarLayout(t *testing.T) {
	h := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	key := h("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
	iv := h("cafebabefacedbaddecaf888")
	plain := h("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255")
	want := h("cafebabefacedbaddecaf888" +
		"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad" +
		"b094dac5d93471bdec1a502270e3cc6c")
	blob := sealAvatar(plain, key, iv)
	if !bytes.Equal(blob, want) {
		t.Fatalf("sealed\n %x\nwant\n %x", blob, want)
	}
	got, err := DecryptAvatar(blob, key)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("opened %x, %v", got, err)
	}
}

// TestAvatarRefusals: a flipped bit, a wrong or short key, a truncated
// blob, an empty or oversized picture: refused, never a panic.
func TestAvatarRefusals(t *testing.T) {
	blob, key, err := EncryptAvatar(rand.Reader, []byte("a face"))
	if err != nil || len(key) != ProfileKeySize || len(blob) != 12+6+16 {
		t.Fatalf("sealed %d bytes, key %d, %v", len(blob), len(key), err)
	}
	flipped := bytes.Clone(blob)
	flipped[20] ^= 1
	other := bytes.Clone(key)
	other[0] ^= 1
	for name, c := range map[string]struct{ blob, key []byte }{
		"flipped":   {flipped, key},
		"wrong key": {blob, other},
		"short key": {blob, key[:16]},
		"truncated": {blob[:28], key},
		"empty":     {nil, key},
	} {
		if _, err := DecryptAvatar(c.blob, c.key); !errors.Is(err, ErrAvatar) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, _, err := EncryptAvatar(rand.Reader, nil); err == nil {
		t.Error("an empty picture was sealed")
	}
	if _, _, err := EncryptAvatar(rand.Reader, make([]byte, MaxAvatarSize+1)); err == nil {
		t.Error("an oversized picture was sealed")
	}
}

func FuzzDecryptAvatar(f *testing.F) {
	blob, key, _ := EncryptAvatar(rand.Reader, []byte("seed"))
	f.Add(blob, key)
	f.Fuzz(func(t *testing.T, blob, key []byte) {
		DecryptAvatar(blob, key)
	})
}
