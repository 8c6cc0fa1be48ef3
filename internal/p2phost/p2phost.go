// Package p2phost builds the libp2p hosts of sessionctl, for nodes and
// clients alike, with one set of options and resource limits.
package p2phost

import (
	"crypto/ed25519"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/quicreuse"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/x/rate"
	"github.com/sessionctl/sessionctl/internal/memtransport"
)

// resourceLimits are the node's libp2p limits, chosen for a devnet where
// thousands of short requests a second come from a few peers on loopback.
// The library's defaults scale with the machine and cap streams per peer at
// a few hundred, which a client polling in a loop or a swarm replicating a
// burst of stores reaches (the issue measured refusals after a few hundred
// requests). Here each peer may hold 1,024 streams and 64 connections, and
// the node 16,384 streams, 4,096 connections and 1 GiB of buffers; short
// streams are closed at once, so these bound bursts, not totals.
func resourceLimits() rcmgr.ConcreteLimitConfig {
	base := rcmgr.DefaultLimits.AutoScale()
	partial := rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			Streams: 16384, StreamsInbound: 16384, StreamsOutbound: 16384,
			Conns: 4096, ConnsInbound: 4096, ConnsOutbound: 4096,
			FD: 4096, Memory: 1 << 30,
		},
		Transient: rcmgr.ResourceLimits{
			Streams: 4096, StreamsInbound: 4096, StreamsOutbound: 4096,
			Conns: 1024, ConnsInbound: 1024, ConnsOutbound: 1024,
			FD: 1024, Memory: 256 << 20,
		},
		PeerDefault: rcmgr.ResourceLimits{
			Streams: 1024, StreamsInbound: 1024, StreamsOutbound: 1024,
			Conns: 64, ConnsInbound: 64, ConnsOutbound: 64,
			Memory: 128 << 20,
		},
		ProtocolDefault: rcmgr.ResourceLimits{
			Streams: 16384, StreamsInbound: 16384, StreamsOutbound: 16384,
			Memory: 512 << 20,
		},
		ProtocolPeerDefault: rcmgr.ResourceLimits{
			Streams: 1024, StreamsInbound: 1024, StreamsOutbound: 1024,
			Memory: 128 << 20,
		},
		ServiceDefault: rcmgr.ResourceLimits{
			Streams: 16384, StreamsInbound: 16384, StreamsOutbound: 16384,
			Memory: 512 << 20,
		},
		ServicePeerDefault: rcmgr.ResourceLimits{
			Streams: 1024, StreamsInbound: 1024, StreamsOutbound: 1024,
			Memory: 128 << 20,
		},
	}
	return partial.Build(base)
}

// Connection watermarks: a node keeps 8 to 20 connections (its swarm of
// about 7, whose connections the node protects from trimming, and recent
// testers, targets and onion hops), a client 2 to 8 (its path's guard, its
// swarm's members). A TCP connection costs about 45 KB at each end (five
// goroutines and the buffers of Noise and yamux): at 2,000 nodes, between
// 16 and 40 a node held 33,000 ends, 1.5 GB. One in memory between nodes
// of a process (package memtransport) costs about 18 KB: the swarm's one
// goroutine and the connection's state, no Noise or yamux.
const (
	nodeConnsLow    = 8
	nodeConnsHigh   = 20
	clientConnsLow  = 2
	clientConnsHigh = 8
)

// muxer is yamux as libp2p configures it, with a smaller backlog of
// streams opened but not yet accepted: each connection's end holds that
// many pointers (256 by default, 2 KiB), and a host accepts each stream at
// once, on a goroutine of its own.
var muxer = func() *yamux.Transport {
	t := *yamux.DefaultTransport
	t.AcceptBacklog = 64
	return &t
}()

// PeerID is the peer ID of the host New makes with key.
func PeerID(key ed25519.PrivateKey) (peer.ID, error) {
	priv, err := crypto.UnmarshalEd25519PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("libp2p key: %w", err)
	}
	return peer.IDFromPrivateKey(priv)
}

// New builds a libp2p host the devnet way: the given key as identity,
// TCP with Noise and yamux, native in-memory connections to the hosts of
// its process (package memtransport: no handshake, no yamux), no relay, no
// NAT port mapping, no mDNS, no metrics registry, and the resource limits
// above. Clients use it too.
func New(key ed25519.PrivateKey, listen []string) (host.Host, error) {
	priv, err := crypto.UnmarshalEd25519PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("libp2p key: %w", err)
	}
	// No connection rate limit: the library's default allows loopback
	// without limit and puts every connection without an IP (the in-memory
	// ones of package memtransport) in one bucket of 0.2 a second, which
	// refused most connections between the nodes of a 2,000-node devnet.
	// The limits on concurrent connections (per IP, per peer, in all) stay.
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(resourceLimits()), rcmgr.WithMetricsDisabled(),
		rcmgr.WithConnRateLimiters(&rate.Limiter{}))
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	// Connections are trimmed back to the low watermark once over the
	// high one (the oldest idle first), so open files plateau however many
	// peers a node has talked to: a devnet runs hundreds of hosts in one
	// process, each connection costing a file at both ends. A new
	// connection is kept at least the grace period. The manager is ours
	// (connmgr.go): libp2p's costs a host 60 KB and two goroutines.
	low, high := nodeConnsLow, nodeConnsHigh
	if len(listen) == 0 {
		low, high = clientConnsLow, clientConnsHigh
	}
	cm, err := newConnManager(low, high, 10*time.Second, 5*time.Second, nil)
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("connection manager: %w", err)
	}
	// A listening host listens in memory too, for the hosts of its own
	// process (package memtransport): a connection between two nodes of
	// one devnet then costs no file and no handshake, and is multiplexed
	// without goroutines of its own. The transport takes the host's key
	// (its identity there), gater and resource manager from libp2p.
	if len(listen) > 0 {
		id, err := peer.IDFromPrivateKey(priv)
		if err != nil {
			rm.Close()
			return nil, fmt.Errorf("libp2p key: %w", err)
		}
		mem, err := memtransport.Addr(id)
		if err != nil {
			rm.Close()
			return nil, err
		}
		listen = append(slices.Clip(listen), mem.String())
	}
	ps := newPeerStore()
	opts := []libp2p.Option{
		libp2p.ConnectionManager(cm),
		libp2p.Peerstore(ps),
		libp2p.Identity(priv),
		libp2p.ListenAddrStrings(listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(memtransport.New),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, muxer),
		libp2p.ResourceManager(rm),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.Ping(false),
		// Hosts publish the addresses they listen on (nodes on the
		// ledger) and never learn theirs from what peers observed: no
		// observed-address manager (two goroutines a host).
		libp2p.DisableIdentifyAddressDiscovery(),
		libp2p.QUICReuse(quicreuse.NewConnManager, quicreuse.DisableReuseport()),
	}
	// Reachability is known (nodes listen on addresses they publish,
	// clients listen on none): a static AutoNAT, not the ambient one that
	// probes in the background (and, closing hundreds of hosts at once,
	// once deadlocked a devnet's shutdown inside libp2p's event bus).
	if len(listen) == 0 {
		opts = append(opts, libp2p.ForceReachabilityPrivate())
	} else {
		opts = append(opts, libp2p.ForceReachabilityPublic())
	}
	if len(listen) == 0 {
		opts = append(opts, libp2p.NoListenAddrs)
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		rm.Close()
		ps.Close()
		return nil, fmt.Errorf("libp2p host: %w", err)
	}
	return h, nil
}
