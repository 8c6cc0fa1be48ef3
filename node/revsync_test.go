package node

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// member is a group member's subaccount token (read and write in the
// group's namespace 11), the group's signature over it, and the key the
// member signs its requests with.
type member struct {
	gid  identity.AccountID
	tok  storagerpc.Token
	sig  []byte
	key  ed25519.PrivateKey
	mu   sync.Mutex
	last int64 // the last timestamp signed: each request signs anew
	sent int
}

func newMember(t testing.TB, gid identity.AccountID, gkey ed25519.PrivateKey) *member {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tok := storagerpc.NewToken(byte(identity.PrefixGroup), storagerpc.FlagRead|storagerpc.FlagWrite, k.Public().(ed25519.PublicKey))
	return &member{gid: gid, tok: tok, sig: ed25519.Sign(gkey, tok[:]), key: k}
}

// request returns a retrieve (even calls) or a store (odd ones) of
// namespace 11 made with the member's token, signed with a timestamp none
// of its requests used before.
func (m *member) request() (string, any) {
	m.mu.Lock()
	ts := max(nowMS(), m.last+1)
	m.last = ts
	m.sent++
	n := m.sent
	m.mu.Unlock()
	if n%2 == 0 {
		a, sa := storagerpc.SignSubAuth(m.key, m.tok, m.sig, storagerpc.RetrieveSigMsg(11, ts))
		return "retrieve", storagerpc.RetrieveParams{Pubkey: m.gid.String(), Namespace: 11, Timestamp: ts, Auth: a, SubAuth: sa}
	}
	a, sa := storagerpc.SignSubAuth(m.key, m.tok, m.sig, storagerpc.StoreSigMsg(11, ts))
	return "store", storagerpc.StoreParams{Pubkey: m.gid.String(), Namespace: 11, Timestamp: ts, TTL: time.Hour.Milliseconds(),
		Data: base64.StdEncoding.EncodeToString([]byte(fmt.Sprint("from a member ", n))), Auth: a, SubAuth: sa}
}

// revoke revokes the member's token through node k, signed by the group.
func (tn *testnet) revoke(k string, gkey ed25519.PrivateKey, m *member) {
	tn.t.Helper()
	ts := nowMS()
	p := storagerpc.RevokeParams{Pubkey: m.gid.String(), Revoke: []string{m.tok.String()}, Timestamp: ts,
		Auth: storagerpc.SignAuth(gkey, m.gid, storagerpc.RevokeSigMsg("revoke_subaccount", ts, []storagerpc.Token{m.tok}))}
	if resp := tn.call(k, "revoke_subaccount", p); resp.Code != 200 {
		tn.t.Fatalf("revoke: %d %s", resp.Code, resp.Body)
	}
}

