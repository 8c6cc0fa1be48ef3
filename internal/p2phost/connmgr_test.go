package p2phost

import (
	"context"
	"crypto/ed25519"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// fakeClock is a manual clock: timers fire when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c  *fakeClock
	at time.Time // zero: stopped
	f  func()
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.at.IsZero()
	t.at = t.c.now.Add(d)
	return was
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.at.IsZero()
	t.at = time.Time{}
	return was
}

// advance moves the clock by d and runs the timers due, in order.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.at.IsZero() && !t.at.After(end) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		c.now, next.at = next.at, time.Time{}
		c.mu.Unlock()
		next.f()
	}
}

// fakeConn is a connection the manager can count, inspect and close.
type fakeConn struct {
	network.Conn
	cm      *connManager
	p       peer.ID
	dir     network.Direction
	streams int
	closed  bool
}

func (c *fakeConn) RemotePeer() peer.ID { return c.p }
func (c *fakeConn) RemoteMultiaddr() ma.Multiaddr {
	return ma.StringCast("/ip4/127.0.0.1/tcp/1")
}
func (c *fakeConn) Stat() network.ConnStats {
	return network.ConnStats{Stats: network.Stats{Direction: c.dir}, NumStreams: c.streams}
}
func (c *fakeConn) CloseWithError(network.ConnErrorCode) error {
	c.closed = true
	c.cm.Notifee().Disconnected(nil, c)
	return nil
}

func testPeer(t *testing.T, i int) peer.ID {
	t.Helper()
	s := make([]byte, 32)
	s[0], s[1] = byte(i), byte(i>>8)
	id, err := peer.IDFromPublicKey(mustPub(t, ed25519.NewKeyFromSeed(s)))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func mustPub(t *testing.T, k ed25519.PrivateKey) crypto.PubKey {
	t.Helper()
	priv, err := crypto.UnmarshalEd25519PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return priv.GetPublic()
}

type connTest struct {
	t     *testing.T
	clk   *fakeClock
	cm    *connManager
	conns []*fakeConn
}

func newConnTest(t *testing.T, low, high int) *connTest {
	clk := &fakeClock{now: time.Unix(1e9, 0)}
	cm, err := newConnManager(low, high, 10*time.Second, 5*time.Second, clk)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cm.Close() })
	return &connTest{t: t, clk: clk, cm: cm}
}

// connect opens a connection to the i-th peer.
func (ct *connTest) connect(i int, dir network.Direction, streams int) *fakeConn {
	c := &fakeConn{cm: ct.cm, p: testPeer(ct.t, i), dir: dir, streams: streams}
	ct.conns = append(ct.conns, c)
	ct.cm.Notifee().Connected(nil, c)
	return c
}

// open lists the indexes (in connection order) of the open connections.
func (ct *connTest) open() []int {
	var out []int
	for i, c := range ct.conns {
		if !c.closed {
			out = append(out, i)
		}
	}
	return out
}

func TestConnManagerTrims(t *testing.T) {
	ct := newConnTest(t, 2, 4)
	// Five connections, over high: after the grace period, back to low.
	ct.connect(0, network.DirOutbound, 1)
	ct.connect(1, network.DirInbound, 0)
	ct.connect(2, network.DirOutbound, 0)
	ct.connect(3, network.DirOutbound, 3)
	ct.connect(4, network.DirOutbound, 2)
	ct.clk.advance(9 * time.Second)
	if got := ct.open(); len(got) != 5 {
		t.Fatalf("trimmed within the grace period: open %v", got)
	}
	ct.clk.advance(time.Second)
	// Closed first: no streams (inbound before outbound), then fewer
	// streams; kept: the two with most streams. (Among peers with streams,
	// inbound ones go first too, as in libp2p's BasicConnMgr.)
	if got := ct.open(); !slices.Equal(got, []int{3, 4}) {
		t.Fatalf("open %v, want [3 4]", got)
	}
	if ct.cm.count != 2 || len(ct.cm.peers) != 2 {
		t.Fatalf("count %d, peers %d", ct.cm.count, len(ct.cm.peers))
	}
}

