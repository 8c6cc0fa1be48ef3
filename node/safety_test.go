package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/onion"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// downLedger never answers: a node on it never loads its view.
type downLedger struct{}

var errDown = errors.New("ledger down")

func (downLedger) Info(context.Context) (chain.Info, error) { return chain.Info{}, errDown }
func (downLedger) WaitHeight(context.Context, uint64) (chain.Info, error) {
	return chain.Info{}, errDown
}
func (downLedger) Nodes(context.Context) ([]chain.ServiceNode, error) { return nil, errDown }
func (downLedger) Node(context.Context, string) (chain.ServiceNode, error) {
	return chain.ServiceNode{}, errDown
}
func (downLedger) RoundAt(context.Context, uint64) (chain.Round, error) {
	return chain.Round{}, errDown
}
func (downLedger) Account(context.Context, string) (chain.Account, error) {
	return chain.Account{}, errDown
}
func (downLedger) Submit(context.Context, *chain.Tx) (string, error) { return "", errDown }

// TestSafeBeforeReady: a node that has not loaded the network yet answers
// every protocol with a refusal, and never crashes: an onion request naming
// a next hop once took down every node of the process.
func TestSafeBeforeReady(t *testing.T) {
	ctx := context.Background()
	n, err := New(Config{Key: seedKey("unready"), DataDir: t.TempDir(), Ledger: downLedger{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	tn := startTestnet(t, 1, nil) // only for its client host
	tn.client.Peerstore().AddAddrs(n.PeerID(), n.Host().Addrs(), time.Hour)
	a := newAccount(t)
	resp, err := storagerpc.Call(ctx, tn.client, n.PeerID(), storagerpc.ProtocolStorage, "store", a.store(0, []byte("x"), false))
	if err != nil || resp.Code != storagerpc.StatusUnavailable {
		t.Fatalf("storage rpc before ready: %v %v", resp, err)
	}
	resp, err = storagerpc.Call(ctx, tn.client, n.PeerID(), storagerpc.ProtocolSwarm, "push", pushParams{})
	if err != nil || resp.Code != storagerpc.StatusUnavailable {
		t.Fatalf("swarm protocol before ready: %v %v", resp, err)
	}
	me := onion.Hop{Ed25519: n.Key(), X25519: n.X25519()}
	other := onion.Hop{Ed25519: strings.Repeat("ab", 32), X25519: n.X25519()}
	body, _ := json.Marshal(storagerpc.Request{Method: "info", Params: json.RawMessage("{}")})
	for name, path := range map[string][]onion.Hop{"to a next hop": {me}, "as the destination": nil} {
		dest := other
		if path == nil {
			dest = me
		}
		req, _, err := onion.Build(rand.Reader, path, dest, body, onion.XChaCha20)
		if err != nil {
			t.Fatal(err)
		}
		status, _, err := onion.Send(ctx, tn.client, n.PeerID(), 1, req)
		if err != nil || status == onion.StatusOK && path != nil {
			t.Fatalf("onion %s before ready: %d %v", name, status, err)
		}
	}
	if _, err := storagerpc.Call(ctx, tn.client, n.PeerID(), storagerpc.ProtocolStorage, "info", struct{}{}); err != nil {
		t.Fatalf("the node died: %v", err)
	}
}

// TestPanicInHandlerIsContained: a handler that panics resets its stream;
// the node keeps serving.
func TestPanicInHandlerIsContained(t *testing.T) {
	tn := startTestnet(t, 1, nil)
	h := tn.order[0]
	n := tn.nodes[h]
	n.host.SetStreamHandler("/sessionctl/test-panic", n.serveStream("panic", func(network.Stream) { panic("boom") }))
	ctx := context.Background()
	s, err := tn.client.NewStream(ctx, tn.peer(h), "/sessionctl/test-panic")
	if err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("x"))
	s.CloseWrite()
	if _, err := io.ReadAll(s); err == nil {
		t.Fatal("the panicking handler's stream was not reset")
	}
	if resp := tn.call(h, "info", struct{}{}); resp.Code != 200 {
		t.Fatalf("after a panic: %d", resp.Code)
	}
}

// TestReplaySpellings: a signed write is accepted once, however its
// signature's base64 is spelled; a spelling with a line break or unused
// bits set is malformed (400).
func TestReplaySpellings(t *testing.T) {
	tn := startTestnet(t, 1, nil)
	h := tn.order[0]
	alice := newAccount(t)
	ts := nowMS()
	p := storagerpc.DeleteAllParams{Pubkey: alice.id.String(), Timestamp: ts,
		Auth: storagerpc.SignAuth(alice.keys.Ed25519, alice.id, storagerpc.DeleteAllSigMsg(storagerpc.NamespaceVar{}, ts))}
	if resp := tn.call(h, "delete_all", p); resp.Code != 200 {
		t.Fatalf("first use: %d %s", resp.Code, resp.Body)
	}
	sig := p.Signature
	b64 := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	last := strings.IndexByte(b64, sig[85]) // 4 unused bits in the 86th character
	for name, tc := range map[string]struct {
		spelled string
		code    int
	}{
		"unpadded":         {strings.TrimRight(sig, "="), 401},
		"with a newline":   {sig[:40] + "\n" + sig[40:86], 400},
		"unused bits set":  {sig[:85] + string(b64[last|1]) + "==", 400},
		"padded, unpadded": {sig[:86] + "=", 400},
	} {
		if tc.spelled == sig {
			continue
		}
		q := p
		q.Signature = tc.spelled
		if resp := tn.call(h, "delete_all", q); resp.Code != tc.code {
			t.Errorf("%s: %d %s, want %d", name, resp.Code, resp.Body, tc.code)
		}
	}
}

// TestOnionRequestsRateLimited: the guard counts a client's onion requests
// as it counts its direct ones.
func TestOnionRequestsRateLimited(t *testing.T) {
	tn := startTestnet(t, 2, func(c *Config) { c.RateBurst, c.RatePerSecond = 5, 0.001 })
	ctx := context.Background()
	guard, dest := tn.nodes[tn.order[0]], tn.nodes[tn.order[1]]
	body, _ := json.Marshal(storagerpc.Request{Method: "info", Params: json.RawMessage("{}")})
	limited := 0
	for range 10 {
		req, _, err := onion.Build(rand.Reader, []onion.Hop{{Ed25519: guard.Key(), X25519: guard.X25519()}},
			onion.Hop{Ed25519: dest.Key(), X25519: dest.X25519()}, body, onion.XChaCha20)
		if err != nil {
			t.Fatal(err)
		}
		status, _, err := onion.Send(ctx, tn.client, tn.peer(guard.Key()), 1, req)
		if err != nil {
			t.Fatal(err)
		}
		if status == storagerpc.StatusTooManyRequests {
			limited++
		}
	}
	if limited != 5 {
		t.Fatalf("%d of 10 onion requests limited, want 5 (a burst of 5)", limited)
	}
}

// TestExitForwardsOnlyToKnownServers: the exit refuses any server but the
// network's, and relays a redirect instead of following it.
func TestExitForwardsOnlyToKnownServers(t *testing.T) {
	var hits sync.Map
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Store("elsewhere", true) }))
	defer elsewhere.Close()
	known := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/x", http.StatusFound)
	}))
	defer known.Close()
	knownHost := strings.TrimPrefix(known.URL, "http://")
	tn := startTestnet(t, 1, func(c *Config) { c.Servers = []string{knownHost} })
	exit := tn.nodes[tn.order[0]]
	send := func(hostport string) int {
		host, port, _ := strings.Cut(hostport, ":")
		var p int
		for _, c := range port {
			p = p*10 + int(c-'0')
		}
		req, _, err := onion.BuildHTTP(rand.Reader, []onion.Hop{{Ed25519: exit.Key(), X25519: exit.X25519()}},
			onion.Routing{Host: host, Port: p, Protocol: "http", Target: "/oxen/v4/lsrpc", Method: "POST"}, [32]byte{9}, []byte("sealed"), onion.XChaCha20)
		if err != nil {
			t.Fatal(err)
		}
		status, _, err := onion.Send(context.Background(), tn.client, tn.peer(exit.Key()), 1, req)
		if err != nil {
			t.Fatal(err)
		}
		return status
	}
	if got := send(strings.TrimPrefix(elsewhere.URL, "http://")); got != onion.StatusForbidden {
		t.Errorf("an unknown server: %d, want 403", got)
	}
	if got := send(tn.ledgerHostPort()); got != onion.StatusForbidden {
		t.Errorf("the ledger's port: %d, want 403", got)
	}
	if got := send(knownHost); got != http.StatusFound {
		t.Errorf("the known server's redirect: %d, want 302 relayed", got)
	}
	if _, ok := hits.Load("elsewhere"); ok {
		t.Fatal("the exit followed a redirect")
	}
}

