package devnet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/ledger"
	"github.com/sessionctl/sessionctl/onion"
	"github.com/sessionctl/sessionctl/sessionpb"
	"golang.org/x/crypto/nacl/box"
	"google.golang.org/protobuf/proto"
)

// edgeClient is a Session client that knows only the real client edge: the
// seed's JSON-RPC, the nodes' HTTPS storage RPC and /onion_req/v2, and the
// message format (SPEC 6, 11). It does not use package client: it is built
// from the protocol, as a real app is, and talks to the devnet as one would.
type edgeClient struct {
	t     *testing.T
	keys  *identity.Keys
	seed  string
	http  *http.Client
	nodes []edgeNode
}

type edgeNode struct {
	IP      string `json:"public_ip"`
	Port    int    `json:"storage_port"`
	Ed25519 string `json:"pubkey_ed25519"`
	X25519  string `json:"pubkey_x25519"`
}

func (n edgeNode) url(path string) string { return fmt.Sprintf("https://%s:%d%s", n.IP, n.Port, path) }

func (n edgeNode) hop(t *testing.T) onion.Hop {
	x, err := hex.DecodeString(n.X25519)
	if err != nil || len(x) != 32 {
		t.Fatalf("node %s: x25519 %q", n.Ed25519, n.X25519)
	}
	return onion.Hop{Ed25519: n.Ed25519, X25519: [32]byte(x)}
}

func newEdgeClient(t *testing.T, seed string) *edgeClient {
	// Real clients do not verify the nodes' self-signed certificates.
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	t.Cleanup(hc.CloseIdleConnections)
	return newEdgeClientWith(t, seed, hc)
}