func TestConnManagerGraceAndSilence(t *testing.T) {
	ct := newConnTest(t, 1, 2)
	ct.connect(0, network.DirOutbound, 0)
	ct.connect(1, network.DirOutbound, 0)
	ct.clk.advance(20 * time.Second)
	// Over high with a new peer: the old ones are trimmed, the new one
	// (in its grace period) kept, and low of the old ones: here one.
	ct.connect(2, network.DirOutbound, 0)
	ct.clk.advance(0)
	if got := ct.open(); !slices.Equal(got, []int{1, 2}) && !slices.Equal(got, []int{0, 2}) {
		t.Fatalf("open %v, want one old and the new", got)
	}
	// Two more within the silence period: no trim until it ends, and then
	// none while the new ones are in their grace period and fewer than low
	// old ones would remain.
	ct.connect(3, network.DirOutbound, 0)
	ct.connect(4, network.DirOutbound, 0)
	ct.clk.advance(4 * time.Second)
	if got := ct.open(); len(got) != 4 {
		t.Fatalf("trimmed within the silence period: open %v", got)
	}
	// While at high or over, a trim every silence period: once their
	// grace ends, down to low.
	ct.clk.advance(10 * time.Second)
	if got := ct.open(); len(got) != 1 {
		t.Fatalf("after the grace period: open %v, want 1", got)
	}
}

func TestConnManagerProtect(t *testing.T) {
	ct := newConnTest(t, 1, 2)
	for i := range 4 {
		ct.connect(i, network.DirInbound, 0)
	}
	p0, p1 := testPeer(t, 0), testPeer(t, 1)
	ct.cm.Protect(p0, "swarm")
	ct.cm.Protect(p1, "swarm")
	ct.cm.Protect(p1, "test/7")
	if !ct.cm.IsProtected(p1, "") || !ct.cm.IsProtected(p1, "test/7") || ct.cm.IsProtected(p1, "x") {
		t.Fatal("IsProtected")
	}
	ct.clk.advance(time.Minute)
	if got := ct.open(); !slices.Equal(got, []int{0, 1, 2}) && !slices.Equal(got, []int{0, 1, 3}) {
		t.Fatalf("open %v, want the protected and one other", got)
	}
	if !ct.cm.Unprotect(p1, "swarm") {
		t.Fatal("p1 is still protected by test/7")
	}
	if ct.cm.Unprotect(p1, "test/7") {
		t.Fatal("p1 has no protection left")
	}
	// Unprotected while over high: trimmed at the next trim, to the
	// protected and low others.
	ct.clk.advance(5 * time.Second)
	if got := ct.open(); len(got) != 2 || got[0] != 0 {
		t.Fatalf("open %v, want the protected [0] and one other", got)
	}
	// A protection outlives the connections.
	ct.conns[0].CloseWithError(0)
	if !ct.cm.IsProtected(p0, "swarm") || ct.cm.peers[p0] != nil {
		t.Fatalf("protected %v, entry %v", ct.cm.IsProtected(p0, "swarm"), ct.cm.peers[p0])
	}
}

func TestConnManagerTags(t *testing.T) {
	ct := newConnTest(t, 1, 2)
	// A tag before the connection is kept; the tagged peer is trimmed last.
	ct.cm.TagPeer(testPeer(t, 0), "keep", 10)
	for i := range 3 {
		ct.connect(i, network.DirOutbound, 0)
	}
	ct.cm.UpsertTag(testPeer(t, 0), "keep", func(v int) int { return v + 5 })
	if info := ct.cm.GetTagInfo(testPeer(t, 0)); info == nil || info.Value != 15 || len(info.Conns) != 1 {
		t.Fatalf("tag info %+v", info)
	}
	ct.clk.advance(time.Minute)
	if got := ct.open(); !slices.Equal(got, []int{0}) {
		t.Fatalf("open %v, want [0]", got)
	}
	ct.cm.UntagPeer(testPeer(t, 0), "keep")
	if info := ct.cm.GetTagInfo(testPeer(t, 0)); info == nil || info.Value != 0 {
		t.Fatalf("tag info %+v", info)
	}
	// Peers tagged and never connected are bounded.
	for i := range 3 * ct.cm.maxUnconnTagged {
		ct.cm.TagPeer(testPeer(t, 100+i), "x", 1)
	}
	if ct.cm.unconn != ct.cm.maxUnconnTagged || len(ct.cm.peers) != 1+ct.cm.maxUnconnTagged {
		t.Fatalf("unconnected %d, peers %d", ct.cm.unconn, len(ct.cm.peers))
	}
	// Past the grace period they make room for others.
	ct.clk.advance(time.Minute)
	ct.cm.TagPeer(testPeer(t, 99), "x", 1)
	if ct.cm.GetTagInfo(testPeer(t, 99)) == nil || ct.cm.unconn != 1 {
		t.Fatalf("unconnected %d", ct.cm.unconn)
	}
}

func TestConnManagerClose(t *testing.T) {
	ct := newConnTest(t, 1, 2)
	for i := range 4 {
		ct.connect(i, network.DirOutbound, 0)
	}
	ct.cm.Close()
	ct.clk.advance(time.Minute)
	ct.cm.TrimOpenConns(context.Background())
	if got := ct.open(); len(got) != 4 {
		t.Fatalf("trimmed after Close: open %v", got)
	}
}
