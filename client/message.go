package client

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"

	"github.com/sessionctl/sessionctl/identity"
	"golang.org/x/crypto/nacl/box"
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
	out, err := box.SealAnonymous(nil, inner, &recipient, rand)
	if err != nil {
		return nil, fmt.Errorf("seal message: %w", err)
	}
	return out, nil
}

// Decrypt opens a message sealed to keys and checks its signature. It returns
// the plaintext and the sender's Ed25519 key; the sender's Account ID is
// that key converted (see SenderID).
func Decrypt(keys *identity.Keys, data []byte) (plaintext []byte, senderEd ed25519.PublicKey, err error) {
	inner, ok := box.OpenAnonymous(nil, data, &keys.X25519Public, &keys.X25519Private)
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
