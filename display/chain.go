package display

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sessionctl/sessionctl/chain"
)

// The chain's state as tables and summaries: the ledger's info, nodes and
// swarms, the testing rounds. Nodes are named by names (their Ed25519 keys
// to the devnet's names), else by the start of their key.

// NodeName is key's name in names, else its first 12 digits.
func NodeName(names map[string]string, key string) string {
	if n, ok := names[key]; ok {
		return n
	}
	return key[:min(12, len(key))]
}

func nodeNames(names map[string]string, keys []string) string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = NodeName(names, k)
	}
	return strings.Join(out, " ")
}

// SwarmID is a swarm's ID as the command line writes it: 16 hex digits,
// "-" for none.
func SwarmID(id uint64) string {
	if id == chain.UnassignedSwarm {
		return "-"
	}
	return fmt.Sprintf("%016x", id)
}

// Heights is a round's block range, "20-39" ("20-" when the round's
// length, span, is not known).
func Heights(start, span uint64) string {
	if span == 0 {
		return fmt.Sprintf("%d-", start)
	}
	return fmt.Sprintf("%d-%d", start, start+span-1)
}

func table(w io.Writer, header string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	return tw
}

// WriteLedgerInfo writes the chain's summary, of the ledger at url.
func WriteLedgerInfo(w io.Writer, url string, info chain.Info) error {
	bt := "on demand"
	if info.BlockTimeMS > 0 {
		bt = (time.Duration(info.BlockTimeMS) * time.Millisecond).String()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "ledger:\t%s\nheight:\t%d\nhash:\t%s\n", url, info.Height, info.Hash)
	fmt.Fprintf(tw, "nodes:\t%d (%d active)\n", info.Nodes, info.ActiveNodes)
	fmt.Fprintf(tw, "swarms:\t%d (last changed at height %d)\n", info.Swarms, info.SwarmsHeight)
	fmt.Fprintf(tw, "pending txs:\t%d\nblock time:\t%s\n", info.Pending, bt)
	fmt.Fprintf(tw, "stake:\t%s coins; reward %s coins a block\n", chain.FormatCoins(info.Params.StakeRequirement), chain.FormatCoins(info.Params.BlockReward))
	return tw.Flush()
}

// NamedNode is a registered service node in the command line's
// vocabulary (--json): its name, where the devnet knows its key, first.
type NamedNode struct {
	Node string `json:"node,omitempty"`
	chain.ServiceNode
}

// NameNodes names nodes by names (never nil).
func NameNodes(nodes []chain.ServiceNode, names map[string]string) []NamedNode {
	out := make([]NamedNode, len(nodes))
	for i, n := range nodes {
		out[i] = NamedNode{names[n.Key], n}
	}
	return out
}

// WriteLedgerNodes writes the registered service nodes, named by names
// (else the start of their keys).
func WriteLedgerNodes(w io.Writer, nodes []chain.ServiceNode, names map[string]string) error {
	if len(nodes) == 0 {
		_, err := fmt.Fprintln(w, "no service nodes are registered")
		return err
	}
	tw := table(w, "NODE\tSTATE\tSWARM\tSTAKED\tCONTRIBUTORS\tFEE\tCREDIT\tREWARDS")
	for _, n := range nodes {
		name := names[n.Key]
		if name == "" {
			name = n.Key[:16]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s%%\t%d\t%s\n", name, n.State, SwarmID(n.SwarmID),
			chain.FormatCoins(n.Staked()), len(n.Contributors), strconv.FormatFloat(float64(n.FeeBPS)/100, 'f', -1, 64),
			n.Credit, chain.FormatCoins(n.Rewards))
	}
	return tw.Flush()
}

// Swarm is a swarm and its members' keys (ledger.SwarmInfo converts to it).
type Swarm struct {
	ID      uint64
	Members []string
}

// WriteSwarms writes the swarms and their members, named by names (nil:
// the start of each member's key).
func WriteSwarms(w io.Writer, swarms []Swarm, names map[string]string) error {
	if len(swarms) == 0 {
		_, err := fmt.Fprintln(w, "no swarms: no service node is active")
		return err
	}
	tw := table(w, "SWARM\tSIZE\tMEMBERS")
	for _, s := range swarms {
		members := nodeNames(names, s.Members)
		if names == nil {
			short := make([]string, len(s.Members))
			for i, m := range s.Members {
				short[i] = m[:8]
			}
			members = strings.Join(short, " ")
		}
		fmt.Fprintf(tw, "%016x\t%d\t%s\n", s.ID, len(s.Members), members)
	}
	return tw.Flush()
}

