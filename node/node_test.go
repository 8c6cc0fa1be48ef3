package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/storagerpc"
)

func TestStoreReplicatesToSwarm(t *testing.T) {
	tn := startTestnet(t, 14, nil)
	if got := len(tn.l.Swarms()); got != 2 {
		t.Fatalf("%d swarms, want 2", got)
	}
	alice := newAccount(t)
	members := tn.swarmOf(alice.id)
	var res storagerpc.SwarmResults
	if err := tn.call(members[0], "store", alice.store(0, []byte("hello bob"), false)).Decode(&res); err != nil {
		t.Fatal(err)
	}
	want := storagerpc.MessageHash(alice.id, 0, []byte("hello bob"))
	if res.Hash != want || len(res.Hash) != 43 {
		t.Fatalf("hash %q, want %q", res.Hash, want)
	}
	if len(res.Swarm) != len(members) {
		t.Fatalf("%d member results, %d members", len(res.Swarm), len(members))
	}
	for _, m := range members {
		r, ok := res.Swarm[m]
		if !ok || r.Failed || r.Hash != want {
			t.Fatalf("member %s: %+v", m[:8], r)
		}
		sig, _ := base64.StdEncoding.DecodeString(r.Signature)
		key, _ := hex.DecodeString(m)
		if !ed25519.Verify(key, []byte(want), sig) {
			t.Fatalf("member %s signed the hash wrongly", m[:8])
		}
	}
	// Every member holds it.
	for _, m := range members {
		msgs := tn.messages(m, alice, 0)
		if len(msgs) != 1 || msgs[0].Hash != want {
			t.Fatalf("member %s has %v", m[:8], msgs)
		}
		if d, _ := base64.StdEncoding.DecodeString(msgs[0].Data); string(d) != "hello bob" {
			t.Fatalf("data %q", d)
		}
	}
	// Storing again only reports "already".
	if err := tn.call(members[1], "store", alice.store(0, []byte("hello bob"), false)).Decode(&res); err != nil {
		t.Fatal(err)
	}
	if !res.Swarm[members[1]].Already {
		t.Fatal("a repeated store is not reported as already stored")
	}
	// last_hash: nothing after the last message.
	var out storagerpc.RetrieveResult
	tn.call(members[2], "retrieve", alice.retrieve(0, want)).Decode(&out)
	if len(out.Messages) != 0 {
		t.Fatalf("messages after the last hash: %v", out.Messages)
	}
}

func TestWrongSwarmGives421(t *testing.T) {
	tn := startTestnet(t, 14, nil)
	alice := newAccount(t)
	members := tn.swarmOf(alice.id)
	other := tn.notIn(members)
	resp := tn.call(other, "store", alice.store(0, []byte("x"), false))
	if resp.Code != storagerpc.StatusMisdirected {
		t.Fatalf("code %d, want 421", resp.Code)
	}
	var sw storagerpc.SwarmResult
	json.Unmarshal(resp.Body, &sw)
	var got []string
	for _, sn := range sw.SNodes {
		got = append(got, sn.PubkeyEd25519)
		if sn.PeerID != tn.nodes[sn.PubkeyEd25519].PeerID().String() || len(sn.Addrs) == 0 {
			t.Fatalf("421 lists %s without its peer ID or addresses", sn.PubkeyEd25519[:8])
		}
	}
	if !slices.Equal(got, members) {
		t.Fatalf("421 lists %v, the owning swarm is %v", got, members)
	}
	if n, _ := tn.nodes[other].MessageCount(context.Background()); n != 0 {
		t.Fatal("a misdirected store was stored")
	}
	// get_swarm answers from any node.
	var gs storagerpc.SwarmResult
	if err := tn.call(other, "get_swarm", storagerpc.GetSwarmParams{Pubkey: alice.id.String()}).Decode(&gs); err != nil || len(gs.SNodes) != len(members) {
		t.Fatalf("get_swarm: %+v, %v", gs, err)
	}
}

