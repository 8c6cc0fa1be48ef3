package p2phost

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// connManager is a host's connection manager: it keeps between low and
// high connections, as libp2p's BasicConnMgr does, at a small part of its
// cost. BasicConnMgr gives each host a table of 256 locked maps, three
// maps a connected peer, and two goroutines (its trim ticker and its tag
// decayer); at 2,000 nodes in one process that was 120 MB of heap and
// 4,000 goroutines. This one keeps a map of connected peers, a slice of
// connections a peer, and no goroutine: a trim runs on a timer (Go's, which
// costs no goroutine while it waits), set when a connection brings the
// count to high, again every silence period while it stays there, and
// when a protection is lifted.
//
// What it keeps of BasicConnMgr's behaviour, which the nodes rely on:
//   - at high or over, it closes connections back to low, choosing among
//     the peers neither protected nor within their grace period (counted
//     from the peer's first connection), and only if at least low
//     connections of such peers remain after it (so a burst of new
//     connections is never cut to nothing);
//   - it trims at most once per silence period, unless asked
//     (TrimOpenConns);
//   - the peers closed first are those tagged lowest, then those with no
//     open stream, then those that dialled in, then those with fewer
//     streams;
//   - protections are per tag and not counted, and outlive a peer's
//     connections; tags end with the peer's last connection, or, for a
//     peer tagged before it connected, with the first trim after its grace
//     period.
//
// It has no tag decayer (connmgr.Decayer): nothing in sessionctl decays
// tags.
type connManager struct {
	low, high       int
	grace, silence  time.Duration
	clock           clock
	maxUnconnTagged int // peers tagged but not connected, at most

	mu        sync.Mutex
	peers     map[peer.ID]*cmPeer
	count     int // connections open
	unconn    int // peers tagged but not connected
	protected map[peer.ID]map[string]struct{}
	lastTrim  time.Time
	timer     timer
	timerAt   time.Time // when timer fires; zero: not set
	closed    bool
}

// cmPeer is a peer the manager knows: connected, or tagged before it
// connected.
type cmPeer struct {
	first time.Time // its first connection (or tag, until it connects)
	conns []cmConn
	tags  map[string]int // nil until tagged
	value int            // the sum of tags
}

type cmConn struct {
	c  network.Conn
	at time.Time
}

// clock is the manager's time: the real one, or a test's.
type clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) timer
}

type timer interface {
	Reset(d time.Duration) bool
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) timer { return time.AfterFunc(d, f) }

var _ connmgr.ConnManager = (*connManager)(nil)

// newConnManager keeps low to high connections; a peer's connections are
// kept at least grace after its first, and trims come at least silence
// apart.
func newConnManager(low, high int, grace, silence time.Duration, clk clock) (*connManager, error) {
	if low < 0 || high < low {
		return nil, fmt.Errorf("connection watermarks %d, %d: want 0 <= low <= high", low, high)
	}
	if clk == nil {
		clk = realClock{}
	}
	return &connManager{
		low: low, high: high, grace: grace, silence: silence, clock: clk,
		maxUnconnTagged: 4 * high,
		peers:           map[peer.ID]*cmPeer{},
		protected:       map[peer.ID]map[string]struct{}{},
	}, nil
}

// Notifee is how the host's network tells the manager of connections.
func (cm *connManager) Notifee() network.Notifiee { return (*cmNotifee)(cm) }

type cmNotifee connManager

func (n *cmNotifee) Connected(_ network.Network, c network.Conn) {
	cm := (*connManager)(n)
	cm.mu.Lock()
	defer cm.mu.Unlock()
	now := cm.clock.Now()
	p := c.RemotePeer()
	pi := cm.peers[p]
	switch {
	case pi == nil:
		pi = &cmPeer{first: now}
		cm.peers[p] = pi
	case len(pi.conns) == 0:
		pi.first = now // tagged before: its grace starts now
		cm.unconn--
	}
	if slices.ContainsFunc(pi.conns, func(x cmConn) bool { return x.c == c }) {
		return
	}
	pi.conns = append(pi.conns, cmConn{c, now})
	cm.count++
	if cm.count >= cm.high {
		cm.scheduleLocked(cm.lastTrim.Add(cm.silence), now)
	}
}

