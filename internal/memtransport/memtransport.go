// Package memtransport is a libp2p transport between hosts of one process.
//
// A devnet runs up to 2,000 service nodes in one process. Over TCP, every
// connection between two of them costs two open files (one socket at each
// end) and kernel buffers; with each node talking to its swarm, its testing
// quorums and random onion hops, the process ran out of its 20,000 files at
// about 400 nodes. Here a host of the process listens on /memory/N as well
// (N is derived from its peer ID, so the address survives a restart), and a
// dial to it makes an in-memory connection.
//
// Such a connection is secure and multiplexed by construction, as a QUIC
// connection is, so no upgrader runs (no Noise handshake, no yamux): a host
// registers its listener under its own peer ID and public key (a host can
// listen only at its own ID's address, and only a host holding the private
// key has that ID), and a dial names the peer it wants, so each end knows
// the other's ID and key from the registry of this process, which nothing
// outside the process reaches. The resource manager and the connection
// gater see the connection as they see a QUIC one (OpenConnection and
// SetPeer; InterceptAccept and InterceptSecured). A stream is a pair of
// bounded in-memory pipes (see Stream), and nothing runs for a connection or
// a stream but what the swarm runs itself: at 11 connection ends a node
// this saves the 4 goroutines, the Noise buffers and the yamux session of
// each, about 40 KB an end, and the handshake's CPU.
//
// Hosts of other processes cannot dial these addresses (a dial finds no
// listener here and fails at once), so nodes publish only their TCP
// addresses, which keep Noise and yamux; a node dials a peer of its own
// process on its /memory address (see Listening and Addr).
//
//	a, err := memtransport.Addr(id)
//	libp2p.New(libp2p.Transport(memtransport.New), libp2p.ListenAddrs(a), ...)
package memtransport

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"sync"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/transport"
	ma "github.com/multiformats/go-multiaddr"
)

// The listeners of this process, by their /memory number.
var registry = struct {
	sync.Mutex
	m map[uint64]*listener
}{m: map[uint64]*listener{}}

// Errors of dials and connections.
var (
	ErrNoListener = errors.New("memtransport: nothing in this process listens there")
	ErrWrongPeer  = errors.New("memtransport: another peer listens there")
	ErrConnClosed = errors.New("memtransport: connection closed")
	ErrGated      = errors.New("memtransport: connection gated")
	ErrTooMany    = errors.New("memtransport: too many streams on the connection")
)

// ID names the connections' security and multiplexing in ConnState.
const ID protocol.ID = "/sessionctl/memconn"

// Limits of a connection: streams open at once, and streams opened but not
// yet accepted at an end (an opener waits beyond that). The backlog is a
// channel's buffer made with each end of each connection (libp2p's swarm
// accepts each stream at once, on a goroutine of the connection's): 8
// rather than 64 is 960 bytes less a connection, in a process of tens of
// thousands.
const (
	maxStreams = 4096
	backlog    = 8
)

// Number is the /memory number of a peer ID.
func Number(id peer.ID) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// Addr is the /memory address a host with this peer ID listens on.
func Addr(id peer.ID) (ma.Multiaddr, error) {
	a, err := ma.NewMultiaddr(fmt.Sprintf("/memory/%d", Number(id)))
	if err != nil {
		return nil, fmt.Errorf("memtransport: address of %s: %w", id, err)
	}
	return a, nil
}

// Listening tells whether a host of this process listens on id's address.
func Listening(id peer.ID) bool {
	registry.Lock()
	defer registry.Unlock()
	l, ok := registry.m[Number(id)]
	return ok && l.t.id == id
}

// IsMemory tells whether a is a /memory address.
func IsMemory(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_MEMORY)
	return err == nil
}

func number(a ma.Multiaddr) (uint64, error) {
	v, err := a.ValueForProtocol(ma.P_MEMORY)
	if err != nil {
		return 0, fmt.Errorf("memtransport: %s is not a /memory address", a)
	}
	var n uint64
	if _, err := fmt.Sscan(v, &n); err != nil {
		return 0, fmt.Errorf("memtransport: %s: %w", a, err)
	}
	return n, nil
}

// Transport dials and listens on /memory addresses, as one host.
type Transport struct {
	id    peer.ID
	pub   crypto.PubKey
	gater connmgr.ConnectionGater // may be nil
	rcmgr network.ResourceManager
}

var _ transport.Transport = (*Transport)(nil)

// New is the transport's constructor, as libp2p.Transport wants it: the
// host's key (its identity on every connection), its gater (may be nil)
// and resource manager.
func New(key crypto.PrivKey, gater connmgr.ConnectionGater, rcmgr network.ResourceManager) (*Transport, error) {
	if key == nil {
		return nil, errors.New("memtransport: no host key")
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("memtransport: host key: %w", err)
	}
	if rcmgr == nil {
		rcmgr = &network.NullResourceManager{}
	}
	return &Transport{id: id, pub: key.GetPublic(), gater: gater, rcmgr: rcmgr}, nil
}

// anonymous is the local address of a dialing host (it need not listen).
var anonymous = ma.StringCast("/memory/0")