// TestAuthRules: every auth failure is refused with its status and changes
// nothing.
func TestAuthRules(t *testing.T) {
	tn := startTestnet(t, 5, nil)
	alice, mallory := newAccount(t), newAccount(t)
	h := tn.order[0]
	ts := nowMS()
	sign := func(a account, msg []byte) storagerpc.Auth { return storagerpc.SignAuth(a.keys.Ed25519, alice.id, msg) }
	good := alice.retrieve(0, "")
	if resp := tn.call(h, "retrieve", good); resp.Code != 200 {
		t.Fatalf("a good retrieve: %d %s", resp.Code, resp.Body)
	}
	delAll := storagerpc.DeleteAllParams{Pubkey: alice.id.String(), Timestamp: ts, Auth: sign(alice, storagerpc.DeleteAllSigMsg(storagerpc.NamespaceVar{}, ts))}
	if resp := tn.call(h, "delete_all", delAll); resp.Code != 200 {
		t.Fatalf("a good delete_all: %d %s", resp.Code, resp.Body)
	}
	for _, tc := range []struct {
		name   string
		method string
		params any
		code   int
	}{
		{"retrieve without signature", "retrieve", storagerpc.RetrieveParams{Pubkey: alice.id.String(), Timestamp: ts}, 401},
		{"retrieve signed by another key", "retrieve", storagerpc.RetrieveParams{Pubkey: alice.id.String(), Timestamp: ts,
			Auth: storagerpc.Auth{PubkeyEd25519: hex.EncodeToString(alice.keys.Ed25519Public()), Signature: storagerpc.Sign(mallory.keys.Ed25519, storagerpc.RetrieveSigMsg(0, ts))}}, 401},
		{"retrieve with mallory's ed25519 key", "retrieve", storagerpc.RetrieveParams{Pubkey: alice.id.String(), Timestamp: ts, Auth: sign(mallory, storagerpc.RetrieveSigMsg(0, ts))}, 401},
		{"retrieve without pubkey_ed25519", "retrieve", storagerpc.RetrieveParams{Pubkey: alice.id.String(), Timestamp: ts,
			Auth: storagerpc.Auth{Signature: storagerpc.Sign(alice.keys.Ed25519, storagerpc.RetrieveSigMsg(0, ts))}}, 401},
		{"retrieve signed over another namespace", "retrieve", storagerpc.RetrieveParams{Pubkey: alice.id.String(), Timestamp: ts, Namespace: 5, Auth: sign(alice, storagerpc.RetrieveSigMsg(0, ts))}, 401},
		{"retrieve with a stale timestamp", "retrieve", storagerpc.RetrieveParams{Pubkey: alice.id.String(), Timestamp: ts - 61_000, Auth: sign(alice, storagerpc.RetrieveSigMsg(0, ts-61_000))}, 406},
		{"retrieve from the future", "retrieve", storagerpc.RetrieveParams{Pubkey: alice.id.String(), Timestamp: ts + 61_000, Auth: sign(alice, storagerpc.RetrieveSigMsg(0, ts+61_000))}, 406},
		{"identical retrieve (reads are served again)", "retrieve", good, 200},
		{"replayed delete_all (a write is accepted once)", "delete_all", delAll, 401},
		{"delete_all without signature", "delete_all", storagerpc.DeleteAllParams{Pubkey: alice.id.String(), Timestamp: ts}, 400},
		{"retrieve with a malformed signature", "retrieve", storagerpc.RetrieveParams{Pubkey: alice.id.String(), Timestamp: ts,
			Auth: storagerpc.Auth{PubkeyEd25519: hex.EncodeToString(alice.keys.Ed25519Public()), Signature: "not base64"}}, 400},
		{"store in namespace 1 without auth", "store", alice.store(1, []byte("secret"), false), 401},
		{"store in namespace 1 signed by mallory", "store", func() storagerpc.StoreParams {
			p := alice.store(1, []byte("secret"), false)
			p.Auth = sign(mallory, storagerpc.StoreSigMsg(1, p.Timestamp))
			return p
		}(), 401},
		{"store in namespace 0 with a malformed signature", "store", func() storagerpc.StoreParams {
			p := alice.store(0, []byte("forged"), false)
			p.Auth = sign(mallory, storagerpc.StoreSigMsg(0, p.Timestamp))
			p.Signature = p.Signature[:40]
			return p
		}(), 400},
		{"delete_all by mallory", "delete_all", storagerpc.DeleteAllParams{Pubkey: alice.id.String(), Timestamp: ts, Auth: sign(mallory, storagerpc.DeleteAllSigMsg(storagerpc.NamespaceVar{}, ts))}, 401},
		{"bad pubkey", "retrieve", storagerpc.RetrieveParams{Pubkey: "05abc", Timestamp: ts}, 400},
		{"blinded pubkey", "store", storagerpc.StoreParams{Pubkey: "15" + alice.id.String()[2:]}, 400},
		{"unknown method", "frobnicate", struct{}{}, 400},
	} {
		before, _ := tn.nodes[h].MessageCount(context.Background())
		resp := tn.call(h, tc.method, tc.params)
		if resp.Code != tc.code {
			t.Errorf("%s: code %d (%s), want %d", tc.name, resp.Code, resp.Body, tc.code)
		}
		if after, _ := tn.nodes[h].MessageCount(context.Background()); after != before {
			t.Errorf("%s: refused, yet the node stores %d messages instead of %d", tc.name, after, before)
		}
	}
	// Namespace rights: anyone may store in 0; only the owner in 1.
	if resp := tn.call(h, "store", alice.store(0, []byte("from anyone"), false)); resp.Code != 200 {
		t.Fatalf("unsigned store in namespace 0: %d %s", resp.Code, resp.Body)
	}
	if resp := tn.call(h, "store", alice.store(1, []byte("mine"), true)); resp.Code != 200 {
		t.Fatalf("signed store in namespace 1: %d %s", resp.Code, resp.Body)
	}
	if msgs := tn.messages(h, alice, 1); len(msgs) != 1 {
		t.Fatalf("namespace 1 holds %d messages", len(msgs))
	}
}