func (tn *testnet) ledgerHostPort() string {
	u := tn.lc.URL()
	return strings.TrimPrefix(strings.TrimSuffix(u, "/"), "http://")
}

// TestBudgetBoundsHeldBytes: however many large requests arrive at once, the
// bytes held stay within the budget, in total and per peer; the rest are
// refused at once.
func TestBudgetBoundsHeldBytes(t *testing.T) {
	const total, perPeer = 32 << 20, 16 << 20
	b := NewBudget(total, perPeer)
	body := bytes.Repeat([]byte("x"), 10<<20)
	var mu sync.Mutex
	var peak int64
	var ok, busy int
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			p := peerClient(peer.ID([]byte{byte(i % 8)}))
			got, release, err := b.read(bytes.NewReader(body), p, 10<<20)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, errBusy):
				busy++
			case err != nil || len(got) != len(body):
				t.Errorf("read: %d bytes, %v", len(got), err)
			default:
				ok++
				peak = max(peak, b.Used())
			}
			release()
		}()
	}
	close(start)
	wg.Wait()
	if peak > total || ok == 0 || busy == 0 {
		t.Fatalf("peak %d of %d, %d read, %d refused", peak, total, ok, busy)
	}
	if b.Used() != 0 {
		t.Fatalf("%d bytes still held", b.Used())
	}
	if _, _, err := b.read(bytes.NewReader(body), clientKey{addr: "p"}, 1<<20); !errors.Is(err, errTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
}

