package group

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// invite is the data of a "group_invite" message to a member's inbox.
type invite struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Token    string `json:"token"`
	AuthData string `json:"auth_data"`      // base64, 100 bytes (subaccount.go)
	Seed     string `json:"seed,omitempty"` // when promoted to admin
	AdminSig string `json:"admin_sig"`      // the group key over "invite" || id || member || token
}

// Create makes a group with the creator as first admin and invites members.
func (s *Session) Create(ctx context.Context, name string, members []identity.AccountID) (*Group, error) {
	if len(members)+1 > MaxMembers {
		return nil, ErrTooMany
	}
	// One name, one group: commands find a group by its name.
	if _, err := s.Store.Load(s.me(), name); err == nil {
		return nil, fmt.Errorf("%w: %q", ErrNameTaken, name)
	} else if !errors.Is(err, ErrUnknown) {
		return nil, err
	}
	seed := make([]byte, 32)
	rand.Read(seed)
	priv := ed25519.NewKeyFromSeed(seed)
	id := identity.AccountID{Prefix: identity.PrefixGroup, Key: [32]byte(priv.Public().(ed25519.PublicKey))}
	key := make([]byte, 32)
	rand.Read(key)
	g := &Group{ID: id.String(), Name: name, Seed: hex.EncodeToString(seed), Me: s.me(), Keys: map[int]string{0: hex.EncodeToString(key)},
		LastHash: map[string]string{}}
	me, err := newMember(seed, s.me(), true)
	if err != nil {
		return nil, err
	}
	g.Members = append(g.Members, me)
	for _, m := range members {
		if m.String() == s.me() || g.member(m.String()) != nil {
			continue
		}
		nm, err := newMember(seed, m.String(), false)
		if err != nil {
			return nil, err
		}
		g.Members = append(g.Members, nm)
	}
	if err := s.publishKeys(ctx, g, 0); err != nil {
		return nil, fmt.Errorf("publish the group key: %w", err)
	}
	if err := s.publishState(ctx, g); err != nil {
		return nil, fmt.Errorf("publish the group: %w", err)
	}
	for _, m := range g.Members[1:] {
		if err := s.sendInvite(ctx, g, m, false); err != nil {
			return nil, err
		}
	}
	return g, s.Store.Save(s.me(), g)
}

func (s *Session) sendInvite(ctx context.Context, g *Group, m Member, admin bool) error {
	inv := invite{ID: g.ID, Name: g.Name, Token: m.Token, AuthData: m.AuthData}
	if admin {
		inv.Seed = g.Seed
	}
	inv.AdminSig = base64.StdEncoding.EncodeToString(ed25519.Sign(g.groupKey(), []byte("invite"+g.ID+m.AccountID+m.Token)))
	data, _ := json.Marshal(inv)
	to, _ := identity.ParseAccountID(m.AccountID)
	if _, err := s.C.SendContent(ctx, to, client.Content{Kind: "group_invite", Data: data}); err != nil {
		return fmt.Errorf("invite %s: %w", m.AccountID[:10], err)
	}
	return nil
}

// Refused is an invite that could not be accepted, and why.
type Refused struct {
	From string // the inviter's Account ID
	Err  error
}