// Dial connects to the host of this process listening on raddr, which
// must be p.
func (t *Transport) Dial(ctx context.Context, raddr ma.Multiaddr, p peer.ID) (transport.CapableConn, error) {
	n, err := number(raddr)
	if err != nil {
		return nil, err
	}
	registry.Lock()
	l := registry.m[n]
	registry.Unlock()
	if l == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoListener, raddr)
	}
	if l.t.id != p {
		return nil, fmt.Errorf("%w: %s is %s, not %s", ErrWrongPeer, raddr, l.t.id, p)
	}
	scope, err := t.rcmgr.OpenConnection(network.DirOutbound, false, raddr)
	if err != nil {
		return nil, err
	}
	if err := scope.SetPeer(p); err != nil {
		scope.Done()
		return nil, err
	}
	lk := &link{streams: map[*pair]struct{}{}, closed: make(chan struct{})}
	mine := &conn{link: lk, me: 0, t: t, scope: scope, remote: p, remotePub: l.t.pub,
		laddr: anonymous, raddr: raddr, accept: make(chan *Stream, backlog)}
	theirs := &conn{link: lk, me: 1, t: l.t, remote: t.id, remotePub: t.pub,
		laddr: raddr, raddr: anonymous, accept: make(chan *Stream, backlog)}
	lk.ends = [2]*conn{mine, theirs}
	if t.gater != nil && !t.gater.InterceptSecured(network.DirOutbound, p, mine) {
		scope.Done()
		return nil, fmt.Errorf("%w: %s", ErrGated, p)
	}
	o := &offer{c: theirs, answer: make(chan error, 1)}
	select {
	case l.incoming <- o:
	case <-l.closed:
		scope.Done()
		return nil, fmt.Errorf("%w: %s (closed)", ErrNoListener, raddr)
	case <-ctx.Done():
		scope.Done()
		return nil, ctx.Err()
	}
	select {
	case err = <-o.answer:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		mine.Close()
		return nil, err
	}
	return mine, nil
}

// CanDial tells whether addr is a /memory address.
func (t *Transport) CanDial(addr ma.Multiaddr) bool { return IsMemory(addr) }

// Listen registers the host under its peer ID: laddr must be its own
// address (Addr), and one address has one listener.
func (t *Transport) Listen(laddr ma.Multiaddr) (transport.Listener, error) {
	n, err := number(laddr)
	if err != nil {
		return nil, err
	}
	if n != Number(t.id) {
		return nil, fmt.Errorf("memtransport: %s is not the address of %s", laddr, t.id)
	}
	l := &listener{n: n, t: t, addr: laddr, incoming: make(chan *offer), closed: make(chan struct{})}
	registry.Lock()
	defer registry.Unlock()
	if registry.m[n] != nil {
		return nil, fmt.Errorf("memtransport: %s is in use", laddr)
	}
	registry.m[n] = l
	return l, nil
}

// Protocols are the address protocols the transport handles.
func (t *Transport) Protocols() []int { return []int{ma.P_MEMORY} }

// Proxy is false: connections go straight to the peer.
func (t *Transport) Proxy() bool { return false }

func (t *Transport) String() string { return "memory" }

// offer is a dial waiting for the listener's answer.
type offer struct {
	c      *conn
	answer chan error // buffered: Accept never waits on it
}

// listener is a host's registration: dials of this process come to Accept.
type listener struct {
	n        uint64
	t        *Transport
	addr     ma.Multiaddr
	incoming chan *offer
	once     sync.Once
	closed   chan struct{}
}

var _ transport.Listener = (*listener)(nil)

// Accept returns the next connection dialed to the host, once the
// resource manager and the gater let it in (those they refuse are closed,
// and their dial fails).
func (l *listener) Accept() (transport.CapableConn, error) {
	for {
		select {
		case o := <-l.incoming:
			err := l.admit(o.c)
			o.answer <- err
			if err == nil {
				return o.c, nil
			}
		case <-l.closed:
			return nil, transport.ErrListenerClosed
		}
	}
}

func (l *listener) admit(c *conn) error {
	scope, err := l.t.rcmgr.OpenConnection(network.DirInbound, false, c.raddr)
	if err != nil {
		return err
	}
	if err := scope.SetPeer(c.remote); err != nil {
		scope.Done()
		return err
	}
	c.scope = scope
	if g := l.t.gater; g != nil && !(g.InterceptAccept(c) && g.InterceptSecured(network.DirInbound, c.remote, c)) {
		scope.Done()
		return fmt.Errorf("%w by %s", ErrGated, l.t.id)
	}
	return nil
}

func (l *listener) Close() error {
	l.once.Do(func() {
		registry.Lock()
		if registry.m[l.n] == l {
			delete(registry.m, l.n)
		}
		registry.Unlock()
		close(l.closed)
	})
	return nil
}

func (l *listener) Addr() net.Addr          { return addr(l.addr.String()) }
func (l *listener) Multiaddr() ma.Multiaddr { return l.addr }

type addr string

func (a addr) Network() string { return "memory" }
func (a addr) String() string  { return string(a) }
