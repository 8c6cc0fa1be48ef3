package client

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
)

// TestPaddedAttachmentSize: the sizes session-desktop's addAttachmentPadding
// (ts/session/crypto/BufferPadding.ts) gives, max(541,
// floor(1.05^ceil(log(n)/log(1.05)))) capped at 10 MB, worked out for these
// lengths.
func TestPaddedAttachmentSize(t *testing.T) {
	for n, want := range map[int]int{0: 541, 1: 541, 100: 541, 541: 541, 542: 568, 1000: 1020,
		100_000: 100_155, 9_999_999: 10_000_000, 10_000_000: 10_000_000} {
		if got := PaddedAttachmentSize(n); got != want {
			t.Errorf("PaddedAttachmentSize(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestAttachmentLayout: IV || AES-256-CBC || HMAC-SHA256, checked against
// NIST SP 800-38A F.2.5 (CBC-AES256.Encrypt): CBC ciphertext depends only on
// what precedes it, so the first four blocks of a 64-byte attachment that is
// NIST's plaintext are NIST's ciphertext, whatever padding follows.
func TestAttachmentLayout(t *testing.T) {
	h := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	key := append(h("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"), bytes.Repeat([]byte{7}, 32)...)
	iv := h("000102030405060708090a0b0c0d0e0f")
	plain := h("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
	want := h("f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b")
	blob := encryptAttachment(plain, key, iv)
	if !bytes.Equal(blob[:16], iv) {
		t.Fatal("the upload does not start with the IV")
	}
	if !bytes.Equal(blob[16:80], want) {
		t.Fatalf("CBC blocks %x, want NIST's %x", blob[16:80], want)
	}
	// 541 bytes padded, 3 of PKCS#7: 544 of ciphertext, 16 of IV, 32 of MAC.
	if len(blob) != 16+544+32 {
		t.Fatalf("upload of %d bytes, want 592", len(blob))
	}
	sum := sha256.Sum256(blob)
	got, err := DecryptAttachment(blob, key, sum[:], len(plain))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("decrypt: %v", err)
	}
	padded, err := DecryptAttachment(blob, key, nil, 0)
	if err != nil || len(padded) != 541 || !bytes.Equal(padded[64:], make([]byte, 477)) {
		t.Fatalf("padding: %d bytes, %v", len(padded), err)
	}
}

// TestAttachmentRefusals: a flipped bit, a wrong key, a wrong digest, a
// truncated upload and a size beyond the file are refused, never panic.
func TestAttachmentRefusals(t *testing.T) {
	data := []byte("a photo")
	blob, key, digest, err := EncryptAttachment(rand.Reader, data)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecryptAttachment(blob, key, digest, len(data)); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the attachment does not decrypt: %v", err)
	}
	flipped := bytes.Clone(blob)
	flipped[20] ^= 1
	otherKey := bytes.Clone(key)
	otherKey[40] ^= 1
	for name, c := range map[string]struct {
		blob, key, digest []byte
		size              int
	}{
		"flipped":   {flipped, key, nil, len(data)},
		"wrong key": {blob, otherKey, nil, len(data)},
		"digest":    {blob, key, make([]byte, 32), len(data)},
		"truncated": {blob[:40], key, nil, len(data)},
		"empty":     {nil, key, nil, 0},
		"short key": {blob, key[:32], nil, len(data)},
		"size":      {blob, key, nil, 100_000},
	} {
		if _, err := DecryptAttachment(c.blob, c.key, c.digest, c.size); err == nil {
			t.Errorf("%s: decrypted", name)
		}
	}
	if _, err := DecryptAttachment(flipped, key, nil, len(data)); !errors.Is(err, ErrAttachment) {
		t.Errorf("a flipped bit: %v, want ErrAttachment", err)
	}
}

func FuzzDecryptAttachment(f *testing.F) {
	blob, key, _, _ := EncryptAttachment(rand.Reader, []byte("seed"))
	f.Add(blob, 4)
	f.Fuzz(func(t *testing.T, blob []byte, size int) {
		DecryptAttachment(blob, key, nil, size)
	})
}
