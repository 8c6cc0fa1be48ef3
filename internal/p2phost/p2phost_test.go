package p2phost

import (
	"context"
	"crypto/ed25519"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/sessionctl/sessionctl/internal/memtransport"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newHost(t *testing.T, seed byte, listen bool) host.Host {
	t.Helper()
	s := make([]byte, 32)
	s[0], s[1] = seed, 0x9c
	var addrs []string
	if listen {
		addrs = []string{"/ip4/127.0.0.1/tcp/0"}
	}
	h, err := New(ed25519.NewKeyFromSeed(s), addrs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	h.SetStreamHandler("/echo", func(s network.Stream) { io.Copy(s, s); s.Close() })
	return h
}

// Hosts of one process connect in memory (the package's own security and
// multiplexing); over TCP (other processes, clients) Noise and yamux stay.
func TestTransports(t *testing.T) {
	a, b, c := newHost(t, 1, true), newHost(t, 2, true), newHost(t, 3, false)
	mem, err := memtransport.Addr(b.ID())
	if err != nil {
		t.Fatal(err)
	}
	var tcp []ma.Multiaddr
	for _, x := range b.Addrs() {
		if !memtransport.IsMemory(x) {
			tcp = append(tcp, x)
		}
	}
	for _, tc := range []struct {
		from         host.Host
		addrs        []ma.Multiaddr
		security, mx string
	}{
		{a, []ma.Multiaddr{mem}, string(memtransport.ID), string(memtransport.ID)},
		{c, tcp, noise.ID, yamux.ID},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := tc.from.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: tc.addrs}); err != nil {
			cancel()
			t.Fatal(err)
		}
		s, err := tc.from.NewStream(ctx, b.ID(), "/echo")
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		s.Write([]byte("x"))
		s.CloseWrite()
		if got, err := io.ReadAll(s); err != nil || string(got) != "x" {
			t.Fatalf("echo %q, %v", got, err)
		}
		s.Close()
		st := s.Conn().ConnState()
		if string(st.Security) != tc.security || string(st.StreamMultiplexer) != tc.mx {
			t.Fatalf("%s: connection state %+v", s.Conn().RemoteMultiaddr(), st)
		}
	}
}

func TestRoundTripFloor(t *testing.T) {
	mem, tcp, err := RoundTripFloor(context.Background(), 50, 1200)
	if err != nil || mem <= 0 || tcp <= 0 {
		t.Fatalf("floor: mem %v, tcp %v, %v", mem, tcp, err)
	}
	t.Logf("round trip CPU: mem %v, tcp %v", mem, tcp)
	if _, err := Floor(context.Background(), 8); err != nil {
		t.Fatal(err)
	}
}

// TestPeerID: the peer ID PeerID says is the one New's host has.
func TestPeerID(t *testing.T) {
	h := newHost(t, 7, true)
	seed := [32]byte{7, 0x9c}
	id, err := PeerID(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil || id != h.ID() {
		t.Fatalf("PeerID %s, %v; the host's %s", id, err, h.ID())
	}
	if _, err := PeerID(ed25519.PrivateKey{1, 2}); err == nil {
		t.Fatal("a short key was accepted")
	}
}