func TestLimits(t *testing.T) {
	tn := startTestnet(t, 5, func(c *Config) { c.RateBurst, c.RatePerSecond = 40, 1 })
	alice := newAccount(t)
	h := tn.order[0]
	big := alice.store(0, make([]byte, storagerpc.MaxDataSize+1), false)
	if resp := tn.call(h, "store", big); resp.Code != 400 {
		t.Fatalf("data over 76,800 bytes: %d", resp.Code)
	}
	if resp := tn.call(h, "store", alice.store(0, make([]byte, storagerpc.MaxDataSize), false)); resp.Code != 200 {
		t.Fatalf("data of 76,800 bytes: %d %s", resp.Code, resp.Body)
	}
	short := alice.store(0, []byte("x"), false)
	short.TTL = 9_999
	long := alice.store(0, []byte("y"), false)
	long.TTL = storagerpc.MaxTTL.Milliseconds() + 1
	cfg := alice.store(2, []byte("z"), true)
	cfg.TTL = storagerpc.MaxTTL.Milliseconds() + 1 // allowed for config namespaces
	cfg.Auth = storagerpc.SignAuth(alice.keys.Ed25519, alice.id, storagerpc.StoreSigMsg(2, cfg.Timestamp))
	expired := alice.store(0, []byte("w"), false)
	expired.Timestamp -= time.Hour.Milliseconds() + storagerpc.StoreTolerance.Milliseconds() + 1
	byExpiry := alice.store(0, []byte("v"), false)
	byExpiry.TTL, byExpiry.Expiry = 0, byExpiry.Timestamp+time.Minute.Milliseconds()
	both := alice.store(0, []byte("u"), false)
	both.Expiry = both.Timestamp + 1
	for name, tc := range map[string]struct {
		p    storagerpc.StoreParams
		code int
	}{"ttl under 10 s": {short, 403}, "ttl over 14 days": {long, 403}, "config ttl over 14 days": {cfg, 200}, "already expired": {expired, 406},
		"expiry instead of ttl": {byExpiry, 200}, "ttl and expiry disagree": {both, 400}} {
		if resp := tn.call(h, "store", tc.p); resp.Code != tc.code {
			t.Errorf("%s: %d %s, want %d", name, resp.Code, resp.Body, tc.code)
		}
	}
	// A body over 10 MiB is refused before it is read as JSON.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := storagerpc.RoundTrip(ctx, tn.client, tn.peer(h), storagerpc.ProtocolStorage, bytes.Repeat([]byte("x"), storagerpc.MaxRequestSize+1))
	if err != nil || resp.Code != 413 {
		t.Fatalf("11 MiB request: %v %v", resp, err)
	}
	// Malformed envelopes. (Other keys are passed over, as the storage
	// server does: a JSON-RPC envelope's, for one; request_test.go.)
	for _, body := range []string{"", "{", `{"method":"info","params":{}}x`, `[]`, `{"params":{}}`} {
		resp, err := storagerpc.RoundTrip(ctx, tn.client, tn.peer(h), storagerpc.ProtocolStorage, []byte(body))
		if err != nil || resp.Code != 400 {
			t.Errorf("body %q: %v %v", body, resp, err)
		}
	}
	// The rate limit: a burst of 40, then 429.
	var limited int
	for i := 0; i < 60; i++ {
		if tn.call(h, "info", struct{}{}).Code == 429 {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("no request was rate limited")
	}
}

func TestDeleteAndExpire(t *testing.T) {
	tn := startTestnet(t, 5, nil)
	alice := newAccount(t)
	h := tn.order[0]
	var hashes []string
	for i := 0; i < 4; i++ {
		var r storagerpc.SwarmResults
		if err := tn.call(h, "store", alice.store(0, []byte(fmt.Sprint("m", i)), false)).Decode(&r); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, r.Hash)
	}
	tn.call(h, "store", alice.store(1, []byte("ns1"), true))
	sig := func(msg []byte) storagerpc.Auth { return storagerpc.SignAuth(alice.keys.Ed25519, alice.id, msg) }

	// delete one message: every member deletes it and signs.
	var res storagerpc.SwarmResults
	del := storagerpc.DeleteParams{Pubkey: alice.id.String(), Messages: hashes[:1], Auth: sig(storagerpc.DeleteSigMsg(hashes[:1]))}
	if err := tn.call(h, "delete", del).Decode(&res); err != nil {
		t.Fatal(err)
	}
	for k, r := range res.Swarm {
		d, _ := json.Marshal(r.Deleted)
		if string(d) != fmt.Sprintf("[%q]", hashes[0]) {
			t.Fatalf("member %s deleted %s", k[:8], d)
		}
	}
	// required: a delete of nothing is 404.
	req := storagerpc.DeleteParams{Pubkey: alice.id.String(), Messages: hashes[:1], Required: true}
	req.Auth = sig(append(storagerpc.DeleteSigMsg(hashes[:1]), []byte{}...))
	req.Auth.Signature = storagerpc.Sign(alice.keys.Ed25519, storagerpc.DeleteSigMsg(hashes[:1])) // a new signature? same message: replay
	if resp := tn.call(h, "delete", req); resp.Code != 401 {
		t.Fatalf("the same delete signature again: %d", resp.Code)
	}

	// expire: shorten one message.
	exp := nowMS() + time.Minute.Milliseconds()
	ex := storagerpc.ExpireParams{Pubkey: alice.id.String(), Messages: hashes[1:2], Expiry: exp, Shorten: true,
		Auth: sig(storagerpc.ExpireSigMsg(true, false, exp, hashes[1:2]))}
	if err := tn.call(h, "expire", ex).Decode(&res); err != nil {
		t.Fatal(err)
	}
	if r := res.Swarm[h]; r.Expiry != exp {
		t.Fatalf("expire: %+v", r)
	}
	ts := nowMS()
	var ge struct {
		Expiries map[string]int64 `json:"expiries"`
	}
	getExp := storagerpc.GetExpiriesParams{Pubkey: alice.id.String(), Messages: hashes[1:], Timestamp: ts, Auth: sig(storagerpc.GetExpiriesSigMsg(ts, hashes[1:]))}
	if err := tn.call(h, "get_expiries", getExp).Decode(&ge); err != nil {
		t.Fatal(err)
	}
	if ge.Expiries[hashes[1]] != exp || len(ge.Expiries) != 3 {
		t.Fatalf("expiries %v", ge.Expiries)
	}

	// A batch: two retrieves; a sequence that stops at a failure.
	b := storagerpc.BatchParams{}
	for _, ns := range []storagerpc.Namespace{0, 1} {
		raw, _ := json.Marshal(alice.retrieve(ns, ""))
		b.Requests = append(b.Requests, storagerpc.Request{Method: "retrieve", Params: raw})
	}
	var br struct {
		Results []struct {
			Code int                       `json:"code"`
			Body storagerpc.RetrieveResult `json:"body"`
		} `json:"results"`
	}
	if err := tn.call(h, "batch", b).Decode(&br); err != nil {
		t.Fatal(err)
	}
	if len(br.Results) != 2 || len(br.Results[0].Body.Messages) != 3 || len(br.Results[1].Body.Messages) != 1 {
		t.Fatalf("batch: %+v", br)
	}
	bad, _ := json.Marshal(storagerpc.RetrieveParams{Pubkey: alice.id.String(), Timestamp: nowMS()})
	good, _ := json.Marshal(alice.retrieve(0, ""))
	seq := storagerpc.BatchParams{Requests: []storagerpc.Request{{Method: "retrieve", Params: bad}, {Method: "retrieve", Params: good}}}
	var sr struct {
		Results []json.RawMessage `json:"results"`
	}
	if err := tn.call(h, "sequence", seq).Decode(&sr); err != nil || len(sr.Results) != 1 {
		t.Fatalf("sequence did not stop at the failure: %d results, %v", len(sr.Results), err)
	}
	if resp := tn.call(h, "batch", storagerpc.BatchParams{}); resp.Code != 400 {
		t.Fatalf("empty batch: %d", resp.Code)
	}

	// delete_before, then delete_all of namespace 1, then expire_all.
	ts = nowMS()
	db := storagerpc.DeleteBeforeParams{Pubkey: alice.id.String(), Before: ts, Auth: sig(storagerpc.DeleteBeforeSigMsg(storagerpc.NamespaceVar{}, ts))}
	if err := tn.call(h, "delete_before", db).Decode(&res); err != nil {
		t.Fatal(err)
	}
	if msgs := tn.messages(h, alice, 0); len(msgs) != 0 {
		t.Fatalf("delete_before left %d messages", len(msgs))
	}
	all := storagerpc.NamespaceVar{All: true}
	ts = nowMS()
	da := storagerpc.DeleteAllParams{Pubkey: alice.id.String(), Namespace: &all, Timestamp: ts, Auth: sig(storagerpc.DeleteAllSigMsg(all, ts))}
	if err := tn.call(h, "delete_all", da).Decode(&res); err != nil {
		t.Fatal(err)
	}
	for _, m := range tn.swarmOf(alice.id) {
		if n, _ := tn.nodes[m].MessageCount(context.Background()); n != 0 {
			t.Fatalf("member %s keeps %d messages after delete_all", m[:8], n)
		}
	}
}