// TestExpireCaps: expire cannot take a message, of any namespace, past 30
// days from now (the storage server's TTL_MAXIMUM_PRIVATE).
func TestExpireCaps(t *testing.T) {
	tn := startTestnet(t, 1, nil)
	h := tn.order[0]
	a := newAccount(t)
	var res storagerpc.SwarmResults
	if err := tn.call(h, "store", a.store(0, []byte("x"), false)).Decode(&res); err != nil {
		t.Fatal(err)
	}
	want := nowMS() + 40*24*time.Hour.Milliseconds()
	p := storagerpc.ExpireParams{Pubkey: a.id.String(), Messages: []string{res.Hash}, Expiry: want, Extend: true,
		Auth: storagerpc.SignAuth(a.keys.Ed25519, a.id, storagerpc.ExpireSigMsg(false, true, want, []string{res.Hash}))}
	if resp := tn.call(h, "expire", p); resp.Code != 200 {
		t.Fatalf("expire: %d %s", resp.Code, resp.Body)
	}
	ex, _ := tn.nodes[h].store.expiries(context.Background(), a.id.String(), []string{res.Hash})
	if got := ex[res.Hash].expiry; got > nowMS()+storagerpc.MaxPrivateTTL.Milliseconds() || got < nowMS()+storagerpc.MaxTTL.Milliseconds() {
		t.Fatalf("namespace 0 message extended to %v from now, want 30 days", time.Duration(got-nowMS())*time.Millisecond)
	}
}

// TestTokenNetworkPrefix: a subaccount token names the kind of account it
// serves (its first byte); a node refuses it for another kind unless the
// token says any prefix (flag 0x08), as the storage server does.
func TestTokenNetworkPrefix(t *testing.T) {
	tn := startTestnet(t, 1, nil)
	h := tn.order[0]
	gid, gkey := groupAccount(t)
	_, holder, _ := ed25519.GenerateKey(rand.Reader)
	retrieve := func(prefix, flags byte) *storagerpc.Response {
		tok := storagerpc.NewToken(prefix, flags, holder.Public().(ed25519.PublicKey))
		ts := nowMS()
		a, sa := storagerpc.SignSubAuth(holder, tok, ed25519.Sign(gkey, tok[:]), storagerpc.RetrieveSigMsg(11, ts))
		return tn.call(h, "retrieve", storagerpc.RetrieveParams{Pubkey: gid.String(), Namespace: 11, Timestamp: ts, Auth: a, SubAuth: sa})
	}
	if resp := retrieve(byte(identity.PrefixGroup), storagerpc.FlagRead); resp.Code != 200 {
		t.Fatalf("a 03 token: %d %s", resp.Code, resp.Body)
	}
	if resp := retrieve(byte(identity.PrefixSession), storagerpc.FlagRead); resp.Code != 401 || !strings.Contains(string(resp.Body), "token is for 05") {
		t.Fatalf("a 05 token on a group: %d %s", resp.Code, resp.Body)
	}
	if resp := retrieve(byte(identity.PrefixSession), storagerpc.FlagRead|storagerpc.FlagAnyPrefix); resp.Code != 200 {
		t.Fatalf("a 05 token with the any-prefix flag: %d %s", resp.Code, resp.Body)
	}
}
