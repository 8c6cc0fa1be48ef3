package devnet

import (
	"context"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/client"
)

// The helpers of this package's tests. Other packages use devnettest, which
// this package cannot import (devnettest imports devnet); both are thin
// wrappers of the same functions (StartNetwork, StartClient).

// StartT starts a network for a test and stops it when the test ends. An
// empty cfg.Dir becomes a temporary directory.
func StartT(t testing.TB, cfg Config) *Network {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nw, err := StartNetwork(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nw.Close() })
	return nw
}

// clientT starts a client of the devnet whose ledger RPC is at ledgerURL
// (a Network's, a Devnet's, or one in another process), closed when the
// test ends.
func clientT(t testing.TB, ledgerURL string, cfg client.Config) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := StartClient(ctx, ledgerURL, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
