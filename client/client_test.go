package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"

	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/devnet/devnettest"
	"github.com/sessionctl/sessionctl/identity"
	_ "github.com/sessionctl/sessionctl/internal/sqlitedb" // the sqlite driver
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
	"github.com/sessionctl/sessionctl/node"
	"github.com/sessionctl/sessionctl/onion"
	"github.com/sessionctl/sessionctl/sessionpb"
	"github.com/sessionctl/sessionctl/storagerpc"
	"google.golang.org/protobuf/proto"
)

func newKeys(t testing.TB) *identity.Keys {
	k, err := identity.NewAccount(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSendAndFetch(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 12})
	ctx := context.Background()
	aliceK, bobK := newKeys(t), newKeys(t)
	alice := devnettest.Client(t, nw, aliceK)
	// Bob is offline: his client starts only after alice sent.
	res, err := alice.Send(ctx, bobK.AccountID(), "hello bob")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hash) != 43 || res.Stored < 5 || res.Path.Guard == "" || res.Path.Destination == "" {
		t.Fatalf("send result %+v", res)
	}
	path := []string{res.Path.Guard, res.Path.Middle, res.Path.Exit}
	if res.Path.Guard == res.Path.Middle || res.Path.Middle == res.Path.Exit || res.Path.Guard == res.Path.Exit {
		t.Fatalf("path nodes are not distinct: %v", path)
	}
	state := filepath.Join(t.TempDir(), "bob.json")
	bob := devnettest.ClientConfig(t, nw, client.Config{Keys: bobK, StatePath: state})
	msgs, rejected, err := bob.Fetch(ctx)
	if err != nil || len(rejected) != 0 {
		t.Fatal(err, rejected)
	}
	if len(msgs) != 1 || msgs[0].Text != "hello bob" || msgs[0].From != aliceK.AccountID().String() || msgs[0].Hash != res.Hash {
		t.Fatalf("bob got %+v", msgs)
	}
	// Nothing new: nothing fetched.
	if msgs, _, _ := bob.Fetch(ctx); len(msgs) != 0 {
		t.Fatalf("a second fetch returned %d messages", len(msgs))
	}
	// Another process for bob: the state file keeps the last hash.
	bob.Close()
	if _, err := alice.Send(ctx, bobK.AccountID(), "second"); err != nil {
		t.Fatal(err)
	}
	bob2 := devnettest.ClientConfig(t, nw, client.Config{Keys: bobK, StatePath: state})
	msgs, _, err = bob2.Fetch(ctx)
	if err != nil || len(msgs) != 1 || msgs[0].Text != "second" {
		t.Fatalf("bob's second process got %+v, %v", msgs, err)
	}
	if _, err := alice.Send(ctx, identity.AccountID{Prefix: identity.PrefixGroup}, "x"); err == nil {
		t.Fatal("sent to a non-05 account")
	}
	// Alice's other devices find what she sent in her own swarm, naming bob.
	if !res.Synced {
		t.Fatal("no sync copy was stored")
	}
	// The device that sent them does not show them again; another does.
	if own, _, err := alice.Fetch(ctx); err != nil || len(own) != 0 {
		t.Fatalf("the sending device shows its own sync copies: %+v, %v", own, err)
	}
	mine, _, err := devnettest.Client(t, nw, aliceK).Fetch(ctx)
	if err != nil || len(mine) != 2 || mine[0].SyncTarget != bobK.AccountID().String() || mine[0].Text != "hello bob" || mine[0].From != aliceK.AccountID().String() {
		t.Fatalf("alice's sync copies: %+v, %v", mine, err)
	}
	// What the swarm stores is what a Session client stores: base64 of a
	// WebSocket request (PUT /api/v1/message) carrying an Envelope.
	raw, err := bob2.Call(ctx, bobK.AccountID(), "retrieve", func() any {
		ts := time.Now().UnixMilli()
		return storagerpc.RetrieveParams{Pubkey: bobK.AccountID().String(), Timestamp: ts,
			Auth: storagerpc.SignAuth(bobK.Ed25519, bobK.AccountID(), storagerpc.RetrieveSigMsg(0, ts))}
	})
	if err != nil {
		t.Fatal(err)
	}
	var got storagerpc.RetrieveResult
	if err := raw.Decode(&got); err != nil || len(got.Messages) == 0 {
		t.Fatalf("retrieve: %v", err)
	}
	data, _ := base64.StdEncoding.DecodeString(got.Messages[0].Data)
	var ws sessionpb.WebSocketMessage
	if err := proto.Unmarshal(data, &ws); err != nil || ws.GetRequest().GetVerb() != "PUT" || ws.GetRequest().GetPath() != "/api/v1/message" {
		t.Fatalf("the stored bytes are not a WebSocket request: %v", err)
	}
	var env sessionpb.Envelope
	if err := proto.Unmarshal(ws.GetRequest().GetBody(), &env); err != nil || env.GetType() != sessionpb.Envelope_SESSION_MESSAGE || env.GetTimestamp() == 0 {
		t.Fatalf("the request's body is not a Session envelope: %v", err)
	}
}

