package client

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// DefaultNodesMaxAge is how long a client uses its node list before it
// asks the ledger again whether the list changed (Config.NodesMaxAge).
const DefaultNodesMaxAge = time.Second

// refresh reloads the node list when the ledger says it changed. A list
// checked less than Config.NodesMaxAge ago is used as it is, as real
// clients keep their node pool between requests, unless force is set or a
// request failed since (stale): a node that answers 421 (another swarm)
// or does not answer makes the next request ask the ledger.
func (c *Client) refresh(ctx context.Context, force bool) error {
	now := c.cfg.Now()
	c.mu.Lock()
	recent := len(c.nodes) > 0 && !force && !c.nodesStale &&
		!now.Before(c.nodesChecked) && now.Sub(c.nodesChecked) < c.cfg.NodesMaxAge
	c.mu.Unlock()
	if recent {
		return nil
	}
	info, err := c.cfg.Ledger.Info(ctx)
	if err != nil {
		return fmt.Errorf("%w: ledger: %v", ErrUnreachable, err)
	}
	c.mu.Lock()
	fresh := c.nodes != nil && !force && c.nodesHeight == info.NodesHeight && c.swarmsAt == info.SwarmsHeight
	if fresh {
		c.nodesChecked, c.nodesStale = now, false
	}
	c.mu.Unlock()
	if fresh {
		return nil
	}
	list, err := c.cfg.Ledger.Nodes(ctx)
	if err != nil {
		return fmt.Errorf("%w: ledger: %v", ErrUnreachable, err)
	}
	h, err := c.p2p()
	if err != nil {
		return err
	}
	nodes := map[string]chain.ServiceNode{}
	members := map[uint64][]string{}
	for _, sn := range list {
		if sn.State != chain.StateActive || sn.SwarmID == chain.UnassignedSwarm {
			continue
		}
		pid, err := peerOf(sn.Key)
		if err != nil || sn.PeerID != pid.String() || len(sn.Addrs) == 0 {
			continue
		}
		var addrs []ma.Multiaddr
		for _, a := range sn.Addrs {
			if m, err := ma.NewMultiaddr(a); err == nil {
				addrs = append(addrs, m)
			}
		}
		h.Peerstore().SetAddrs(pid, addrs, peerstore.PermanentAddrTTL)
		nodes[sn.Key] = sn
		members[sn.SwarmID] = append(members[sn.SwarmID], sn.Key)
	}
	var ids []uint64
	for id := range members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	c.mu.Lock()
	c.nodes, c.members, c.swarmIDs = nodes, members, ids
	c.nodesHeight, c.swarmsAt = info.NodesHeight, info.SwarmsHeight
	c.nodesChecked, c.nodesStale = now, false
	for _, k := range c.path {
		if _, ok := nodes[k]; !ok {
			c.path = nil // a path node left: build another
		}
	}
	for k := range c.bad {
		if _, ok := nodes[k]; !ok {
			delete(c.bad, k)
		}
	}
	c.mu.Unlock()
	return nil
}

func peerOf(key string) (peer.ID, error) { return storagerpc.PeerIDFromEd25519(key) }

func randInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic("client: crypto/rand failed: " + err.Error())
	}
	return int(v.Int64())
}