// AcceptInvites reads the account's inbox and joins every group it was
// invited to: a devnet identity accepts every invite (its client keeps a
// state of its own for this, so a plain fetch still shows the invites).
// Other messages are left to the caller's fetch.
func (s *Session) AcceptInvites(ctx context.Context) (joined []*Group, refused []Refused, err error) {
	msgs, _, err := s.C.Fetch(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, m := range msgs {
		if m.Kind != "group_invite" {
			continue
		}
		if g, err := s.Accept(ctx, m); err != nil {
			refused = append(refused, Refused{From: m.From, Err: err})
		} else {
			joined = append(joined, g)
		}
	}
	return joined, refused, nil
}

// Accept takes an invite from a message: the group's key must have signed it.
func (s *Session) Accept(ctx context.Context, msg client.Message) (*Group, error) {
	var inv invite
	if msg.Kind != "group_invite" || json.Unmarshal(msg.Data, &inv) != nil {
		return nil, errors.New("not a group invite")
	}
	id, err := identity.ParseAccountID(inv.ID)
	if err != nil || id.Prefix != identity.PrefixGroup {
		return nil, errors.New("the invite names no group")
	}
	sig, _ := base64.StdEncoding.DecodeString(inv.AdminSig)
	if !ed25519.Verify(id.Key[:], []byte("invite"+inv.ID+s.me()+inv.Token), sig) {
		return nil, errors.New("the invite is not signed by the group")
	}
	g, err := s.Store.Load(s.me(), inv.ID)
	if err != nil {
		g = &Group{ID: inv.ID, Name: inv.Name, Me: s.me(), Keys: map[int]string{}, LastHash: map[string]string{}}
	}
	// The auth data must give this account a token the group signed.
	auth, err := base64.StdEncoding.DecodeString(inv.AuthData)
	if err != nil {
		return nil, errAuthData
	}
	if _, err := newMemberSigner(s.C.Keys(), id.Key[:], auth); err != nil {
		return nil, err
	}
	if m := g.member(s.me()); m != nil {
		m.Token, m.AuthData = inv.Token, inv.AuthData
	} else {
		g.Members = append(g.Members, Member{AccountID: s.me(), Token: inv.Token, AuthData: inv.AuthData})
	}
	if inv.Seed != "" {
		g.Seed = inv.Seed
		g.member(s.me()).Admin = true
	}
	g.Kicked = false
	if err := s.syncKeys(ctx, g); err != nil {
		return nil, err
	}
	if err := s.syncState(ctx, g); err != nil {
		return nil, err
	}
	return g, s.Store.Save(s.me(), g)
}

// syncState reads the newest info and member list.
func (s *Session) syncState(ctx context.Context, g *Group) error {
	msgs, err := s.retrieve(ctx, g, NSMembers, true)
	if err != nil {
		return err
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		data, _ := base64.StdEncoding.DecodeString(msgs[i].Data)
		plain, _, err := g.open(data)
		if err != nil {
			continue
		}
		var ms []Member
		if json.Unmarshal(plain, &ms) != nil {
			continue
		}
		// Keep the auth data this identity knows (its own; all, for
		// admins, who can make them again).
		known := map[string]string{}
		for _, m := range g.Members {
			known[m.AccountID] = m.AuthData
		}
		for j := range ms {
			ms[j].AuthData = known[ms[j].AccountID]
			if g.IsAdmin() && ms[j].AuthData == "" {
				seed, _ := hex.DecodeString(g.Seed)
				if nm, err := newMember(seed, ms[j].AccountID, ms[j].Admin); err == nil {
					ms[j].AuthData = nm.AuthData
				}
			}
		}
		g.Members = ms
		break
	}
	return nil
}

// Add invites a new member (admins only).
func (s *Session) Add(ctx context.Context, g *Group, member identity.AccountID) error {
	if !g.IsAdmin() {
		return ErrNotAdmin
	}
	if g.member(member.String()) != nil {
		return ErrAlready
	}
	if len(g.Members)+1 > MaxMembers {
		return ErrTooMany
	}
	seed, _ := hex.DecodeString(g.Seed)
	m, err := newMember(seed, member.String(), false)
	if err != nil {
		return err
	}
	// A member kicked before has a revoked token: lift it.
	if err := s.revoke(ctx, g, "unrevoke_subaccount", m.Token); err != nil {
		return err
	}
	g.Members = append(g.Members, m)
	if err := s.publishKeys(ctx, g, g.Generation); err != nil {
		return err
	}
	if err := s.publishState(ctx, g); err != nil {
		return err
	}
	if err := s.sendInvite(ctx, g, m, false); err != nil {
		return err
	}
	return s.Store.Save(s.me(), g)
}

// Promote makes a member an admin: it receives the group key.
func (s *Session) Promote(ctx context.Context, g *Group, member identity.AccountID) error {
	if !g.IsAdmin() {
		return ErrNotAdmin
	}
	m := g.member(member.String())
	if m == nil {
		return ErrNotMember
	}
	m.Admin = true
	if err := s.publishState(ctx, g); err != nil {
		return err
	}
	if err := s.sendInvite(ctx, g, *m, true); err != nil {
		return err
	}
	return s.Store.Save(s.me(), g)
}

func (s *Session) revoke(ctx context.Context, g *Group, method, token string) error {
	tok, err := storagerpc.ParseToken(token)
	if err != nil {
		return err
	}
	resp, err := s.C.Call(ctx, g.Account(), method, func() any {
		ts := time.Now().UnixMilli()
		p := storagerpc.RevokeParams{Pubkey: g.ID, Timestamp: ts}
		if method == "revoke_subaccount" {
			p.Revoke = []string{tok.String()}
		} else {
			p.Unrevoke = []string{tok.String()}
		}
		p.Auth = storagerpc.Auth{Signature: storagerpc.Sign(g.groupKey(), storagerpc.RevokeSigMsg(method, ts, []storagerpc.Token{tok}))}
		return p
	})
	if err != nil {
		return err
	}
	return resp.Err()
}

// Kick removes a member (admins only): its token is revoked, the group key
// rotates to a generation sealed only to the others, and it finds a notice
// in namespace -11.
func (s *Session) Kick(ctx context.Context, g *Group, member identity.AccountID) error {
	if !g.IsAdmin() {
		return ErrNotAdmin
	}
	m := g.member(member.String())
	if m == nil {
		return ErrNotMember
	}
	if err := s.revoke(ctx, g, "revoke_subaccount", m.Token); err != nil {
		return fmt.Errorf("revoke the token: %w", err)
	}
	g.Revoked = append(g.Revoked, m.Token)
	if len(g.Revoked) > 50 {
		g.Revoked = g.Revoked[len(g.Revoked)-50:]
	}
	g.Members = slices.DeleteFunc(g.Members, func(x Member) bool { return x.AccountID == member.String() })
	key := make([]byte, 32)
	rand.Read(key)
	g.Generation++
	g.Keys[g.Generation] = hex.EncodeToString(key)
	if err := s.publishKeys(ctx, g, g.Generation); err != nil {
		return fmt.Errorf("rotate the key: %w", err)
	}
	if err := s.publishState(ctx, g); err != nil {
		return err
	}
	notice, _ := json.Marshal(map[string]string{"kicked": member.String()})
	if err := s.store(ctx, g, NSKicked, notice); err != nil {
		return err
	}
	return s.Store.Save(s.me(), g)
}

// groupMessage is the plaintext of a message in namespace 11.
type groupMessage struct {
	From   string `json:"from"`
	Text   string `json:"text"`
	Kind   string `json:"kind,omitempty"` // "leave"
	SentAt int64  `json:"sent_at"`
	Ed     string `json:"ed25519"` // the sender's key
	Sig    string `json:"sig"`     // over group ID || from || text || kind || sent_at
}

func (gm *groupMessage) signed(groupID string) []byte {
	return []byte(fmt.Sprintf("%s|%s|%s|%s|%d", groupID, gm.From, gm.Text, gm.Kind, gm.SentAt))
}

// Send posts a message to the group, under the newest key generation.
func (s *Session) Send(ctx context.Context, g *Group, text string) error {
	return s.post(ctx, g, text, "")
}

func (s *Session) post(ctx context.Context, g *Group, text, kind string) error {
	if g.Kicked {
		return ErrKicked
	}
	if err := s.syncKeys(ctx, g); err != nil {
		return s.refused(ctx, g, err)
	}
	if _, ok := g.Keys[g.Generation]; !ok {
		return ErrNoGroupKeys
	}
	keys := s.C.Keys()
	gm := groupMessage{From: s.me(), Text: text, Kind: kind, SentAt: time.Now().UnixMilli(), Ed: hex.EncodeToString(keys.Ed25519Public())}
	gm.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(keys.Ed25519, gm.signed(g.ID)))
	plain, _ := json.Marshal(gm)
	if err := s.store(ctx, g, NSMessages, g.seal(plain)); err != nil {
		return s.refused(ctx, g, err)
	}
	return s.Store.Save(s.me(), g)
}