// TestTamperedMessageRejected: a message changed on the nodes that store it
// fails bob's checks and is reported, not shown.
func TestTamperedMessageRejected(t *testing.T) {
	dir := t.TempDir()
	nw := devnettest.Start(t, devnet.Config{Dir: dir, Nodes: 7})
	ctx := context.Background()
	aliceK, bobK := newKeys(t), newKeys(t)
	alice := devnettest.Client(t, nw, aliceK)
	res, err := alice.Send(ctx, bobK.AccountID(), "original")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 7; i++ {
		db, err := openRaw(filepath.Join(dir, "nodes", devnet.NodeName(i), "storage.db"))
		if err != nil {
			t.Fatal(err)
		}
		tamper(t, db, res.Hash)
		db.Close()
	}
	bob := devnettest.Client(t, nw, bobK)
	msgs, rejected, err := bob.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 0 || len(rejected) != 1 || rejected[0].Hash != res.Hash {
		t.Fatalf("tampered message: %d accepted, rejected %+v", len(msgs), rejected)
	}
}

// openRaw opens a node's database beside the running node (WAL allows it).
func openRaw(path string) (*sql.DB, error) {
	return sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
}

func tamper(t *testing.T, db *sql.DB, hash string) {
	t.Helper()
	var data []byte
	if err := db.QueryRow(`SELECT data FROM messages WHERE hash = ?`, hash).Scan(&data); err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x20
	if _, err := db.Exec(`UPDATE messages SET data = ? WHERE hash = ?`, data, hash); err != nil {
		t.Fatal(err)
	}
}

