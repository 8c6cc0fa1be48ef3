package memtransport

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"sync/atomic"
	"testing"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/transport"
	ma "github.com/multiformats/go-multiaddr"
)

// counter is a resource manager counting open connection scopes, refusing
// inbound ones when told to.
type counter struct {
	network.NullResourceManager
	open          atomic.Int32
	refuseInbound bool
}

type countedScope struct {
	network.NullScope
	c    *counter
	done atomic.Bool
}

func (s *countedScope) Done() {
	if !s.done.Swap(true) {
		s.c.open.Add(-1)
	}
}

func (c *counter) OpenConnection(dir network.Direction, _ bool, _ ma.Multiaddr) (network.ConnManagementScope, error) {
	if dir == network.DirInbound && c.refuseInbound {
		return nil, errors.New("refused")
	}
	c.open.Add(1)
	return &countedScope{c: c}, nil
}

// gate refuses secured connections when told to.
type gate struct{ refuse bool }

func (g *gate) InterceptPeerDial(peer.ID) bool               { return true }
func (g *gate) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }
func (g *gate) InterceptAccept(network.ConnMultiaddrs) bool  { return true }
func (g *gate) InterceptSecured(network.Direction, peer.ID, network.ConnMultiaddrs) bool {
	return !g.refuse
}
func (g *gate) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

type side struct {
	t  *Transport
	rm *counter
	g  *gate
}

func newSide(t *testing.T, seed byte) *side {
	t.Helper()
	s := make([]byte, 32)
	s[0], s[1] = seed, 0xee
	priv, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(s))
	if err != nil {
		t.Fatal(err)
	}
	rm, g := &counter{}, &gate{}
	tr, err := New(priv, g, rm)
	if err != nil {
		t.Fatal(err)
	}
	return &side{t: tr, rm: rm, g: g}
}

func (s *side) listen(t *testing.T) transport.Listener {
	t.Helper()
	a, err := Addr(s.t.id)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.t.Listen(a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// dial connects a to b (listening on l), accepting on l at the same time.
func dial(t *testing.T, a, b *side, l transport.Listener) (transport.CapableConn, transport.CapableConn, error) {
	t.Helper()
	accepted := make(chan transport.CapableConn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			c = nil
		}
		accepted <- c
	}()
	c, err := a.t.Dial(context.Background(), l.Multiaddr(), b.t.id)
	if err != nil {
		l.Close()
		<-accepted
		return nil, nil, err
	}
	return c, <-accepted, nil
}

func TestConnIdentityAndStreams(t *testing.T) {
	a, b := newSide(t, 1), newSide(t, 2)
	l := b.listen(t)
	ca, cb, err := dial(t, a, b, l)
	if err != nil {
		t.Fatal(err)
	}
	if ca.LocalPeer() != a.t.id || ca.RemotePeer() != b.t.id || !ca.RemotePublicKey().Equals(b.t.pub) ||
		cb.LocalPeer() != b.t.id || cb.RemotePeer() != a.t.id || !cb.RemotePublicKey().Equals(a.t.pub) {
		t.Fatal("the ends do not know each other")
	}
	if a.rm.open.Load() != 1 || b.rm.open.Load() != 1 {
		t.Fatalf("scopes open: %d, %d", a.rm.open.Load(), b.rm.open.Load())
	}
	// Streams both ways.
	for _, ends := range [][2]transport.CapableConn{{ca, cb}, {cb, ca}} {
		s, err := ends[0].OpenStream(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		r, err := ends[1].AcceptStream()
		if err != nil {
			t.Fatal(err)
		}
		s.Write([]byte("hello"))
		s.CloseWrite()
		if got, err := io.ReadAll(r); err != nil || string(got) != "hello" {
			t.Fatalf("read %q, %v", got, err)
		}
		r.Close()
		s.Close()
	}
	lk := ca.(*conn).link
	lk.mu.Lock()
	left := len(lk.streams)
	lk.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d closed streams still held", left)
	}
	ca.Close()
	cb.Close()
	if a.rm.open.Load() != 0 || b.rm.open.Load() != 0 {
		t.Fatalf("scopes left open: %d, %d", a.rm.open.Load(), b.rm.open.Load())
	}
}

// Closing one end wakes what waits on either: AcceptStream, an OpenStream
// held by a full backlog, a stream's Read.
func TestConnCloseWakes(t *testing.T) {
	a, b := newSide(t, 3), newSide(t, 4)
	l := b.listen(t)
	ca, cb, err := dial(t, a, b, l)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ca.OpenStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cb.AcceptStream(); err != nil {
		t.Fatal(err)
	}
	for range backlog {
		if _, err := cb.OpenStream(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// The backlog is full: an opener waits, and its context ends the wait.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cb.OpenStream(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("open on a full backlog: %v", err)
	}
	errs := make(chan error, 4)
	go func() { _, err := cb.OpenStream(context.Background()); errs <- err }()
	go func() { _, err := s.Read(make([]byte, 1)); errs <- err }() // r never writes
	go func() {
		// cb's own backlog is empty: this waits.
		_, err := cb.AcceptStream()
		errs <- err
	}()
	go func() { _, err := s.Write(make([]byte, 2*Window)); errs <- err }() // r never reads
	ca.Close()
	for range 4 {
		if err := <-errs; err == nil {
			t.Fatal("a blocked call returned no error after the close")
		}
	}
	if !ca.IsClosed() || !cb.IsClosed() {
		t.Fatal("IsClosed false after the close")
	}
	if _, err := ca.AcceptStream(); !errors.Is(err, ErrConnClosed) {
		t.Fatalf("accept after the close: %v", err)
	}
	if _, err := ca.OpenStream(context.Background()); !errors.Is(err, ErrConnClosed) {
		t.Fatalf("open after the close: %v", err)
	}
	cb.Close()
	if b.rm.open.Load() != 0 || a.rm.open.Load() != 0 {
		t.Fatal("scopes left open")
	}
}

// The listener's resource manager and gater can refuse a connection: the
// dial fails and no scope stays open at either end.
func TestConnRefused(t *testing.T) {
	a, b := newSide(t, 5), newSide(t, 6)
	l := b.listen(t)
	b.rm.refuseInbound = true
	if _, _, err := dial(t, a, b, l); err == nil {
		t.Fatal("a refused connection was made")
	}
	l = b.listen(t)
	b.rm.refuseInbound = false
	b.g.refuse = true
	if _, _, err := dial(t, a, b, l); !errors.Is(err, ErrGated) {
		t.Fatalf("gated inbound: %v", err)
	}
	l = b.listen(t)
	b.g.refuse = false
	a.g.refuse = true
	if _, err := a.t.Dial(context.Background(), l.Multiaddr(), b.t.id); !errors.Is(err, ErrGated) {
		t.Fatalf("gated outbound: %v", err)
	}
	if a.rm.open.Load() != 0 || b.rm.open.Load() != 0 {
		t.Fatalf("scopes left open: %d, %d", a.rm.open.Load(), b.rm.open.Load())
	}
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, transport.ErrListenerClosed) {
		t.Fatalf("accept on a closed listener: %v", err)
	}
}
