package memtransport_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/sessionctl/sessionctl/internal/memtransport"
	"github.com/sessionctl/sessionctl/internal/p2phost"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }

func key(b byte) ed25519.PrivateKey { return ed25519.NewKeyFromSeed(make32(b)) }

func make32(b byte) []byte {
	s := make([]byte, 32)
	s[0] = b
	return s
}

func newHost(t *testing.T, b byte, listen bool) host.Host {
	t.Helper()
	var addrs []string
	if listen {
		addrs = []string{"/ip4/127.0.0.1/tcp/0"}
	}
	h, err := p2phost.New(key(b), addrs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func openFiles(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd here")
	}
	return len(ents)
}

// A listening host is reachable in memory: the stream is secured (the peer
// ID is the listener's), its bytes arrive, and the connection costs no file.
func TestDialInMemory(t *testing.T) {
	a, b := newHost(t, 1, false), newHost(t, 2, true)
	if !memtransport.Listening(b.ID()) || memtransport.Listening(a.ID()) {
		t.Fatalf("listening: b %v (want true), a %v (want false)", memtransport.Listening(b.ID()), memtransport.Listening(a.ID()))
	}
	b.SetStreamHandler("/echo", func(s network.Stream) { io.Copy(s, s); s.Close() })
	a.Peerstore().AddAddr(b.ID(), memAddr(t, b.ID()), time.Minute)
	files := openFiles(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := a.NewStream(ctx, b.ID(), "/echo")
	if err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("over the pipe"))
	s.CloseWrite()
	got, err := io.ReadAll(s)
	if err != nil || string(got) != "over the pipe" {
		t.Fatalf("echo: %q, %v", got, err)
	}
	s.Close()
	c := a.Network().ConnsToPeer(b.ID())
	if len(c) != 1 || !memtransport.IsMemory(c[0].RemoteMultiaddr()) || c[0].RemotePeer() != b.ID() {
		t.Fatalf("connection: %v", c)
	}
	if st := c[0].ConnState(); st.Security != memtransport.ID || st.StreamMultiplexer != memtransport.ID {
		t.Fatalf("connection state %+v", st)
	}
	// Both ends know each other's ID and key, and identify ran over it.
	if c[0].LocalPeer() != a.ID() || !c[0].RemotePublicKey().Equals(b.Peerstore().PubKey(b.ID())) {
		t.Fatalf("identity: local %s, remote key %v", c[0].LocalPeer(), c[0].RemotePublicKey())
	}
	back := b.Network().ConnsToPeer(a.ID())
	if len(back) != 1 || back[0].RemotePeer() != a.ID() || !back[0].RemotePublicKey().Equals(a.Peerstore().PubKey(a.ID())) {
		t.Fatalf("the listener's end: %v", back)
	}
	protos, err := waitProtocols(ctx, a, b.ID())
	if err != nil || !slices.Contains(protos, "/echo") {
		t.Fatalf("identify: %v, %v", protos, err)
	}
	if now := openFiles(t); now > files {
		t.Fatalf("the connection opened %d files", now-files)
	}
}

// A dial to a peer ID that another key listens as is refused by the
// handshake; a dial where nothing listens fails at once.
func TestDialRefused(t *testing.T) {
	a, b := newHost(t, 3, false), newHost(t, 4, true)
	impostor, err := peer.IDFromPublicKey(mustPub(t, key(5)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// b's address, claimed for another peer ID.
	a.Peerstore().AddAddr(impostor, memAddr(t, b.ID()), time.Minute)
	if err := a.Connect(ctx, peer.AddrInfo{ID: impostor}); !errors.Is(err, memtransport.ErrWrongPeer) {
		t.Fatalf("a connection to the wrong peer ID: %v", err)
	}
	// Nobody listens at this one.
	ghost, _ := peer.IDFromPublicKey(mustPub(t, key(6)))
	a.Peerstore().AddAddr(ghost, memAddr(t, ghost), time.Minute)
	err = a.Connect(ctx, peer.AddrInfo{ID: ghost})
	if err == nil {
		t.Fatal("a connection to nobody succeeded")
	}
}

// A closed host's address is free again, and dials to it fail.
func TestCloseUnregisters(t *testing.T) {
	b, err := p2phost.New(key(7), []string{"/ip4/127.0.0.1/tcp/0"})
	if err != nil {
		t.Fatal(err)
	}
	id := b.ID()
	b.Close()
	if memtransport.Listening(id) {
		t.Fatal("a closed host still listens")
	}
	tr := newTransport(t, 8)
	if _, err := tr.Dial(context.Background(), memAddr(t, id), id); !errors.Is(err, memtransport.ErrNoListener) {
		t.Fatalf("dial to a closed host: %v", err)
	}
	b2, err := p2phost.New(key(7), []string{"/ip4/127.0.0.1/tcp/0"})
	if err != nil {
		t.Fatalf("the same key again: %v", err)
	}
	b2.Close()
}

// A transport listens only at its own peer ID's address: no host can take
// another's.
func TestBadAddresses(t *testing.T) {
	tr := newTransport(t, 9)
	other, _ := peer.IDFromPublicKey(mustPub(t, key(10)))
	for _, a := range []string{"/ip4/127.0.0.1/tcp/1", "/memory/0", memAddr(t, other).String()} {
		if _, err := tr.Listen(mustAddr(t, a)); err == nil {
			t.Errorf("listen on %s succeeded", a)
		}
	}
	if _, err := memtransport.New(nil, nil, nil); err == nil {
		t.Error("a transport without a key")
	}
}

func newTransport(t *testing.T, b byte) *memtransport.Transport {
	t.Helper()
	priv, err := crypto.UnmarshalEd25519PrivateKey(key(b))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := memtransport.New(priv, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func mustPub(t *testing.T, k ed25519.PrivateKey) crypto.PubKey {
	t.Helper()
	p, err := crypto.UnmarshalEd25519PublicKey(k.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustAddr(t *testing.T, s string) ma.Multiaddr {
	t.Helper()
	a, err := ma.NewMultiaddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func memAddr(t *testing.T, id peer.ID) ma.Multiaddr {
	t.Helper()
	a, err := memtransport.Addr(id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// waitProtocols waits for identify to tell h the protocols of p.
func waitProtocols(ctx context.Context, h host.Host, p peer.ID) ([]protocol.ID, error) {
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted))
	if err != nil {
		return nil, err
	}
	defer sub.Close()
	for {
		if ps, _ := h.Peerstore().GetProtocols(p); len(ps) > 0 {
			return ps, nil
		}
		select {
		case <-sub.Out():
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