// TestPrivacy records what every node saw of onion requests and checks it
// against what SPEC 5 says each hop may learn.
func TestPrivacy(t *testing.T) {
	var mu sync.Mutex
	var seen []node.OnionHop
	nw := devnettest.Start(t, devnet.Config{Nodes: 12, NodeConfig: func(i int, c *node.Config) {
		c.OnionObserver = func(h node.OnionHop) {
			mu.Lock()
			seen = append(seen, h)
			mu.Unlock()
		}
	}})
	ctx := context.Background()
	aliceK, bobK := newKeys(t), newKeys(t)
	alice := devnettest.Client(t, nw, aliceK)
	mu.Lock()
	seen = nil // forget the path test
	mu.Unlock()
	const secret = "the meeting is at noon"
	res, err := alice.Send(ctx, bobK.AccountID(), secret)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	hops := append([]node.OnionHop(nil), seen...)
	mu.Unlock()
	// The store to bob's swarm is the first request to reach a fourth hop
	// (a path test before it ends at its exit; the sync copy to alice's own
	// swarm comes after).
	byHop := map[int]node.OnionHop{}
	for i, h := range hops {
		byHop[h.Hop] = h
		if h.Hop == 4 && h.Destination {
			hops = hops[:i+1]
			break
		}
	}
	if len(byHop) != 4 || byHop[1].Node != res.Path.Guard || byHop[4].Node != res.Path.Destination || !byHop[4].Destination {
		t.Fatalf("hops seen: %+v", hops)
	}
	aliceID := aliceK.AccountID().String()
	aliceEd := hex.EncodeToString(aliceK.Ed25519Public())
	for _, h := range hops {
		if bytes.Contains(h.Seen, []byte(secret)) {
			t.Errorf("hop %d read the message", h.Hop)
		}
		if bytes.Contains(h.Seen, []byte(aliceID)) || bytes.Contains(h.Seen, []byte(aliceEd)) || bytes.Contains(h.Seen, aliceK.Ed25519Public()) {
			t.Errorf("hop %d saw alice's identity", h.Hop)
		}
	}
	guard := byHop[1]
	if guard.Next != res.Path.Middle || bytes.Contains(guard.Seen, []byte(res.Path.Destination)) || bytes.Contains(guard.Seen, []byte(bobK.AccountID().String())) {
		t.Errorf("the guard learned more than the middle node: next %s", guard.Next[:8])
	}
	if byHop[2].Next != res.Path.Exit || byHop[3].Next != res.Path.Destination {
		t.Errorf("each hop should learn only its neighbours: %+v", hops)
	}
	// The destination sees the store request: the recipient, and ciphertext.
	if !bytes.Contains(byHop[4].Seen, []byte(bobK.AccountID().String())) {
		t.Errorf("the destination did not see the recipient")
	}
	// What the nodes store: ciphertext only, no sender.
	for i := 0; i < 12; i++ {
		db, err := openRaw(filepath.Join(nwDir(nw), "nodes", devnet.NodeName(i), "storage.db"))
		if err != nil {
			t.Fatal(err)
		}
		var data []byte
		err = db.QueryRow(`SELECT data FROM messages WHERE hash = ?`, res.Hash).Scan(&data)
		db.Close()
		if err == sql.ErrNoRows {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(secret)) || bytes.Contains(data, aliceK.Ed25519Public()) || bytes.Contains(data, aliceK.X25519Public[:]) {
			t.Errorf("%s stores the message or the sender in clear", devnet.NodeName(i))
		}
	}
}

func nwDir(nw *devnet.Network) string { return nw.Dir() }

// TestPathRebuilt: when a path node stops, the client builds another path.
func TestPathRebuilt(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 12})
	ctx := context.Background()
	alice := devnettest.Client(t, nw, newKeys(t))
	bob := newKeys(t)
	res, err := alice.Send(ctx, bob.AccountID(), "one")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		if nw.NodeKey(i) == res.Path.Guard {
			devnettest.Kill(t, nw, i)
		}
	}
	res2, err := alice.Send(ctx, bob.AccountID(), "two")
	if err != nil {
		t.Fatalf("send after the guard stopped: %v", err)
	}
	if res2.Path.Guard == res.Path.Guard {
		t.Fatal("the stopped guard is still on the path")
	}
}

// TestGuardStreamsKeptOpen: a client's onion requests reach its guard on
// the framed onion protocol, on streams kept open from one request to the
// next (as HTTP keep-alive), not a stream a request.
func TestGuardStreamsKeptOpen(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 12})
	ctx := context.Background()
	alice := devnettest.Client(t, nw, newKeys(t))
	bob := newKeys(t)
	nodes := map[peer.ID]bool{}
	for i := range 12 {
		nodes[nw.Node(i).PeerID()] = true
	}
	// framed lists the streams of the framed onion protocol that peers
	// other than nodes (alice) hold open at the guard.
	framed := func(guard string) map[string]bool {
		ids := map[string]bool{}
		for i := range 12 {
			if nw.NodeKey(i) != guard {
				continue
			}
			for _, conn := range nw.Node(i).Host().Network().Conns() {
				if nodes[conn.RemotePeer()] {
					continue
				}
				for _, s := range conn.GetStreams() {
					if s.Protocol() == onion.ProtocolFramed {
						ids[s.ID()] = true
					}
				}
			}
		}
		return ids
	}
	res, err := alice.Send(ctx, bob.AccountID(), "one")
	if err != nil {
		t.Fatal(err)
	}
	first := framed(res.Path.Guard)
	if len(first) == 0 {
		t.Fatal("no framed onion stream from the client stays open at its guard")
	}
	res2, err := alice.Send(ctx, bob.AccountID(), "two")
	if err != nil {
		t.Fatal(err)
	}
	if res2.Path.Guard != res.Path.Guard {
		t.Skip("the path changed between the sends")
	}
	reused := false
	for id := range framed(res.Path.Guard) {
		reused = reused || first[id]
	}
	if !reused {
		t.Fatal("the second send opened new streams to the guard instead of using those kept open")
	}
}

