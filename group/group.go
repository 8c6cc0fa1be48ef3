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
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/atomicfile"
	"github.com/sessionctl/sessionctl/storagerpc"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/nacl/box"
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

// Session is one identity's client acting on groups.
type Session struct {
	C     *client.Client
	Store *Store
}

func (s *Session) me() string { return s.C.AccountID().String() }

// auth returns the authentication of a request about the group: the group
// key for admins, the member's token otherwise.
func (s *Session) auth(g *Group, msg []byte) (storagerpc.Auth, storagerpc.SubAuth, error) {
	if g.IsAdmin() {
		return storagerpc.Auth{Signature: storagerpc.Sign(g.groupKey(), msg)}, storagerpc.SubAuth{}, nil
	}
	m := g.member(g.Me)
	if m == nil {
		return storagerpc.Auth{}, storagerpc.SubAuth{}, ErrNotMember
	}
	seed, _ := hex.DecodeString(m.SubSeed)
	tok, err := storagerpc.ParseToken(m.Token)
	if err != nil {
		return storagerpc.Auth{}, storagerpc.SubAuth{}, err
	}
	sig, _ := base64.StdEncoding.DecodeString(m.TokenSig)
	a, sa := storagerpc.SignSubAuth(ed25519.NewKeyFromSeed(seed), tok, sig, msg)
	return a, sa, nil
}

// store puts data in one of the group's namespaces.
func (s *Session) store(ctx context.Context, g *Group, ns storagerpc.Namespace, data []byte) error {
	var authErr error
	resp, err := s.C.Call(ctx, g.Account(), "store", func() any {
		ts := time.Now().UnixMilli()
		p := storagerpc.StoreParams{Pubkey: g.ID, Timestamp: ts, TTL: storagerpc.MaxTTL.Milliseconds(),
			Data: base64.StdEncoding.EncodeToString(data), Namespace: ns}
		p.Auth, p.SubAuth, authErr = s.auth(g, storagerpc.StoreSigMsg(ns, ts))
		return p
	})
	if authErr != nil {
		return authErr
	}
	if err != nil {
		return err
	}
	return resp.Err()
}

// retrieve returns the messages of a namespace after the last hash the
// swarm member asked gave (each member orders messages its own way, so the
// last hash is kept per member), leaving out those already seen.
func (s *Session) retrieve(ctx context.Context, g *Group, ns storagerpc.Namespace, fromStart bool) ([]storagerpc.Message, error) {
	var out []storagerpc.Message
	dest := ""
	key := func(d string) string { return d + "/" + strconv.Itoa(int(ns)) }
	for page := 0; page < 50; page++ {
		var authErr error
		params := func(d string) any {
			last := g.LastHash[key(d)]
			if fromStart {
				last = ""
			}
			ts := time.Now().UnixMilli()
			p := storagerpc.RetrieveParams{Pubkey: g.ID, Namespace: ns, LastHash: last, Timestamp: ts}
			p.Auth, p.SubAuth, authErr = s.auth(g, storagerpc.RetrieveSigMsg(ns, ts))
			return p
		}
		var resp *storagerpc.Response
		var err error
		if dest == "" {
			resp, dest, err = s.C.CallAt(ctx, g.Account(), "retrieve", params)
		} else {
			resp, _, err = s.C.RPC(ctx, dest, "retrieve", params(dest))
		}
		if authErr != nil {
			return nil, authErr
		}
		if err != nil {
			return nil, err
		}
		var res storagerpc.RetrieveResult
		if err := resp.Decode(&res); err != nil {
			return nil, err
		}
		for _, m := range res.Messages {
			if fromStart {
				out = append(out, m)
				continue
			}
			g.LastHash[key(dest)] = m.Hash
			if !g.remember(m.Hash) {
				out = append(out, m)
			}
		}
		if !res.More || len(res.Messages) == 0 || fromStart {
			break
		}
	}
	return out, nil
}

// maxSeen bounds the hashes a group remembers having read.
const maxSeen = 5_000

// remember records h as read and reports whether it was read already.
func (g *Group) remember(h string) bool {
	if slices.Contains(g.Seen, h) {
		return true
	}
	g.Seen = append(g.Seen, h)
	if len(g.Seen) > maxSeen {
		g.Seen = g.Seen[len(g.Seen)-maxSeen:]
	}
	return false
}

// keysMsg is what namespace 12 holds: one generation sealed to each member.
type keysMsg struct {
	Generation int               `json:"generation"`
	Keys       map[string]string `json:"keys"` // Account ID -> sealed key, base64
}

