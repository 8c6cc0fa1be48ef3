package p2phost

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"time"
	"unique"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/record"
	"github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoremem"
	ma "github.com/multiformats/go-multiaddr"
)

// Bounds of an address book, libp2p's: addresses not held by a connection
// (a TTL below peerstore.ConnectedAddrTTL) in all and a peer, and signed
// peer records.
const (
	maxUnconnectedAddrs  = 1_000_000
	maxAddrsPerPeer      = 64
	maxSignedPeerRecords = 100_000
)

// addrSweepEvery is how often, at most, a write to an address book first
// drops the addresses expired.
const addrSweepEvery = time.Minute

// addrBook is a host's address book, with the semantics of libp2p's
// in-memory one (pstoremem) and less of its cost. pstoremem keeps a map a
// peer of 80-byte entries keyed by a copy of the address's bytes, a heap
// of expiries, and a goroutine a host that drops the expired every minute.
// Here a peer's addresses are a slice of 24-byte entries, the address's
// bytes are shared by the process (package unique: every host of a devnet
// knows the same few thousand addresses) and decoded when read, and the
// expired are dropped on reads' behalf by the first write after a minute,
// with no goroutine.
//
// Kept from pstoremem: AddAddrs never shortens a TTL or an expiry; SetAddrs
// sets both (a TTL of 0 removes); UpdateAddrs moves the addresses of one TTL
// to another; addresses held by a connection (ConnectedAddrTTL or more)
// never expire and are not counted in the bounds; over the bound of a
// peer, the address expiring first goes; signed peer records must match
// their key and never go back in sequence.
type addrBook struct {
	now  func() time.Time
	subs *pstoremem.AddrSubManager

	mu        sync.RWMutex
	peers     map[peer.ID][]addrEntry
	records   map[peer.ID]*signedRecord
	unconn    int // entries not held by a connection
	lastSweep time.Time
}

type addrEntry struct {
	a   unique.Handle[string] // the address's bytes
	ttl time.Duration
	exp int64 // Unix nanoseconds; math.MaxInt64: never
}

type signedRecord struct {
	env *record.Envelope
	seq uint64
}

func newAddrBook(now func() time.Time) *addrBook {
	if now == nil {
		now = time.Now
	}
	return &addrBook{
		now:       now,
		subs:      pstoremem.NewAddrSubManager(),
		peers:     map[peer.ID][]addrEntry{},
		records:   map[peer.ID]*signedRecord{},
		lastSweep: now(),
	}
}

func connected(ttl time.Duration) bool { return ttl >= peerstore.ConnectedAddrTTL }

// expiry is now plus ttl, in Unix nanoseconds, saturated.
func expiry(now time.Time, ttl time.Duration) int64 {
	n := now.UnixNano()
	if ttl > time.Duration(math.MaxInt64-n) {
		return math.MaxInt64
	}
	return n + int64(ttl)
}

// split is a's address without its /p2p part, and false if a is nil or
// names another peer than p.
func split(p peer.ID, a ma.Multiaddr) (ma.Multiaddr, bool) {
	a, pid := peer.SplitAddr(a)
	return a, a != nil && (pid == "" || pid == p)
}

func decode(h unique.Handle[string]) (ma.Multiaddr, bool) {
	a, err := ma.NewMultiaddrBytes([]byte(h.Value()))
	return a, err == nil
}

// sweepLocked drops the expired addresses, at most once a minute.
func (ab *addrBook) sweepLocked(now time.Time) {
	if now.Sub(ab.lastSweep) < addrSweepEvery {
		return
	}
	ab.lastSweep = now
	t := now.UnixNano()
	for p, es := range ab.peers {
		ab.setPeerLocked(p, slices.DeleteFunc(es, func(e addrEntry) bool {
			if e.exp > t {
				return false
			}
			ab.unconn--
			return true
		}))
	}
}

// setPeerLocked stores es as p's, forgetting p (and its record) if empty.
func (ab *addrBook) setPeerLocked(p peer.ID, es []addrEntry) {
	if len(es) == 0 {
		delete(ab.peers, p)
		delete(ab.records, p)
		return
	}
	ab.peers[p] = es
}

// countLocked counts e in the bound of addresses not held by a connection
// (by d: 1 to count, -1 to uncount), if it is one.
func (ab *addrBook) countLocked(ttl time.Duration, d int) {
	if !connected(ttl) {
		ab.unconn += d
	}
}

