package client

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"

	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/x25519"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/nacl/box"
	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/salsa20/salsa"
)

// Errors of message decryption, for errors.Is.
var (
	ErrUndecryptable = errors.New("message does not decrypt for this account")
	ErrBadSignature  = errors.New("message signature does not verify")
)

// Encrypt seals plaintext from the sender to the recipient's X25519 key as
// SPEC 6 says: the sender signs plaintext || sender Ed25519 key || recipient
// X25519 key, then seals plaintext || sender Ed25519 key || signature in a
// libsodium sealed box (nacl/box's anonymous sealing is that box).
func Encrypt(sender *identity.Keys, recipient [32]byte, plaintext []byte, rand io.Reader) ([]byte, error) {
	senderEd := sender.Ed25519Public()
	signed := make([]byte, 0, len(plaintext)+64)
	signed = append(append(append(signed, plaintext...), senderEd...), recipient[:]...)
	sig := ed25519.Sign(sender.Ed25519, signed)
	inner := make([]byte, 0, len(plaintext)+32+64)
	inner = append(append(append(inner, plaintext...), senderEd...), sig...)
	out, err := sealAnonymous(inner, &recipient, rand)
	if err != nil {
		return nil, fmt.Errorf("seal message: %w", err)
	}
	return out, nil
}

// sealAnonymous is nacl/box's SealAnonymous (libsodium's crypto_box_seal),
// byte for byte, with package x25519's key exchange: box.SealAnonymous
// makes its ephemeral key with a Montgomery ladder from the base point and
// its shared key with a second ladder and a third (crypto/ecdh derives the
// ephemeral public key again): three where a fixed-base multiplication
// and one ladder do.
func sealAnonymous(message []byte, recipient *[32]byte, rand io.Reader) ([]byte, error) {
	priv, pub, err := x25519.NewKey(rand)
	if err != nil {
		return nil, err
	}
	key, err := boxKey(priv, *recipient)
	if err != nil {
		return nil, err
	}
	nonce := sealNonce(&pub, recipient)
	return secretbox.Seal(pub[:], message, &nonce, &key), nil
}

// openAnonymous is nacl/box's OpenAnonymous with package x25519's key
// exchange: one ladder where box.OpenAnonymous takes two.
func openAnonymous(sealed []byte, pub, priv *[32]byte) ([]byte, bool) {
	if len(sealed) < box.AnonymousOverhead {
		return nil, false
	}
	eph := [32]byte(sealed[:32])
	key, err := boxKey(*priv, eph)
	if err != nil {
		return nil, false
	}
	nonce := sealNonce(&eph, pub)
	return secretbox.Open(nil, sealed[32:], &nonce, &key)
}

// boxKey is box.Precompute: HSalsa20 of the X25519 secret. A low-order
// point (an all-zero secret) is refused.
func boxKey(priv, peer [32]byte) ([32]byte, error) {
	shared, err := x25519.X25519(priv, peer)
	if err != nil {
		return shared, err
	}
	var zeros [16]byte
	salsa.HSalsa20(&shared, &zeros, &shared, &salsa.Sigma)
	return shared, nil
}

// sealNonce is a sealed box's nonce: BLAKE2b-192 of the ephemeral key and
// the recipient's.
func sealNonce(eph, recipient *[32]byte) [24]byte {
	h, _ := blake2b.New(24, nil)
	h.Write(eph[:])
	h.Write(recipient[:])
	var n [24]byte
	h.Sum(n[:0])
	return n
}

// Decrypt opens a message sealed to keys and checks its signature. It returns
// the plaintext and the sender's Ed25519 key; the sender's Account ID is
// that key converted (see SenderID).
func Decrypt(keys *identity.Keys, data []byte) (plaintext []byte, senderEd ed25519.PublicKey, err error) {
	inner, ok := openAnonymous(data, &keys.X25519Public, &keys.X25519Private)
	if !ok {
		return nil, nil, ErrUndecryptable
	}
	if len(inner) < 32+64 {
		return nil, nil, fmt.Errorf("%w: %d bytes inside", ErrUndecryptable, len(inner))
	}
	plaintext = inner[:len(inner)-96]
	senderEd = ed25519.PublicKey(inner[len(inner)-96 : len(inner)-64])
	sig := inner[len(inner)-64:]
	signed := make([]byte, 0, len(plaintext)+64)
	signed = append(append(append(signed, plaintext...), senderEd...), keys.X25519Public[:]...)
	if !ed25519.Verify(senderEd, signed, sig) {
		return nil, nil, ErrBadSignature
	}
	return plaintext, senderEd, nil
}

// SenderID returns the Account ID of a sender's Ed25519 key.
func SenderID(senderEd ed25519.PublicKey) (identity.AccountID, error) {
	x, err := identity.Ed25519ToX25519(senderEd)
	if err != nil {
		return identity.AccountID{}, err
	}
	return identity.AccountID{Prefix: identity.PrefixSession, Key: x}, nil
}