// newEdgeClientWith is newEdgeClient over hc (a proxy's, for instance).
func newEdgeClientWith(t *testing.T, seed string, hc *http.Client) *edgeClient {
	k, err := identity.NewAccount(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &edgeClient{t: t, keys: k, seed: seed, http: hc}
	var res struct {
		Result struct {
			States []edgeNode `json:"service_node_states"`
		} `json:"result"`
	}
	c.post(seed+"/json_rpc", map[string]any{"jsonrpc": "2.0", "id": 1, "method": "get_n_service_nodes",
		"params": map[string]any{"active_only": true, "fields": map[string]bool{"public_ip": true, "storage_port": true, "pubkey_ed25519": true, "pubkey_x25519": true}}}, &res)
	for _, n := range res.Result.States {
		if n.IP != "0.0.0.0" {
			c.nodes = append(c.nodes, n)
		}
	}
	if len(c.nodes) < 4 {
		t.Fatalf("the seed lists %d nodes with an HTTPS edge: %+v", len(c.nodes), res.Result.States)
	}
	return c
}

// post sends a JSON body and decodes a 200 answer into out.
func (c *edgeClient) post(url string, body, out any) {
	c.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := c.http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		c.t.Fatalf("POST %s: %d %s", url, resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		c.t.Fatalf("POST %s: %v in %s", url, err, data)
	}
}

// storage calls a storage method on a node's HTTPS edge.
func (c *edgeClient) storage(n edgeNode, method string, params, out any) {
	c.t.Helper()
	c.post(n.url("/storage_rpc/v1"), map[string]any{"method": method, "params": params}, out)
}

// swarm asks any node for an account's swarm. It reads the snodes as the
// apps do: Session iOS decodes every field below as required, port_omq as
// an integer (session-storage-server's swarm_to_json gives them all).
func (c *edgeClient) swarm(account string) []edgeNode {
	var res struct {
		SNodes []struct {
			Address      *string `json:"address"`
			IP           string  `json:"ip"`
			Port         string  `json:"port"`
			PortHTTPS    *int    `json:"port_https"`
			PortOMQ      *int    `json:"port_omq"`
			Ed25519      string  `json:"pubkey_ed25519"`
			X25519       string  `json:"pubkey_x25519"`
			PubkeyLegacy *string `json:"pubkey_legacy"`
		} `json:"snodes"`
		T  int64 `json:"t"`
		HF []int `json:"hf"`
	}
	c.storage(c.nodes[0], "get_swarm", map[string]string{"pubkey": account}, &res)
	if len(res.HF) != 2 || time.Since(time.UnixMilli(res.T)).Abs() > time.Minute {
		c.t.Fatalf("get_swarm without the node's clock and hard fork: t %d, hf %v", res.T, res.HF)
	}
	var out []edgeNode
	for _, s := range res.SNodes {
		if s.Address == nil || s.PortHTTPS == nil || s.PortOMQ == nil || s.PubkeyLegacy == nil || fmt.Sprint(*s.PortHTTPS) != s.Port {
			c.t.Fatalf("get_swarm snode %+v lacks a field the apps require", s)
		}
		out = append(out, edgeNode{IP: s.IP, Port: *s.PortHTTPS, Ed25519: s.Ed25519, X25519: s.X25519})
	}
	if len(out) == 0 {
		c.t.Fatalf("no swarm for %s", account)
	}
	return out
}

// seal makes what a Session client stores for a message to recipient:
// a padded protobuf Content, signed and sealed (SPEC 6), in an Envelope in
// a WebSocket request, base64.
func (c *edgeClient) seal(recipient identity.AccountID, text string, sentAt int64) string {
	content, err := proto.Marshal(&sessionpb.Content{DataMessage: &sessionpb.DataMessage{Body: proto.String(text), Timestamp: proto.Uint64(uint64(sentAt))}})
	if err != nil {
		c.t.Fatal(err)
	}
	plain := sessionpb.Pad(content)
	edPub := c.keys.Ed25519Public()
	sig := ed25519.Sign(c.keys.Ed25519, append(append(bytes.Clone(plain), edPub...), recipient.Key[:]...))
	sealed, err := box.SealAnonymous(nil, append(append(plain, edPub...), sig...), &recipient.Key, rand.Reader)
	if err != nil {
		c.t.Fatal(err)
	}
	wrapped, err := sessionpb.Wrap(sealed, uint64(sentAt))
	if err != nil {
		c.t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(wrapped)
}

// open reads a stored message sent to this client: its text and sender.
func (c *edgeClient) open(data string) (text string, from identity.AccountID) {
	c.t.Helper()
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		c.t.Fatal(err)
	}
	env, err := sessionpb.Unwrap(raw)
	if err != nil {
		c.t.Fatal(err)
	}
	inner, ok := box.OpenAnonymous(nil, env.Content, &c.keys.X25519Public, &c.keys.X25519Private)
	if !ok || len(inner) < 96 {
		c.t.Fatal("the sealed box does not open")
	}
	plain, senderEd, sig := inner[:len(inner)-96], inner[len(inner)-96:len(inner)-64], inner[len(inner)-64:]
	if !ed25519.Verify(senderEd, append(append(bytes.Clone(plain), senderEd...), c.keys.X25519Public[:]...), sig) {
		c.t.Fatal("the sender's signature does not verify")
	}
	var content sessionpb.Content
	if err := proto.Unmarshal(sessionpb.Unpad(plain), &content); err != nil {
		c.t.Fatal(err)
	}
	x, err := identity.Ed25519ToX25519(senderEd)
	if err != nil {
		c.t.Fatal(err)
	}
	return content.GetDataMessage().GetBody(), identity.AccountID{Prefix: identity.PrefixSession, Key: x}
}

// onionRetrieve retrieves this client's messages from a member of its swarm
// through a 3-hop onion request entering at the guard's /onion_req/v2.
func (c *edgeClient) onionRetrieve(ctx context.Context) []string {
	c.t.Helper()
	me := c.keys.AccountID()
	dest := c.swarm(me.String())[0]
	var path []onion.Hop
	for _, n := range c.nodes {
		if n.Ed25519 != dest.Ed25519 && len(path) < 3 {
			path = append(path, n.hop(c.t))
		}
	}
	ts := time.Now().UnixMilli()
	sig := ed25519.Sign(c.keys.Ed25519, fmt.Appendf(nil, "retrieve%d", ts))
	req, _ := json.Marshal(map[string]any{"method": "retrieve", "params": map[string]any{
		"pubkey": me.String(), "pubkey_ed25519": hex.EncodeToString(c.keys.Ed25519Public()), "timestamp": ts,
		"signature": base64.StdEncoding.EncodeToString(sig), "lastHash": ""}})
	layer, key, err := onion.Build(rand.Reader, path, dest.hop(c.t), req, onion.XChaCha20)
	if err != nil {
		c.t.Fatal(err)
	}
	var guard edgeNode
	for _, n := range c.nodes {
		if n.Ed25519 == path[0].Ed25519 {
			guard = n
		}
	}
	hr, _ := http.NewRequestWithContext(ctx, "POST", guard.url("/onion_req/v2"), bytes.NewReader(layer))
	resp, err := c.http.Do(hr)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		c.t.Fatalf("onion request: %d %s", resp.StatusCode, body)
	}
	plain, err := key.OpenReply(body)
	if err != nil {
		c.t.Fatal(err)
	}
	var ans struct {
		Status int `json:"status"`
		Body   struct {
			Messages []struct {
				Data string `json:"data"`
			} `json:"messages"`
		} `json:"body"`
	}
	if err := json.Unmarshal(plain, &ans); err != nil || ans.Status != 200 {
		c.t.Fatalf("the destination answered %s (%v)", plain, err)
	}
	var out []string
	for _, m := range ans.Body.Messages {
		out = append(out, m.Data)
	}
	return out
}

