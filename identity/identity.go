// Package identity holds the keys and identifiers every part of sessionctl
// shares: Session accounts (an Ed25519 key whose X25519 twin is the Account
// ID), their 13-word recovery phrases, Account IDs of every prefix, the
// swarm-space value that places an account on the swarm ring, and the keystore
// that keeps named identities on disk.
//
// It follows SPEC 1 to the byte, so a phrase written down in a Session app
// restores the same Account ID here:
//
//	acct, err := identity.AccountFromPhrase("puffin luxury annoyed ...")
//	fmt.Println(acct.AccountID()) // 054830367d369d...
//	ks := identity.OpenKeystore(filepath.Join(dir, "keys"))
//	err = ks.Create("alice", acct)
//
// The package has no networking and no global state; client, node, group and
// ledger all build on it.
package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"filippo.io/edwards25519"
)

// SeedSize is the size of an account seed: 16 random bytes, padded with 16
// zero bytes to make the 32-byte Ed25519 seed (SPEC 1).
const SeedSize = 16

// Prefix is the first byte of an Account ID; it says what the 32 key bytes are.
type Prefix byte

// The Account ID prefixes of SPEC 1.
const (
	PrefixUnblinded      Prefix = 0x00 // an Ed25519 key, unblinded (community server)
	PrefixGroup          Prefix = 0x03 // a closed group's Ed25519 key
	PrefixSession        Prefix = 0x05 // a Session account: its X25519 key
	PrefixVersionBlinded Prefix = 0x07 // version-blinded Ed25519 key
	PrefixBlinded15      Prefix = 0x15 // 15-blinded community ID
	PrefixBlinded25      Prefix = 0x25 // 25-blinded community ID
)

func (p Prefix) known() bool {
	switch p {
	case PrefixUnblinded, PrefixGroup, PrefixSession, PrefixVersionBlinded, PrefixBlinded15, PrefixBlinded25:
		return true
	}
	return false
}

// AccountIDLen is the length of an Account ID in hex characters.
const AccountIDLen = 66

// Errors of ParseAccountID, for errors.Is.
var (
	ErrAccountIDFormat = errors.New("an account ID is 66 hex characters")
	ErrAccountIDPrefix = errors.New("unknown account ID prefix")
	ErrBadPublicKey    = errors.New("not a valid Ed25519 public key")
)

// AccountID is a prefix byte and 32 key bytes, written as 66 hex characters.
type AccountID struct {
	Prefix Prefix
	Key    [32]byte
}

// ParseAccountID reads a 66-hex-character Account ID with a known prefix.
func ParseAccountID(s string) (AccountID, error) {
	var id AccountID
	if len(s) != AccountIDLen {
		return id, fmt.Errorf("%w, got %d", ErrAccountIDFormat, len(s))
	}
	var b [AccountIDLen / 2]byte // decoded in place: no slice for each ID read
	if _, err := hex.Decode(b[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%w: %q is not hex", ErrAccountIDFormat, s)
	}
	id.Prefix = Prefix(b[0])
	if !id.Prefix.known() {
		return id, fmt.Errorf("%w %02x (known: 00, 03, 05, 07, 15, 25)", ErrAccountIDPrefix, b[0])
	}
	copy(id.Key[:], b[1:])
	return id, nil
}

// String returns the 66 hex characters (written in place: one allocation,
// the string; every store a node takes names its owner so).
func (a AccountID) String() string {
	var b [66]byte
	hex.Encode(b[:2], []byte{byte(a.Prefix)})
	hex.Encode(b[2:], a.Key[:])
	return string(b[:])
}

// Bytes returns the 33 bytes: prefix then key.
func (a AccountID) Bytes() []byte {
	b := make([]byte, 0, 33)
	b = append(b, byte(a.Prefix))
	return append(b, a.Key[:]...)
}

// IsZero reports whether a is the zero value.
func (a AccountID) IsZero() bool { return a == AccountID{} }

// SwarmSpace places the account on the swarm ring (SPEC 3): the prefix is
// dropped, the four 8-byte chunks of the key are XORed together and the
// result is read big-endian.
func (a AccountID) SwarmSpace() uint64 { return SwarmSpace(a.Key) }

// SwarmSpace is AccountID.SwarmSpace for bare key bytes.
func SwarmSpace(key [32]byte) uint64 {
	var v uint64
	for i := 0; i < 32; i += 8 {
		v ^= binary.BigEndian.Uint64(key[i:])
	}
	return v
}

// Keys is an Ed25519 key pair with its X25519 twin, as libsodium converts them.
type Keys struct {
	seed          []byte // 16 bytes for an account with a phrase, 32 for a raw key
	Ed25519       ed25519.PrivateKey
	X25519Private [32]byte
	X25519Public  [32]byte
}

// NewAccount makes an account from 16 bytes of rand.
func NewAccount(rand io.Reader) (*Keys, error) {
	var seed [SeedSize]byte
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return nil, fmt.Errorf("read random seed: %w", err)
	}
	return AccountFromSeed(seed), nil
}

