package group

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sessionctl/sessionctl/groupkeys"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// Requests to the group's swarm, signed as the storage server checks them
// (session-storage-server's request_handler.cpp): by the group's key for
// an admin, or for a member by its subaccount (groupkeys.SubaccountSigner:
// the token, the group's signature over it, and the member's signature
// with its blinded key).

// signer signs requests about g.
type signer struct {
	admin  bool
	g      *Group
	member *groupkeys.SubaccountSigner
}

func (s *Device) signer(g *Group) (*signer, error) {
	if g.IsAdmin() {
		return &signer{admin: true, g: g}, nil
	}
	auth := g.authData()
	if auth == nil {
		return nil, ErrNotMember
	}
	ms, err := groupkeys.NewSubaccountSigner(s.C.Keys(), g.Account(), auth, true, false)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotMember, err)
	}
	return &signer{g: g, member: ms}, nil
}

func (sg *signer) sign(msg []byte) (storagerpc.Auth, storagerpc.SubAuth) {
	if sg.admin {
		return storagerpc.Auth{Signature: storagerpc.Sign(sg.g.adminKey(), msg)}, storagerpc.SubAuth{}
	}
	return storagerpc.Auth{Signature: base64.StdEncoding.EncodeToString(sg.member.Sign(msg))},
		storagerpc.SubAuth{Subaccount: sg.member.Token().String(), SubaccountSig: base64.StdEncoding.EncodeToString(sg.member.TokenSignature())}
}

// call sends one signed request to the group's swarm and checks its
// status.
func (s *Device) call(ctx context.Context, g *Group, method string, params func(*signer) any) (*storagerpc.Response, error) {
	sg, err := s.signer(g)
	if err != nil {
		return nil, err
	}
	// Two admins (two devices holding the group's key) that sign the same
	// change in the same millisecond make the same signature, and a node
	// accepts a signed write once: the second signs again, a timestamp
	// later (SigNow only goes forward).
	for try := 0; ; try++ {
		resp, err := s.C.Call(ctx, g.Account(), method, func() any { return params(sg) })
		if err != nil {
			return nil, err
		}
		if resp.Code == storagerpc.StatusOK {
			return resp, nil
		}
		if try < 2 && replayed(resp) {
			continue
		}
		return nil, resp.Err()
	}
}

// replayed reports a write a node refused because its signature was used
// before.
func replayed(resp *storagerpc.Response) bool {
	return resp.Code == storagerpc.StatusUnauthorized && strings.Contains(string(resp.Body), storagerpc.MsgReplayed)
}

// stored is what a store did: the message's hash and its timestamp.
type stored struct {
	Hash      string
	Timestamp int64
}

// store puts data in one of the group's namespaces for ttl ms.
func (s *Device) store(ctx context.Context, g *Group, ns storagerpc.Namespace, data []byte, ttl int64) (stored, error) {
	if len(data) > storagerpc.MaxDataSize {
		return stored{}, fmt.Errorf("%d bytes to store, %w of %d", len(data), storagerpc.ErrTooLarge, storagerpc.MaxDataSize)
	}
	ts := s.C.Now().UnixMilli()
	resp, err := s.call(ctx, g, "store", func(sg *signer) any {
		sigTS := s.C.SigNow()
		p := storagerpc.StoreParams{Pubkey: g.ID, Timestamp: ts, TTL: ttl, Data: base64.StdEncoding.EncodeToString(data), Namespace: ns, SigTS: sigTS}
		p.Auth, p.SubAuth = sg.sign(storagerpc.StoreSigMsg(ns, sigTS))
		return p
	})
	if err != nil {
		return stored{}, err
	}
	var res storagerpc.SwarmResults
	if err := resp.Decode(&res); err != nil {
		return stored{}, err
	}
	for k, r := range res.Swarm {
		if r.Failed {
			s.Log.Warn().Str("node", k).Str("reason", r.Reason).Int("code", r.Code).Int("namespace", int(ns)).Msg("a swarm member did not store the message")
		}
	}
	return stored{Hash: res.Hash, Timestamp: ts}, nil
}

// maxPages bounds the pages one read of a namespace takes.
const maxPages = 50

// retrieveAll returns every message of a namespace (configs: read whole
// each time, the newest maxStored of them).
func (s *Device) retrieveAll(ctx context.Context, g *Group, ns storagerpc.Namespace) ([]storagerpc.Message, error) {
	var out []storagerpc.Message
	_, err := s.retrieve(ctx, g, ns, func(string) string {
		if len(out) == 0 {
			return ""
		}
		return out[len(out)-1].Hash
	}, func(_ string, m storagerpc.Message) { out = append(out, m) })
	if len(out) > maxStored {
		out = out[len(out)-maxStored:]
	}
	return out, err
}

// maxStored bounds the messages of a config namespace read.
const maxStored = 100

