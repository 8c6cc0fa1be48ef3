package group

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/sessionctl/sessionctl/configmsg/groupconfig"
	"github.com/sessionctl/sessionctl/groupkeys"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// Namespaces of a group's swarm (libsession-util's namespaces.hpp and
// session-storage-server's namespace.h agree).
const (
	NSMessages = groupconfig.NamespaceMessages // 11
	NSKeys     = groupconfig.NamespaceKeys     // 12
	NSInfo     = groupconfig.NamespaceInfo     // 13
	NSMembers  = groupconfig.NamespaceMembers  // 14
	// NSRevoked (-11) is what a member whose token was revoked may still
	// read: where it finds that it was kicked.
	NSRevoked storagerpc.Namespace = -11
)

// MaxMembers is the largest closed group, admins included.
const MaxMembers = groupconfig.MaxMembers

// MaxGroups bounds the groups one device keeps (invites included): past
// it, new invites are refused.
const MaxGroups = 1000

// Format is the version of Group's file: groups of libsession's kind.
// A file without it holds a group of the kind sessionctl made before.
const Format = 2

// Errors, for errors.Is.
var (
	ErrNotAdmin      = errors.New("only an admin of the group may do this")
	ErrTooMany       = fmt.Errorf("a closed group has at most %d members", MaxMembers)
	ErrNotMember     = errors.New("not a member of the group")
	ErrUnknown       = errors.New("no such group")
	ErrAlready       = errors.New("already a member of the group")
	ErrKicked        = errors.New("you were removed from the group")
	ErrDestroyed     = errors.New("the group was deleted by its admin")
	ErrNoGroupKeys   = errors.New("no key of the group is readable by this member yet")
	ErrNameTaken     = errors.New("this identity already has a group of that name")
	ErrInvited       = errors.New("you are invited to this group but have not joined it: 'group join' accepts the invite")
	ErrNoInvite      = errors.New("no invite to accept")
	ErrOldKind       = errors.New("a group of the old kind (made by an earlier sessionctl): it can only be left")
	ErrLastAdmin     = errors.New("you are the group's only admin: promote another member first, or delete the group")
	ErrBadInvite     = errors.New("the invite is not valid")
	ErrTooManyGroups = fmt.Errorf("this device keeps at most %d groups: leave some first", MaxGroups)
)

// Member is one member as the group's members config lists it.
type Member struct {
	AccountID string `json:"account_id"`
	Name      string `json:"name,omitempty"`
	Admin     bool   `json:"admin"`
	// Status sums up the invite, promotion or removal (groupconfig's
	// statuses: invite_sent, invite_accepted, promotion_sent, ...).
	Status string `json:"status"`
}

// Group is a group as one device of an account knows it; Store keeps it
// on disk (mode 0600: an admin's holds the group's seed).
type Group struct {
	Version int    `json:"version"`
	ID      string `json:"id"`
	// Name is the info config's name (the invite's until it is read).
	Name string `json:"name"`
	Me   string `json:"me"` // this account's ID
	// Seed is the group's Ed25519 seed, hex: admins only. AuthData is a
	// member's subaccount auth data, base64 (100 bytes).
	Seed     string `json:"seed,omitempty"`
	AuthData string `json:"auth_data,omitempty"`
	// Invited: an invite not accepted yet (InvitedBy sent it).
	Invited   bool   `json:"invited,omitempty"`
	InvitedBy string `json:"invited_by,omitempty"`
	JoinedAt  int64  `json:"joined_at,omitempty"` // unix ms
	// Keys is the keys config's state (groupkeys.Keys.Dump), base64.
	Keys string `json:"keys,omitempty"`
	// What the info and members configs said when last read.
	Info       groupconfig.Info     `json:"info"`
	Members    []groupconfig.Member `json:"members"`
	Generation int64                `json:"generation"`
	// Revoked are the tokens this device revoked as an admin (the newest
	// 50, as the swarm keeps them).
	Revoked []string `json:"revoked,omitempty"`
	// Left records the generation current when a member was seen to leave
	// the members config: its later messages are refused.
	Left map[string]int64 `json:"left,omitempty"`
	// An admin's work read in the group and not yet done (the swarm did
	// not answer): members who accepted their invite, members who left.
	PendingAccepted []string          `json:"pending_accepted,omitempty"`
	PendingLeft     []string          `json:"pending_left,omitempty"`
	LastHash        map[string]string `json:"last_hash"` // swarm member "/" namespace -> last hash
	Seen            []string          `json:"seen,omitempty"`
	// Waiting are messages sent since this account joined under a key it
	// does not hold yet (the keys message comes from a member that has not
	// got it, while the message came from one that has): each fetch tries
	// them again, up to maxTries, at most maxWaiting of them.
	Waiting   []Waiting `json:"waiting,omitempty"`
	Kicked    bool      `json:"kicked,omitempty"`
	Destroyed bool      `json:"destroyed,omitempty"`
}

