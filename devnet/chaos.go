package devnet

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sessionctl/sessionctl/chaos"
	"github.com/sessionctl/sessionctl/client"
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