func (n *cmNotifee) Disconnected(_ network.Network, c network.Conn) {
	cm := (*connManager)(n)
	cm.mu.Lock()
	defer cm.mu.Unlock()
	p := c.RemotePeer()
	pi := cm.peers[p]
	if pi == nil {
		return
	}
	i := slices.IndexFunc(pi.conns, func(x cmConn) bool { return x.c == c })
	if i < 0 {
		return
	}
	pi.conns = slices.Delete(pi.conns, i, i+1)
	cm.count--
	if len(pi.conns) == 0 {
		delete(cm.peers, p)
	}
}

func (*cmNotifee) Listen(network.Network, ma.Multiaddr)      {}
func (*cmNotifee) ListenClose(network.Network, ma.Multiaddr) {}

// scheduleLocked sets the timer to trim at at (or now, if at is past),
// unless it is set to fire sooner already.
func (cm *connManager) scheduleLocked(at, now time.Time) {
	if cm.closed {
		return
	}
	if at.Before(now) {
		at = now
	}
	if !cm.timerAt.IsZero() && !cm.timerAt.After(at) {
		return
	}
	cm.timerAt = at
	if cm.timer == nil {
		cm.timer = cm.clock.AfterFunc(at.Sub(now), cm.fire)
		return
	}
	cm.timer.Reset(at.Sub(now))
}

// fire is the timer's trim: it trims if still at high or over, and out of
// the silence period.
func (cm *connManager) fire() {
	cm.mu.Lock()
	cm.timerAt = time.Time{}
	if cm.closed || cm.count < cm.high {
		cm.mu.Unlock()
		return
	}
	now := cm.clock.Now()
	if next := cm.lastTrim.Add(cm.silence); now.Before(next) {
		cm.scheduleLocked(next, now)
		cm.mu.Unlock()
		return
	}
	victims := cm.trimLocked(now)
	cm.mu.Unlock()
	for _, c := range victims {
		c.CloseWithError(network.ConnGarbageCollected)
	}
}

// TrimOpenConns trims now, whatever the silence period.
func (cm *connManager) TrimOpenConns(context.Context) {
	cm.mu.Lock()
	if cm.closed {
		cm.mu.Unlock()
		return
	}
	victims := cm.trimLocked(cm.clock.Now())
	cm.mu.Unlock()
	for _, c := range victims {
		c.CloseWithError(network.ConnGarbageCollected)
	}
}

// trimLocked picks the connections to close (the caller closes them,
// outside the lock: closing one calls the notifee), records the trim, and
// sets the timer for the next if the count stays at high or over: libp2p's
// manager checks every silence period, here only while over.
func (cm *connManager) trimLocked(now time.Time) []network.Conn {
	cm.lastTrim = now
	victims := cm.pickLocked(now)
	if cm.count-len(victims) >= cm.high {
		cm.scheduleLocked(now.Add(cm.silence), now)
	}
	return victims
}

// pickLocked picks the connections to close.
func (cm *connManager) pickLocked(now time.Time) []network.Conn {
	if cm.low == 0 || cm.high == 0 || cm.count <= cm.low {
		return nil
	}
	graceStart := now.Add(-cm.grace)
	type candidate struct {
		p       peer.ID
		pi      *cmPeer
		streams int
		inbound bool
	}
	var cands []candidate
	var n int
	for p, pi := range cm.peers {
		if _, ok := cm.protected[p]; ok {
			continue
		}
		if pi.first.After(graceStart) {
			continue
		}
		if len(pi.conns) == 0 {
			delete(cm.peers, p) // tagged long ago, never connected
			cm.unconn--
			continue
		}
		c := candidate{p: p, pi: pi}
		for _, x := range pi.conns {
			st := x.c.Stat()
			c.streams += st.NumStreams
			c.inbound = c.inbound || st.Direction == network.DirInbound
		}
		cands = append(cands, c)
		n += len(pi.conns)
	}
	if n < cm.low {
		return nil // too many in their grace period: keep the new ones
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		switch {
		case a.pi.value != b.pi.value:
			return a.pi.value - b.pi.value
		case (a.streams == 0) != (b.streams == 0):
			return a.streams - b.streams
		case a.inbound != b.inbound:
			if a.inbound {
				return -1
			}
			return 1
		}
		return a.streams - b.streams
	})
	var victims []network.Conn
	for target := n - cm.low; target > 0 && len(cands) > 0; cands = cands[1:] {
		for _, x := range cands[0].pi.conns {
			victims = append(victims, x.c)
		}
		target -= len(cands[0].pi.conns)
	}
	return victims
}

