package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sessionctl/sessionctl/onion"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// A node on a path that failed gets a strike; one with strikeLimit strikes
// in the last strikeMemory is left out of new paths (while enough others
// remain), as real clients drop failing nodes from their pool: a stopped
// node stays "active" on the ledger until its quorum votes it out.
const (
	strikeLimit  = 2
	strikeMemory = time.Minute
)

type strikes struct {
	n    int
	last time.Time
}

// strike counts a failure against nodes (n strikes at once).
func (c *Client) strike(n int, nodes ...string) {
	now := c.cfg.Now()
	for _, k := range nodes {
		s := c.bad[k]
		if now.Sub(s.last) > strikeMemory {
			s.n = 0
		}
		c.bad[k] = strikes{n: s.n + n, last: now}
	}
}

// badNode reports whether k failed too often lately.
func (c *Client) badNode(k string) bool {
	s, ok := c.bad[k]
	return ok && s.n >= strikeLimit && c.cfg.Now().Sub(s.last) <= strikeMemory
}

// pickPath chooses 3 distinct random active nodes, none of them in avoid,
// and none that failed lately if enough others remain.
func (c *Client) pickPath(avoid []string) ([]string, error) {
	var pool, good []string
	for k := range c.nodes {
		if !slices.Contains(avoid, k) {
			pool = append(pool, k)
			if !c.badNode(k) {
				good = append(good, k)
			}
		}
	}
	if len(good) >= 3 {
		pool = good
	}
	slices.Sort(pool)
	if len(pool) < 3 {
		return nil, fmt.Errorf("%w (need 3 for a path, have %d)", ErrNoNodes, len(pool))
	}
	var path []string
	for len(path) < 3 {
		i := randInt(len(pool))
		path = append(path, pool[i])
		pool = append(pool[:i], pool[i+1:]...)
	}
	return path, nil
}

func (c *Client) hop(key string) onion.Hop {
	sn := c.nodes[key]
	x, _ := hex.DecodeString(sn.X25519)
	return onion.Hop{Ed25519: key, X25519: [32]byte(x)}
}

// Path is the route one request took.
type Path struct {
	Guard       string `json:"guard"`
	Middle      string `json:"middle"`
	Exit        string `json:"exit"`
	Destination string `json:"destination"`
}

// ensurePath returns the current path, building and testing one if needed:
// a new path carries an empty request to its exit, which answers "path built".
func (c *Client) ensurePath(ctx context.Context, avoid string) ([]string, error) {
	c.mu.Lock()
	path := slices.Clone(c.path)
	c.mu.Unlock()
	if len(path) == 3 && !slices.Contains(path, avoid) {
		return path, nil
	}
	for attempt := 0; attempt < 8; attempt++ {
		c.mu.Lock()
		p, err := c.pickPath([]string{avoid})
		var hops []onion.Hop
		if err == nil {
			hops = []onion.Hop{c.hop(p[0]), c.hop(p[1]), c.hop(p[2])}
		}
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		reply, err := c.sendOnion(ctx, hops[0].Ed25519, hops[:2], hops[2], nil)
		if err != nil {
			c.log.Debug().Err(err).Msg("path test failed")
			c.mu.Lock()
			if errors.Is(err, errGuard) {
				c.strike(strikeLimit, p[0]) // the guard itself did not answer
			} else {
				c.strike(1, p...)
			}
			c.nodesStale = true // a node of the path may have left
			c.mu.Unlock()
			continue
		}
		var ans storagerpc.OnionAnswer
		var built struct {
			Status string `json:"status"`
		}
		if json.Unmarshal(reply, &ans) != nil || json.Unmarshal(ans.Body, &built) != nil || built.Status != "path built" {
			continue
		}
		c.mu.Lock()
		if avoid == "" || !slices.Contains(c.path, avoid) {
			c.path = p
		}
		c.mu.Unlock()
		c.log.Debug().Strs("path", shortKeys(p)).Msg("path built")
		return p, nil
	}
	return nil, fmt.Errorf("%w: no path could be built", ErrUnreachable)
}