// httpsCall sends a storage request to node k's HTTPS edge and returns
// the status and the body.
func (tn *testnet) httpsCall(hc *http.Client, k, method string, params any) (int, string) {
	tn.t.Helper()
	b, _ := json.Marshal(map[string]any{"method": method, "params": params})
	resp, err := hc.Post(tn.nodes[k].HTTPSURL()+"/storage_rpc/v1", "application/json", strings.NewReader(string(b)))
	if err != nil {
		tn.t.Fatalf("%s to %s over HTTPS: %v", method, k[:8], err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// probed counts the answers node k gave to a member's requests.
type probed struct {
	served   int            // 200: the request was carried out
	notReady int            // 503 while the node learned its swarm's revocations
	codes    map[string]int // "libp2p 401", "https 401", ...
}

// probe sends m's requests to node k over libp2p and HTTPS in turn, from
// now (the node just came back), until each transport has given `final`
// answers that are not 503, and counts them.
func (tn *testnet) probe(hc *http.Client, k string, m *member, final int) probed {
	tn.t.Helper()
	p := probed{codes: map[string]int{}}
	settled := map[string]int{}
	deadline := time.Now().Add(30 * time.Second)
	for settled["libp2p"] < final || settled["https"] < final {
		if time.Now().After(deadline) {
			tn.t.Fatalf("%s still not ready: %v", k[:8], p.codes)
		}
		for _, via := range []string{"libp2p", "https"} {
			method, params := m.request()
			var code int
			var body string
			if via == "libp2p" {
				resp := tn.call(k, method, params)
				code, body = resp.Code, string(resp.Body)
			} else {
				code, body = tn.httpsCall(hc, k, method, params)
			}
			p.codes[fmt.Sprint(via, " ", code)]++
			switch code {
			case 200:
				p.served++
				settled[via]++
			case storagerpc.StatusUnavailable:
				p.notReady++
			case storagerpc.StatusUnauthorized:
				if !strings.Contains(body, "revoked") {
					tn.t.Fatalf("%s %s over %s: 401 %s", method, k[:8], via, body)
				}
				settled[via]++
			default:
				tn.t.Fatalf("%s %s over %s: %d %s", method, k[:8], via, code, body)
			}
		}
	}
	return p
}

func insecureHTTPS(t *testing.T) *http.Client {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	t.Cleanup(hc.CloseIdleConnections)
	return hc
}

// TestKickedTokenRefusedByRestartedMembers: members of a group's swarm are
// down while a member is kicked (its token revoked). Each comes back, and
// the kicked member's reads and writes are sent to it at once, over libp2p
// and over HTTPS: not one is served (before it has its swarm's
// revocations it answers 503, then 401). Repair is off: only the sync at
// start can tell them. A member that was not kicked is served by each.
func TestKickedTokenRefusedByRestartedMembers(t *testing.T) {
	tn := startTestnet(t, 7, func(c *Config) { c.ForwardTimeout = time.Second; c.RepairInterval = -1 })
	hc := insecureHTTPS(t)
	gid, gkey := groupAccount(t)
	members := tn.swarmOf(gid)
	kicked, stays := newMember(t, gid, gkey), newMember(t, gid, gkey)
	for _, m := range []*member{kicked, stays} {
		method, params := m.request()
		if resp := tn.call(members[0], method, params); resp.Code != 200 {
			t.Fatalf("a member's %s before the kick: %d %s", method, resp.Code, resp.Body)
		}
	}
	down := members[1:4]
	for _, k := range down {
		tn.kill(k)
	}
	tn.revoke(members[0], gkey, kicked)

	total := probed{codes: map[string]int{}}
	for _, k := range down {
		tn.start(k)
		p := tn.probe(hc, k, kicked, 3)
		total.served += p.served
		total.notReady += p.notReady
		for c, x := range p.codes {
			total.codes[c] += x
		}
		for range 2 {
			method, params := stays.request()
			if resp := tn.call(k, method, params); resp.Code != 200 {
				t.Errorf("%s refused a member that was not kicked: %s %d %s", k[:8], method, resp.Code, resp.Body)
			}
		}
		method, params := stays.request()
		if code, body := tn.httpsCall(hc, k, method, params); code != 200 {
			t.Errorf("%s refused a member that was not kicked over HTTPS: %d %s", k[:8], code, body)
		}
	}
	t.Logf("answers to the kicked member: %v", total.codes)
	if total.served != 0 {
		t.Fatalf("restarted members served the kicked token %d times: %v", total.served, total.codes)
	}
	// The members that were up refuse it too.
	for _, k := range []string{members[0], members[4]} {
		if p := tn.probe(hc, k, kicked, 1); p.served != 0 || p.notReady != 0 {
			t.Fatalf("%s: %v", k[:8], p.codes)
		}
	}
}

// TestRevocationSyncWithPeersDown: a member whose swarm peers are all down
// does not refuse tokens forever: having asked every peer and reached none,
// it serves with the revocations it holds (it still refuses the one it was
// told of).
func TestRevocationSyncWithPeersDown(t *testing.T) {
	tn := startTestnet(t, 5, func(c *Config) { c.ForwardTimeout = time.Second; c.RepairInterval = -1 })
	hc := insecureHTTPS(t)
	gid, gkey := groupAccount(t)
	members := tn.swarmOf(gid)
	kicked, stays := newMember(t, gid, gkey), newMember(t, gid, gkey)
	tn.revoke(members[0], gkey, kicked)
	for _, k := range members {
		tn.kill(k)
	}
	alone := members[0]
	tn.start(alone)
	if p := tn.probe(hc, alone, kicked, 2); p.served != 0 {
		t.Fatalf("the kicked token served: %v", p.codes)
	}
	if p := tn.probe(hc, alone, stays, 2); p.served != 4 {
		t.Fatalf("a member that was not kicked: %v", p.codes)
	}
}

// TestRevocationSyncOnSwarmJoin: nodes that join a group's swarm when the
// swarms change (new nodes, and members of a swarm that split) learn the
// group's revocations before they serve its members, though the group has
// no message that a data move would carry them with.
func TestRevocationSyncOnSwarmJoin(t *testing.T) {
	tn := startTestnet(t, 7, func(c *Config) { c.ForwardTimeout = time.Second; c.RepairInterval = -1 })
	hc := insecureHTTPS(t)
	gid, gkey := groupAccount(t)
	kicked := newMember(t, gid, gkey)
	tn.revoke(tn.swarmOf(gid)[0], gkey, kicked)
	before := tn.swarmOf(gid)
	added := tn.add(7) // 14 nodes: a second swarm forms
	if len(tn.l.Swarms()) != 2 {
		t.Fatalf("%d swarms, want 2", len(tn.l.Swarms()))
	}
	joined := 0
	for _, k := range tn.swarmOf(gid) {
		if contains(added, k) {
			joined++
		}
		if p := tn.probe(hc, k, kicked, 2); p.served != 0 {
			t.Errorf("%s (new: %v) served the kicked token: %v", k[:8], contains(added, k), p.codes)
		}
	}
	if joined == 0 {
		t.Fatalf("no new node joined the group's swarm (%v before)", before)
	}
}

// TestRevocationSyncPages: a member holding more revocations than one page
// hands them all over, and the node that asks takes only those of accounts
// its swarm owns.
func TestRevocationSyncPages(t *testing.T) {
	tn := startTestnet(t, 2, func(c *Config) { c.RepairInterval = -1 })
	ctx := context.Background()
	a, b := tn.order[0], tn.order[1]
	var want int
	for i := range revSyncPage/maxRevoked + 2 {
		gid, _ := groupAccount(t)
		var toks []storagerpc.Token
		for j := range maxRevoked {
			toks = append(toks, storagerpc.NewToken(byte(identity.PrefixGroup), storagerpc.FlagRead, seedKey(fmt.Sprint("holder-", i, "-", j)).Public().(ed25519.PublicKey)))
		}
		if _, err := tn.nodes[a].store.revoke(ctx, gid.String(), toks, nowMS(), maxRevoked); err != nil {
			t.Fatal(err)
		}
		want += len(toks)
	}
	nb := tn.nodes[b]
	v := nb.view.Load()
	if v.mine == chain.UnassignedSwarm || tn.nodes[a].Swarm() != v.mine {
		t.Fatalf("the two nodes are not one swarm")
	}
	got, err := nb.pullRevocations(ctx, v, a)
	if err != nil || got != want {
		t.Fatalf("pulled %d revocations (%v), want %d", got, err, want)
	}
	if again, err := nb.pullRevocations(ctx, v, a); err != nil || again != 0 {
		t.Fatalf("a second pull changed %d (%v)", again, err)
	}
	// A swarm that owns none of them is sent none.
	var res revSyncResult
	if err := nb.swarmCall(ctx, v, a, "revocations", revSyncParams{Swarm: v.mine + 1}, &res); err != nil || len(res.Revocations) != 0 {
		t.Fatalf("another swarm's page: %d rows, %v", len(res.Revocations), err)
	}
	// An asker whose view of the swarms is newer is told to come back.
	err = nb.swarmCall(ctx, v, a, "revocations", revSyncParams{Swarm: v.mine, SwarmsHeight: v.swarmsHeight + 1}, &res)
	if se, ok := err.(*storagerpc.Error); !ok || se.Code != storagerpc.StatusUnavailable {
		t.Fatalf("an asker ahead: %v, want 503", err)
	}
}

// TestReplicaWhileSyncing: a member still learning its swarm's
// revocations refuses a member's token from a client (503), but stores
// what a synced peer forwards: the peer checked the token, and the
// message is not missing from that replica until repair.
func TestReplicaWhileSyncing(t *testing.T) {
	tn := startTestnet(t, 5, func(c *Config) { c.ForwardTimeout = time.Second; c.RepairInterval = -1 })
	gid, gkey := groupAccount(t)
	members := tn.swarmOf(gid)
	entry, syncing := members[0], members[1]
	nd := tn.nodes[syncing]
	nd.revs.Store(&revSync{swarm: nd.view.Load().mine}) // as after a restart
	m := newMember(t, gid, gkey)                        // its odd requests are stores
	method, params := m.request()
	if resp := tn.call(syncing, method, params); resp.Code != storagerpc.StatusUnavailable {
		t.Fatalf("a member's store at a syncing node: %d %s", resp.Code, resp.Body)
	}
	m.sent = 2
	method, params = m.request()
	resp := tn.call(entry, method, params)
	var res storagerpc.SwarmResults
	if err := resp.Decode(&res); err != nil {
		t.Fatal(err)
	}
	if r := res.Swarm[syncing]; r.Failed {
		t.Fatalf("the syncing replica refused the forwarded store: %+v", r)
	}
	// What a revoked token asks, a syncing replica refuses even forwarded,
	// when it knows the revocation (the entry node did not).
	kicked := newMember(t, gid, gkey)
	if _, e := nd.mergeOwned(context.Background(), nd.view.Load(), []revocation{{Owner: gid.String(), Token: kicked.tok.String(), Added: nowMS(), Revoked: true}}); e != nil {
		t.Fatal(e)
	}
	method, params = kicked.request()
	resp = tn.call(entry, method, params)
	if err := resp.Decode(&res); err != nil {
		t.Fatal(err)
	}
	if r := res.Swarm[syncing]; !r.Failed {
		t.Fatalf("a replica stored for a token it knows is revoked: %+v", r)
	}
}
