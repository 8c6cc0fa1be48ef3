package chain

import (
	"context"
	"errors"
	"fmt"
)

// LastChanged finds, among rounds (newest first, as the ledger remembers
// them), the newest that changed a node's state: target's, unless "".
func LastChanged(rounds []Round, target string) (Round, bool) {
	for _, r := range rounds {
		for _, ch := range r.Changes {
			if target == "" || ch.Target == target {
				return r, true
			}
		}
	}
	return Round{}, false
}

// LastTallied finds, among rounds (newest first), the newest tallied round
// that has votes.
func LastTallied(rounds []Round) (Round, bool) {
	for _, r := range rounds {
		if len(r.Votes) > 0 && r.Tallied {
			return r, true
		}
	}
	return Round{}, false
}

// RoundSource is what FindRound reads: a ledger's remembered rounds
// (ledgerrpc.Client).
type RoundSource interface {
	Rounds(ctx context.Context) ([]Round, error)
	RoundAt(ctx context.Context, height uint64) (Round, error)
}

// RoundQuery is which round FindRound finds: round Number, the round of
// block Height, or the newest that changed node Node's state (an Ed25519
// key; "" any node's), else the newest tallied with votes.
type RoundQuery struct {
	Number, Height *uint64
	Node           string
}

// Errors of FindRound.
var (
	ErrNoRoundLength = errors.New("the ledger does not say how long a round is")
	ErrNoRound       = errors.New("no remembered round")
)

// FindRound finds the round q asks for among src's, rounds lasting span
// blocks.
func FindRound(ctx context.Context, src RoundSource, span uint64, q RoundQuery) (Round, error) {
	switch {
	case q.Number != nil:
		if span == 0 {
			return Round{}, ErrNoRoundLength
		}
		return src.RoundAt(ctx, *q.Number*span)
	case q.Height != nil:
		return src.RoundAt(ctx, *q.Height)
	}
	rounds, err := src.Rounds(ctx)
	if err != nil {
		return Round{}, err
	}
	if r, ok := LastChanged(rounds, q.Node); ok {
		return r, nil
	}
	if q.Node != "" {
		return Round{}, fmt.Errorf("%w changed the state of %s", ErrNoRound, q.Node)
	}
	if r, ok := LastTallied(rounds); ok {
		return r, nil
	}
	return Round{}, fmt.Errorf("%w has been tallied yet; mine some blocks ('sessionctl ledger mine 20')", ErrNoRound)
}