// publishKeys seals generation gen's key to each current member.
func (s *Session) publishKeys(ctx context.Context, g *Group, gen int) error {
	key, _ := hex.DecodeString(g.Keys[gen])
	km := keysMsg{Generation: gen, Keys: map[string]string{}}
	for _, m := range g.Members {
		id, err := identity.ParseAccountID(m.AccountID)
		if err != nil {
			return err
		}
		sealed, err := box.SealAnonymous(nil, key, &id.Key, rand.Reader)
		if err != nil {
			return err
		}
		km.Keys[m.AccountID] = base64.StdEncoding.EncodeToString(sealed)
	}
	data, _ := json.Marshal(km)
	return s.store(ctx, g, NSKeys, data)
}

// syncKeys reads namespace 12 and learns every generation sealed to us.
func (s *Session) syncKeys(ctx context.Context, g *Group) error {
	msgs, err := s.retrieve(ctx, g, NSKeys, true)
	if err != nil {
		return err
	}
	keys := s.C.Keys()
	for _, m := range msgs {
		data, _ := base64.StdEncoding.DecodeString(m.Data)
		var km keysMsg
		if json.Unmarshal(data, &km) != nil {
			continue
		}
		sealed, ok := km.Keys[g.Me]
		if !ok {
			continue
		}
		b, _ := base64.StdEncoding.DecodeString(sealed)
		key, ok := box.OpenAnonymous(nil, b, &keys.X25519Public, &keys.X25519Private)
		if !ok || len(key) != 32 {
			continue
		}
		g.Keys[km.Generation] = hex.EncodeToString(key)
		if km.Generation > g.Generation {
			g.Generation = km.Generation
		}
	}
	return nil
}

// publishState writes the group's info (13) and member list (14), encrypted
// with the current group key.
func (s *Session) publishState(ctx context.Context, g *Group) error {
	info, _ := json.Marshal(map[string]any{"name": g.Name, "generation": g.Generation, "admins": g.Admins()})
	if err := s.store(ctx, g, NSInfo, g.seal(info)); err != nil {
		return err
	}
	var pub []Member
	for _, m := range g.Members {
		m.SubSeed = "" // the nodes and other members never see a member's key
		pub = append(pub, m)
	}
	members, _ := json.Marshal(pub)
	return s.store(ctx, g, NSMembers, g.seal(members))
}

// seal encrypts with the current generation: [u32 LE generation][24-byte nonce][ciphertext].
func (g *Group) seal(plain []byte) []byte {
	key, _ := hex.DecodeString(g.Keys[g.Generation])
	aead, _ := chacha20poly1305.NewX(key)
	out := make([]byte, 4+chacha20poly1305.NonceSizeX, 4+chacha20poly1305.NonceSizeX+len(plain)+aead.Overhead())
	binary.LittleEndian.PutUint32(out, uint32(g.Generation))
	rand.Read(out[4:])
	return aead.Seal(out, out[4:4+chacha20poly1305.NonceSizeX], plain, []byte(g.ID))
}

// open decrypts what seal made, with the generation it names, if known.
func (g *Group) open(data []byte) ([]byte, int, error) {
	if len(data) < 4+chacha20poly1305.NonceSizeX {
		return nil, 0, errors.New("too short")
	}
	gen := int(binary.LittleEndian.Uint32(data))
	k, ok := g.Keys[gen]
	if !ok {
		return nil, gen, fmt.Errorf("key generation %d is not ours", gen)
	}
	key, _ := hex.DecodeString(k)
	aead, _ := chacha20poly1305.NewX(key)
	plain, err := aead.Open(nil, data[4:4+chacha20poly1305.NonceSizeX], data[4+chacha20poly1305.NonceSizeX:], []byte(g.ID))
	if err != nil {
		return nil, gen, errors.New("does not decrypt")
	}
	return plain, gen, nil
}

// invite is the data of a "group_invite" message to a member's inbox.
type invite struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Token    string `json:"token"`
	TokenSig string `json:"token_sig"`
	SubSeed  string `json:"sub_seed"`
	Seed     string `json:"seed,omitempty"` // when promoted to admin
	AdminSig string `json:"admin_sig"`      // the group key over "invite" || id || member || token
}