// TestClientEdge: a client that speaks only the real client edge and
// sessionctl's own client exchange messages both ways through the devnet.
func TestClientEdge(t *testing.T) {
	nw := StartT(t, Config{Nodes: 9})
	ctx := context.Background()
	edge := newEdgeClient(t, nw.LedgerURL())
	bobK := ClientKeys("edge", "bob")
	bob := clientT(t, nw.LedgerURL(), client.Config{Keys: bobK})

	// Through a node, the chain queries clients make (oxend_request).
	var ox struct {
		Result struct {
			States []map[string]any `json:"service_node_states"`
		} `json:"result"`
	}
	edge.storage(edge.nodes[0], "oxend_request", map[string]any{"endpoint": "get_service_nodes",
		"params": map[string]any{"fields": []string{"pubkey_ed25519"}}}, &ox)
	if len(ox.Result.States) != 9 || len(ox.Result.States[0]) != 1 {
		t.Fatalf("oxend_request get_service_nodes: %+v", ox)
	}
	var ons struct {
		Result map[string]any `json:"result"`
		T      int64          `json:"t"`
	}
	edge.storage(edge.nodes[0], "oxend_request", map[string]any{"endpoint": "ons_resolve",
		"params": map[string]any{"type": 0, "name_hash": ledger.NameHash("nobody")}}, &ons)
	if ons.Result == nil || len(ons.Result) != 0 || ons.T == 0 {
		t.Fatalf("ons_resolve of an unknown name: %+v", ons)
	}

	// edge → bob: an unsigned store to namespace 0 on every member of bob's
	// swarm, over HTTPS, as apps send.
	data := edge.seal(bobK.AccountID(), "hello from a real client", time.Now().UnixMilli())
	for _, n := range edge.swarm(bobK.AccountID().String()) {
		var res map[string]any
		edge.storage(n, "store", map[string]any{"pubkey": bobK.AccountID().String(), "timestamp": time.Now().UnixMilli(),
			"ttl": 3_600_000, "data": data}, &res)
	}
	msgs, rejected, err := bob.Fetch(ctx)
	if err != nil || len(rejected) != 0 || len(msgs) != 1 {
		t.Fatalf("bob fetched %+v, rejected %+v, %v", msgs, rejected, err)
	}
	if msgs[0].Text != "hello from a real client" || msgs[0].From != edge.keys.AccountID().String() {
		t.Fatalf("bob got %+v", msgs[0])
	}

	// bob → edge: sessionctl's client sends; the edge client retrieves it
	// through an onion request that enters at a node's HTTPS edge.
	if _, err := bob.Send(ctx, edge.keys.AccountID(), "and back from sessionctl"); err != nil {
		t.Fatal(err)
	}
	got := edge.onionRetrieve(ctx)
	if len(got) != 1 {
		t.Fatalf("the edge client retrieved %d messages", len(got))
	}
	if text, from := edge.open(got[0]); text != "and back from sessionctl" || from != bobK.AccountID() {
		t.Fatalf("the edge client read %q from %s", text, from)
	}
}