// roomLocked makes room for one more address of p not held by a
// connection, and says whether there is.
func (ab *addrBook) roomLocked(p peer.ID) bool {
	if ab.unconn >= maxUnconnectedAddrs {
		return false
	}
	es := ab.peers[p]
	n, first := 0, -1
	for i, e := range es {
		if !connected(e.ttl) {
			n++
			if first < 0 || e.exp < es[first].exp {
				first = i
			}
		}
	}
	if n < maxAddrsPerPeer {
		return true
	}
	ab.peers[p] = slices.Delete(es, first, first+1)
	ab.unconn--
	return true
}

func (ab *addrBook) AddAddr(p peer.ID, a ma.Multiaddr, ttl time.Duration) {
	ab.AddAddrs(p, []ma.Multiaddr{a}, ttl)
}

// AddAddrs adds addrs for ttl, and lengthens the TTL and expiry of those
// known already if shorter.
func (ab *addrBook) AddAddrs(p peer.ID, addrs []ma.Multiaddr, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	ab.mu.Lock()
	defer ab.mu.Unlock()
	ab.addLocked(p, addrs, ttl)
}

func (ab *addrBook) addLocked(p peer.ID, addrs []ma.Multiaddr, ttl time.Duration) {
	now := ab.now()
	ab.sweepLocked(now)
	exp := expiry(now, ttl)
	for _, a := range addrs {
		a, ok := split(p, a)
		if !ok {
			continue
		}
		h := unique.Make(string(a.Bytes()))
		es := ab.peers[p]
		if i := slices.IndexFunc(es, func(e addrEntry) bool { return e.a == h }); i >= 0 {
			e := &es[i]
			ab.countLocked(e.ttl, -1)
			e.ttl, e.exp = max(e.ttl, ttl), max(e.exp, exp)
			ab.countLocked(e.ttl, 1)
			continue
		}
		if !connected(ttl) && !ab.roomLocked(p) {
			continue
		}
		ab.peers[p] = append(ab.peers[p], addrEntry{h, ttl, exp})
		ab.countLocked(ttl, 1)
		ab.subs.BroadcastAddr(p, a)
	}
}

func (ab *addrBook) SetAddr(p peer.ID, a ma.Multiaddr, ttl time.Duration) {
	ab.SetAddrs(p, []ma.Multiaddr{a}, ttl)
}

// SetAddrs sets the TTL of addrs, adding those not known; a TTL of 0 or
// less removes them.
func (ab *addrBook) SetAddrs(p peer.ID, addrs []ma.Multiaddr, ttl time.Duration) {
	ab.mu.Lock()
	defer ab.mu.Unlock()
	now := ab.now()
	ab.sweepLocked(now)
	exp := expiry(now, ttl)
	for _, a := range addrs {
		a, ok := split(p, a)
		if !ok {
			continue
		}
		h := unique.Make(string(a.Bytes()))
		es := ab.peers[p]
		i := slices.IndexFunc(es, func(e addrEntry) bool { return e.a == h })
		switch {
		case i >= 0 && ttl > 0 && (connected(ttl) || connected(es[i].ttl) == connected(ttl) || ab.unconn < maxUnconnectedAddrs):
			ab.countLocked(es[i].ttl, -1)
			es[i].ttl, es[i].exp = ttl, exp
			ab.countLocked(ttl, 1)
			ab.subs.BroadcastAddr(p, a)
		case i >= 0:
			ab.countLocked(es[i].ttl, -1)
			ab.setPeerLocked(p, slices.Delete(es, i, i+1))
		case ttl > 0 && (connected(ttl) || ab.roomLocked(p)):
			ab.peers[p] = append(ab.peers[p], addrEntry{h, ttl, exp})
			ab.countLocked(ttl, 1)
			ab.subs.BroadcastAddr(p, a)
		}
	}
}

// UpdateAddrs gives p's addresses of TTL old the TTL new (removes them if
// new is 0 or less).
func (ab *addrBook) UpdateAddrs(p peer.ID, old, new time.Duration) {
	ab.mu.Lock()
	defer ab.mu.Unlock()
	now := ab.now()
	exp := expiry(now, new)
	ab.setPeerLocked(p, slices.DeleteFunc(ab.peers[p], func(e addrEntry) bool {
		gone := e.ttl == old && (new <= 0 || connected(old) && !connected(new) && ab.unconn >= maxUnconnectedAddrs)
		if gone {
			ab.countLocked(old, -1)
		}
		return gone
	}))
	for i := range ab.peers[p] {
		if e := &ab.peers[p][i]; e.ttl == old {
			ab.countLocked(old, -1)
			e.ttl, e.exp = new, exp
			ab.countLocked(new, 1)
		}
	}
}

