package groupkeys

import (
	"crypto/ed25519"
	"crypto/sha512"
	"errors"
	"fmt"

	"filippo.io/edwards25519"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
	"golang.org/x/crypto/blake2b"
)

// Member tokens for the group's swarm (subaccounts), as libsession-util's
// Keys::swarm_make_subaccount, swarm_subaccount_token,
// swarm_subaccount_sign and swarm_verify_subaccount make them. An admin
// blinds the member's own Ed25519 key, so the token names a key only the
// member can sign with, and nobody who sees it can link it to the member's
// Account ID:
//
//	mask = BLAKE2b-32(group seed, key "SessionGroupSubaccountMask")
//	k    = BLAKE2b-64(05 || member X25519 || 03 || group Ed25519, key mask) mod L
//	T    = |S|, the member's Ed25519 key with its sign bit clear (from the Account ID)
//	token     = 03 || flags || 00 00 || kT                 (36 bytes; what nodes see)
//	auth data = 03 || flags || 00 00 || k || sig           (100 bytes; given to the member)
//
// where sig is the group key's signature over the token. The member signs
// with kt (t = ±s, its own private scalar, negated when S is negative),
// deterministically: r = BLAKE2b-64(BLAKE2b-32(seed, key "SubaccountSeed")
// || kT || M, key "SubaccountSig") mod L.

// AuthDataSize is the length of a member's auth data.
const AuthDataSize = 4 + 32 + 64

// ErrAuthData is auth data that is malformed, not signed by this group,
// not made for this account, or without the permissions asked.
var ErrAuthData = errors.New("groupkeys: the auth data is not this group's for this account")

// subaccountFactor is k for member of the group with seed groupSeed.
func subaccountFactor(groupSeed []byte, member identity.AccountID) *edwards25519.Scalar {
	mh, _ := blake2b.New256([]byte("SessionGroupSubaccountMask"))
	mh.Write(groupSeed)
	h, _ := blake2b.New512(mh.Sum(nil))
	h.Write([]byte{byte(identity.PrefixSession)})
	h.Write(member.Key[:])
	h.Write([]byte{byte(identity.PrefixGroup)})
	h.Write(ed25519.NewKeyFromSeed(groupSeed).Public().(ed25519.PublicKey))
	k, _ := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	return k
}

// SubaccountFlags are the permissions libsession grants: read, write if
// write, delete if del.
func SubaccountFlags(write, del bool) byte {
	f := storagerpc.FlagRead
	if write {
		f |= storagerpc.FlagWrite
	}
	if del {
		f |= storagerpc.FlagDelete
	}
	return f
}

func checkSubaccount(groupSeed []byte, member identity.AccountID, flags byte) error {
	if len(groupSeed) != ed25519.SeedSize {
		return fmt.Errorf("%w: a group seed of %d bytes, want 32", ErrNotAdmin, len(groupSeed))
	}
	if member.Prefix != identity.PrefixSession {
		return fmt.Errorf("groupkeys: member %s is not a Session account (05)", member)
	}
	if flags&storagerpc.FlagRead == 0 {
		return errors.New("groupkeys: a member token without the read flag")
	}
	return nil
}

// SubaccountToken is the token a member's requests carry (what an admin
// revokes), computed from its Account ID. Admins only (groupSeed).
func SubaccountToken(groupSeed []byte, member identity.AccountID, flags byte) (storagerpc.Token, error) {
	var tok storagerpc.Token
	if err := checkSubaccount(groupSeed, member, flags); err != nil {
		return tok, err
	}
	T, err := identity.PositiveEd25519(member.Key)
	if err != nil {
		return tok, err
	}
	Tp, err := new(edwards25519.Point).SetBytes(T[:])
	if err != nil {
		return tok, err
	}
	kT := new(edwards25519.Point).ScalarMult(subaccountFactor(groupSeed, member), Tp)
	return storagerpc.NewToken(byte(identity.PrefixGroup), flags, kT.Bytes()), nil
}

// MakeSubaccount makes the auth data an admin gives a member (in the
// invite, and in the member's user groups config): the token's header, k,
// and the group key's signature over the token. Any admin makes the same.
func MakeSubaccount(groupSeed []byte, member identity.AccountID, flags byte) ([]byte, error) {
	tok, err := SubaccountToken(groupSeed, member, flags)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, AuthDataSize)
	out = append(out, tok[:4]...)
	out = append(out, subaccountFactor(groupSeed, member).Bytes()...)
	return append(out, ed25519.Sign(ed25519.NewKeyFromSeed(groupSeed), tok[:])...), nil
}

