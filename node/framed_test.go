package node

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/sessionctl/sessionctl/internal/streampool"
	"github.com/sessionctl/sessionctl/onion"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// TestFramedProtocols: the framed protocols answer requests one after
// another on one stream; a refusal is an answer and the stream goes on;
// the swarm protocol refuses a peer that is not a node (401), framed too.
func TestFramedProtocols(t *testing.T) {
	tn := startTestnet(t, 1, nil)
	h := tn.order[0]
	pid := tn.peer(h)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pool := streampool.New(tn.client)
	defer pool.Close()
	noFallback := func(s network.Stream) ([]byte, error) {
		s.Reset()
		t.Fatal("the node does not speak the framed protocol")
		return nil, nil
	}
	ask := func(proto protocol.ID, body string) storagerpc.Response {
		t.Helper()
		data, err := pool.RoundTrip(ctx, pid, proto, storagerpc.ProtocolStorage, []byte(body), storagerpc.MaxResponseSize, noFallback)
		if err != nil {
			t.Fatal(err)
		}
		var r storagerpc.Response
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatalf("answer %q: %v", data, err)
		}
		return r
	}
	for i, c := range []struct {
		proto protocol.ID
		body  string
		code  int
	}{
		{storagerpc.ProtocolStorageFramed, `{"method":"info","params":{}}`, 200},
		{storagerpc.ProtocolStorageFramed, `{not json`, 400},
		{storagerpc.ProtocolStorageFramed, `{"method":"info","params":{}}`, 200},
		{storagerpc.ProtocolSwarmFramed, `{"method":"info","params":{}}`, 401},
		{storagerpc.ProtocolSwarmFramed, `{"method":"info","params":{}}`, 401},
	} {
		if r := ask(c.proto, c.body); r.Code != c.code {
			t.Fatalf("request %d (%s %s): %d %s, want %d", i, c.proto, c.body, r.Code, r.Body, c.code)
		}
	}
	if n := pool.Idle(); n != 2 {
		t.Fatalf("%d streams idle, want 2: one a protocol, each used again after its refusals", n)
	}
	// An onion path test, framed: [u8 hop][layer] in, [u16 status][body] out.
	x := tn.nodes[h].keys.X25519Public
	req, key, err := onion.Build(rand.Reader, nil, onion.Hop{Ed25519: h, X25519: x}, nil, onion.XChaCha20)
	if err != nil {
		t.Fatal(err)
	}
	data, err := pool.RoundTrip(ctx, pid, onion.ProtocolFramed, onion.Protocol, append([]byte{1}, req...), 1<<20, noFallback)
	if err != nil || len(data) < 2 || data[0] != 0 || data[1] != 200 {
		t.Fatalf("onion answer %q, %v", data, err)
	}
	if reply, err := key.OpenReply(data[2:]); err != nil || !json.Valid(reply) {
		t.Fatalf("onion reply %q, %v", reply, err)
	}
}
