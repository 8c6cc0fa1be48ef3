package node

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/p2phost"
	"github.com/sessionctl/sessionctl/ledger"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
	"github.com/sessionctl/sessionctl/storagerpc"
	"golang.org/x/crypto/blake2b"
)

// testnet is an in-process network for the node tests: a ledger with its
// RPC, service nodes registered by one operator, and a client host.
//
// It is the node-level kit, the one helper of every node test that needs a
// network, in the shape of devnettest's: startTestnet(t, n, hook) starts n
// nodes (hook adjusts each node's Config, at every start), kill and start
// stop a node as a crash would and bring it back, call is the client.
// These tests cannot use devnettest or devnet: package devnet imports
// node, so node's tests importing it would be an import cycle; and they
// look inside the nodes (views, stores, revocation sync), which only
// tests in package node can.
type testnet struct {
	t      testing.TB
	ctx    context.Context
	dir    string
	l      *ledger.Ledger
	lc     *ledgerrpc.Client
	op     ed25519.PrivateKey
	keys   map[string]ed25519.PrivateKey // node key hex -> private key
	nodes  map[string]*Node              // running nodes by key
	order  []string                      // keys in registration order
	client host.Host
	cfg    func(*Config)
}

func seedKey(label string) ed25519.PrivateKey {
	s := blake2b.Sum256([]byte(label))
	return ed25519.NewKeyFromSeed(s[:])
}

func pubHex(k ed25519.PrivateKey) string { return hex.EncodeToString(k.Public().(ed25519.PublicKey)) }

