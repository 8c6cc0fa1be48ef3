package ledgerrpc

import (
	"context"
	"fmt"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/ledger"
)

// Local is the in-process twin of Client: the calls a node or a client
// makes of the ledger (Info, WaitHeight, Nodes, Node, Account, Submit,
// RoundAt), answered by the ledger itself instead of over HTTP. A devnet's
// own nodes use it (encoding every node list as JSON for every node grows
// with the square of the node count); a node in another process uses
// Client. Both answer the same, errors included (TestLocalAndClientAgree):
// an unknown node or round is an *Error with CodeNotFound.
type Local struct{ L *ledger.Ledger }

func (x Local) Info(ctx context.Context) (chain.Info, error) { return x.L.Info(), nil }

func (x Local) WaitHeight(ctx context.Context, h uint64) (chain.Info, error) {
	info, err := x.L.WaitHeight(ctx, h)
	if err != nil && ctx.Err() == nil {
		return info, classify(err)
	}
	return info, err
}

func (x Local) Nodes(ctx context.Context) ([]chain.ServiceNode, error) { return x.L.Nodes(), nil }

func (x Local) Node(ctx context.Context, key string) (chain.ServiceNode, error) {
	n, ok := x.L.Node(key)
	if !ok {
		return n, classify(fmt.Errorf("%w: %s", ledger.ErrNoNode, key))
	}
	return n, nil
}

func (x Local) Account(ctx context.Context, wallet string) (chain.Account, error) {
	a, err := x.L.Account(wallet)
	if err != nil {
		return a, &Error{Status: 400, Code: CodeBadRequest, Message: err.Error()}
	}
	return a, nil
}

func (x Local) Submit(ctx context.Context, tx *chain.Tx) (string, error) {
	h, err := x.L.Submit(tx)
	if err != nil {
		return "", classify(err)
	}
	return h, nil
}

func (x Local) RoundAt(ctx context.Context, h uint64) (chain.Round, error) {
	r, ok := x.L.RoundAt(h)
	if !ok {
		return r, &Error{Status: 404, Code: CodeNotFound, Message: fmt.Sprintf("no testing round for height %d", h)}
	}
	return r, nil
}

// QuorumsAt is RoundAt without the round's commits, reveals and votes,
// whose quorums are the ledger's own, only to be read (node.QuorumSource:
// the devnet's nodes read only the quorums of a round, and a copy of the
// whole round for each of 2,000 nodes was most of the devnet's garbage).
func (x Local) QuorumsAt(ctx context.Context, h uint64) (chain.Round, error) {
	r, ok := x.L.QuorumsAt(h)
	if !ok {
		return r, &Error{Status: 404, Code: CodeNotFound, Message: fmt.Sprintf("no testing round for height %d", h)}
	}
	return r, nil
}

// Name returns the record of a name hash, as Client.Name does.
func (x Local) Name(ctx context.Context, nameHash string) (ledger.NameRecord, error) {
	r, ok := x.L.Name(nameHash)
	if !ok {
		return r, &Error{Status: 404, Code: CodeNotFound, Message: "no such name"}
	}
	return r, nil
}

// NameValue returns a name's encrypted value (hex), for a node's
// ons_resolve passthrough.
func (x Local) NameValue(ctx context.Context, nameHash string) (string, bool, error) {
	r, ok := x.L.Name(nameHash)
	return r.Value, ok, nil
}