// TestNodeJoinReceivesData: a node that joins a swarm receives its records.
func TestNodeJoinReceivesData(t *testing.T) {
	tn := startTestnet(t, 7, nil)
	var accts []account
	for i := 0; i < 10; i++ {
		a := newAccount(t)
		accts = append(accts, a)
		if resp := tn.call(tn.order[0], "store", a.store(0, []byte(fmt.Sprint("msg ", i)), false)); resp.Code != 200 {
			t.Fatalf("store: %d %s", resp.Code, resp.Body)
		}
	}
	added := tn.add(1)
	if len(tn.l.Swarms()) != 1 {
		t.Fatal("8 nodes should make one swarm")
	}
	tn.waitFor(func() bool {
		n, _ := tn.nodes[added[0]].MessageCount(context.Background())
		return n == len(accts)
	}, "the new member to receive every record")
	for _, a := range accts {
		if msgs := tn.messages(added[0], a, 0); len(msgs) != 1 {
			t.Fatalf("the new member has %d messages of an account", len(msgs))
		}
	}
}

func (tn *testnet) waitFor(cond func() bool, what string) {
	tn.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tn.t.Fatalf("timed out waiting for %s", what)
		}
		tn.mine(1)
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSwarmsChangeLoseNothing: a new swarm forms, then a swarm dissolves;
// afterwards every stored message is held by every member of its swarm.
func TestSwarmsChangeLoseNothing(t *testing.T) {
	tn := startTestnet(t, 10, nil)
	stored := map[string]account{} // hash -> owner
	var accts []account
	storeSome := func(k int) {
		for i := 0; i < k; i++ {
			a := newAccount(t)
			accts = append(accts, a)
			m := tn.swarmOf(a.id)[0]
			var r storagerpc.SwarmResults
			if err := tn.call(m, "store", a.store(0, []byte(fmt.Sprint("message ", len(stored))), false)).Decode(&r); err != nil {
				t.Fatal(err)
			}
			stored[r.Hash] = a
		}
	}
	storeSome(40)
	// 10 -> 16 nodes: a second swarm forms and takes over part of the ring.
	tn.add(6)
	if len(tn.l.Swarms()) != 2 {
		t.Fatalf("%d swarms with 16 nodes", len(tn.l.Swarms()))
	}
	storeSome(20)
	tn.waitFor(func() bool { return tn.allHeld(stored) }, "records to reach their swarms after a split")

	// Decommission nodes until 9 are active: two swarms of 5 cannot be
	// made, so one swarm dissolves (its last two members join the other).
	swarms := tn.l.Swarms()
	victim, other := swarms[0], swarms[1]
	down := victim.Members[:len(victim.Members)-2]
	down = append(down, other.Members[:16-len(down)-9]...)
	for _, k := range down {
		if _, err := tn.l.ChangeState(k, chain.StateDecommissioned, "test"); err != nil {
			t.Fatal(err)
		}
	}
	tn.mine(1)
	if len(tn.l.Swarms()) != 1 {
		t.Fatalf("%d swarms after decommissioning", len(tn.l.Swarms()))
	}
	tn.waitFor(func() bool { return tn.allHeld(stored) }, "records to reach their swarms after a dissolution")
	// Every message is retrievable from every member of its swarm.
	for hash, a := range stored {
		for _, m := range tn.swarmOf(a.id) {
			msgs := tn.messages(m, a, 0)
			if len(msgs) != 1 || msgs[0].Hash != hash {
				t.Fatalf("member %s lost message %s", m[:8], hash[:8])
			}
		}
	}
}

