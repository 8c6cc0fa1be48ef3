package group

import (
	"crypto/ed25519"
	"crypto/sha512"
	"errors"

	"filippo.io/edwards25519"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
	"golang.org/x/crypto/blake2b"
)

// Member tokens as libsession makes them (groups/keys.cpp): an admin blinds
// the member's own Ed25519 key, so the token names a key only the member can
// sign with, and nobody who sees it can link it to the member's Session ID.
//
//	mask = BLAKE2b-32(group seed, key "SessionGroupSubaccountMask")
//	k    = BLAKE2b-64(05 || member X25519 || 03 || group Ed25519, key mask) mod L
//	T    = |S|, the member's Ed25519 key with its sign bit clear (from the Session ID)
//	token     = 03 || flags || 00 00 || kT                 (36 bytes; what nodes see)
//	auth data = 03 || flags || 00 00 || k || sig           (100 bytes; given to the member)
//
// where sig is the group key's signature over the token. The member signs
// with kt (t = ±s, its own private scalar, negated when S is negative),
// deterministically: r = BLAKE2b-64(BLAKE2b-32(seed, key "SubaccountSeed") ||
// kT || M, key "SubaccountSig") mod L. Known answers: libsession-util
// tests/test_group_keys.cpp ("Group Keys - swarm authentication").

// AuthDataSize is the length of a member's auth data.
const AuthDataSize = 4 + 32 + 64

var (
	errAuthData = errors.New("the member's auth data is malformed or not signed by the group")
)

// subaccountFactor returns k for a member of the group with seed groupSeed.
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

// memberFlags are a member's permissions: read and write, and delete for
// admins.
func memberFlags(admin bool) byte {
	f := storagerpc.FlagRead | storagerpc.FlagWrite
	if admin {
		f |= storagerpc.FlagDelete
	}
	return f
}

// MemberToken returns the token a member's requests carry (what an admin
// revokes), computed from its Session ID.
func MemberToken(groupSeed []byte, member identity.AccountID, flags byte) (storagerpc.Token, error) {
	var tok storagerpc.Token
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

// MakeAuthData makes the 100 bytes an admin gives a member: the token's
// header, k, and the group key's signature over the token.
func MakeAuthData(groupSeed []byte, member identity.AccountID, flags byte) ([]byte, error) {
	tok, err := MemberToken(groupSeed, member, flags)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, AuthDataSize)
	out = append(out, tok[:4]...)
	out = append(out, subaccountFactor(groupSeed, member).Bytes()...)
	return append(out, ed25519.Sign(ed25519.NewKeyFromSeed(groupSeed), tok[:])...), nil
}

// memberSigner is what a member signs with: its token, the group's
// signature over it, and the blinded scalar kt.
type memberSigner struct {
	token    storagerpc.Token
	tokenSig []byte
	kt       *edwards25519.Scalar
	nonceKey []byte
}

// newMemberSigner reads auth data with the member's own keys, and checks
// the group key signed the token they give.
func newMemberSigner(keys *identity.Keys, groupPub []byte, authData []byte) (*memberSigner, error) {
	if len(authData) != AuthDataSize {
		return nil, errAuthData
	}
	k, err := edwards25519.NewScalar().SetCanonicalBytes(authData[4:36])
	if err != nil {
		return nil, errAuthData
	}
	S := keys.Ed25519Public()
	neg := S[31]&0x80 != 0
	T := [32]byte(S)
	T[31] &= 0x7f
	Tp, err := new(edwards25519.Point).SetBytes(T[:])
	if err != nil {
		return nil, errAuthData
	}
	var tok storagerpc.Token
	copy(tok[:4], authData[:4])
	copy(tok[4:], new(edwards25519.Point).ScalarMult(k, Tp).Bytes())
	sig := authData[36:]
	if tok[0] != byte(identity.PrefixGroup) && tok[1]&storagerpc.FlagAnyPrefix == 0 || !ed25519.Verify(groupPub, tok[:], sig) {
		return nil, errAuthData
	}
	h := sha512.Sum512(keys.Ed25519.Seed())
	t, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		return nil, err
	}
	if neg {
		t.Negate(t)
	}
	nk, _ := blake2b.New256([]byte("SubaccountSeed"))
	nk.Write(keys.Ed25519.Seed())
	return &memberSigner{token: tok, tokenSig: append([]byte(nil), sig...), kt: edwards25519.NewScalar().Multiply(k, t), nonceKey: nk.Sum(nil)}, nil
}

// sign signs msg as the member: an Ed25519 signature by kT.
func (m *memberSigner) sign(msg []byte) []byte {
	kT := m.token[4:]
	rh, _ := blake2b.New512([]byte("SubaccountSig"))
	rh.Write(m.nonceKey)
	rh.Write(kT)
	rh.Write(msg)
	r, _ := edwards25519.NewScalar().SetUniformBytes(rh.Sum(nil))
	R := new(edwards25519.Point).ScalarBaseMult(r).Bytes()
	hh := sha512.New()
	hh.Write(R)
	hh.Write(kT)
	hh.Write(msg)
	hram, _ := edwards25519.NewScalar().SetUniformBytes(hh.Sum(nil))
	return append(R, edwards25519.NewScalar().MultiplyAdd(hram, m.kt, r).Bytes()...)
}
