package memtransport_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
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
	if c[0].ConnState().Security == "" {
		t.Fatal("the connection is not secured")
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
	if err := a.Connect(ctx, peer.AddrInfo{ID: impostor}); err == nil {
		t.Fatal("a connection to the wrong peer ID succeeded")
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
	tr, _ := memtransport.New(nil, nil)
	if _, err := tr.Dial(context.Background(), memAddr(t, id), id); !errors.Is(err, memtransport.ErrNoListener) {
		t.Fatalf("dial to a closed host: %v", err)
	}
	b2, err := p2phost.New(key(7), []string{"/ip4/127.0.0.1/tcp/0"})
	if err != nil {
		t.Fatalf("the same key again: %v", err)
	}
	b2.Close()
}

func TestBadAddresses(t *testing.T) {
	tr, _ := memtransport.New(nil, nil)
	for _, a := range []string{"/ip4/127.0.0.1/tcp/1", "/memory/0"} {
		if _, err := tr.Listen(mustAddr(t, a)); err == nil {
			t.Errorf("listen on %s succeeded", a)
		}
	}
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
