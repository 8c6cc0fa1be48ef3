// Package configmsg is the encryption of Session's config messages: the
// account's profile, contacts, conversation state and groups, which a
// Session client keeps in its own swarm (namespaces 2 to 5) for all its
// devices, as libsession-util's config library does.
//
// A config message is encrypted with a key only the account's devices
// derive (from its Ed25519 seed) and a domain per kind ("UserProfile",
// "Contacts", ...):
//
//	key   = BLAKE2b-32(seed || big-endian uint64 len(plaintext) || domain)
//	nonce = BLAKE2b-24(plaintext, key = "libsessionutil-config-encrypted-" || domain)
//	out   = XChaCha20-Poly1305(plaintext, nonce, key; no associated data) || nonce
//
// The nonce is deterministic (a hash of the message), which the key makes
// safe: it varies with the seed, the domain and the message's size.
// Plaintexts are padded first with leading zero bytes to a size that
// hides their length (PaddedSize). Facts from libsession-util's
// src/config/encrypt.cpp and include/session/config/encrypt.hpp; known
// answers from its tests/test_encrypt.cpp.
//
// Inside the envelope is a bt-encoded config message (message.go): a
// sequence number, the data, and the diffs that let two devices' messages
// merge the same way on every reader. profile.go and convo.go read and
// write the data of the user profile, contacts and conversation info
// configs.
package configmsg

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/sessionctl/sessionctl/storagerpc"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/chacha20poly1305"
)

// Kind is a kind of config message: its encryption domain and the
// namespace of the account's swarm it is stored in.
type Kind struct {
	Domain    string
	Namespace storagerpc.Namespace
}

// The kinds of an account's own configs (libsession-util's
// include/session/config/namespaces.hpp and each config's
// encryption_domain).
var (
	UserProfile       = Kind{"UserProfile", 2}
	Contacts          = Kind{"Contacts", 3}
	ConvoInfoVolatile = Kind{"ConvoInfoVolatile", 4}
	UserGroups        = Kind{"UserGroups", 5}
)

// Overhead is what Encrypt adds: the Poly1305 tag and the nonce.
const Overhead = chacha20poly1305.Overhead + chacha20poly1305.NonceSizeX

// maxDomain bounds a domain (so that the nonce's hash key fits BLAKE2b's
// 64-byte key).
const maxDomain = 24

const noncePrefix = "libsessionutil-config-encrypted-"

// ErrDecrypt is a config message that does not open with the key and
// domain given: another account's, another kind, damaged or cut.
var ErrDecrypt = errors.New("config message decryption failed")

func checkArgs(keyBase []byte, domain string) error {
	if len(keyBase) != 32 {
		return fmt.Errorf("configmsg: a key base of %d bytes, want 32 (an Ed25519 seed)", len(keyBase))
	}
	if len(domain) < 1 || len(domain) > maxDomain {
		return fmt.Errorf("configmsg: domain %q: want 1 to %d bytes", domain, maxDomain)
	}
	return nil
}

// key derives the message key from the key base, the plaintext's size and
// the domain.
func key(keyBase []byte, size uint64, domain string) []byte {
	h, _ := blake2b.New(32, nil)
	h.Write(keyBase)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], size)
	h.Write(n[:])
	h.Write([]byte(domain))
	return h.Sum(nil)
}

// Encrypt encrypts plaintext for the devices of the account whose Ed25519
// seed is keyBase, in domain.
func Encrypt(plaintext, keyBase []byte, domain string) ([]byte, error) {
	if err := checkArgs(keyBase, domain); err != nil {
		return nil, err
	}
	nh, err := blake2b.New(chacha20poly1305.NonceSizeX, []byte(noncePrefix+domain))
	if err != nil {
		return nil, err
	}
	nh.Write(plaintext)
	nonce := nh.Sum(nil)
	aead, err := chacha20poly1305.NewX(key(keyBase, uint64(len(plaintext)), domain))
	if err != nil {
		return nil, err
	}
	out := aead.Seal(make([]byte, 0, len(plaintext)+Overhead), nonce, plaintext, nil)
	return append(out, nonce...), nil
}

// Decrypt opens a config message; ErrDecrypt when it does not open.
func Decrypt(ciphertext, keyBase []byte, domain string) ([]byte, error) {
	if err := checkArgs(keyBase, domain); err != nil {
		return nil, err
	}
	if len(ciphertext) < Overhead {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the tag and nonce", ErrDecrypt, len(ciphertext))
	}
	n := len(ciphertext) - chacha20poly1305.NonceSizeX
	aead, err := chacha20poly1305.NewX(key(keyBase, uint64(len(ciphertext)-Overhead), domain))
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, ciphertext[n:], ciphertext[:n], nil)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plain, nil
}

// PaddedSize is the size a plaintext of s bytes is padded to, so that with
// overhead bytes added it is a multiple of 256 bytes (below 5,120), 1,024
// (below 20,480), 2,048 (below 40,960), or else 5,120. It is never less
// than s.
func PaddedSize(s, overhead int) int {
	s2 := s + overhead
	chunk := 5120
	switch {
	case s2 < 5120:
		chunk = 256
	case s2 < 20480:
		chunk = 1024
	case s2 < 40960:
		chunk = 2048
	}
	return (s2+chunk-1)/chunk*chunk - overhead
}

// Pad prepends zero bytes to data up to PaddedSize(len(data), Overhead).
func Pad(data []byte) []byte {
	n := PaddedSize(len(data), Overhead)
	if n <= len(data) {
		return data
	}
	return append(make([]byte, n-len(data), n), data...)
}