// WriteRounds writes the remembered testing rounds, a line each (span: a
// round's length in blocks).
func WriteRounds(w io.Writer, rounds []chain.Round, span uint64, names map[string]string) error {
	tw := table(w, "ROUND\tHEIGHTS\tQUORUMS\tCOMMITS\tREVEALS\tVOTES\tFAILS\tCHANGES")
	for _, r := range rounds {
		fails := 0
		for _, v := range r.Votes {
			if !v.Pass {
				fails++
			}
		}
		var changes []string
		for _, ch := range r.Changes {
			changes = append(changes, NodeName(names, ch.Target)+" "+string(ch.State))
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", r.Round, Heights(r.Start, span), len(r.Quorums), len(r.Commits), len(r.Reveals), len(r.Votes), fails, OrDash(strings.Join(changes, ", ")))
	}
	return tw.Flush()
}

// WriteRound writes one round whole: its randomness, quorums, votes and
// the state changes they made.
func WriteRound(w io.Writer, rd chain.Round, span uint64, names map[string]string) error {
	fmt.Fprintf(w, "round %d (heights %s), seed %s\n", rd.Round, Heights(rd.Start, span), OrDash(rd.Seed))
	fmt.Fprintf(w, "randomness: %d commits, %d reveals", len(rd.Commits), len(rd.Reveals))
	if len(rd.MissingReveals) > 0 {
		fmt.Fprintf(w, "; committed without revealing: %s", nodeNames(names, rd.MissingReveals))
	}
	fmt.Fprintln(w)
	for i, q := range rd.Quorums {
		fmt.Fprintf(w, "quorum %d: members %s (threshold %d)\n  tested: %s\n", i+1, nodeNames(names, q.Members), q.Threshold, nodeNames(names, q.Targets))
	}
	tw := table(w, "VOTER\tTARGET\tRESULT\tREASON\tHEIGHT")
	for _, v := range rd.Votes {
		res := "pass"
		if !v.Pass {
			res = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", NodeName(names, v.Voter), NodeName(names, v.Target), res, OrDash(v.Reason), v.Height)
	}
	tw.Flush()
	if len(rd.Changes) == 0 {
		fmt.Fprintln(w, "state changes: none")
	}
	for _, ch := range rd.Changes {
		fmt.Fprintf(w, "state change at %d: %s -> %s, by the votes of %s\n", ch.Height, NodeName(names, ch.Target), ch.State, nodeNames(names, ch.Votes))
	}
	return nil
}

// NodeRef is a node in the command line's vocabulary (--json): its name,
// where the devnet knows its key, and its Ed25519 key.
type NodeRef struct {
	Node          string `json:"node,omitempty"`
	Ed25519Pubkey string `json:"ed25519_pubkey"`
}

// Ref is the node of key, named by names.
func Ref(names map[string]string, key string) NodeRef { return NodeRef{names[key], key} }

// Refs are the nodes of keys, named by names (never nil).
func Refs(names map[string]string, keys []string) []NodeRef {
	out := make([]NodeRef, len(keys))
	for i, k := range keys {
		out[i] = Ref(names, k)
	}
	return out
}

// NamedSwarm is a swarm in the command line's vocabulary (--json): its ID
// in hex, its members.
type NamedSwarm struct {
	SwarmID string    `json:"swarm_id"`
	Members []NodeRef `json:"members"`
}

// NameSwarm names a swarm's members by names.
func NameSwarm(s Swarm, names map[string]string) NamedSwarm {
	return NamedSwarm{SwarmID: fmt.Sprintf("%016x", s.ID), Members: Refs(names, s.Members)}
}

// NameSwarms names the members of swarms by names (never nil).
func NameSwarms(swarms []Swarm, names map[string]string) []NamedSwarm {
	out := make([]NamedSwarm, len(swarms))
	for i, s := range swarms {
		out[i] = NameSwarm(s, names)
	}
	return out
}

// Names are the members' names (else the start of their keys), on a line.
func (s NamedSwarm) Names() string {
	out := make([]string, len(s.Members))
	for i, m := range s.Members {
		if out[i] = m.Node; m.Node == "" {
			out[i] = NodeName(nil, m.Ed25519Pubkey)
		}
	}
	return strings.Join(out, " ")
}

// NamedRound is a testing round (chain.Round) in the command line's
// vocabulary (--json): every node it names a NodeRef.
type NamedRound struct {
	Round          uint64        `json:"round"`
	Start          uint64        `json:"start"`
	Commits        []RoundCommit `json:"commits"`
	Reveals        []RoundReveal `json:"reveals"`
	MissingReveals []NodeRef     `json:"missing_reveals,omitempty"`
	Seed           string        `json:"seed,omitempty"`
	Quorums        []NamedQuorum `json:"quorums,omitempty"`
	Votes          []NamedVote   `json:"votes,omitempty"`
	Changes        []NamedChange `json:"changes,omitempty"`
	Tallied        bool          `json:"tallied"`
}

// RoundCommit is a node's commitment to its secret: BLAKE2b-32, hex.
type RoundCommit struct {
	NodeRef
	Hash string `json:"hash"`
}

// RoundReveal is a node's revealed secret, hex.
type RoundReveal struct {
	NodeRef
	Secret string `json:"secret"`
}

// NamedQuorum is a testing quorum: who tests, whom, how many must agree.
type NamedQuorum struct {
	Members   []NodeRef `json:"members"`
	Targets   []NodeRef `json:"targets"`
	Threshold int       `json:"threshold"`
}

// NamedVote is a quorum member's verdict on a target.
type NamedVote struct {
	Voter  NodeRef `json:"voter"`
	Target NodeRef `json:"target"`
	Pass   bool    `json:"pass"`
	Reason string  `json:"reason,omitempty"`
	Height uint64  `json:"height"`
}

// NamedChange is a state change a round's votes made, and the voters whose
// votes decided it.
type NamedChange struct {
	Target NodeRef         `json:"target"`
	State  chain.NodeState `json:"state"`
	Voters []NodeRef       `json:"voters"`
	Height uint64          `json:"height"`
}

// NameRound names a round's nodes by names; commits and reveals in the
// order of the nodes' keys.
func NameRound(r chain.Round, names map[string]string) NamedRound {
	out := NamedRound{Round: r.Round, Start: r.Start, Commits: []RoundCommit{}, Reveals: []RoundReveal{},
		Seed: r.Seed, Tallied: r.Tallied}
	if len(r.MissingReveals) > 0 {
		out.MissingReveals = Refs(names, r.MissingReveals)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Commits)) {
		out.Commits = append(out.Commits, RoundCommit{Ref(names, k), r.Commits[k]})
	}
	for _, k := range slices.Sorted(maps.Keys(r.Reveals)) {
		out.Reveals = append(out.Reveals, RoundReveal{Ref(names, k), r.Reveals[k]})
	}
	for _, q := range r.Quorums {
		out.Quorums = append(out.Quorums, NamedQuorum{Refs(names, q.Members), Refs(names, q.Targets), q.Threshold})
	}
	for _, v := range r.Votes {
		out.Votes = append(out.Votes, NamedVote{Ref(names, v.Voter), Ref(names, v.Target), v.Pass, v.Reason, v.Height})
	}
	for _, c := range r.Changes {
		out.Changes = append(out.Changes, NamedChange{Ref(names, c.Target), c.State, Refs(names, c.Votes), c.Height})
	}
	return out
}

// NameRounds names the nodes of rounds by names (never nil).
func NameRounds(rounds []chain.Round, names map[string]string) []NamedRound {
	out := make([]NamedRound, len(rounds))
	for i, r := range rounds {
		out[i] = NameRound(r, names)
	}
	return out
}

// Account is a wallet's balance and stake, with both in coins too.
type Account struct {
	chain.Account
	BalanceCoins string `json:"balance_coins"`
	StakedCoins  string `json:"staked_coins"`
}

// AccountOf is a in the vocabulary.
func AccountOf(a chain.Account) Account {
	return Account{a, chain.FormatCoins(a.Balance), chain.FormatCoins(a.Staked)}
}

// WriteText writes the account for a person.
func (a Account) WriteText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "wallet:  %s\nbalance: %s coins\nstaked:  %s coins\n", a.Wallet, a.BalanceCoins, a.StakedCoins)
	return err
}