// Protect keeps p's connections open when trimming, until Unprotect with
// the same tag (protections are not counted).
func (cm *connManager) Protect(p peer.ID, tag string) {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	tags := cm.protected[p]
	if tags == nil {
		tags = make(map[string]struct{}, 1)
		cm.protected[p] = tags
	}
	tags[tag] = struct{}{}
}

// Unprotect lifts the protection tag of p, and says whether another keeps
// p protected.
func (cm *connManager) Unprotect(p peer.ID, tag string) bool {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	tags, ok := cm.protected[p]
	if !ok {
		return false
	}
	delete(tags, tag)
	if len(tags) > 0 {
		return true
	}
	delete(cm.protected, p)
	if cm.count >= cm.high {
		now := cm.clock.Now()
		cm.scheduleLocked(cm.lastTrim.Add(cm.silence), now)
	}
	return false
}

// IsProtected says whether p is protected by tag, or by any tag if tag is
// empty.
func (cm *connManager) IsProtected(p peer.ID, tag string) bool {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	tags, ok := cm.protected[p]
	if !ok || tag == "" {
		return ok
	}
	_, ok = tags[tag]
	return ok
}

// peerForTagLocked is p's entry, made if p is not connected, or nil if
// too many peers that are not connected are tagged already (and none of
// them for longer than the grace period).
func (cm *connManager) peerForTagLocked(p peer.ID) *cmPeer {
	if pi := cm.peers[p]; pi != nil {
		return pi
	}
	now := cm.clock.Now()
	if cm.unconn >= cm.maxUnconnTagged {
		graceStart := now.Add(-cm.grace)
		for q, pi := range cm.peers {
			if len(pi.conns) == 0 && !pi.first.After(graceStart) {
				delete(cm.peers, q)
				cm.unconn--
			}
		}
		if cm.unconn >= cm.maxUnconnTagged {
			return nil
		}
	}
	pi := &cmPeer{first: now}
	cm.peers[p] = pi
	cm.unconn++
	return pi
}

// TagPeer sets p's tag to val; the peer's tags add up to its value, and
// peers of lower value are trimmed first.
func (cm *connManager) TagPeer(p peer.ID, tag string, val int) {
	cm.UpsertTag(p, tag, func(int) int { return val })
}

// UpsertTag sets p's tag to upsert of its value (0 if none).
func (cm *connManager) UpsertTag(p peer.ID, tag string, upsert func(int) int) {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	pi := cm.peerForTagLocked(p)
	if pi == nil {
		return
	}
	if pi.tags == nil {
		pi.tags = map[string]int{}
	}
	old := pi.tags[tag]
	v := upsert(old)
	pi.tags[tag] = v
	pi.value += v - old
}

// UntagPeer removes p's tag.
func (cm *connManager) UntagPeer(p peer.ID, tag string) {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if pi := cm.peers[p]; pi != nil {
		pi.value -= pi.tags[tag]
		delete(pi.tags, tag)
	}
}

// GetTagInfo is what the manager knows of p, or nil.
func (cm *connManager) GetTagInfo(p peer.ID) *connmgr.TagInfo {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	pi := cm.peers[p]
	if pi == nil {
		return nil
	}
	info := &connmgr.TagInfo{FirstSeen: pi.first, Value: pi.value, Tags: maps.Clone(pi.tags), Conns: map[string]time.Time{}}
	if info.Tags == nil {
		info.Tags = map[string]int{}
	}
	for _, x := range pi.conns {
		info.Conns[x.c.RemoteMultiaddr().String()] = x.at
	}
	return info
}

// CheckLimit says whether high exceeds the resource manager's limit of
// connections.
func (cm *connManager) CheckLimit(l connmgr.GetConnLimiter) error {
	if cm.high > l.GetConnLimit() {
		return fmt.Errorf("connection manager's high watermark %d exceeds the system connection limit %d", cm.high, l.GetConnLimit())
	}
	return nil
}

// Close stops the timer; the manager trims no more.
func (cm *connManager) Close() error {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	cm.closed = true
	if cm.timer != nil {
		cm.timer.Stop()
	}
	return nil
}
