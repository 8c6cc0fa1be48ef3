// Package chain holds what the network knows of the chain, as it travels:
// service nodes and their states, swarms and how an account maps to one,
// the chain's rules (Params), its tip (Info), accounts, testing rounds, and
// signed transactions. Nodes, clients and the ledger RPC share it; the
// state machine that decides all of it (package ledger) imports it too,
// so a node or a client never needs the state machine or SQLite.
package chain

import (
	"math"
	"slices"
	"sort"
)

// NodeState is where a service node stands.
type NodeState string

// The node states. A node waits for contributions until its stake is full,
// then is active; a failing node is decommissioned (out of its swarm, earning
// nothing) while its credit lasts, and deregistered (its stake locked) after.
const (
	StateAwaiting       NodeState = "awaiting_contributions"
	StateActive         NodeState = "active"
	StateDecommissioned NodeState = "decommissioned"
	StateDeregistered   NodeState = "deregistered"
)

// Contributor is one stake in a node. The operator is always the first.
type Contributor struct {
	Wallet   string `json:"wallet"`
	Amount   uint64 `json:"amount"`             // staked so far
	Reserved uint64 `json:"reserved,omitempty"` // held for this wallet at registration
	Rewards  uint64 `json:"rewards"`            // earned through this node
}

// ServiceNode is a registered node as the chain sees it.
type ServiceNode struct {
	Key                string        `json:"ed25519_pubkey"`
	X25519             string        `json:"x25519_pubkey"`
	Operator           string        `json:"operator"`
	FeeBPS             uint32        `json:"fee_bps"`
	Contributors       []Contributor `json:"contributors"`
	State              NodeState     `json:"state"`
	RegistrationHeight uint64        `json:"registration_height"`
	ActiveSince        uint64        `json:"active_since,omitempty"`  // height it last became active
	ActiveBlocks       uint64        `json:"active_blocks"`           // blocks active since registration
	SwarmID            uint64        `json:"swarm_id"`                // UnassignedSwarm when in none
	Credit             uint64        `json:"credit"`                  // decommission credit, in blocks
	StateHeight        uint64        `json:"state_height,omitempty"`  // height of the last state change
	UnlockHeight       uint64        `json:"unlock_height,omitempty"` // stakes return at this height
	Rewards            uint64        `json:"rewards"`                 // earned in all
	LastProof          uint64        `json:"last_proof"`              // height of the last uptime proof
	PeerID             string        `json:"peer_id,omitempty"`       // published by the node (node_info)
	Addrs              []string      `json:"addrs,omitempty"`         //
	PublicIP           string        `json:"public_ip,omitempty"`     // where its HTTPS edge listens (node_info)
	StoragePort        int           `json:"storage_port,omitempty"`  //
}

// Staked returns the sum of the stakes.
func (n *ServiceNode) Staked() uint64 {
	var s uint64
	for _, c := range n.Contributors {
		s += c.Amount
	}
	return s
}

// held is what is staked or held in reserved spots.

// Info is a summary of the tip.
type Info struct {
	Height       uint64 `json:"height"`
	Hash         string `json:"hash"`
	Timestamp    int64  `json:"timestamp"` // of the tip, unix ms
	SwarmsHeight uint64 `json:"swarms_height"`
	NodesHeight  uint64 `json:"nodes_height"` // last change to a node's state, keys or addresses
	Nodes        int    `json:"nodes"`
	ActiveNodes  int    `json:"active_nodes"`
	Swarms       int    `json:"swarms"`
	Pending      int    `json:"pending_txs"`
	BlockTimeMS  int64  `json:"block_time_ms"`
	Authority    string `json:"authority"`
	Params       Params `json:"params"`
}

// Account is a wallet's standing.
type Account struct {
	Wallet    string `json:"wallet"`
	Balance   uint64 `json:"balance"`    // spendable
	Staked    uint64 `json:"staked"`     // locked in nodes
	NextNonce uint64 `json:"next_nonce"` // for the next transaction, pending ones counted
}

// Vote is one quorum member's verdict on one target.
type Vote struct {
	Voter  string `json:"voter"`
	Target string `json:"target"`
	Pass   bool   `json:"pass"`
	Reason string `json:"reason,omitempty"`
	Height uint64 `json:"height"`
}

// Quorum is one testing quorum of a round.
type Quorum struct {
	Members   []string `json:"members"`
	Targets   []string `json:"targets"`
	Threshold int      `json:"threshold"`
}

// Change is a state change a round's votes produced.
type Change struct {
	Target string    `json:"target"`
	State  NodeState `json:"state"`
	Votes  []string  `json:"votes"` // the voters whose votes decided it
	Height uint64    `json:"height"`
}

// Round is one testing round: its randomness, quorums, votes and outcome.
type Round struct {
	Round          uint64            `json:"round"`
	Start          uint64            `json:"start"`
	Commits        map[string]string `json:"commits"` // node -> BLAKE2b-32(secret), hex
	Reveals        map[string]string `json:"reveals"` // node -> secret, hex
	MissingReveals []string          `json:"missing_reveals,omitempty"`
	Seed           string            `json:"seed,omitempty"`
	Quorums        []Quorum          `json:"quorums,omitempty"`
	Votes          []Vote            `json:"votes,omitempty"`
	Changes        []Change          `json:"changes,omitempty"`
	Tallied        bool              `json:"tallied"`
}

// Phases of a round at a height.
// RoundStart returns the first height of round r.
func (p Params) RoundStart(r uint64) uint64 { return r * p.RoundBlocks }

// QuorumHeight is the height at which round r's quorums are drawn.
func (p Params) QuorumHeight(r uint64) uint64 {
	return p.RoundStart(r) + p.CommitBlocks + p.RevealBlocks
}

// RoundPhase names where height h stands in its round: "commit", "reveal" or "test".
func (p Params) RoundPhase(h uint64) string {
	off := h - p.RoundStart(p.RoundOf(h))
	switch {
	case off < p.CommitBlocks:
		return "commit"
	case off < p.CommitBlocks+p.RevealBlocks:
		return "reveal"
	}
	return "test"
}

// RoundOf returns the round height h belongs to.
func (p Params) RoundOf(h uint64) uint64 { return h / p.RoundBlocks }

// UnassignedSwarm is the swarm id of a node that is in no swarm.
const UnassignedSwarm = math.MaxUint64

// SwarmFor returns the id of the swarm that owns swarm-space value v
// (identity.AccountID.SwarmSpace): the id closest to v on the 2^64 ring, the
// lower (left) one on an exact tie, wrapping around at both ends. ids must be
// sorted ascending; with no swarms it returns UnassignedSwarm.
func SwarmFor(ids []uint64, v uint64) uint64 {
	if len(ids) == 0 {
		return UnassignedSwarm
	}
	// right: the first id >= v, wrapping to the first id; left: the one before it.
	r := sort.Search(len(ids), func(i int) bool { return ids[i] >= v })
	if r == len(ids) {
		r = 0
	}
	l := r - 1
	if l < 0 {
		l = len(ids) - 1
	}
	dRight := ids[r] - v // modular distances on the ring
	dLeft := v - ids[l]
	if dRight < dLeft {
		return ids[r]
	}
	return ids[l]
}

// QuorumOf returns the quorum of round rd that tests target, or nil.
func (rd *Round) QuorumOf(target string) *Quorum {
	for i := range rd.Quorums {
		if slices.Contains(rd.Quorums[i].Targets, target) {
			return &rd.Quorums[i]
		}
	}
	return nil
}