// allHeld reports whether each message is stored by every active member of
// its owning swarm (read from the nodes' databases).
func (tn *testnet) allHeld(stored map[string]account) bool {
	ctx := context.Background()
	for hash, a := range stored {
		for _, m := range tn.swarmOf(a.id) {
			nd, ok := tn.nodes[m]
			if !ok {
				continue
			}
			ex, err := nd.store.expiries(ctx, a.id.String(), []string{hash})
			if err != nil || len(ex) != 1 {
				return false
			}
		}
	}
	return true
}

// TestManyRequests: thousands of short requests, in a row and at once, all
// succeed (the resource limits are chosen for this; see resourceLimits).
func TestManyRequests(t *testing.T) {
	tn := startTestnet(t, 1, func(c *Config) { c.RateBurst, c.RatePerSecond = 1e6, 1e6 })
	h := tn.order[0]
	n := 2000
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		if resp := tn.call(h, "info", struct{}{}); resp.Code != 200 {
			t.Fatalf("request %d: %d", i, resp.Code)
		}
	}
	var wg sync.WaitGroup
	var failed sync.Map
	for i := 0; i < 256; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			resp, err := storagerpc.Call(ctx, tn.client, tn.peer(h), storagerpc.ProtocolStorage, "info", struct{}{})
			if err != nil || resp.Code != 200 {
				failed.Store(i, fmt.Sprint(err))
			}
		}()
	}
	wg.Wait()
	failed.Range(func(k, v any) bool {
		t.Errorf("concurrent request %v: %v", k, v)
		return true
	})
}