// refused turns a refusal into ErrKicked when the -11 notice says so.
func (s *Session) refused(ctx context.Context, g *Group, err error) error {
	var se *storagerpc.Error
	if errors.As(err, &se) && se.Code == storagerpc.StatusUnauthorized && s.wasKicked(ctx, g) {
		g.Kicked = true
		if serr := s.Store.Save(s.me(), g); serr != nil {
			return errors.Join(ErrKicked, serr)
		}
		return ErrKicked
	}
	return err
}

func (s *Session) wasKicked(ctx context.Context, g *Group) bool {
	msgs, err := s.retrieve(ctx, g, NSKicked, true)
	if err != nil {
		return false
	}
	for _, m := range msgs {
		data, _ := base64.StdEncoding.DecodeString(m.Data)
		if strings.Contains(string(data), g.Me) {
			return true
		}
	}
	return false
}

// Message is a group message as read.
type Message struct {
	Hash       string `json:"hash"`
	From       string `json:"from"`
	Text       string `json:"text"`
	Generation int    `json:"generation"`
	Timestamp  int64  `json:"timestamp"`
}

// Unreadable is a group message that this member cannot read or trust.
type Unreadable struct {
	Hash   string `json:"hash"`
	Reason string `json:"reason"`
}

// Fetch reads the group's new messages. An admin also acts on members'
// "leave" messages by kicking them.
func (s *Session) Fetch(ctx context.Context, g *Group) ([]Message, []Unreadable, error) {
	if g.Kicked {
		return nil, nil, ErrKicked
	}
	if err := s.syncKeys(ctx, g); err != nil {
		return nil, nil, s.refused(ctx, g, err)
	}
	msgs, err := s.retrieve(ctx, g, NSMessages, false)
	if err != nil {
		return nil, nil, s.refused(ctx, g, err)
	}
	var out []Message
	var bad []Unreadable
	var leaving []string
	for _, m := range msgs {
		data, _ := base64.StdEncoding.DecodeString(m.Data)
		plain, gen, err := g.open(data)
		if err != nil {
			bad = append(bad, Unreadable{Hash: m.Hash, Reason: err.Error()})
			continue
		}
		var gm groupMessage
		if json.Unmarshal(plain, &gm) != nil {
			bad = append(bad, Unreadable{Hash: m.Hash, Reason: "not a group message"})
			continue
		}
		ed, _ := hex.DecodeString(gm.Ed)
		sig, _ := base64.StdEncoding.DecodeString(gm.Sig)
		from, err := client.SenderID(ed)
		if err != nil || from.String() != gm.From || len(sig) != ed25519.SignatureSize || !ed25519.Verify(ed, gm.signed(g.ID), sig) {
			bad = append(bad, Unreadable{Hash: m.Hash, Reason: "the sender's signature does not verify"})
			continue
		}
		if gm.Kind == "leave" {
			leaving = append(leaving, gm.From)
			continue
		}
		out = append(out, Message{Hash: m.Hash, From: gm.From, Text: gm.Text, Generation: gen, Timestamp: m.Timestamp})
	}
	if g.IsAdmin() {
		for _, who := range leaving {
			if id, err := identity.ParseAccountID(who); err == nil && g.member(who) != nil && who != g.Me {
				if err := s.Kick(ctx, g, id); err != nil {
					return out, bad, fmt.Errorf("remove %s, who left: %w", who[:10], err)
				}
			}
		}
	}
	return out, bad, s.Store.Save(s.me(), g)
}

// Leave tells the group this member leaves (an admin's next fetch removes
// it and rotates the key) and forgets the group here.
func (s *Session) Leave(ctx context.Context, g *Group) error {
	if err := s.post(ctx, g, "", "leave"); err != nil && !errors.Is(err, ErrKicked) {
		return err
	}
	return s.Store.Remove(s.me(), g.ID)
}
