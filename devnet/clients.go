package devnet

import (
	"context"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
)

// StartClient starts a Session client of the devnet whose ledger RPC is at
// ledgerURL (cfg.Ledger, if set, is used instead): client.New, then Start;
// a client that does not start is closed. The caller closes the client.
// The devnet's background clients use it, and so do tests (through
// devnettest.Client in other packages).
func StartClient(ctx context.Context, ledgerURL string, cfg client.Config) (*client.Client, error) {
	if cfg.Ledger == nil {
		cfg.Ledger = ledgerrpc.NewClient(ledgerURL, "")
	}
	c, err := client.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// StartClient starts a client of this network: see the function StartClient.
func (nw *Network) StartClient(ctx context.Context, cfg client.Config) (*client.Client, error) {
	return StartClient(ctx, nw.LedgerURL(), cfg)
}

// StartNetwork makes a network and starts it: New, then Start (which
// stops what it started if it fails). The caller closes the network.
func StartNetwork(ctx context.Context, cfg Config) (*Network, error) {
	nw, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := nw.Start(ctx); err != nil {
		return nil, err
	}
	return nw, nil
}
