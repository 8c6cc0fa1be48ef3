package groupkeys

import (
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/curve25519"
)

// Encryption for many recipients, as libsession-util's
// src/multi_encrypt.cpp does it for keys messages: one nonce, and a copy
// of the value for each recipient, each under its own key
//
//	key = BLAKE2b-32(X25519(a, B) || A || B, key = "SessionGroupKeyMemberKey")
//
// where a/A is the group's X25519 key pair (the group's Ed25519 key
// converted) and B the recipient's X25519 key (its Account ID without the
// 05). The recipient computes the same key as X25519(b, A) || A || B, and
// tries every copy until one opens.

const memberKeyDomain = "SessionGroupKeyMemberKey"

// multiKey derives the key between the group (sender) and a member
// (recipient). priv is the X25519 scalar of whoever computes it, peer the
// other side's public key; sender and recipient are the two public keys in
// that role order. It fails when the shared point is all zeros (a
// low-order public key), as libsodium refuses it.
func multiKey(priv, peer, sender, recipient []byte) ([]byte, error) {
	shared, err := curve25519.X25519(priv, peer)
	if err != nil {
		return nil, err
	}
	h, _ := blake2b.New256([]byte(memberKeyDomain))
	h.Write(shared)
	h.Write(sender)
	h.Write(recipient)
	return h.Sum(nil), nil
}

// sealFor encrypts msg for one recipient with the shared nonce.
func sealFor(key, nonce, msg []byte) []byte {
	aead, _ := chacha20poly1305.NewX(key)
	return aead.Seal(nil, nonce, msg, nil)
}

// openAny tries each ciphertext with key and the shared nonce, and returns
// the first plaintext that opens.
func openAny(key, nonce []byte, ciphertexts []string) ([]byte, bool) {
	aead, _ := chacha20poly1305.NewX(key)
	for _, c := range ciphertexts {
		if plain, err := aead.Open(nil, nonce, []byte(c), nil); err == nil {
			return plain, true
		}
	}
	return nil, false
}
