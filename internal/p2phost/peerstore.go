package p2phost

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
	"unique"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/record"
	pstore "github.com/libp2p/go-libp2p/p2p/host/peerstore"
	ma "github.com/multiformats/go-multiaddr"
)

// recentAddrTTL is how long a host keeps the addresses of a peer after
// its last connection closed; libp2p keeps them for
// peerstore.RecentlyConnectedAddrTTL, 15 minutes. Nothing in sessionctl
// dials by them: a node puts a peer's address in its peerstore before each
// dial (node's addrsFor, from the ledger), and a client keeps its nodes'
// addresses for good. A node tests and is tested by many peers a round,
// and at 2,000 nodes in one process the 15 minutes' addresses were the
// largest part of the peerstores' 230 MB. It is just over
// peerstore.TempAddrTTL: on a peer's last disconnection identify marks its
// addresses TempAddrTTL, adds them again at RecentlyConnectedAddrTTL (the
// address book never lowers a TTL), then drops those still at
// TempAddrTTL, so a shorter TTL would drop them at once.
var recentAddrTTL = peerstore.TempAddrTTL + time.Second

// maxProtocols bounds the protocols a peer may announce (libp2p's bound).
const maxProtocols = 128

// peerStore is a host's peerstore: libp2p's metrics, and books of
// addresses (addrbook.go), keys, protocols and metadata of its own that
// keep less. A host of a devnet knows hundreds of peers; per peer, libp2p's
// books keep its public key (which an Ed25519 peer ID holds already), a
// map of its protocols (the same dozen strings, copied for every peer and
// every host), and a map of identify's agent and protocol versions, in
// tables of 256 maps a host. Here:
//   - the public key of a peer whose ID holds it is derived when asked, not
//     kept;
//   - a peer's protocols are one string, shared by the process (package
//     unique);
//   - identify's versions are a pair of shared strings a peer, not a map;
//   - the addresses of a peer no longer connected are kept recentAddrTTL.
//
// What libp2p's peerstore manager removes (RemovePeer, a minute after a
// peer's last connection) is removed here too.
type peerStore struct {
	peerstore.Metrics
	addrs *addrBook

	mu       sync.RWMutex
	pubs     map[peer.ID]crypto.PubKey         // keys not derived from the ID
	privs    map[peer.ID]crypto.PrivKey        // the host's own
	protos   map[peer.ID]unique.Handle[string] // protoSet
	meta     map[peer.ID]map[string]any
	versions map[peer.ID][2]string // identify's agent and protocol versions
}

var (
	_ peerstore.Peerstore         = (*peerStore)(nil)
	_ peerstore.CertifiedAddrBook = (*peerStore)(nil)
)

func newPeerStore() *peerStore {
	return &peerStore{
		Metrics:  pstore.NewMetrics(),
		addrs:    newAddrBook(nil),
		pubs:     map[peer.ID]crypto.PubKey{},
		privs:    map[peer.ID]crypto.PrivKey{},
		protos:   map[peer.ID]unique.Handle[string]{},
		meta:     map[peer.ID]map[string]any{},
		versions: map[peer.ID][2]string{},
	}
}

// ttl is the TTL kept for the TTL asked: recentAddrTTL for
// RecentlyConnectedAddrTTL (which identify uses both to add and to update
// addresses, so the mapping is the same both ways).
func ttl(d time.Duration) time.Duration {
	if d == peerstore.RecentlyConnectedAddrTTL {
		return recentAddrTTL
	}
	return d
}

func (ps *peerStore) AddAddr(p peer.ID, a ma.Multiaddr, d time.Duration) {
	ps.addrs.AddAddr(p, a, ttl(d))
}

func (ps *peerStore) AddAddrs(p peer.ID, as []ma.Multiaddr, d time.Duration) {
	ps.addrs.AddAddrs(p, as, ttl(d))
}

func (ps *peerStore) SetAddr(p peer.ID, a ma.Multiaddr, d time.Duration) {
	ps.addrs.SetAddr(p, a, ttl(d))
}

func (ps *peerStore) SetAddrs(p peer.ID, as []ma.Multiaddr, d time.Duration) {
	ps.addrs.SetAddrs(p, as, ttl(d))
}