// AccountFromSeed derives an account from its 16-byte seed.
func AccountFromSeed(seed [SeedSize]byte) *Keys {
	var full [32]byte
	copy(full[:], seed[:])
	k := keysFromEd25519Seed(full)
	k.seed = append([]byte(nil), seed[:]...)
	return k
}

// AccountFromPhrase derives an account from its 13-word recovery phrase.
func AccountFromPhrase(phrase string) (*Keys, error) {
	seed, err := DecodePhrase(phrase)
	if err != nil {
		return nil, err
	}
	return AccountFromSeed(seed), nil
}

// KeysFromEd25519Seed derives keys from a full 32-byte Ed25519 seed, as
// service nodes and wallets use. Such keys have no recovery phrase.
func KeysFromEd25519Seed(seed [32]byte) *Keys {
	k := keysFromEd25519Seed(seed)
	k.seed = append([]byte(nil), seed[:]...)
	return k
}

func keysFromEd25519Seed(seed [32]byte) *Keys {
	k := &Keys{Ed25519: ed25519.NewKeyFromSeed(seed[:])}
	// libsodium's crypto_sign_ed25519_sk_to_curve25519: the clamped first
	// half of SHA-512(seed) is the X25519 private scalar.
	h := sha512.Sum512(seed[:])
	copy(k.X25519Private[:], h[:32])
	k.X25519Private[0] &= 248
	k.X25519Private[31] &= 127
	k.X25519Private[31] |= 64
	pub, err := Ed25519ToX25519(k.Ed25519.Public().(ed25519.PublicKey))
	if err != nil {
		// A public key derived from a seed is always a valid point.
		panic("identity: derived Ed25519 key is not a valid point: " + err.Error())
	}
	k.X25519Public = pub
	return k
}

// Seed returns the seed the keys were derived from: 16 bytes for an account
// (see Phrase), 32 for a raw Ed25519 key.
func (k *Keys) Seed() []byte { return append([]byte(nil), k.seed...) }

// HasPhrase reports whether the keys come from a 16-byte account seed.
func (k *Keys) HasPhrase() bool { return len(k.seed) == SeedSize }

// Phrase returns the recovery phrase, or "" for keys made from a 32-byte seed.
func (k *Keys) Phrase() string {
	if !k.HasPhrase() {
		return ""
	}
	return EncodePhrase([SeedSize]byte(k.seed))
}

// Ed25519Public returns the Ed25519 public key.
func (k *Keys) Ed25519Public() ed25519.PublicKey { return k.Ed25519.Public().(ed25519.PublicKey) }

// AccountID returns `05` + the X25519 public key.
func (k *Keys) AccountID() AccountID { return AccountID{Prefix: PrefixSession, Key: k.X25519Public} }

// Ed25519ToX25519 converts an Ed25519 public key to its X25519 (Montgomery)
// form, as libsodium's crypto_sign_ed25519_pk_to_curve25519 does. Like
// libsodium, it refuses encodings that are not points and points of small
// order; it also refuses non-canonical encodings.
func Ed25519ToX25519(pub []byte) ([32]byte, error) {
	var out [32]byte
	if len(pub) != ed25519.PublicKeySize {
		return out, fmt.Errorf("%w: %d bytes", ErrBadPublicKey, len(pub))
	}
	p, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil || !bytes.Equal(p.Bytes(), pub) {
		return out, ErrBadPublicKey // not a point, or a non-canonical encoding
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return out, fmt.Errorf("%w: small order", ErrBadPublicKey)
	}
	copy(out[:], p.BytesMontgomery())
	return out, nil
}