func shortKeys(ks []string) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k[:8]
	}
	return out
}

// sendOnion sends payload to dest through path (path[0] is the guard) and
// returns the destination's decrypted reply.
func (c *Client) sendOnion(ctx context.Context, guard string, path []onion.Hop, dest onion.Hop, payload []byte) ([]byte, error) {
	req, key, err := onion.Build(rand.Reader, path, dest, payload, c.cfg.EncType)
	if err != nil {
		return nil, err
	}
	pid, err := peerOf(guard)
	if err != nil {
		return nil, err
	}
	h, err := c.onionHost()
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	status, body, err := onion.Send(rctx, h, pid, 1, req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errGuard, err)
	}
	if status != onion.StatusOK {
		return nil, fmt.Errorf("onion path answered %d: %s", status, truncate(string(body), 100))
	}
	return key.OpenReply(body)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// rpc sends a storage request to dest through the onion path, rebuilding the
// path when it fails.
func (c *Client) rpc(ctx context.Context, dest, method string, params func() any) (*storagerpc.Response, Path, error) {
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		// Each attempt is made anew (a signed write signed again): an
		// attempt whose answer was lost may still have reached dest, which
		// accepts a signature once, so the same bytes sent again would be
		// refused as a replay (a kick under load failed so).
		raw, err := storagerpc.MarshalParams(params())
		if err != nil {
			return nil, Path{}, err
		}
		body := storagerpc.EncodeRequest(method, raw)
		path, err := c.ensurePath(ctx, dest)
		if err != nil {
			return nil, Path{}, err
		}
		c.mu.Lock()
		hops := []onion.Hop{c.hop(path[0]), c.hop(path[1]), c.hop(path[2])}
		d := c.hop(dest)
		c.mu.Unlock()
		reply, err := c.sendOnion(ctx, path[0], hops, d, body)
		if errors.Is(err, ErrClosed) {
			return nil, Path{}, err
		}
		if err != nil {
			lastErr = err
			c.log.Debug().Err(err).Msg("onion request failed; rebuilding the path")
			c.mu.Lock()
			c.path = nil
			c.nodesStale = true
			c.mu.Unlock()
			continue
		}
		ans, err := storagerpc.DecodeOnionAnswer(reply)
		if err != nil || ans.Status == 0 {
			return nil, Path{}, fmt.Errorf("destination %s answered something unreadable", dest[:8])
		}
		return &storagerpc.Response{Code: ans.Status, Body: ans.Body}, Path{Guard: path[0], Middle: path[1], Exit: path[2], Destination: dest}, nil
	}
	return nil, Path{}, fmt.Errorf("%w: %v", ErrUnreachable, lastErr)
}

// RPC sends one storage request to node dest (Ed25519 key) through the
// onion path and returns its answer and the path it took.
func (c *Client) RPC(ctx context.Context, dest, method string, params any) (*storagerpc.Response, Path, error) {
	if err := c.refresh(ctx, false); err != nil {
		return nil, Path{}, err
	}
	c.mu.Lock()
	_, ok := c.nodes[dest]
	c.mu.Unlock()
	if !ok {
		return nil, Path{}, fmt.Errorf("%s is not an active node with an address", dest)
	}
	return c.rpc(ctx, dest, method, func() any { return params })
}

// Direct sends one storage request straight to node dest, without onion
// routing: the node learns who asks. Benchmarks use it as the floor.
func (c *Client) Direct(ctx context.Context, dest, method string, params any) (*storagerpc.Response, error) {
	if err := c.refresh(ctx, false); err != nil {
		return nil, err
	}
	pid, err := peerOf(dest)
	if err != nil {
		return nil, err
	}
	h, err := c.p2p()
	if err != nil {
		return nil, err
	}
	return storagerpc.Call(ctx, h, pid, storagerpc.ProtocolStorage, method, params)
}