func (ps *peerStore) UpdateAddrs(p peer.ID, old, new time.Duration) {
	ps.addrs.UpdateAddrs(p, ttl(old), ttl(new))
}

func (ps *peerStore) Addrs(p peer.ID) []ma.Multiaddr { return ps.addrs.Addrs(p) }
func (ps *peerStore) ClearAddrs(p peer.ID)           { ps.addrs.ClearAddrs(p) }
func (ps *peerStore) PeersWithAddrs() peer.IDSlice   { return ps.addrs.PeersWithAddrs() }

func (ps *peerStore) AddrStream(ctx context.Context, p peer.ID) <-chan ma.Multiaddr {
	return ps.addrs.AddrStream(ctx, p)
}

func (ps *peerStore) ConsumePeerRecord(e *record.Envelope, d time.Duration) (bool, error) {
	return ps.addrs.ConsumePeerRecord(e, ttl(d))
}

func (ps *peerStore) GetPeerRecord(p peer.ID) *record.Envelope { return ps.addrs.GetPeerRecord(p) }

func (ps *peerStore) PeerInfo(p peer.ID) peer.AddrInfo {
	return peer.AddrInfo{ID: p, Addrs: ps.addrs.Addrs(p)}
}

// Peers lists the peers with keys or addresses.
func (ps *peerStore) Peers() peer.IDSlice {
	out := ps.addrs.PeersWithAddrs()
	for _, p := range ps.PeersWithKeys() {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// PubKey is p's public key, derived from its ID when the ID holds it.
func (ps *peerStore) PubKey(p peer.ID) crypto.PubKey {
	ps.mu.RLock()
	k := ps.pubs[p]
	ps.mu.RUnlock()
	if k != nil {
		return k
	}
	k, err := p.ExtractPublicKey()
	if err != nil {
		return nil
	}
	return k
}

// AddPubKey checks that k is p's key, and keeps it unless p's ID holds it.
func (ps *peerStore) AddPubKey(p peer.ID, k crypto.PubKey) error {
	if !p.MatchesPublicKey(k) {
		return errors.New("ID does not match PublicKey")
	}
	if inID, err := p.ExtractPublicKey(); err == nil && inID != nil {
		return nil
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.pubs[p] = k
	return nil
}

func (ps *peerStore) PrivKey(p peer.ID) crypto.PrivKey {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	return ps.privs[p]
}

func (ps *peerStore) AddPrivKey(p peer.ID, k crypto.PrivKey) error {
	if k == nil {
		return errors.New("sk is nil (PrivKey)")
	}
	if !p.MatchesPrivateKey(k) {
		return errors.New("ID does not match PrivateKey")
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.privs[p] = k
	return nil
}

func (ps *peerStore) PeersWithKeys() peer.IDSlice {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	out := make(peer.IDSlice, 0, len(ps.pubs)+len(ps.privs))
	for p := range ps.pubs {
		out = append(out, p)
	}
	for p := range ps.privs {
		if _, ok := ps.pubs[p]; !ok {
			out = append(out, p)
		}
	}
	return out
}

// RemoveKeys removes p's keys; the ones its ID holds are still derived.
func (ps *peerStore) removeKeysLocked(p peer.ID) {
	delete(ps.pubs, p)
	delete(ps.privs, p)
}

// Put keeps val as p's key. Identify puts every peer's agent and protocol
// versions, the same few strings from all: they are kept in a pair a peer
// (shared, package unique), not a map.
func (ps *peerStore) Put(p peer.ID, key string, val any) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if i, ok := versionIndex[key]; ok {
		if v, ok := val.(string); ok {
			if m := ps.meta[p]; m != nil {
				delete(m, key)
			}
			pair := ps.versions[p]
			pair[i] = unique.Make(v).Value()
			ps.versions[p] = pair
			return nil
		}
	}
	m := ps.meta[p]
	if m == nil {
		m = map[string]any{}
		ps.meta[p] = m
	}
	m[key] = val
	if i, ok := versionIndex[key]; ok {
		pair := ps.versions[p]
		pair[i] = ""
		ps.versions[p] = pair
	}
	return nil
}

// versionIndex places identify's versions in a peer's pair.
var versionIndex = map[string]int{"AgentVersion": 0, "ProtocolVersion": 1}

func (ps *peerStore) Get(p peer.ID, key string) (any, error) {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	if i, ok := versionIndex[key]; ok {
		if v := ps.versions[p][i]; v != "" {
			return v, nil
		}
	}
	v, ok := ps.meta[p][key]
	if !ok {
		return nil, peerstore.ErrNotFound
	}
	return v, nil
}

var errTooManyProtocols = errors.New("too many protocols")

// A protocol set is a peer's protocols as one string, each name followed
// by a NUL, shared by the process (package unique): identify tells every
// host the same list for every node, 16 bytes a name and a slice a peer
// otherwise. A name holding a NUL is left out (multistream-select names
// are text).

// protoSet encodes ids, deduplicated, in order.
func protoSet(ids []protocol.ID) (unique.Handle[string], int) {
	var b strings.Builder
	n := 0
	for _, id := range ids {
		if id == "" || strings.IndexByte(string(id), 0) >= 0 || protoHas(b.String(), id) {
			continue
		}
		b.WriteString(string(id))
		b.WriteByte(0)
		n++
	}
	return unique.Make(b.String()), n
}

// protoHas says whether set holds id.
func protoHas(set string, id protocol.ID) bool {
	for set != "" {
		name, rest, _ := strings.Cut(set, "\x00")
		if name == string(id) {
			return true
		}
		set = rest
	}
	return false
}

// protoList is set's names.
func protoList(set string) []protocol.ID {
	var out []protocol.ID
	for set != "" {
		name, rest, _ := strings.Cut(set, "\x00")
		out = append(out, protocol.ID(name))
		set = rest
	}
	return out
}

// protosLocked is p's protocol set ("" if none).
func (ps *peerStore) protosLocked(p peer.ID) string {
	h, ok := ps.protos[p]
	if !ok {
		return ""
	}
	return h.Value()
}

// setProtocolsLocked keeps protos as p's.
func (ps *peerStore) setProtocolsLocked(p peer.ID, protos []protocol.ID) error {
	set, n := protoSet(protos)
	if n > maxProtocols {
		return errTooManyProtocols
	}
	if n == 0 {
		delete(ps.protos, p)
		return nil
	}
	ps.protos[p] = set
	return nil
}

func (ps *peerStore) SetProtocols(p peer.ID, protos ...protocol.ID) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.setProtocolsLocked(p, protos)
}

func (ps *peerStore) AddProtocols(p peer.ID, protos ...protocol.ID) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.setProtocolsLocked(p, append(protoList(ps.protosLocked(p)), protos...))
}

func (ps *peerStore) RemoveProtocols(p peer.ID, protos ...protocol.ID) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.setProtocolsLocked(p, slices.DeleteFunc(protoList(ps.protosLocked(p)), func(id protocol.ID) bool {
		return slices.Contains(protos, id)
	}))
}

