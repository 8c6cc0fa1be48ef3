package devnet

import (
	"context"
	"fmt"

	"github.com/sessionctl/sessionctl/ledger"
)

// localLedger gives the nodes of an in-process devnet the ledger itself
// instead of its HTTP RPC: the same calls, without encoding every node list
// as JSON for every node (which grows with the square of the node count).
// Nodes on other hosts use the RPC client.
type localLedger struct{ l *ledger.Ledger }

func (x localLedger) Info(ctx context.Context) (ledger.Info, error) { return x.l.Info(), nil }

func (x localLedger) WaitHeight(ctx context.Context, h uint64) (ledger.Info, error) {
	return x.l.WaitHeight(ctx, h)
}

func (x localLedger) Nodes(ctx context.Context) ([]ledger.ServiceNode, error) {
	return x.l.Nodes(), nil
}

func (x localLedger) Node(ctx context.Context, key string) (ledger.ServiceNode, error) {
	n, ok := x.l.Node(key)
	if !ok {
		return n, fmt.Errorf("%w: %s", ledger.ErrNoNode, key)
	}
	return n, nil
}

func (x localLedger) Account(ctx context.Context, wallet string) (ledger.Account, error) {
	return x.l.Account(wallet)
}

func (x localLedger) Submit(ctx context.Context, tx *ledger.Tx) (string, error) {
	return x.l.Submit(tx)
}

func (x localLedger) RoundAt(ctx context.Context, h uint64) (ledger.Round, error) {
	r, ok := x.l.RoundAt(h)
	if !ok {
		return r, fmt.Errorf("no testing round for height %d", h)
	}
	return r, nil
}
