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
// subaccount key, carrying its token (the storage server's 36-byte
// subaccount token: flags read/write/delete and the member's group key) and
// the group key's signature over it; nodes check all three and refuse a
// revoked token. (libsession derives each member's key by blinding the
// member's Ed25519 key with a factor the admin can compute; here the admin
// derives the member's key pair from the group seed and sends its seed, sealed,
// in the invite: the nodes likewise see a key they cannot link to the
// member's Session ID.)
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

	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
	"golang.org/x/crypto/blake2b"
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
)

// Member is one member as the group's state records it.
type Member struct {
	AccountID string `json:"account_id"`
	Admin     bool   `json:"admin"`
	Token     string `json:"token"`              // hex
	TokenSig  string `json:"token_sig"`          // base64, by the group key
	SubSeed   string `json:"sub_seed,omitempty"` // hex; known to admins and to the member itself
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

// subKey derives member's subaccount seed from the group seed.
func subSeed(groupSeed []byte, member string) []byte {
	h := blake2b.Sum256(append(append([]byte("sessionctl-group-member\x00"), groupSeed...), member...))
	return h[:]
}

// newMember makes a member record with its token, signed by the group key.
func newMember(groupSeed []byte, account string, admin bool) Member {
	seed := subSeed(groupSeed, account)
	flags := storagerpc.FlagRead | storagerpc.FlagWrite
	if admin {
		flags |= storagerpc.FlagDelete
	}
	tok := storagerpc.NewToken(byte(identity.PrefixGroup), flags, ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey))
	sig := ed25519.Sign(ed25519.NewKeyFromSeed(groupSeed), tok[:])
	return Member{AccountID: account, Admin: admin, Token: tok.String(), TokenSig: base64.StdEncoding.EncodeToString(sig), SubSeed: hex.EncodeToString(seed)}
}
