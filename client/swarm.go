package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// swarmFor returns the members of the swarm that owns id.
func (c *Client) swarmFor(id identity.AccountID) (uint64, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sid := chain.SwarmFor(c.swarmIDs, id.SwarmSpace())
	return sid, slices.Clone(c.members[sid])
}

// toSwarm calls method on a member of id's swarm, trying members in random
// order when one does not answer (a stopped node stays in its swarm until
// the network notices) or answers 503 (a node not ready: one that has just
// started refuses subaccount requests until it has its swarm's
// revocations), and following 421s to the swarm a node names.
func (c *Client) toSwarm(ctx context.Context, id identity.AccountID, method string, params func() any) (*storagerpc.Response, Path, error) {
	return c.toSwarmAt(ctx, id, method, func(string) any { return params() })
}

// toSwarmAt is toSwarm with parameters made for the member asked (dest,
// its Ed25519 key): a retrieve names the last hash that member gave.
// pickMember returns the index of a random member that has not failed
// lately, or of any member when all have; of those, one that is not on the
// client's onion path when there is one. A destination on the path makes
// the client build another path (ensurePath avoids it): a test request and,
// most often, a connection to a new guard with its handshakes, for one
// request in four on a 12-node devnet, where a swarm (5 to 10 members)
// always has one off a path of three.
func (c *Client) pickMember(members []string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var good, offPath []int
	for i, m := range members {
		if !c.badNode(m) {
			good = append(good, i)
			if !slices.Contains(c.path, m) {
				offPath = append(offPath, i)
			}
		}
	}
	switch {
	case len(offPath) > 0:
		return offPath[randInt(len(offPath))]
	case len(good) > 0:
		return good[randInt(len(good))]
	}
	return randInt(len(members))
}

func (c *Client) toSwarmAt(ctx context.Context, id identity.AccountID, method string, params func(dest string) any) (*storagerpc.Response, Path, error) {
	if err := c.refresh(ctx, false); err != nil {
		return nil, Path{}, err
	}
	_, members := c.swarmFor(id)
	var lastErr error
	var unready *storagerpc.Response // the last 503, if every member gave one
	var unreadyPath Path
	redirects := 0
	// Every member may be tried (a swarm has at most a dozen), those that
	// did not fail lately first: with most of a swarm down, the one that
	// is up must not be left out by chance.
	for tries := 0; tries < 16 && len(members) > 0; tries++ {
		i := c.pickMember(members)
		dest := members[i]
		members = append(members[:i], members[i+1:]...)
		resp, path, err := c.rpc(ctx, dest, method, func() any { return params(dest) })
		if errors.Is(err, ErrClosed) {
			return nil, Path{}, err
		}
		if err != nil {
			lastErr = err
			c.mu.Lock()
			c.strike(strikeLimit, dest) // two attempts, each on a path of its own, found it silent
			c.nodesStale = true
			c.mu.Unlock()
			continue
		}
		if resp.Code == storagerpc.StatusUnavailable {
			unready, unreadyPath = resp, path // not ready yet: another member may be
			continue
		}
		if resp.Code != storagerpc.StatusMisdirected {
			return resp, path, nil
		}
		if redirects++; redirects > 2 {
			break
		}
		// The node knows better: retry in the swarm it names.
		var sw storagerpc.SwarmResult
		if err := json.Unmarshal(resp.Body, &sw); err != nil {
			lastErr = fmt.Errorf("%w: a 421 without a swarm", ErrUnreachable)
			break
		}
		if err := c.refresh(ctx, true); err != nil {
			lastErr = err
			break
		}
		members = nil
		c.mu.Lock()
		for _, sn := range sw.SNodes {
			if _, ok := c.nodes[sn.PubkeyEd25519]; ok {
				members = append(members, sn.PubkeyEd25519)
			}
		}
		c.mu.Unlock()
	}
	if unready != nil {
		return unready, unreadyPath, nil
	}
	if lastErr != nil {
		return nil, Path{}, lastErr
	}
	if len(members) == 0 {
		return nil, Path{}, ErrNoNodes
	}
	return nil, Path{}, fmt.Errorf("%w: no swarm took the request for %s", ErrUnreachable, id)
}
