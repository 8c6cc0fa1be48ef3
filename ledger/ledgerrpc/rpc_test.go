package ledgerrpc

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/ledger"
	"golang.org/x/crypto/blake2b"
)

func key(label string) (ed25519.PrivateKey, string) {
	s := blake2b.Sum256([]byte(label))
	k := ed25519.NewKeyFromSeed(s[:])
	return k, hex.EncodeToString(k.Public().(ed25519.PublicKey))
}

func start(t *testing.T, blockTime time.Duration) (*ledger.Ledger, *Server) {
	t.Helper()
	_, op := key("op")
	_, alice := key("alice")
	l, err := ledger.New(ledger.Config{
		Path: filepath.Join(t.TempDir(), "ledger.db"), Seed: "rpc", BlockTime: blockTime,
		Genesis: []ledger.Allocation{{Wallet: op, Amount: 200_000 * chain.Coin}, {Wallet: alice, Amount: 100 * chain.Coin}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(ServerConfig{Ledger: l, Token: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Close()
		srv.Close()
		l.Close()
	})
	return l, srv
}

func TestRPC(t *testing.T) {
	ctx := context.Background()
	_, srv := start(t, 0)
	c := NewClient(srv.URL(), "secret")
	opPriv, op := key("op")

	// Register 12 nodes through the RPC; two swarms form.
	acct, err := c.Account(ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		nodePriv, nodeKey := key(fmt.Sprint("node", i))
		tx, _ := chain.NewTx(chain.TxRegister, opPriv, acct.NextNonce+uint64(i), chain.RegisterBody{NodeKey: nodeKey, Amount: 15_000 * chain.Coin, FeeBPS: 500})
		tx.SignAsNode(nodePriv)
		if _, err := c.Submit(ctx, tx); err != nil {
			t.Fatal(err)
		}
	}
	blocks, err := c.Mine(ctx, 2)
	if err != nil || len(blocks) != 2 || len(blocks[0].Txs) != 12 {
		t.Fatalf("mine: %d blocks, %v", len(blocks), err)
	}
	swarms, height, err := c.Swarms(ctx)
	if err != nil || len(swarms) != 2 || height != blocks[0].Height {
		t.Fatalf("swarms %v at %d, %v", swarms, height, err)
	}
	nodes, err := c.Nodes(ctx)
	if err != nil || len(nodes) != 12 || nodes[0].State != chain.StateActive || nodes[0].X25519 == "" {
		t.Fatalf("nodes: %v", err)
	}
	n, err := c.Node(ctx, nodes[3].Key)
	if err != nil || n.Key != nodes[3].Key {
		t.Fatalf("node: %+v, %v", n, err)
	}
	if _, err := c.Node(ctx, strings.Repeat("ab", 32)); !IsCode(err, CodeNotFound) {
		t.Fatalf("unknown node: %v", err)
	}
	acc, _ := identity.NewAccount(rand.Reader)
	sw, err := c.SwarmOf(ctx, acc.AccountID())
	if err != nil || len(sw.Members) < 5 || sw.ID != chain.SwarmFor([]uint64{swarms[0].ID, swarms[1].ID}, acc.AccountID().SwarmSpace()) {
		t.Fatalf("swarm of: %+v, %v", sw, err)
	}
	b, err := c.Block(ctx, 1)
	if err != nil || b.Height != 1 || b.Hash != blocks[0].Hash {
		t.Fatalf("block: %+v, %v", b, err)
	}
	if _, err := c.Block(ctx, 999); !IsCode(err, CodeNotFound) {
		t.Fatalf("missing block: %v", err)
	}

	// A name, registered and resolved.
	alicePriv, alice := key("alice")
	value, _ := ledger.EncryptName("alice", acc.AccountID(), rand.Reader)
	tx, _ := chain.NewTx(chain.TxName, alicePriv, 0, chain.NameBody{NameHash: ledger.NameHash("alice"), Value: hex.EncodeToString(value)})
	hash, err := c.Submit(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(20 * time.Millisecond); c.Mine(ctx, 1) }()
	if h, err := c.WaitTx(ctx, hash); err != nil || h != 3 {
		t.Fatalf("wait tx: %d, %v", h, err)
	}
	rec, err := c.Name(ctx, ledger.NameHash("alice"))
	if err != nil || rec.Owner != alice {
		t.Fatalf("name: %+v, %v", rec, err)
	}
	if _, err := c.Name(ctx, ledger.NameHash("bob")); !IsCode(err, CodeNotFound) {
		t.Fatalf("unknown name: %v", err)
	}

	// The seed, as real clients call it (JSON-RPC 2.0 at /json_rpc).
	seed := func(body string) map[string]any {
		t.Helper()
		resp, err := http.Post(srv.URL()+"/json_rpc", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out["jsonrpc"] != "2.0" {
			t.Fatalf("seed answer %v, %v", out, err)
		}
		return out
	}
	res := seed(`{"jsonrpc":"2.0","id":7,"method":"get_n_service_nodes","params":{"limit":3,"active_only":true,"fields":{"pubkey_ed25519":true,"public_ip":true,"swarm_id":true}}}`)
	states := res["result"].(map[string]any)["service_node_states"].([]any)
	if len(states) != 3 || res["id"] != 7.0 {
		t.Fatalf("get_n_service_nodes: %v", res)
	}
	for _, st := range states {
		m := st.(map[string]any)
		if len(m) != 3 || m["public_ip"] != "0.0.0.0" || len(m["pubkey_ed25519"].(string)) != 64 {
			t.Fatalf("a node state: %v (no HTTPS edge published: 0.0.0.0)", m)
		}
	}
	res = seed(`{"jsonrpc":"2.0","id":1,"method":"get_service_nodes","params":{"fields":["pubkey_x25519"]}}`)
	if n := len(res["result"].(map[string]any)["service_node_states"].([]any)); n != 12 {
		t.Fatalf("get_service_nodes: %d nodes", n)
	}
	if res := seed(`{"jsonrpc":"2.0","id":1,"method":"get_info"}`); res["result"].(map[string]any)["height"] != 3.0 {
		t.Fatalf("get_info: %v", res)
	}
	res = seed(`{"jsonrpc":"2.0","id":1,"method":"ons_resolve","params":{"type":0,"name_hash":"` + ledger.NameHash("alice") + `"}}`)
	r := res["result"].(map[string]any)
	ct, _ := hex.DecodeString(r["encrypted_value"].(string))
	nonce, _ := hex.DecodeString(r["nonce"].(string))
	if id, err := ledger.DecryptName("alice", append(ct, nonce...)); err != nil || id != acc.AccountID() {
		t.Fatalf("ons_resolve: %v, %v", res, err)
	}
	if res := seed(`{"jsonrpc":"2.0","id":1,"method":"mine"}`); res["error"].(map[string]any)["code"] != -32601.0 {
		t.Fatalf("an unknown method: %v", res)
	}
	if res := seed(`{not json`); res["error"].(map[string]any)["code"] != -32700.0 {
		t.Fatalf("not JSON: %v", res)
	}

	// Rejections: the same transaction again (nonce), a forged one.
	if _, err := c.Submit(ctx, tx); !IsCode(err, CodeRejected) {
		t.Fatalf("replayed tx: %v", err)
	}
	forged := *tx
	forged.Nonce = 1
	if _, err := c.Submit(ctx, &forged); !IsCode(err, CodeBadRequest) {
		t.Fatalf("forged tx: %v", err)
	}

	// The token guards mine and state changes.
	anon := NewClient(srv.URL(), "")
	if _, err := anon.Mine(ctx, 1); !IsCode(err, CodeUnauthorized) {
		t.Fatalf("mine without token: %v", err)
	}
	if _, err := NewClient(srv.URL(), "wrong").ChangeState(ctx, nodes[0].Key, chain.StateDecommissioned, ""); !IsCode(err, CodeUnauthorized) {
		t.Fatalf("state change with a wrong token: %v", err)
	}
	if _, err := c.ChangeState(ctx, nodes[0].Key, chain.StateDecommissioned, "rpc test"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ChangeState(ctx, "nothex", chain.StateDecommissioned, ""); !IsCode(err, CodeBadRequest) {
		t.Fatalf("state change of a malformed key: %v", err)
	}
	c.Mine(ctx, 1)
	if n, _ := c.Node(ctx, nodes[0].Key); n.State != chain.StateDecommissioned {
		t.Fatalf("node state %s", n.State)
	}
}

func TestRPCBadRequests(t *testing.T) {
	_, srv := start(t, 0)
	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/v1/txs", "not json", 400},
		{"POST", "/v1/txs", `{"type":"transfer"}`, 400},
		{"POST", "/v1/txs", strings.Repeat("x", chain.MaxTxSize+1), 413},
		{"POST", "/v1/mine", `{"blocks": 0}`, 401},
		{"GET", "/v1/accounts/xyz", "", 400},
		{"GET", "/v1/swarm_of/0612", "", 400},
		{"GET", "/v1/info?wait_height=abc", "", 400},
		{"GET", "/v1/blocks/-1", "", 400},
		{"GET", "/v1/nope", "", 404},
		{"DELETE", "/v1/txs", "", 404},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL()+tc.path, strings.NewReader(tc.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status && !(tc.path == "/v1/nope" || tc.method == "DELETE") {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
		if (tc.path == "/v1/nope" || tc.method == "DELETE") && resp.StatusCode < 400 {
			t.Errorf("%s %s: status %d", tc.method, tc.path, resp.StatusCode)
		}
	}
	c := NewClient(srv.URL(), "secret")
	if _, err := c.Mine(context.Background(), 0); !IsCode(err, CodeBadRequest) {
		t.Fatalf("mine 0: %v", err)
	}
}

func TestRPCWaitHeightAndUnreachable(t *testing.T) {
	ctx := context.Background()
	_, srv := start(t, 20*time.Millisecond)
	c := NewClient(srv.URL(), "")
	info, err := c.WaitHeight(ctx, 3)
	if err != nil || info.Height < 3 {
		t.Fatalf("wait: %+v, %v", info, err)
	}
	url := srv.URL()
	srv.Close()
	if _, err := NewClient(url, "").Info(ctx); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("closed server: %v", err)
	}
}
