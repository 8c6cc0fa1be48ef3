package devnet

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/sessionctl/sessionctl/chaos"
	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/internal/httpserve"
)

// ChaosTarget is the network, in this process, as package chaos's Target:
// its nodes killed and restarted as node kill and node restart do them.
func (nw *Network) ChaosTarget() chaos.Target { return &localTarget{nw: nw} }

type localTarget struct {
	nw *Network
}

// nodeByName reads node-N.
func nodeByName(name string, nodes int) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(name, "node-"))
	if err != nil || !strings.HasPrefix(name, "node-") || n < 1 || n > nodes {
		return 0, fmt.Errorf("%w %q", ErrUnknownNode, name)
	}
	return n - 1, nil
}

func (t *localTarget) LedgerURL() string { return t.nw.LedgerURL() }

func (t *localTarget) Servers() (client.ServerInfo, client.ServerInfo) {
	return client.ServerInfo{URL: t.nw.Files.URL(), X25519: t.nw.FileServerKey().Public},
		client.ServerInfo{URL: t.nw.Community.URL(), X25519: t.nw.CommunityKey().Public}
}

func (t *localTarget) Nodes(context.Context) ([]chaos.Node, error) {
	out := make([]chaos.Node, len(t.nw.keys))
	for i := range t.nw.keys {
		out[i] = chaos.Node{Name: NodeName(i), Key: t.nw.NodeKey(i), Running: t.nw.Running(i)}
	}
	return out, nil
}

func (t *localTarget) Kill(_ context.Context, name string) error {
	i, err := nodeByName(name, len(t.nw.keys))
	if err != nil {
		return err
	}
	return t.nw.StopNode(i)
}

func (t *localTarget) Restart(ctx context.Context, name string) error {
	i, err := nodeByName(name, len(t.nw.keys))
	if err != nil {
		return err
	}
	return t.nw.restartNode(ctx, i)
}

// restartNode starts node i (if it is stopped) and waits until it serves
// and the ledger has its new address, as the control endpoint's restart.
func (nw *Network) restartNode(ctx context.Context, i int) error {
	if !nw.Running(i) {
		if err := nw.StartNode(ctx, i); err != nil && !errors.Is(err, ErrNodeRunning) {
			return err
		}
	}
	if err := nw.WaitNodeReady(ctx, i); err != nil {
		return err
	}
	return nw.AwaitPublished(ctx, i)
}

func (t *localTarget) Repair(ctx context.Context) error {
	for _, n := range t.nw.Nodes() {
		n.Repair(ctx) // a member that is down fails the round: fine
	}
	return nil
}

func (t *localTarget) Supports(kind string) string {
	return "a network in this process makes only kill, swarm and miss faults"
}

func (t *localTarget) Inject(context.Context, chaos.PlannedFault, []string) (string, func(context.Context) error, error) {
	return "", nil, errors.New("not supported")
}

// ChaosTarget is the devnet this client controls as package chaos's
// Target: its nodes killed and restarted through the control endpoint,
// its ledger and servers as its manifest says. A devnet that stops
// answering is dialled again from its directory (it may have been resumed
// elsewhere).
func (c *ControlClient) ChaosTarget() chaos.Target { return &remoteTarget{c: c, dir: c.dir} }

type remoteTarget struct {
	dir string
	mu  sync.Mutex
	c   *ControlClient
}

func (t *remoteTarget) client() *ControlClient {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.c
}

// redial reads the manifest again, once the devnet stopped answering.
func (t *remoteTarget) redial(ctx context.Context) error {
	c, err := Dial(ctx, t.dir)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.c = c
	t.mu.Unlock()
	return nil
}

// call runs f, dialling the devnet again if it did not answer.
func (t *remoteTarget) call(ctx context.Context, f func(c *ControlClient) error) error {
	err := f(t.client())
	if errors.Is(err, ErrNotRunning) {
		if derr := t.redial(ctx); derr == nil {
			err = f(t.client())
		}
	}
	return err
}

func (t *remoteTarget) LedgerURL() string { return t.client().m.Ledger.URL }

func (t *remoteTarget) Servers() (files, community client.ServerInfo) {
	for _, s := range t.client().m.Servers {
		k, err := hex.DecodeString(s.X25519Pubkey)
		if err != nil || len(k) != 32 {
			continue
		}
		info := client.ServerInfo{URL: s.URL, X25519: [32]byte(k)}
		switch s.Kind {
		case "file":
			files = info
		case "community":
			community = info
		}
	}
	return files, community
}

func (t *remoteTarget) Nodes(ctx context.Context) ([]chaos.Node, error) {
	var out []chaos.Node
	err := t.call(ctx, func(c *ControlClient) error {
		nodes, err := c.Nodes(ctx)
		out = out[:0]
		for _, n := range nodes {
			out = append(out, chaos.Node{Name: n.Name, Key: n.Ed25519Pubkey, Running: n.Running})
		}
		return err
	})
	return out, err
}

func (t *remoteTarget) Kill(ctx context.Context, name string) error {
	return t.call(ctx, func(c *ControlClient) error { return c.Kill(ctx, name) })
}

func (t *remoteTarget) Restart(ctx context.Context, name string) error {
	return t.call(ctx, func(c *ControlClient) error { _, err := c.Restart(ctx, name); return err })
}

func (t *remoteTarget) Repair(ctx context.Context) error {
	return t.call(ctx, func(c *ControlClient) error { return c.Repair(ctx) })
}

func (t *remoteTarget) Supports(kind string) string {
	return "not made through the control endpoint yet"
}

func (t *remoteTarget) Inject(context.Context, chaos.PlannedFault, []string) (string, func(context.Context) error, error) {
	return "", nil, errors.New("not supported")
}

// Repair asks every node of the devnet's process for a replica repair
// round now (nodes of their own process repair on their timer).
func (c *ControlClient) Repair(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/v1/repair", nil, nil)
}

func (c *controlServer) repair(w http.ResponseWriter, r *http.Request) {
	var wg sync.WaitGroup
	for _, n := range c.d.Network.Nodes() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.Repair(r.Context()) // a member that is down fails the round: fine
		}()
	}
	wg.Wait()
	httpserve.WriteJSON(w, http.StatusOK, map[string]bool{"repaired": true})
}
