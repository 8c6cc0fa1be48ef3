package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/onion"
)

// TestOnionBadInput: malformed, misaddressed, looping and oversized onion
// requests are refused by the first node, and nothing is forwarded.
func TestOnionBadInput(t *testing.T) {
	var mu sync.Mutex
	var forwarded []OnionHop
	tn := startTestnet(t, 3, func(c *Config) {
		c.OnionObserver = func(h OnionHop) {
			mu.Lock()
			defer mu.Unlock()
			if h.Next != "" || h.Destination {
				forwarded = append(forwarded, h)
			}
		}
	})
	a, b := tn.nodes[tn.order[0]], tn.nodes[tn.order[1]]
	hopOf := func(n *Node) onion.Hop { return onion.Hop{Ed25519: n.Key(), X25519: n.X25519()} }
	good, _, err := onion.Build(rand.Reader, []onion.Hop{hopOf(a)}, hopOf(b), []byte(`{"method":"info","params":{}}`), onion.XChaCha20)
	if err != nil {
		t.Fatal(err)
	}
	wrongKey, _, _ := onion.Build(rand.Reader, []onion.Hop{hopOf(b)}, hopOf(a), []byte("x"), onion.XChaCha20)
	loop, _, _ := onion.Build(rand.Reader, []onion.Hop{hopOf(a)}, hopOf(a), []byte("x"), onion.AESGCM)
	truncated := append([]byte(nil), good[:len(good)/2]...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for name, tc := range map[string]struct {
		hop    int
		layer  []byte
		status int
		text   string
	}{
		"layer for another node": {1, wrongKey, 400, "cannot decrypt"},
		"truncated layer":        {1, truncated, 400, "cannot decrypt"},
		"loop back to itself":    {1, loop, 400, "onion loop"},
		"sixteenth hop":          {16, good, 400, "at most 15"},
		"oversized":              {1, make([]byte, onion.MaxLayerSize+10), 413, "size limit"},
	} {
		status, body, err := onion.SendRaw(ctx, tn.client, tn.peer(a.Key()), byte(tc.hop), tc.layer)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if status != tc.status || !bytes.Contains(body, []byte(tc.text)) {
			t.Errorf("%s: %d %q, want %d %q", name, status, body, tc.status, tc.text)
		}
	}
	mu.Lock()
	n := len(forwarded)
	mu.Unlock()
	if n != 0 {
		t.Fatalf("refused requests were forwarded: %+v", forwarded)
	}
	// The well-formed request goes through.
	status, _, err := onion.Send(ctx, tn.client, tn.peer(a.Key()), 1, good)
	if err != nil || status != 200 {
		t.Fatalf("a good request: %d %v", status, err)
	}
}