// retrieve reads pages of namespace ns from one member of the group's
// swarm, after last(member), handing each message to each.
func (s *Device) retrieve(ctx context.Context, g *Group, ns storagerpc.Namespace, last func(dest string) string, each func(dest string, m storagerpc.Message)) (string, error) {
	sg, err := s.signer(g)
	if err != nil {
		return "", err
	}
	params := func(d string) any {
		ts := s.C.SigNow()
		p := storagerpc.RetrieveParams{Pubkey: g.ID, Namespace: ns, LastHash: last(d), Timestamp: ts}
		p.Auth, p.SubAuth = sg.sign(storagerpc.RetrieveSigMsg(ns, ts))
		return p
	}
	dest := ""
	for page := 0; page < maxPages; page++ {
		var resp *storagerpc.Response
		if dest == "" {
			resp, dest, err = s.C.CallAt(ctx, g.Account(), "retrieve", params)
		} else {
			resp, _, err = s.C.RPC(ctx, dest, "retrieve", params(dest))
		}
		if err != nil {
			return dest, err
		}
		if resp.Code != storagerpc.StatusOK {
			return dest, resp.Err()
		}
		var res storagerpc.RetrieveResult
		if err := resp.Decode(&res); err != nil {
			return dest, err
		}
		for _, m := range res.Messages {
			each(dest, m)
		}
		if !res.More || len(res.Messages) == 0 {
			break
		}
	}
	return dest, nil
}

// retrieveNew returns the messages of ns after the last hash the swarm
// member asked gave (each orders messages its own way), leaving out those
// already seen.
func (s *Device) retrieveNew(ctx context.Context, g *Group, ns storagerpc.Namespace) ([]storagerpc.Message, error) {
	key := func(d string) string { return d + "/" + strconv.Itoa(int(ns)) }
	if len(g.LastHash) > maxLastHashes {
		clear(g.LastHash) // cursors of swarm members long gone; Seen drops repeats
	}
	var out []storagerpc.Message
	_, err := s.retrieve(ctx, g, ns, func(d string) string { return g.LastHash[key(d)] }, func(d string, m storagerpc.Message) {
		g.LastHash[key(d)] = m.Hash
		if !g.remember(m.Hash) {
			out = append(out, m)
		}
	})
	return out, err
}

// maxLastHashes bounds the swarm members' cursors a group keeps.
const maxLastHashes = 64

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

// deleteMessages deletes messages of the group's swarm (admins).
func (s *Device) deleteMessages(ctx context.Context, g *Group, hashes []string) error {
	if len(hashes) == 0 {
		return nil
	}
	_, err := s.call(ctx, g, "delete", func(sg *signer) any {
		p := storagerpc.DeleteParams{Pubkey: g.ID, Messages: hashes}
		p.Auth, p.SubAuth = sg.sign(storagerpc.DeleteSigMsg(hashes))
		return p
	})
	return err
}

// deleteAll deletes every message of a namespace (admins).
func (s *Device) deleteAll(ctx context.Context, g *Group, ns storagerpc.Namespace) error {
	v := storagerpc.NamespaceVar{NS: ns}
	_, err := s.call(ctx, g, "delete_all", func(sg *signer) any {
		ts := s.C.SigNow()
		p := storagerpc.DeleteAllParams{Pubkey: g.ID, Namespace: &v, Timestamp: ts}
		p.Auth, p.SubAuth = sg.sign(storagerpc.DeleteAllSigMsg(v, ts))
		return p
	})
	return err
}

// extend extends messages of the group's swarm to expiry (members may:
// their tokens can write).
func (s *Device) extend(ctx context.Context, g *Group, hashes []string, expiry int64) error {
	if len(hashes) == 0 {
		return nil
	}
	_, err := s.call(ctx, g, "expire", func(sg *signer) any {
		p := storagerpc.ExpireParams{Pubkey: g.ID, Messages: hashes, Expiry: expiry, Extend: true}
		p.Auth, p.SubAuth = sg.sign(storagerpc.ExpireSigMsg(false, true, expiry, hashes))
		return p
	})
	return err
}

// revoke revokes (or, with unrevoke, lifts the revocation of) a member's
// token on the group's swarm (admins).
func (s *Device) revoke(ctx context.Context, g *Group, unrevoke bool, tok storagerpc.Token) error {
	if !g.IsAdmin() {
		return ErrNotAdmin
	}
	method := "revoke_subaccount"
	if unrevoke {
		method = "unrevoke_subaccount"
	}
	_, err := s.call(ctx, g, method, func(*signer) any {
		ts := s.C.SigNow()
		p := storagerpc.RevokeParams{Pubkey: g.ID, Timestamp: ts}
		if unrevoke {
			p.Unrevoke = []string{tok.String()}
		} else {
			p.Revoke = []string{tok.String()}
		}
		p.Auth = storagerpc.Auth{Signature: storagerpc.Sign(g.adminKey(), storagerpc.RevokeSigMsg(method, ts, []storagerpc.Token{tok}))}
		return p
	})
	return err
}

// refused tells whether err is the swarm refusing this account's
// signature (a revoked token).
func refused(err error) bool {
	var se *storagerpc.Error
	return errors.As(err, &se) && se.Code == storagerpc.StatusUnauthorized
}

// Probe asks node dest (its Ed25519 key, hex) straight, without an onion
// path, to let this device read the group's messages: nil when the node
// served them, its refusal otherwise. A checker asks each member of the
// group's swarm this as a member it kicked (package chaos): every one must
// refuse.
func (s *Device) Probe(ctx context.Context, g *Group, dest string) error {
	sg, err := s.signer(g)
	if err != nil {
		return err
	}
	ts := s.C.SigNow()
	p := storagerpc.RetrieveParams{Pubkey: g.ID, Namespace: NSMessages, Timestamp: ts}
	p.Auth, p.SubAuth = sg.sign(storagerpc.RetrieveSigMsg(NSMessages, ts))
	resp, err := s.C.Direct(ctx, dest, "retrieve", p)
	if err != nil {
		return err
	}
	if resp.Code != storagerpc.StatusOK {
		return resp.Err()
	}
	return nil
}
