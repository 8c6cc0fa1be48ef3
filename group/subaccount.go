package group

import (
	"errors"
	"fmt"

	"github.com/sessionctl/sessionctl/groupkeys"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// Member tokens are libsession's (package groupkeys makes and checks them,
// as groups/keys.cpp does): an admin blinds the member's own Ed25519 key,
// so the token names a key only the member can sign with, and nobody who
// sees it can link it to the member's Session ID. Known answers: libsession-
// util tests/test_group_keys.cpp ("Group Keys - swarm authentication").

// AuthDataSize is the length of a member's auth data.
const AuthDataSize = groupkeys.AuthDataSize

var (
	errAuthData = errors.New("the member's auth data is malformed or not signed by the group")
)

// memberFlags are a member's permissions: read and write, and delete for
// admins.
func memberFlags(admin bool) byte { return groupkeys.SubaccountFlags(true, admin) }

// MemberToken returns the token a member's requests carry (what an admin
// revokes), computed from its Session ID.
func MemberToken(groupSeed []byte, member identity.AccountID, flags byte) (storagerpc.Token, error) {
	return groupkeys.SubaccountToken(groupSeed, member, flags)
}

// MakeAuthData makes the 100 bytes an admin gives a member: the token's
// header, k, and the group key's signature over the token.
func MakeAuthData(groupSeed []byte, member identity.AccountID, flags byte) ([]byte, error) {
	return groupkeys.MakeSubaccount(groupSeed, member, flags)
}

// memberSigner is what a member signs with: its token, the group's
// signature over it, and the blinded key.
type memberSigner struct {
	token    storagerpc.Token
	tokenSig []byte
	s        *groupkeys.SubaccountSigner
}

// newMemberSigner reads auth data with the member's own keys, and checks
// the group key signed the token they give.
func newMemberSigner(keys *identity.Keys, groupPub []byte, authData []byte) (*memberSigner, error) {
	if len(groupPub) != 32 {
		return nil, errAuthData
	}
	group := identity.AccountID{Prefix: identity.PrefixGroup, Key: [32]byte(groupPub)}
	s, err := groupkeys.NewSubaccountSigner(keys, group, authData, false, false)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errAuthData, err)
	}
	return &memberSigner{token: s.Token(), tokenSig: s.TokenSignature(), s: s}, nil
}

// sign signs msg as the member: an Ed25519 signature by kT.
func (m *memberSigner) sign(msg []byte) []byte { return m.s.Sign(msg) }
