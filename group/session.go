package group

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
	"golang.org/x/crypto/nacl/box"
)

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
	auth, err := base64.StdEncoding.DecodeString(m.AuthData)
	if err != nil {
		return storagerpc.Auth{}, storagerpc.SubAuth{}, errAuthData
	}
	gk := g.Account().Key
	ms, err := newMemberSigner(s.C.Keys(), gk[:], auth)
	if err != nil {
		return storagerpc.Auth{}, storagerpc.SubAuth{}, err
	}
	return storagerpc.Auth{Signature: base64.StdEncoding.EncodeToString(ms.sign(msg))},
		storagerpc.SubAuth{Subaccount: ms.token.String(), SubaccountSig: base64.StdEncoding.EncodeToString(ms.tokenSig)}, nil
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
		m.AuthData = "" // the nodes and other members never see a member's auth data
		pub = append(pub, m)
	}
	members, _ := json.Marshal(pub)
	return s.store(ctx, g, NSMembers, g.seal(members))
}