// Create makes a group with the creator as first admin and invites members.
func (s *Session) Create(ctx context.Context, name string, members []identity.AccountID) (*Group, error) {
	if len(members)+1 > MaxMembers {
		return nil, ErrTooMany
	}
	seed := make([]byte, 32)
	rand.Read(seed)
	priv := ed25519.NewKeyFromSeed(seed)
	id := identity.AccountID{Prefix: identity.PrefixGroup, Key: [32]byte(priv.Public().(ed25519.PublicKey))}
	key := make([]byte, 32)
	rand.Read(key)
	g := &Group{ID: id.String(), Name: name, Seed: hex.EncodeToString(seed), Me: s.me(), Keys: map[int]string{0: hex.EncodeToString(key)},
		LastHash: map[string]string{}}
	g.Members = append(g.Members, newMember(seed, s.me(), true))
	for _, m := range members {
		if m.String() == s.me() || g.member(m.String()) != nil {
			continue
		}
		if m.Prefix != identity.PrefixSession {
			return nil, fmt.Errorf("%s is not a Session account", m)
		}
		g.Members = append(g.Members, newMember(seed, m.String(), false))
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
	inv := invite{ID: g.ID, Name: g.Name, Token: m.Token, TokenSig: m.TokenSig, SubSeed: m.SubSeed}
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
	if m := g.member(s.me()); m != nil {
		m.Token, m.TokenSig, m.SubSeed = inv.Token, inv.TokenSig, inv.SubSeed
	} else {
		g.Members = append(g.Members, Member{AccountID: s.me(), Token: inv.Token, TokenSig: inv.TokenSig, SubSeed: inv.SubSeed})
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
		// Keep the seeds this identity knows (its own; all, for admins).
		known := map[string]string{}
		for _, m := range g.Members {
			known[m.AccountID] = m.SubSeed
		}
		for j := range ms {
			ms[j].SubSeed = known[ms[j].AccountID]
			if g.IsAdmin() && ms[j].SubSeed == "" {
				seed, _ := hex.DecodeString(g.Seed)
				ms[j].SubSeed = hex.EncodeToString(subSeed(seed, ms[j].AccountID))
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
	m := newMember(seed, member.String(), false)
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

// Store keeps groups on disk: <dir>/<identity>/<group>.json, mode 0600.
type Store struct{ Dir string }

// path is the file of group id for identity me. Both must be Account IDs
// (66 hex characters; a group's starts 03), so no argument ever becomes a
// path outside the store.
func (st *Store) path(me, id string) (string, error) {
	if _, err := identity.ParseAccountID(me); err != nil {
		return "", fmt.Errorf("group store: identity %q: %w", me, err)
	}
	gid, err := identity.ParseAccountID(id)
	if err != nil || gid.Prefix != identity.PrefixGroup {
		return "", fmt.Errorf("%w %q", ErrUnknown, id)
	}
	return filepath.Join(st.Dir, me[:16], gid.String()+".json"), nil
}

// Save writes a group.
func (st *Store) Save(me string, g *Group) error {
	data, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	path, err := st.path(me, g.ID)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}

// Load reads a group by ID, or by name when that is unambiguous.
func (st *Store) Load(me, idOrName string) (*Group, error) {
	if _, err := identity.ParseAccountID(me); err != nil {
		return nil, fmt.Errorf("group store: identity %q: %w", me, err)
	}
	path, perr := st.path(me, idOrName)
	if data, err := os.ReadFile(path); perr == nil && err == nil {
		var g Group
		if err := json.Unmarshal(data, &g); err != nil {
			return nil, fmt.Errorf("group file of %s is damaged: %w", idOrName, err)
		}
		if g.Keys == nil {
			g.Keys = map[int]string{}
		}
		if g.LastHash == nil {
			g.LastHash = map[string]string{}
		}
		return &g, nil
	}
	all, err := st.List(me)
	if err != nil {
		return nil, err
	}
	var found *Group
	for _, g := range all {
		if g.Name == idOrName {
			if found != nil {
				return nil, fmt.Errorf("two groups are named %q: use the group ID", idOrName)
			}
			found = g
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknown, idOrName)
	}
	return found, nil
}

// List returns the groups of an identity.
func (st *Store) List(me string) ([]*Group, error) {
	if _, err := identity.ParseAccountID(me); err != nil {
		return nil, fmt.Errorf("group store: identity %q: %w", me, err)
	}
	entries, err := os.ReadDir(filepath.Join(st.Dir, me[:16]))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Group
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			g, err := st.Load(me, id)
			if err != nil {
				return nil, err
			}
			out = append(out, g)
		}
	}
	return out, nil
}

// Remove forgets a group.
func (st *Store) Remove(me, id string) error {
	path, err := st.path(me, id)
	if err != nil {
		return err
	}
	err = os.Remove(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