// Addrs lists p's addresses not expired.
func (ab *addrBook) Addrs(p peer.ID) []ma.Multiaddr {
	ab.mu.RLock()
	defer ab.mu.RUnlock()
	return ab.addrsLocked(p, ab.now())
}

func (ab *addrBook) addrsLocked(p peer.ID, now time.Time) []ma.Multiaddr {
	t := now.UnixNano()
	es := ab.peers[p]
	out := make([]ma.Multiaddr, 0, len(es))
	for _, e := range es {
		if e.exp > t {
			if a, ok := decode(e.a); ok {
				out = append(out, a)
			}
		}
	}
	return out
}

func (ab *addrBook) ClearAddrs(p peer.ID) {
	ab.mu.Lock()
	defer ab.mu.Unlock()
	for _, e := range ab.peers[p] {
		ab.countLocked(e.ttl, -1)
	}
	ab.setPeerLocked(p, nil)
}

func (ab *addrBook) PeersWithAddrs() peer.IDSlice {
	ab.mu.RLock()
	defer ab.mu.RUnlock()
	out := make(peer.IDSlice, 0, len(ab.peers))
	for p := range ab.peers {
		out = append(out, p)
	}
	return out
}

// AddrStream sends p's addresses, then those added, until ctx ends.
func (ab *addrBook) AddrStream(ctx context.Context, p peer.ID) <-chan ma.Multiaddr {
	return ab.subs.AddrStream(ctx, p, ab.Addrs(p))
}

// ConsumePeerRecord keeps a signed peer record (libp2p keeps only the
// host's own) and adds its addresses for ttl. A record of a lower sequence
// than the one kept is refused; the addresses of the one kept that the new
// one lacks go, unless held by a connection.
func (ab *addrBook) ConsumePeerRecord(env *record.Envelope, ttl time.Duration) (bool, error) {
	r, err := env.Record()
	if err != nil {
		return false, err
	}
	rec, ok := r.(*peer.PeerRecord)
	if !ok {
		return false, errors.New("unable to process envelope: not a PeerRecord")
	}
	if !rec.PeerID.MatchesPublicKey(env.PublicKey) {
		return false, errors.New("signing key does not match PeerID in PeerRecord")
	}
	ab.mu.Lock()
	defer ab.mu.Unlock()
	last := ab.records[rec.PeerID]
	if last != nil && last.seq > rec.Seq {
		return false, nil
	}
	if last == nil && len(ab.records) >= maxSignedPeerRecords {
		return false, errors.New("too many signed peer records")
	}
	if last != nil {
		if pr, err := last.env.Record(); err == nil {
			if old, ok := pr.(*peer.PeerRecord); ok {
				ab.peers[rec.PeerID] = slices.DeleteFunc(ab.peers[rec.PeerID], func(e addrEntry) bool {
					gone := !connected(e.ttl) && slices.ContainsFunc(old.Addrs, func(a ma.Multiaddr) bool { return string(a.Bytes()) == e.a.Value() }) &&
						!slices.ContainsFunc(rec.Addrs, func(a ma.Multiaddr) bool { return string(a.Bytes()) == e.a.Value() })
					if gone {
						ab.unconn--
					}
					return gone
				})
			}
		}
	}
	ab.records[rec.PeerID] = &signedRecord{env, rec.Seq}
	if ttl > 0 {
		ab.addLocked(rec.PeerID, rec.Addrs, ttl)
	}
	ab.setPeerLocked(rec.PeerID, ab.peers[rec.PeerID])
	return true, nil
}

// GetPeerRecord is p's signed peer record, if kept and p has addresses.
func (ab *addrBook) GetPeerRecord(p peer.ID) *record.Envelope {
	ab.mu.RLock()
	defer ab.mu.RUnlock()
	r := ab.records[p]
	if r == nil || len(ab.addrsLocked(p, ab.now())) == 0 {
		return nil
	}
	return r.env
}

// Close does nothing: the book runs no goroutine.
func (ab *addrBook) Close() error { return nil }
