package chain

import (
	"fmt"
	"strconv"
	"strings"
)

// Coin is one coin in atomic units; amounts are always atomic units.
const Coin uint64 = 1_000_000_000

// Params are the rules of a chain. They are fixed at genesis and recorded in
// the database: a restarted ledger keeps the rules it was created with.
//
// The staking and reward figures are mainnet's (SPEC 2). Time is counted in
// blocks; a devnet block is 1 second where a mainnet block is 2 minutes. The
// decommission credit keeps mainnet's block counts (2 h of credit = 60
// blocks, a minute in the devnet), so a workshop sees a failing node
// decommissioned and deregistered in minutes. Unlock and deregistration
// delays are not to scale (mainnet: 10,800 and 21,600 blocks): they are
// short enough to watch, keeping mainnet's ratio of 1 to 2.
type Params struct {
	StakeRequirement uint64 `json:"stake_requirement"`       // the fixed stake of a node: 15,000 coins
	MaxContributors  int    `json:"max_contributors"`        // operator included: 10
	MinOperatorShare uint64 `json:"min_operator_share"`      // of the stake, in basis points: 2,500 (25%)
	BlockReward      uint64 `json:"block_reward"`            // the service nodes' share of each block: 16.5 coins
	UnlockDelay      uint64 `json:"unlock_delay"`            // blocks from an unlock request to the stake's return
	DeregisterLock   uint64 `json:"deregister_lock"`         // blocks a deregistered node's stake stays locked
	NameCost         uint64 `json:"name_cost"`               // burned by a name registration: 7 coins
	InitialCredit    uint64 `json:"initial_credit"`          // decommission credit of a new node, in blocks: 60
	CreditEvery      uint64 `json:"credit_every"`            // one block of credit per this many active blocks: 30
	MaxCredit        uint64 `json:"max_credit"`              // 1,440 blocks (48 h)
	MinCreditDecomm  uint64 `json:"min_credit_decommission"` // below this a failing node is deregistered: 60
	SnapshotEvery    uint64 `json:"snapshot_every"`          // blocks between state snapshots on disk
	// Testing rounds (see quorum.go); RoundBlocks 0 turns testing off.
	RoundBlocks   uint64 `json:"round_blocks"`   // a testing round: 10 blocks
	CommitBlocks  uint64 `json:"commit_blocks"`  // of which the commit phase: 3
	RevealBlocks  uint64 `json:"reveal_blocks"`  // and the reveal phase: 3; the rest is for tests and votes
	QuorumSize    int    `json:"quorum_size"`    // members of a testing quorum: 10 (fewer in a small devnet)
	QuorumTargets int    `json:"quorum_targets"` // nodes a quorum tests: up to 50
	ProofInterval uint64 `json:"proof_interval"` // blocks between a node's uptime proofs: 10 (testnet: 10 min)
	ProofValidity uint64 `json:"proof_validity"` // a proof older than this counts as offline: 21 (testnet: 21 min)
}

// DefaultParams returns the rules described on Params.
func DefaultParams() Params {
	return Params{
		StakeRequirement: 15_000 * Coin,
		MaxContributors:  10,
		MinOperatorShare: 2_500,
		BlockReward:      16*Coin + Coin/2,
		UnlockDelay:      30,
		DeregisterLock:   60,
		NameCost:         7 * Coin,
		InitialCredit:    60,
		CreditEvery:      30,
		MaxCredit:        1_440,
		MinCreditDecomm:  60,
		SnapshotEvery:    100,
		RoundBlocks:      10,
		CommitBlocks:     3,
		RevealBlocks:     3,
		QuorumSize:       10,
		QuorumTargets:    50,
		ProofInterval:    10,
		ProofValidity:    21,
	}
}

// MinOperatorStake is the least the operator must stake.
func (p Params) MinOperatorStake() uint64 {
	return p.StakeRequirement * p.MinOperatorShare / 10_000
}

// MinContribution is the least a new contributor may stake: SPEC 2's
// (requirement - reserved) / (max contributors - contributors so far), where
// reserved counts what is staked or held in reserved spots.
func (p Params) MinContribution(reserved uint64, contributors int) uint64 {
	if contributors >= p.MaxContributors || reserved >= p.StakeRequirement {
		return 0
	}
	return (p.StakeRequirement - reserved) / uint64(p.MaxContributors-contributors)
}

func (p Params) Validate() error {
	switch {
	case p.StakeRequirement == 0:
		return fmt.Errorf("params: stake requirement is 0")
	case p.MaxContributors < 1:
		return fmt.Errorf("params: max contributors %d < 1", p.MaxContributors)
	case p.MinOperatorShare > 10_000:
		return fmt.Errorf("params: operator share %d bps > 10,000", p.MinOperatorShare)
	case p.CreditEvery == 0:
		return fmt.Errorf("params: credit_every is 0")
	case p.SnapshotEvery == 0:
		return fmt.Errorf("params: snapshot_every is 0")
	case p.RoundBlocks > 0 && (p.CommitBlocks == 0 || p.RevealBlocks == 0 || p.CommitBlocks+p.RevealBlocks >= p.RoundBlocks || p.QuorumSize < 2 || p.QuorumTargets < 1):
		return fmt.Errorf("params: a testing round needs commit and reveal phases shorter than the round, and quorums of 2 or more")
	}
	return nil
}

// FormatCoins writes atomic units as coins, e.g. "16.5".
func FormatCoins(a uint64) string {
	s := strconv.FormatUint(a/Coin, 10)
	if frac := a % Coin; frac != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%09d", frac), "0")
	}
	return s
}

// ParseCoins reads a coin amount such as "15000" or "16.5" into atomic units.
func ParseCoins(s string) (uint64, error) {
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" && !hasFrac || hasFrac && (frac == "" || len(frac) > 9) {
		return 0, fmt.Errorf("amount %q: want coins with at most 9 decimals", s)
	}
	var w uint64
	if whole != "" {
		var err error
		if w, err = strconv.ParseUint(whole, 10, 64); err != nil || w > (1<<63)/Coin {
			return 0, fmt.Errorf("amount %q: want coins with at most 9 decimals", s)
		}
	}
	var f uint64
	if hasFrac {
		var err error
		if f, err = strconv.ParseUint(frac+strings.Repeat("0", 9-len(frac)), 10, 64); err != nil {
			return 0, fmt.Errorf("amount %q: want coins with at most 9 decimals", s)
		}
	}
	return w*Coin + f, nil
}
