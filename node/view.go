package node

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/internal/memtransport"
	"github.com/sessionctl/sessionctl/internal/streampool"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// netView is the network as the ledger describes it at one (nodes, swarms)
// height. It is immutable once built, and shared by every node of a process
// that follows the same ledger.
type netView struct {
	swarmsHeight uint64
	nodesHeight  uint64
	params       chain.Params                 // the chain's rules
	nodes        map[string]chain.ServiceNode // by Ed25519 key
	byPeer       map[peer.ID]string           // peer ID -> Ed25519 key
	peers        map[string]peer.ID           // Ed25519 key -> peer ID
	addrs        map[string][]ma.Multiaddr    // Ed25519 key -> published addresses, parsed
	swarmIDs     []uint64                     // sorted
	members      map[uint64][]string          // swarm id -> member keys, sorted
}

// Views builds each network view once for all the nodes sharing it. It keeps
// the last view and the peer IDs of the keys it has seen (bounded: see
// maxPeerCache).
type Views struct {
	mu    sync.Mutex
	last  *netView
	peers map[string]peerEntry
}

// maxPeerCache bounds the cache of peer IDs: a ledger with more registered
// keys than this (never in a devnet) starts the cache again.
const maxPeerCache = 20_000

// NewViews returns an empty Views for the nodes of one ledger.
func NewViews() *Views { return &Views{peers: map[string]peerEntry{}} }

func (vs *Views) fresh(info chain.Info) bool {
	l := vs.last
	return l != nil && l.nodesHeight == info.NodesHeight && l.swarmsHeight == info.SwarmsHeight && l.params == info.Params
}

// has tells whether the view at info's heights is built already (then
// build needs no node list).
func (vs *Views) has(info chain.Info) bool {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	return vs.fresh(info)
}

// build returns the view at info's heights, made from nodes unless it was
// built already. A nil nodes list when no view is built gives an empty view.
func (vs *Views) build(info chain.Info, nodes []chain.ServiceNode) *netView {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if vs.fresh(info) {
		return vs.last
	}
	if len(vs.peers) > maxPeerCache {
		vs.peers = map[string]peerEntry{}
	}
	v := &netView{
		swarmsHeight: info.SwarmsHeight, nodesHeight: info.NodesHeight, params: info.Params,
		nodes: make(map[string]chain.ServiceNode, len(nodes)), byPeer: make(map[peer.ID]string, len(nodes)),
		peers: make(map[string]peer.ID, len(nodes)), addrs: make(map[string][]ma.Multiaddr, len(nodes)),
		members: map[uint64][]string{},
	}
	var old map[string][]ma.Multiaddr
	if vs.last != nil {
		old = vs.last.addrs
	}
	for _, sn := range nodes {
		pe, ok := vs.peers[sn.Key]
		if !ok {
			pid, err := storagerpc.PeerIDFromEd25519(sn.Key)
			if err != nil {
				continue
			}
			pe = peerEntry{pid, pid.String()}
			vs.peers[sn.Key] = pe
		}
		v.nodes[sn.Key] = sn
		v.byPeer[pe.id] = sn.Key
		v.peers[sn.Key] = pe.id
		if sn.State == chain.StateActive && sn.SwarmID != chain.UnassignedSwarm {
			v.members[sn.SwarmID] = append(v.members[sn.SwarmID], sn.Key)
		}
		// The published addresses are trusted only with the peer ID the key implies.
		if sn.PeerID != pe.str {
			continue
		}
		if prev, ok := old[sn.Key]; ok && sameAddrs(prev, sn.Addrs) {
			v.addrs[sn.Key] = prev
			continue
		}
		var addrs []ma.Multiaddr
		for _, a := range sn.Addrs {
			if m, err := ma.NewMultiaddr(a); err == nil && !memtransport.IsMemory(m) {
				addrs = append(addrs, m)
			}
		}
		v.addrs[sn.Key] = addrs
	}
	for id := range v.members {
		v.swarmIDs = append(v.swarmIDs, id)
		slices.Sort(v.members[id])
	}
	slices.Sort(v.swarmIDs)
	vs.last = v
	return v
}

func sameAddrs(parsed []ma.Multiaddr, strs []string) bool {
	if len(parsed) != len(strs) {
		return false
	}
	for i, m := range parsed {
		if m.String() != strs[i] {
			return false
		}
	}
	return true
}

// dialAddrTTL is how long a peer's address stays in a node's peerstore
// after the node last dialled it.
const dialAddrTTL = 2 * time.Minute

// outHost is the node's host as its outgoing calls use it. Before a stream
// to a peer it is not connected to, it puts that peer's address in the
// peerstore: its /memory address if the peer is a host of this process
// (package memtransport: no file, no socket), otherwise the addresses the
// peer published on the ledger, for dialAddrTTL. A peerstore thus holds the
// addresses of the peers a node talks to, not of every node on the ledger
// (2,000 nodes each holding 2,000 addresses was 4 million entries).
type outHost struct {
	host.Host
	n *Node
}

func (h outHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	if h.Network().Connectedness(p) != network.Connected {
		h.n.addrsFor(p)
	}
	s, err := h.Host.NewStream(ctx, p, pids...)
	if err != nil && ctx.Err() == nil && h.Network().Connectedness(p) != network.Connected {
		// The connection closed (trimmed) between the check and the
		// stream: dial again, with the addresses.
		h.n.addrsFor(p)
		s, err = h.Host.NewStream(ctx, p, pids...)
	}
	return s, err
}

// StreamPool is the node's stream pool: its requests to other nodes go on
// streams kept open (framed.go).
func (h outHost) StreamPool() *streampool.Pool { return h.n.pool }

// out is the host for outgoing calls (see outHost), made once at Start
// rather than an interface value on the heap for every call.
func (n *Node) out() host.Host { return n.outh }

// addrsFor puts p's dial addresses in the peerstore.
func (n *Node) addrsFor(p peer.ID) {
	ps := n.host.Peerstore()
	if mem, err := memtransport.Addr(p); err == nil && memtransport.Listening(p) {
		// Only the in-memory address: what identify learned of the
		// peer's TCP address would cost two files a connection. (Added
		// before the others go, so that a dial running meanwhile never
		// finds none.)
		ps.AddAddr(p, mem, dialAddrTTL)
		for _, a := range ps.Addrs(p) {
			if !a.Equal(mem) {
				ps.SetAddr(p, a, 0)
			}
		}
		return
	}
	v := n.view.Load()
	if v == nil {
		return
	}
	if key, ok := v.byPeer[p]; ok && len(v.addrs[key]) > 0 {
		ps.AddAddrs(p, v.addrs[key], dialAddrTTL)
	}
}