// SubaccountSigner is what a member signs its requests to the group's
// swarm with: its token, the group's signature over it, and the blinded
// scalar kt.
type SubaccountSigner struct {
	token    storagerpc.Token
	tokenSig []byte
	kt       *edwards25519.Scalar
	nonceKey []byte
}

// NewSubaccountSigner reads auth data with the member's own keys and
// checks it (libsession's swarm_verify_subaccount): made for this account,
// signed by the group whose Account ID is group (03...), with the read
// flag, and the write and delete flags when asked. Auth data for another
// group, or another account, is refused (ErrAuthData).
func NewSubaccountSigner(user *identity.Keys, group identity.AccountID, authData []byte, write, del bool) (*SubaccountSigner, error) {
	if group.Prefix != identity.PrefixGroup {
		return nil, fmt.Errorf("groupkeys: %s is not a group (03)", group)
	}
	if len(authData) != AuthDataSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrAuthData, len(authData), AuthDataSize)
	}
	prefix, flags := authData[0], authData[1]
	switch {
	case prefix != byte(identity.PrefixGroup) && flags&storagerpc.FlagAnyPrefix == 0:
		return nil, fmt.Errorf("%w: made for accounts of prefix %02x", ErrAuthData, prefix)
	case flags&storagerpc.FlagRead == 0:
		return nil, fmt.Errorf("%w: no read permission", ErrAuthData)
	case write && flags&storagerpc.FlagWrite == 0:
		return nil, fmt.Errorf("%w: no write permission", ErrAuthData)
	case del && flags&storagerpc.FlagDelete == 0:
		return nil, fmt.Errorf("%w: no delete permission", ErrAuthData)
	}
	k, err := edwards25519.NewScalar().SetCanonicalBytes(authData[4:36])
	if err != nil {
		return nil, fmt.Errorf("%w: k is not a scalar", ErrAuthData)
	}
	S := user.Ed25519Public()
	neg := S[31]&0x80 != 0
	T := [32]byte(S)
	T[31] &= 0x7f
	Tp, err := new(edwards25519.Point).SetBytes(T[:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAuthData, err)
	}
	var tok storagerpc.Token
	copy(tok[:4], authData[:4])
	copy(tok[4:], new(edwards25519.Point).ScalarMult(k, Tp).Bytes())
	sig := authData[36:]
	if !ed25519.Verify(ed25519.PublicKey(group.Key[:]), tok[:], sig) {
		return nil, fmt.Errorf("%w: not signed by group %s for this account", ErrAuthData, group)
	}
	h := sha512.Sum512(user.Ed25519.Seed())
	t, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		return nil, err
	}
	if neg {
		t.Negate(t)
	}
	nk, _ := blake2b.New256([]byte("SubaccountSeed"))
	nk.Write(user.Ed25519.Seed())
	return &SubaccountSigner{
		token:    tok,
		tokenSig: append([]byte(nil), sig...),
		kt:       edwards25519.NewScalar().Multiply(k, t),
		nonceKey: nk.Sum(nil),
	}, nil
}

// Token is the member's token (what nodes check, and what a kick revokes).
func (s *SubaccountSigner) Token() storagerpc.Token { return s.token }

// TokenSignature is the group's signature over the token.
func (s *SubaccountSigner) TokenSignature() []byte { return append([]byte(nil), s.tokenSig...) }

// Sign signs msg as the member: an Ed25519 signature by kT.
func (s *SubaccountSigner) Sign(msg []byte) []byte {
	kT := s.token[4:]
	rh, _ := blake2b.New512([]byte("SubaccountSig"))
	rh.Write(s.nonceKey)
	rh.Write(kT)
	rh.Write(msg)
	r, _ := edwards25519.NewScalar().SetUniformBytes(rh.Sum(nil))
	R := new(edwards25519.Point).ScalarBaseMult(r).Bytes()
	hh := sha512.New()
	hh.Write(R)
	hh.Write(kT)
	hh.Write(msg)
	hram, _ := edwards25519.NewScalar().SetUniformBytes(hh.Sum(nil))
	return append(R, edwards25519.NewScalar().MultiplyAdd(hram, s.kt, r).Bytes()...)
}
