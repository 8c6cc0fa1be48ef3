package node

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// fuzzNode is a node with a real store whose view makes it the only member
// of the only swarm, so every request is handled locally, without a network.
func fuzzNode(t testing.TB) *Node {
	n, err := New(Config{Key: seedKey("fuzz"), DataDir: t.TempDir(), Ledger: nopLedger{}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(context.Background(), filepath.Join(t.TempDir(), "storage.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.close() })
	n.store = st
	n.view.Store(&view{netView: &netView{
		swarmIDs: []uint64{0}, members: map[uint64][]string{0: {n.pubHex}},
		nodes: map[string]chain.ServiceNode{}, peers: map[string]peer.ID{}, byPeer: map[peer.ID]string{},
	}, mine: 0})
	n.revs.Store(&revSync{swarm: 0, done: true}) // alone in its swarm: nobody to ask
	return n
}

type nopLedger struct{ Ledger }

// seedRequests are valid requests of every method, signed by one account.
func seedRequests(a account) [][]byte {
	ts := time.Now().UnixMilli()
	sig := func(msg []byte) storagerpc.Auth { return storagerpc.SignAuth(a.keys.Ed25519, a.id, msg) }
	hash := storagerpc.MessageHash(a.id, 0, []byte("hi"))
	all := storagerpc.NamespaceVar{All: true}
	reqs := []struct {
		m string
		p any
	}{
		{"info", struct{}{}},
		{"get_swarm", storagerpc.GetSwarmParams{Pubkey: a.id.String()}},
		{"store", a.store(0, []byte("hi"), false)},
		{"store", a.store(3, []byte("cfg"), true)},
		{"retrieve", a.retrieve(0, "")},
		{"delete", storagerpc.DeleteParams{Pubkey: a.id.String(), Messages: []string{hash}, Auth: sig(storagerpc.DeleteSigMsg([]string{hash}))}},
		{"delete_all", storagerpc.DeleteAllParams{Pubkey: a.id.String(), Namespace: &all, Timestamp: ts, Auth: sig(storagerpc.DeleteAllSigMsg(all, ts))}},
		{"delete_before", storagerpc.DeleteBeforeParams{Pubkey: a.id.String(), Before: ts, Auth: sig(storagerpc.DeleteBeforeSigMsg(storagerpc.NamespaceVar{}, ts))}},
		{"expire", storagerpc.ExpireParams{Pubkey: a.id.String(), Messages: []string{hash}, Expiry: ts + 60_000, Extend: true, Auth: sig(storagerpc.ExpireSigMsg(false, true, ts+60_000, []string{hash}))}},
		{"expire_all", storagerpc.ExpireAllParams{Pubkey: a.id.String(), Expiry: ts + 60_000, Auth: sig(storagerpc.ExpireAllSigMsg(storagerpc.NamespaceVar{}, ts+60_000))}},
		{"get_expiries", storagerpc.GetExpiriesParams{Pubkey: a.id.String(), Messages: []string{"all"}, Timestamp: ts, Auth: sig(storagerpc.GetExpiriesSigMsg(ts, []string{"all"}))}},
	}
	var out [][]byte
	var sub []storagerpc.Request
	for _, r := range reqs {
		raw, _ := json.Marshal(r.p)
		body, _ := json.Marshal(storagerpc.Request{Method: r.m, Params: raw})
		out = append(out, body)
		sub = append(sub, storagerpc.Request{Method: r.m, Params: raw})
	}
	for _, m := range []string{"batch", "sequence"} {
		raw, _ := json.Marshal(storagerpc.BatchParams{Requests: sub[:5]})
		body, _ := json.Marshal(storagerpc.Request{Method: m, Params: raw})
		out = append(out, body)
	}
	return out
}

// FuzzHandle feeds the request decoder and every method's parameter parser:
// no input panics, and every answer is a well-formed response.
func FuzzHandle(f *testing.F) {
	for _, s := range seedRequests(newAccount(f)) {
		f.Add(s)
	}
	f.Add([]byte(`{"method":"store","params":{"pubkey":"05","namespace":"all"}}`))
	f.Add([]byte(`{"method":"delete_all","params":{"namespace":"x"}}`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"info","params":{}}`))
	n := fuzzNode(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		resp := n.handle(context.Background(), body)
		if resp.Code < 200 || resp.Code > 599 || !json.Valid(resp.Body) {
			t.Fatalf("response %d %q", resp.Code, resp.Body)
		}
	})
}

// FuzzAcceptPush feeds the decoder of records pushed between nodes: only
// records whose hash matches their content are stored.
func FuzzAcceptPush(f *testing.F) {
	a := newAccount(f)
	rec := pushRecord{Hash: storagerpc.MessageHash(a.id, 0, []byte("x")), Owner: a.id.String(), Timestamp: 1,
		Expiry: time.Now().Add(time.Hour).UnixMilli(), Data: base64.StdEncoding.EncodeToString([]byte("x"))}
	good, _ := json.Marshal(pushParams{Messages: []pushRecord{rec}})
	f.Add(good)
	f.Add([]byte(`{"messages":[{"hash":"","owner":"05","data":"!"}]}`))
	n := fuzzNode(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		resp := n.acceptPush(context.Background(), raw)
		if resp.Code != 200 {
			return
		}
		var p pushParams
		json.Unmarshal(raw, &p)
		for _, m := range p.Messages {
			id, err := identity.ParseAccountID(m.Owner)
			data, derr := base64.StdEncoding.DecodeString(m.Data)
			if err != nil || derr != nil {
				continue
			}
			ex, _ := n.store.expiries(context.Background(), m.Owner, []string{m.Hash})
			if len(ex) == 1 && storagerpc.MessageHash(id, m.Namespace, data) != m.Hash {
				t.Fatalf("stored a record whose hash does not match its content")
			}
		}
	})
}

// FuzzNotReady feeds every decoder of a node that has not loaded its view
// of the network yet: the storage RPC, pushes and the repair methods must
// refuse, never panic (the other fuzz targets always load a view first).
func FuzzNotReady(f *testing.F) {
	for _, s := range seedRequests(newAccount(f)) {
		f.Add(s)
	}
	f.Add([]byte(`{"messages":[]}`))
	f.Add([]byte(`{"buckets":[1,2,3],"revocations":true}`))
	f.Add([]byte(`{"swarm":0,"swarms_height":1}`))
	n, err := New(Config{Key: seedKey("fuzz-unready"), DataDir: f.TempDir(), Ledger: nopLedger{}})
	if err != nil {
		f.Fatal(err)
	}
	st, err := openStore(context.Background(), filepath.Join(f.TempDir(), "storage.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.close() })
	n.store = st
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, resp := range []storagerpc.Response{
			n.handle(context.Background(), body),
			n.acceptPush(context.Background(), body),
			n.repairMethod(context.Background(), "repair_list", body),
			n.repairMethod(context.Background(), "repair_fetch", body),
			n.revocationsMethod(context.Background(), body),
		} {
			if resp.Code < 200 || resp.Code > 599 || !json.Valid(resp.Body) {
				t.Fatalf("response %d %q", resp.Code, resp.Body)
			}
		}
	})
}

// FuzzRepair feeds the repair methods of a ready node.
func FuzzRepair(f *testing.F) {
	f.Add("repair_list", []byte(`{"buckets":[0,63],"revocations":true}`))
	f.Add("repair_fetch", []byte(`{"hashes":["x"]}`))
	f.Add("repair_digest", []byte(`{}`))
	n := fuzzNode(f)
	f.Fuzz(func(t *testing.T, method string, body []byte) {
		resp := n.repairMethod(context.Background(), method, body)
		if resp.Code < 200 || resp.Code > 599 || !json.Valid(resp.Body) {
			t.Fatalf("response %d %q", resp.Code, resp.Body)
		}
	})
}

// FuzzRevocations feeds the revocation sync method of a ready node that
// holds revocations: it answers a bounded page or refuses, never panics,
// and a cursor it hands out moves forward.
func FuzzRevocations(f *testing.F) {
	f.Add([]byte(`{"swarm":0,"swarms_height":0}`))
	f.Add([]byte(`{"swarm":0,"after_owner":"03","after_token":"00"}`))
	f.Add([]byte(`{"swarm":18446744073709551615,"swarms_height":18446744073709551615}`))
	n := fuzzNode(f)
	gid, _ := groupAccount(f)
	var toks []storagerpc.Token
	for i := range 3 {
		toks = append(toks, storagerpc.NewToken(byte(identity.PrefixGroup), storagerpc.FlagRead, seedKey(fmt.Sprint("holder-", i)).Public().(ed25519.PublicKey)))
	}
	if _, err := n.store.revoke(context.Background(), gid.String(), toks, 1, maxRevoked); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(fmt.Sprintf(`{"swarm":0,"after_owner":%q,"after_token":%q}`, gid.String(), toks[0].String())))
	f.Fuzz(func(t *testing.T, body []byte) {
		resp := n.revocationsMethod(context.Background(), body)
		if resp.Code < 200 || resp.Code > 599 || !json.Valid(resp.Body) {
			t.Fatalf("response %d %q", resp.Code, resp.Body)
		}
		if resp.Code != 200 {
			return
		}
		var p revSyncParams
		var res revSyncResult
		json.Unmarshal(body, &p)
		if err := json.Unmarshal(resp.Body, &res); err != nil || len(res.Revocations) > revSyncPage {
			t.Fatalf("answer %q", resp.Body)
		}
		if res.NextOwner != "" && !(res.NextOwner > p.AfterOwner || res.NextOwner == p.AfterOwner && res.NextToken > p.AfterToken) {
			t.Fatalf("cursor %q/%q does not move past %q/%q", res.NextOwner, res.NextToken, p.AfterOwner, p.AfterToken)
		}
	})
}
