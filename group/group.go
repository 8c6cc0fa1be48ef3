// Package group is Session's closed groups (SPEC 8): 3 to 100 members, end
// to end encrypted, stored in the group's own swarm, administered by whoever
// holds the group's Ed25519 key.
//
// The group's account is 03 + its Ed25519 public key; its swarm stores:
//
//	12  keys:    each key generation, sealed (libsodium sealed box) to each member's X25519 key
//	13  info:    the group's name and current generation, encrypted with the group key
//	14  members: the member list with tokens, encrypted with the group key
//	11  messages, XChaCha20-Poly1305 under the generation's key, signed by their sender
//	-11 notices to kicked members, which a revoked token may still read
//
// Admins sign their requests with the group key. A member signs with its own
// Ed25519 key blinded for the group, as libsession does (subaccount.go): its
// token (the storage server's 36-byte subaccount token: the group's network
// prefix, flags read/write/delete, and the blinded key) carries the group
// key's signature, and only the member, who holds the private key behind its
// Session ID, can sign as it; nodes check the prefix, both signatures and
// the revocations, and nobody can link the token to the member's Session ID
// without the group seed.
//
// Kicking revokes the member's token on the swarm (it keeps the last 50
// revocations), rotates the group key to a new generation sealed only to the
// remaining members, and leaves the kicked member a notice in -11.
package group

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// Namespaces of a group's swarm (SPEC 4, 8).
const (
	NSMessages storagerpc.Namespace = 11
	NSKeys     storagerpc.Namespace = 12
	NSInfo     storagerpc.Namespace = 13
	NSMembers  storagerpc.Namespace = 14
	NSKicked   storagerpc.Namespace = -11
)

// MaxMembers is the largest closed group.
const MaxMembers = 100

// Errors, for errors.Is.
var (
	ErrNotAdmin    = errors.New("only an admin of the group may do this")
	ErrTooMany     = errors.New("a closed group has at most 100 members")
	ErrNotMember   = errors.New("not a member of the group")
	ErrUnknown     = errors.New("no such group")
	ErrAlready     = errors.New("already a member of the group")
	ErrKicked      = errors.New("you were removed from the group")
	ErrNoGroupKeys = errors.New("no key of the group is readable by this member yet")
	ErrNameTaken   = errors.New("this identity already has a group of that name")
)

// Member is one member as the group's state records it.
type Member struct {
	AccountID string `json:"account_id"`
	Admin     bool   `json:"admin"`
	Token     string `json:"token"` // hex: what its requests carry, what a kick revokes
	// AuthData is what an admin gives the member to sign with (base64, 100
	// bytes: the token's header, the blinding factor, the group's
	// signature); known to admins and to the member itself.
	AuthData string `json:"auth_data,omitempty"`
}

// Group is a group as one identity knows it; Store keeps it on disk.
type Group struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Seed       string            `json:"seed,omitempty"` // the group key's seed: admins only
	Me         string            `json:"me"`
	Generation int               `json:"generation"`
	Keys       map[int]string    `json:"keys"` // generation -> group key, hex
	Members    []Member          `json:"members"`
	Revoked    []string          `json:"revoked,omitempty"` // tokens revoked by admins (admin view)
	LastHash   map[string]string `json:"last_hash"`         // member key "/" namespace -> last hash
	Seen       []string          `json:"seen,omitempty"`    // hashes read, the newest 5,000
	Kicked     bool              `json:"kicked,omitempty"`
}

// Account returns the group's Account ID.
func (g *Group) Account() identity.AccountID {
	id, _ := identity.ParseAccountID(g.ID)
	return id
}

// IsAdmin reports whether this identity holds the group key.
func (g *Group) IsAdmin() bool { return g.Seed != "" }

func (g *Group) groupKey() ed25519.PrivateKey {
	s, _ := hex.DecodeString(g.Seed)
	return ed25519.NewKeyFromSeed(s)
}

func (g *Group) member(account string) *Member {
	for i := range g.Members {
		if g.Members[i].AccountID == account {
			return &g.Members[i]
		}
	}
	return nil
}

// Admins returns the admins' Account IDs.
func (g *Group) Admins() []string {
	var out []string
	for _, m := range g.Members {
		if m.Admin {
			out = append(out, m.AccountID)
		}
	}
	return out
}

// newMember makes a member record: its token and its auth data, signed by
// the group key.
func newMember(groupSeed []byte, account string, admin bool) (Member, error) {
	id, err := identity.ParseAccountID(account)
	if err != nil || id.Prefix != identity.PrefixSession {
		return Member{}, fmt.Errorf("%s is not a Session account", account)
	}
	flags := memberFlags(admin)
	tok, err := MemberToken(groupSeed, id, flags)
	if err != nil {
		return Member{}, err
	}
	auth, err := MakeAuthData(groupSeed, id, flags)
	if err != nil {
		return Member{}, err
	}
	return Member{AccountID: account, Admin: admin, Token: tok.String(), AuthData: base64.StdEncoding.EncodeToString(auth)}, nil
}
