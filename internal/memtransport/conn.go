package memtransport

import (
	"context"
	"fmt"
	"sync"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/transport"
	ma "github.com/multiformats/go-multiaddr"
)

// link is one connection, shared by its two ends (0 the dialer, 1 the
// listener): its open streams, to reset at close, and whether it is closed.
// Lock order: a stream's lock before link.mu, never the other way.
type link struct {
	mu      sync.Mutex
	streams map[*pair]struct{}
	closed  chan struct{}
	once    sync.Once
	ends    [2]*conn
}

// forget drops a stream that is over; called with p.mu held.
func (lk *link) forget(p *pair) {
	lk.mu.Lock()
	delete(lk.streams, p)
	lk.mu.Unlock()
}

// close closes the connection at both ends: its streams are reset (as by
// end by), blocked AcceptStream and OpenStream calls return.
func (lk *link) close(by int) {
	lk.once.Do(func() {
		lk.mu.Lock()
		close(lk.closed)
		open := make([]*pair, 0, len(lk.streams))
		for p := range lk.streams {
			open = append(open, p)
		}
		lk.mu.Unlock()
		for _, p := range open {
			p.mu.Lock()
			p.resetAll(by, network.StreamNoError, ErrConnClosed)
			p.mu.Unlock()
		}
	})
}

// conn is one end of a connection: a transport.CapableConn, secure and
// multiplexed by construction.
type conn struct {
	link      *link
	me        int
	t         *Transport // this end's host's
	scope     network.ConnManagementScope
	remote    peer.ID
	remotePub crypto.PubKey
	laddr     ma.Multiaddr
	raddr     ma.Multiaddr
	accept    chan *Stream // streams the other end opened
	scopeOnce sync.Once
}

var _ transport.CapableConn = (*conn)(nil)

// OpenStream opens a stream, which the other end's AcceptStream returns;
// it waits while that end has a full backlog.
func (c *conn) OpenStream(ctx context.Context) (network.MuxedStream, error) {
	lk := c.link
	p, mine, theirs := newPair(lk.forget)
	if c.me == 1 {
		mine, theirs = theirs, mine
	}
	lk.mu.Lock()
	select {
	case <-lk.closed:
		lk.mu.Unlock()
		return nil, ErrConnClosed
	default:
	}
	if len(lk.streams) >= maxStreams {
		lk.mu.Unlock()
		return nil, fmt.Errorf("%w (%d)", ErrTooMany, maxStreams)
	}
	lk.streams[p] = struct{}{}
	lk.mu.Unlock()
	select {
	case lk.ends[1-c.me].accept <- theirs:
		return mine, nil
	case <-lk.closed:
		return nil, ErrConnClosed
	case <-ctx.Done():
		mine.Reset()
		return nil, ctx.Err()
	}
}

// AcceptStream returns the next stream the other end opened.
func (c *conn) AcceptStream() (network.MuxedStream, error) {
	select {
	case s := <-c.accept:
		if c.IsClosed() {
			return nil, ErrConnClosed // the close reset s
		}
		return s, nil
	case <-c.link.closed:
		return nil, ErrConnClosed
	}
}

// Close closes the connection (both ends: their streams are reset) and
// releases this end's resources.
func (c *conn) Close() error {
	c.link.close(c.me)
	c.scopeOnce.Do(func() {
		if c.scope != nil {
			c.scope.Done()
		}
	})
	return nil
}

// CloseWithError is Close: the code is not passed on.
func (c *conn) CloseWithError(network.ConnErrorCode) error { return c.Close() }

func (c *conn) IsClosed() bool {
	select {
	case <-c.link.closed:
		return true
	default:
		return false
	}
}

func (c *conn) As(any) bool                    { return false }
func (c *conn) LocalPeer() peer.ID             { return c.t.id }
func (c *conn) RemotePeer() peer.ID            { return c.remote }
func (c *conn) RemotePublicKey() crypto.PubKey { return c.remotePub }
func (c *conn) LocalMultiaddr() ma.Multiaddr   { return c.laddr }
func (c *conn) RemoteMultiaddr() ma.Multiaddr  { return c.raddr }
func (c *conn) Scope() network.ConnScope       { return c.scope }
func (c *conn) Transport() transport.Transport { return c.t }

// ConnState names the connection's security and multiplexing: this
// package's, not Noise's or yamux's.
func (c *conn) ConnState() network.ConnectionState {
	return network.ConnectionState{StreamMultiplexer: ID, Security: ID, Transport: "memory"}
}
