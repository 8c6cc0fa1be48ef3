// Package devnettest is the kit for the tests of other packages that need
// a devnet, after nats-server's test helpers: one call a step, each
// failing the test on error, everything it starts stopped when the test
// ends.
//
//	nw := devnettest.Start(t, devnet.Config{Nodes: 7,
//		// The node-config hook: runs for each node before it starts
//		// (again at each Restart).
//		NodeConfig: func(i int, c *node.Config) { c.RepairInterval = time.Second }})
//	alice := devnettest.Client(t, nw, aliceKeys)
//	bob := devnettest.ClientConfig(t, nw, client.Config{Keys: bobKeys, StatePath: path})
//	devnettest.Kill(t, nw, 3)    // as a crash: it stays registered
//	devnettest.Restart(t, nw, 3) // the same keys and data
//
// Package devnet's own tests cannot import it (devnettest imports devnet):
// they use the same functions of devnet (StartNetwork, StartClient,
// Network.StopNode and StartNode) through StartT and their own helpers.
package devnettest

import (
	"context"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/identity"
)

// startTimeout bounds starting a network, a client or a node.
const startTimeout = 2 * time.Minute

// Start starts a network for a test and stops it when the test ends. An
// empty cfg.Dir becomes a temporary directory; cfg.NodeConfig is the hook
// that adjusts each node's configuration.
func Start(t testing.TB, cfg devnet.Config) *devnet.Network {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	nw, err := devnet.StartNetwork(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nw.Close() })
	return nw
}

// Client starts a client of nw for the account keys, closed when the test
// ends.
func Client(t testing.TB, nw *devnet.Network, keys *identity.Keys) *client.Client {
	t.Helper()
	return ClientConfig(t, nw, client.Config{Keys: keys})
}

// ClientConfig starts a client of nw with cfg (cfg.Ledger, if nil, is nw's
// ledger), closed when the test ends.
func ClientConfig(t testing.TB, nw *devnet.Network, cfg client.Config) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c, err := nw.StartClient(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Kill stops node i as a crash would (it stays registered, its data kept).
func Kill(t testing.TB, nw *devnet.Network, i int) {
	t.Helper()
	if err := nw.StopNode(i); err != nil {
		t.Fatalf("kill node %d: %v", i, err)
	}
}

// Restart starts node i again, with its keys and data, through the
// node-config hook; it returns once the node serves.
func Restart(t testing.TB, nw *devnet.Network, i int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := nw.StartNode(ctx, i); err != nil {
		t.Fatalf("restart node %d: %v", i, err)
	}
}