func (ps *peerStore) GetProtocols(p peer.ID) ([]protocol.ID, error) {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	return protoList(ps.protosLocked(p)), nil
}

func (ps *peerStore) SupportsProtocols(p peer.ID, protos ...protocol.ID) ([]protocol.ID, error) {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	set := ps.protosLocked(p)
	out := make([]protocol.ID, 0, len(protos))
	for _, id := range protos {
		if protoHas(set, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

func (ps *peerStore) FirstSupportedProtocol(p peer.ID, protos ...protocol.ID) (protocol.ID, error) {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	set := ps.protosLocked(p)
	for _, id := range protos {
		if protoHas(set, id) {
			return id, nil
		}
	}
	return "", nil
}

// RemovePeer forgets p's keys, protocols, metadata and metrics, but not
// its addresses (which expire by their TTL), as libp2p's peerstore does.
func (ps *peerStore) RemovePeer(p peer.ID) {
	ps.mu.Lock()
	ps.removeKeysLocked(p)
	delete(ps.protos, p)
	delete(ps.meta, p)
	delete(ps.versions, p)
	ps.mu.Unlock()
	ps.Metrics.RemovePeer(p)
}

// Close does nothing: the books run no goroutine.
func (ps *peerStore) Close() error { return ps.addrs.Close() }
