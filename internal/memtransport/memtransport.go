// Package memtransport is a libp2p transport between hosts of one process.
//
// A devnet runs up to 2,000 service nodes in one process. Over TCP, every
// connection between two of them costs two open files (one socket at each
// end) and kernel buffers; with each node talking to its swarm, its testing
// quorums and random onion hops, the process ran out of its 20,000 files at
// about 400 nodes. Here a host of the process listens on /memory/N as well
// (N is derived from its peer ID, so the address survives a restart), and a
// dial to it makes an in-memory pipe, which the dialing host's upgrader
// secures with Noise and multiplexes with yamux exactly as it does a TCP
// socket: above the bytes nothing differs (the handshake authenticates the
// peer ID, the resource manager and connection manager count the
// connection), and it costs no file.
//
// Hosts of other processes cannot dial these addresses (a dial finds no
// listener here and fails at once), so nodes publish only their TCP
// addresses; a node dials a peer of its own process on its /memory address
// (see Listening and Addr).
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

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/transport"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// The listeners of this process, by their /memory number.
var registry = struct {
	sync.Mutex
	m map[uint64]*listener
}{m: map[uint64]*listener{}}

// ErrNoListener is returned for a dial to an address nothing in this process listens on.
var ErrNoListener = errors.New("memtransport: nothing in this process listens there")

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
	_, ok := registry.m[Number(id)]
	return ok
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

// Transport dials and listens on /memory addresses.
type Transport struct {
	up    transport.Upgrader
	rcmgr network.ResourceManager
}

var _ transport.Transport = (*Transport)(nil)

// New is the transport's constructor, as libp2p.Transport wants it.
func New(up transport.Upgrader, rcmgr network.ResourceManager) (*Transport, error) {
	if rcmgr == nil {
		rcmgr = &network.NullResourceManager{}
	}
	return &Transport{up: up, rcmgr: rcmgr}, nil
}

// anonymous is the local address of a dialing host (it need not listen).
var anonymous = ma.StringCast("/memory/0")

// Dial connects to the host of this process listening on raddr and upgrades
// the pipe (Noise, yamux) as an outbound connection to p.
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
	scope, err := t.rcmgr.OpenConnection(network.DirOutbound, false, raddr)
	if err != nil {
		return nil, err
	}
	if err := scope.SetPeer(p); err != nil {
		scope.Done()
		return nil, err
	}
	mine, theirs := net.Pipe()
	select {
	case l.incoming <- &conn{Conn: theirs, local: raddr, remote: anonymous}:
	case <-l.closed:
		scope.Done()
		mine.Close()
		theirs.Close()
		return nil, fmt.Errorf("%w: %s (closed)", ErrNoListener, raddr)
	case <-ctx.Done():
		scope.Done()
		mine.Close()
		theirs.Close()
		return nil, ctx.Err()
	}
	c, err := t.up.Upgrade(ctx, t, &conn{Conn: mine, local: anonymous, remote: raddr}, network.DirOutbound, p, scope)
	if err != nil {
		scope.Done()
		return nil, err
	}
	return c, nil
}

// CanDial tells whether addr is a /memory address.
func (t *Transport) CanDial(addr ma.Multiaddr) bool { return IsMemory(addr) }

// Listen registers a listener on laddr; one address has one listener.
func (t *Transport) Listen(laddr ma.Multiaddr) (transport.Listener, error) {
	n, err := number(laddr)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errors.New("memtransport: /memory/0 is the dialers' address, not a listener's")
	}
	l := &listener{n: n, addr: laddr, incoming: make(chan *conn), closed: make(chan struct{})}
	registry.Lock()
	defer registry.Unlock()
	if registry.m[n] != nil {
		return nil, fmt.Errorf("memtransport: %s is in use", laddr)
	}
	registry.m[n] = l
	return t.up.UpgradeGatedMaListener(t, t.up.GateMaListener(l)), nil
}

// Protocols are the address protocols the transport handles.
func (t *Transport) Protocols() []int { return []int{ma.P_MEMORY} }

// Proxy is false: connections go straight to the peer.
func (t *Transport) Proxy() bool { return false }

func (t *Transport) String() string { return "memory" }

// listener is a manet.Listener fed by dials of this process.
type listener struct {
	n        uint64
	addr     ma.Multiaddr
	incoming chan *conn
	once     sync.Once
	closed   chan struct{}
}

func (l *listener) Accept() (manet.Conn, error) {
	select {
	case c := <-l.incoming:
		return c, nil
	case <-l.closed:
		return nil, transport.ErrListenerClosed
	}
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

// conn is one end of a pipe, with the multiaddrs libp2p asks for.
type conn struct {
	net.Conn
	local, remote ma.Multiaddr
}

func (c *conn) LocalMultiaddr() ma.Multiaddr  { return c.local }
func (c *conn) RemoteMultiaddr() ma.Multiaddr { return c.remote }
func (c *conn) LocalAddr() net.Addr           { return addr(c.local.String()) }
func (c *conn) RemoteAddr() net.Addr          { return addr(c.remote.String()) }

type addr string

func (a addr) Network() string { return "memory" }
func (a addr) String() string  { return string(a) }