// startTestnet starts a ledger and n registered, running nodes.
func startTestnet(t testing.TB, n int, tweak func(*Config)) *testnet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	op := seedKey("operator")
	dir := t.TempDir()
	l, err := ledger.New(ledger.Config{
		Path: filepath.Join(dir, "ledger.db"), Seed: "node-tests",
		Genesis: []ledger.Allocation{{Wallet: pubHex(op), Amount: 10_000 * 15_000 * chain.Coin}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv, err := ledgerrpc.NewServer(ledgerrpc.ServerConfig{Ledger: l})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	client, err := p2phost.New(seedKey("client"), nil)
	if err != nil {
		t.Fatal(err)
	}
	tn := &testnet{t: t, ctx: ctx, dir: dir, l: l, lc: ledgerrpc.NewClient(srv.URL(), ""), op: op,
		keys: map[string]ed25519.PrivateKey{}, nodes: map[string]*Node{}, client: client, cfg: tweak}
	t.Cleanup(func() {
		client.Close()
		for _, nd := range tn.nodes {
			nd.Close()
		}
		srv.Close()
		l.Close()
	})
	tn.add(n)
	return tn
}

// add registers and starts k more nodes, and waits until every node sees
// them with their addresses.
func (tn *testnet) add(k int) []string {
	tn.t.Helper()
	var added []string
	for i := 0; i < k; i++ {
		key := seedKey(fmt.Sprint("node-", len(tn.order)))
		h := pubHex(key)
		a, _ := tn.l.Account(pubHex(tn.op))
		tx, err := chain.NewTx(chain.TxRegister, tn.op, a.NextNonce, chain.RegisterBody{NodeKey: h, Amount: 15_000 * chain.Coin})
		if err != nil {
			tn.t.Fatal(err)
		}
		tx.SignAsNode(key)
		if _, err := tn.l.Submit(tx); err != nil {
			tn.t.Fatal(err)
		}
		tn.keys[h] = key
		tn.order = append(tn.order, h)
		added = append(added, h)
	}
	for _, h := range added {
		tn.start(h)
	}
	tn.mine(1) // registrations: swarms change
	tn.settle()
	return added
}

// start starts the node with key h (again, after kill).
func (tn *testnet) start(h string) {
	tn.t.Helper()
	cfg := Config{Key: tn.keys[h], DataDir: filepath.Join(tn.dir, h[:12]), Ledger: tn.lc, Logger: testLogger()}
	if tn.cfg != nil {
		tn.cfg(&cfg)
	}
	nd, err := New(cfg)
	if err != nil {
		tn.t.Fatal(err)
	}
	if err := nd.Start(tn.ctx); err != nil {
		tn.t.Fatal(err)
	}
	tn.nodes[h] = nd
}

// kill closes a node as a crash would stop it (it stays registered, its
// data kept).
func (tn *testnet) kill(h string) {
	tn.nodes[h].Close()
	delete(tn.nodes, h)
}

// mine makes k blocks and waits until every running node has seen them.
func (tn *testnet) mine(k int) {
	tn.t.Helper()
	if _, err := tn.l.Mine(tn.ctx, k); err != nil {
		tn.t.Fatal(err)
	}
	tn.waitViews()
}

func (tn *testnet) waitViews() {
	tn.t.Helper()
	h := tn.l.Info().Height
	ctx, cancel := context.WithTimeout(tn.ctx, 30*time.Second)
	defer cancel()
	for _, nd := range tn.nodes {
		if err := nd.WaitView(ctx, h); err != nil {
			tn.t.Fatalf("node %s did not reach height %d: %v", nd.Key()[:8], h, err)
		}
	}
	// A node in a swarm serves subaccount requests once it has learned its
	// swarm's revocations (revsync.go): tests that use tokens start then.
	for _, nd := range tn.nodes {
		tn.waitSynced(ctx, nd)
	}
}

// waitSynced waits until nd, if it is in a swarm, has synced its swarm's
// revocations.
func (tn *testnet) waitSynced(ctx context.Context, nd *Node) {
	tn.t.Helper()
	for nd.Swarm() == chain.UnassignedSwarm || nd.revocationsSynced() != nil {
		if v := nd.view.Load(); v != nil && v.mine == chain.UnassignedSwarm {
			return
		}
		select {
		case <-ctx.Done():
			tn.t.Fatalf("node %s did not sync its swarm's revocations", nd.Key()[:8])
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// settle mines until every active node's address is on the ledger and seen
// by every running node.
func (tn *testnet) settle() {
	tn.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		tn.mine(1)
		if tn.addressesKnown() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	tn.t.Fatal("node addresses did not settle")
}

func (tn *testnet) addressesKnown() bool {
	for _, nd := range tn.nodes {
		v := nd.view.Load()
		if v == nil {
			return false
		}
		for h, other := range tn.nodes {
			sn, ok := v.nodes[h]
			if !ok || sn.PeerID != other.PeerID().String() || len(sn.Addrs) == 0 {
				return false
			}
		}
	}
	return true
}

// connectClient puts a node's addresses in the client's peerstore.
func (tn *testnet) peer(h string) peer.ID {
	nd := tn.nodes[h]
	tn.client.Peerstore().AddAddrs(nd.PeerID(), nd.Host().Addrs(), time.Hour)
	return nd.PeerID()
}

// call sends a storage request from the client host to node h.
func (tn *testnet) call(h, method string, params any) *storagerpc.Response {
	tn.t.Helper()
	ctx, cancel := context.WithTimeout(tn.ctx, 20*time.Second)
	defer cancel()
	resp, err := storagerpc.Call(ctx, tn.client, tn.peer(h), storagerpc.ProtocolStorage, method, params)
	if err != nil {
		tn.t.Fatalf("%s to %s: %v", method, h[:8], err)
	}
	return resp
}

// swarmOf returns the members of the swarm that owns id, per the ledger.
func (tn *testnet) swarmOf(id identity.AccountID) []string {
	return tn.l.SwarmOf(id).Members
}

// notIn returns a running node outside the given members.
func (tn *testnet) notIn(members []string) string {
	for _, h := range tn.order {
		if _, ok := tn.nodes[h]; ok && !contains(members, h) {
			return h
		}
	}
	tn.t.Fatal("every node is in that swarm")
	return ""
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// account is a Session account for tests.
type account struct {
	keys *identity.Keys
	id   identity.AccountID
}

func newAccount(t testing.TB) account {
	k, err := identity.NewAccount(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return account{keys: k, id: k.AccountID()}
}

func nowMS() int64 { return time.Now().UnixMilli() }

func (a account) store(ns storagerpc.Namespace, data []byte, signed bool) storagerpc.StoreParams {
	p := storagerpc.StoreParams{Pubkey: a.id.String(), Timestamp: nowMS(), TTL: time.Hour.Milliseconds(),
		Data: base64.StdEncoding.EncodeToString(data), Namespace: ns}
	if signed {
		p.Auth = storagerpc.SignAuth(a.keys.Ed25519, a.id, storagerpc.StoreSigMsg(ns, p.Timestamp))
	}
	return p
}

func (a account) retrieve(ns storagerpc.Namespace, lastHash string) storagerpc.RetrieveParams {
	// A fresh timestamp per call keeps signatures unique (replays are refused).
	time.Sleep(time.Millisecond)
	p := storagerpc.RetrieveParams{Pubkey: a.id.String(), Namespace: ns, LastHash: lastHash, Timestamp: nowMS()}
	p.Auth = storagerpc.SignAuth(a.keys.Ed25519, a.id, storagerpc.RetrieveSigMsg(ns, p.Timestamp))
	return p
}

// messages retrieves every message of ns from node h.
func (tn *testnet) messages(h string, a account, ns storagerpc.Namespace) []storagerpc.Message {
	tn.t.Helper()
	var out storagerpc.RetrieveResult
	if err := tn.call(h, "retrieve", a.retrieve(ns, "")).Decode(&out); err != nil {
		tn.t.Fatalf("retrieve from %s: %v", h[:8], err)
	}
	return out.Messages
}