func TestSwarmProtocolRefusesStrangers(t *testing.T) {
	tn := startTestnet(t, 5, nil)
	alice := newAccount(t)
	m := tn.swarmOf(alice.id)[0]
	p := pushParams{Messages: []pushRecord{{Hash: storagerpc.MessageHash(alice.id, 0, []byte("x")), Owner: alice.id.String(),
		Timestamp: nowMS(), Expiry: nowMS() + 60_000, Data: base64.StdEncoding.EncodeToString([]byte("x"))}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := storagerpc.Call(ctx, tn.client, tn.peer(m), storagerpc.ProtocolSwarm, "push", p)
	if err != nil || resp.Code != 401 {
		t.Fatalf("push from a client: %v %v", resp, err)
	}
	if c, _ := tn.nodes[m].MessageCount(ctx); c != 0 {
		t.Fatal("a stranger's push was stored")
	}
	if !strings.Contains(string(resp.Body), "service nodes") {
		t.Fatalf("body %s", resp.Body)
	}
}

// clock is a test clock that can jump.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) jump(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

func TestExpiredMessagesRemoved(t *testing.T) {
	clk := &clock{}
	tn := startTestnet(t, 1, func(c *Config) { c.Now, c.ExpiryInterval = clk.now, 20*time.Millisecond })
	a := newAccount(t)
	h := tn.order[0]
	p := a.store(0, []byte("short-lived"), false)
	p.TTL = 10_000
	if resp := tn.call(h, "store", p); resp.Code != 200 {
		t.Fatalf("store: %d %s", resp.Code, resp.Body)
	}
	if n, _ := tn.nodes[h].MessageCount(context.Background()); n != 1 {
		t.Fatal("not stored")
	}
	clk.jump(11 * time.Second)
	tn.waitFor(func() bool {
		n, _ := tn.nodes[h].MessageCount(context.Background())
		return n == 0
	}, "the expired message to be removed")
}

// TestStoreSurvivesDeadMembers: a store succeeds while one member lives,
// reporting the others as failed.
func TestStoreSurvivesDeadMembers(t *testing.T) {
	tn := startTestnet(t, 7, func(c *Config) { c.ForwardTimeout = time.Second })
	a := newAccount(t)
	members := tn.swarmOf(a.id)
	for _, m := range members[1:] {
		tn.kill(m)
	}
	var res storagerpc.SwarmResults
	if err := tn.call(members[0], "store", a.store(0, []byte("anyone there?"), false)).Decode(&res); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for k, r := range res.Swarm {
		if r.Failed {
			failed++
		} else if k != members[0] {
			t.Fatalf("dead member %s reported success", k[:8])
		}
	}
	if failed != 6 || res.Swarm[members[0]].Hash == "" {
		t.Fatalf("%d failed of %d: %+v", failed, len(res.Swarm), res.Swarm[members[0]])
	}
}