// Account returns the group's Account ID.
func (g *Group) Account() identity.AccountID {
	id, _ := identity.ParseAccountID(g.ID)
	return id
}

// pub is the group's Ed25519 key.
func (g *Group) pub() ed25519.PublicKey {
	k := g.Account().Key
	return ed25519.PublicKey(k[:])
}

// IsAdmin reports whether this device holds the group key.
func (g *Group) IsAdmin() bool { return g.Seed != "" }

// seed is the group's seed (nil for a member).
func (g *Group) seed() []byte {
	if g.Seed == "" {
		return nil
	}
	s, err := hex.DecodeString(g.Seed)
	if err != nil || len(s) != ed25519.SeedSize {
		return nil
	}
	return s
}

// adminKey is the group's private key (nil for a member).
func (g *Group) adminKey() ed25519.PrivateKey {
	if s := g.seed(); s != nil {
		return ed25519.NewKeyFromSeed(s)
	}
	return nil
}

// authData is a member's auth data (nil if none).
func (g *Group) authData() []byte {
	b, err := base64.StdEncoding.DecodeString(g.AuthData)
	if err != nil || len(b) != groupkeys.AuthDataSize {
		return nil
	}
	return b
}

// Admins returns the admins' Account IDs, as the members config lists
// them.
func (g *Group) Admins() []string {
	var out []string
	for _, m := range g.Members {
		if m.Admin && m.Active() {
			out = append(out, m.ID)
		}
	}
	return out
}

// MemberList is the members config's list as shown: who is in the group
// (members being removed are left out).
func (g *Group) MemberList() []Member {
	out := []Member{}
	for _, m := range g.Members {
		if m.Active() {
			out = append(out, Member{AccountID: m.ID, Name: m.Name, Admin: m.Admin, Status: string(m.Status())})
		}
	}
	return out
}

// member finds a member in the members config.
func (g *Group) member(id string) (groupconfig.Member, bool) {
	for _, m := range g.Members {
		if m.ID == id {
			return m, true
		}
	}
	return groupconfig.Member{}, false
}

// maxLeft bounds Group.Left.
const maxLeft = 10 * MaxMembers

// noteLeft records, for each member the previous list had and members
// lacks, the generation gen: their messages under it or later are not
// the group's.
func (g *Group) noteLeft(members []groupconfig.Member, gen int64) {
	now := map[string]bool{}
	for _, m := range members {
		if m.Active() {
			now[m.ID] = true
		}
	}
	for _, m := range g.Members {
		if !m.Active() || now[m.ID] {
			continue
		}
		if g.Left == nil {
			g.Left = map[string]int64{}
		}
		if _, ok := g.Left[m.ID]; !ok && len(g.Left) < maxLeft {
			g.Left[m.ID] = gen
		}
	}
	for id := range now {
		delete(g.Left, id) // back in the group
	}
}

// addPending appends ids to a pending list, each once, at most MaxMembers.
func addPending(list []string, ids ...string) []string {
	for _, id := range ids {
		if !slices.Contains(list, id) && len(list) < MaxMembers {
			list = append(list, id)
		}
	}
	return list
}

// Waiting is a message waiting for its key.
type Waiting struct {
	M     storagerpc.Message `json:"m"`
	Tries int                `json:"tries"`
}

// How long a message waits for its key: fetches, and messages at once.
const (
	maxTries   = 20
	maxWaiting = 200
)