func TestEncryptDecrypt(t *testing.T) {
	a, b, c := newKeys(t), newKeys(t), newKeys(t)
	ct, err := client.Encrypt(a, b.X25519Public, []byte("hi"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	plain, sender, err := client.Decrypt(b, ct)
	if err != nil || string(plain) != "hi" {
		t.Fatal(plain, err)
	}
	if id, _ := client.SenderID(sender); id != a.AccountID() {
		t.Fatalf("sender %s, want %s", id, a.AccountID())
	}
	if _, _, err := client.Decrypt(c, ct); err == nil {
		t.Fatal("another account opened the message")
	}
	// A message re-signed for another recipient does not verify: the
	// signature covers the recipient's key.
	forged, _ := client.Encrypt(a, c.X25519Public, []byte("hi"), rand.Reader)
	if _, _, err := client.Decrypt(b, forged); err == nil {
		t.Fatal("a message sealed for c opened for b")
	}
}

func BenchmarkOnionVersusDirect(b *testing.B) {
	nw := devnettest.Start(b, devnet.Config{Nodes: 12})
	ctx := context.Background()
	c := devnettest.Client(b, nw, newKeys(b))
	dest := nw.NodeKey(0)
	if _, _, err := c.RPC(ctx, dest, "info", struct{}{}); err != nil {
		b.Fatal(err)
	}
	b.Run("onion-3-hops", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := c.RPC(ctx, dest, "info", struct{}{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.Direct(ctx, dest, "info", struct{}{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSend(b *testing.B) {
	nw := devnettest.Start(b, devnet.Config{Nodes: 12})
	ctx := context.Background()
	c := devnettest.Client(b, nw, newKeys(b))
	to := newKeys(b).AccountID()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Send(ctx, to, "benchmark message "+strings.Repeat("x", 100)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// TestConcurrentFetchesShowEachOnce: two fetches for one identity at once,
// as two processes sharing its state file: each message is shown once; and
// a fetch that is not committed leaves its messages unread.
func TestConcurrentFetchesShowEachOnce(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 7})
	ctx := context.Background()
	aliceK, bobK := newKeys(t), newKeys(t)
	alice := devnettest.Client(t, nw, aliceK)
	state := filepath.Join(t.TempDir(), "bob.json")
	sent := map[string]bool{}
	for i := range 10 {
		res, err := alice.Send(ctx, bobK.AccountID(), strings.Repeat("x", i+1))
		if err != nil {
			t.Fatal(err)
		}
		sent[res.Hash] = true
	}
	b1, b2 := devnettest.ClientConfig(t, nw, client.Config{Keys: bobK, StatePath: state}), devnettest.ClientConfig(t, nw, client.Config{Keys: bobK, StatePath: state})
	f, err := b1.FetchPending(ctx)
	if err != nil || len(f.Messages) != 10 {
		t.Fatalf("pending: %v %v", f, err)
	}
	f.Abort() // not delivered: still unread
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for _, c := range []*client.Client{b1, b2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msgs, _, err := c.Fetch(ctx)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			for _, m := range msgs {
				seen[m.Hash]++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	for h := range sent {
		if seen[h] != 1 {
			t.Errorf("message %s shown %d times", h, seen[h])
		}
	}
}

// TestClosedClient: a call before Start or after Close fails with
// ErrClosed; it does not panic (a call running when Close runs ends so).
func TestClosedClient(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 4})
	ctx := context.Background()
	c, err := client.New(client.Config{Keys: newKeys(t), Ledger: ledgerrpc.NewClient(nw.LedgerURL(), "")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, newKeys(t).AccountID(), "before start"); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("a send before Start: %v, want ErrClosed", err)
	}
	started := devnettest.Client(t, nw, newKeys(t))
	if _, err := started.Send(ctx, newKeys(t).AccountID(), "open"); err != nil {
		t.Fatal(err)
	}
	started.Close()
	if _, _, err := started.Fetch(ctx); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("a fetch after Close: %v, want ErrClosed", err)
	}
}
