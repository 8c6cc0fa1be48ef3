package community

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/sessionctl/sessionctl/identity"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/chacha20poly1305"
)

// Direct messages between blinded IDs are encrypted by the sender for the
// recipient as Session apps do (libsession-util encrypt_for_blinded_recipient
// and decrypt_from_blinded_recipient, src/session_encrypt.cpp; the desktop
// app's SogsBlinding.decryptWithSessionBlindingProtocol):
//
//	key   = BLAKE2b-256(S || kA || jB)   S = the blinded Diffie-Hellman point
//	                                     (identity.Blinded.SharedPoint), kA the
//	                                     sender's and jB the recipient's blinded keys
//	inner = message || A                 A the sender's (unblinded) Ed25519 key
//	data  = 0x00 || XChaCha20-Poly1305(key, nonce, inner) || nonce (24 bytes)
//
// The recipient learns who wrote (A, whose blinded ID must be the sender's)
// and answers them by their Session ID; the server sees neither.

// dmVersion is the first byte of an encrypted direct message.
const dmVersion = 0x00

// ErrDM is a direct message that cannot be opened.
var ErrDM = errors.New("the direct message cannot be opened")

// dmKey derives the key of a message from sender to recipient (blinded
// IDs, 33 bytes with their prefix), computed by me, one of the two.
func dmKey(me *identity.Blinded, other [32]byte, sender, recipient []byte) ([32]byte, error) {
	S, err := me.SharedPoint(other)
	if err != nil {
		return [32]byte{}, err
	}
	h, _ := blake2b.New256(nil)
	h.Write(S[:])
	h.Write(sender[1:])
	h.Write(recipient[1:])
	return [32]byte(h.Sum(nil)), nil
}

// blindAs returns keys blinded for server the way id is blinded (15 or 25).
func blindAs(keys *identity.Keys, server [32]byte, prefix byte) (*identity.Blinded, error) {
	if prefix == 0x25 {
		return identity.Blind25(keys, server[:])
	}
	return identity.Blind15(keys, server[:])
}

func parseBlinded(id string) ([]byte, error) {
	b, err := hex.DecodeString(id)
	if err != nil || len(b) != 33 || (b[0] != 0x15 && b[0] != 0x25) {
		return nil, fmt.Errorf("%q is not a blinded ID (15 or 25)", id)
	}
	return b, nil
}

// EncryptDM encrypts message from keys to the blinded ID to on the server
// whose key is server; rnd gives the nonce (nil: crypto/rand).
func EncryptDM(rnd io.Reader, keys *identity.Keys, server [32]byte, to string, message []byte) ([]byte, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	rcpt, err := parseBlinded(to)
	if err != nil {
		return nil, err
	}
	me, err := blindAs(keys, server, rcpt[0])
	if err != nil {
		return nil, err
	}
	sender := append([]byte{rcpt[0]}, me.Public[:]...)
	key, err := dmKey(me, [32]byte(rcpt[1:]), sender, rcpt)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return nil, err
	}
	inner := append(append([]byte{}, message...), keys.Ed25519Public()...)
	out := aead.Seal([]byte{dmVersion}, nonce, inner, nil)
	return append(out, nonce...), nil
}

// DecryptDM opens a direct message between the blinded IDs sender and
// recipient, one of which is keys' own: it returns the message and the
// sender's Session ID (05...). It fails when the data was not made by the
// sender's account for this pair.
func DecryptDM(keys *identity.Keys, server [32]byte, sender, recipient string, data []byte) ([]byte, string, error) {
	snd, err := parseBlinded(sender)
	if err != nil {
		return nil, "", err
	}
	rcpt, err := parseBlinded(recipient)
	if err != nil {
		return nil, "", err
	}
	if snd[0] != rcpt[0] {
		return nil, "", fmt.Errorf("%w: the two IDs are blinded differently", ErrDM)
	}
	if len(data) < 1+chacha20poly1305.Overhead+chacha20poly1305.NonceSizeX+32 {
		return nil, "", fmt.Errorf("%w: %d bytes is too short", ErrDM, len(data))
	}
	if data[0] != dmVersion {
		return nil, "", fmt.Errorf("%w: version %d, want 0", ErrDM, data[0])
	}
	me, err := blindAs(keys, server, rcpt[0])
	if err != nil {
		return nil, "", err
	}
	other := [32]byte(snd[1:])
	mine := append([]byte{rcpt[0]}, me.Public[:]...)
	if string(mine) == string(snd) { // we wrote it
		other = [32]byte(rcpt[1:])
	}
	key, err := dmKey(me, other, snd, rcpt)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrDM, err)
	}
	aead, _ := chacha20poly1305.NewX(key[:])
	nonce := data[len(data)-chacha20poly1305.NonceSizeX:]
	inner, err := aead.Open(nil, nonce, data[1:len(data)-chacha20poly1305.NonceSizeX], nil)
	if err != nil || len(inner) < 32 {
		return nil, "", fmt.Errorf("%w: it does not decrypt", ErrDM)
	}
	msg, A := inner[:len(inner)-32], inner[len(inner)-32:]
	x, err := identity.Ed25519ToX25519(A)
	if err != nil {
		return nil, "", fmt.Errorf("%w: the sender's key is not a key", ErrDM)
	}
	sid := identity.AccountID{Prefix: identity.PrefixSession, Key: x}
	var claimed string
	if snd[0] == 0x25 {
		claimed, err = identity.Blinded25ID(sid, server[:])
	} else {
		claimed, err = identity.BlindEd25519(A, server[:])
	}
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrDM, err)
	}
	if a, b := spellings(claimed); hex.EncodeToString(snd) != a && hex.EncodeToString(snd) != b {
		return nil, "", fmt.Errorf("%w: it was not written by its sender's account", ErrDM)
	}
	return msg, sid.String(), nil
}
