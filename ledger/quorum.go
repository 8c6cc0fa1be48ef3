package ledger

import (
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/sessionctl/sessionctl/chain"
	"golang.org/x/crypto/blake2b"
)

// Testing rounds (SPEC 7, in devnet blocks). Round r starts at height
// S = r*RoundBlocks:
//
//	[S, S+CommitBlocks)                     active nodes commit to BLAKE2b-32(secret)
//	[S+CommitBlocks, Q)                     they reveal the secret; Q = S+CommitBlocks+RevealBlocks
//	at Q                                    the quorums are drawn from BLAKE2b(previous block hash
//	                                        || the reveals, sorted by node): RANDAO-style, no
//	                                        single node can choose them; a commit without a reveal
//	                                        is noted
//	[Q, S+RoundBlocks)                      quorum members test their targets and vote
//	at S+RoundBlocks                        the votes are tallied: a target with at least the
//	                                        threshold of failing votes is decommissioned (or
//	                                        deregistered without credit); a decommissioned target
//	                                        with the threshold of passing votes is recommissioned
//
// Quorums have min(QuorumSize, active/2) members (at least 2) and test up to
// QuorumTargets nodes each, never their own members. The threshold is 70% of
// the members, rounded up (7 of 10, as oxen-core's 7 of 10). Votes are
// transactions signed by their voters; the state change they produce records
// them, so the ledger shows every signature behind it. (oxen-core gathers
// the votes between the quorum's members and submits them as one state
// change; here each vote goes to the ledger on its own, which also lets
// `quorum inspect` show each one.)

// frozenRounds: a round this many older than the newest no longer changes
// (State.clone shares it).
const frozenRounds = 3

// keepRounds is how many rounds the state remembers.
const keepRounds = 32

func (s *State) round(p chain.Params, r uint64) *round {
	if s.Rounds == nil {
		s.Rounds = map[uint64]*round{}
	}
	rd, ok := s.Rounds[r]
	if !ok {
		rd = newRound(r, p.RoundStart(r))
		s.Rounds[r] = rd
		if r >= keepRounds {
			delete(s.Rounds, r-keepRounds)
		}
	}
	return rd
}

// testingWork runs the rounds' work at the start of block h: tally the
// round that just ended, draw the quorums of the round whose reveals ended.
func (s *State) testingWork(p chain.Params, h uint64) {
	if p.RoundBlocks == 0 {
		return
	}
	r := p.RoundOf(h)
	if h == p.RoundStart(r) && r > 0 {
		s.tally(p, s.round(p, r-1), h)
	}
	if h == p.QuorumHeight(r) {
		s.drawQuorums(p, s.round(p, r))
	}
}

func (s *State) drawQuorums(p chain.Params, rd *round) {
	defer rd.startVoting()
	h, _ := blake2b.New256(nil)
	h.Write([]byte(s.Hash))
	for _, k := range slices.Sorted(mapKeysOf(rd.Reveals)) {
		h.Write([]byte(k))
		h.Write([]byte(rd.Reveals[k]))
	}
	var seed [32]byte
	h.Sum(seed[:0])
	rd.Seed = hex.EncodeToString(seed[:])
	for _, k := range slices.Sorted(mapKeysOf(rd.Commits)) {
		if _, ok := rd.Reveals[k]; !ok {
			rd.MissingReveals = append(rd.MissingReveals, k)
		}
	}
	active := s.activeKeys()
	if len(active) < 3 {
		return // no quorum of 2 can test a third node
	}
	var targets []string
	for _, k := range s.nodeKeys() {
		if st := s.Nodes[k].State; st == chain.StateActive || st == chain.StateDecommissioned {
			targets = append(targets, k)
		}
	}
	r := newRNG(seed, "quorums")
	members := slices.Clone(active)
	r.shuffle(members)
	r.shuffle(targets)
	size := min(p.QuorumSize, max(2, len(active)/2))
	count := max(1, (len(targets)+p.QuorumTargets-1)/p.QuorumTargets)
	for i := 0; i < count; i++ {
		q := chain.Quorum{Threshold: (size*7 + 9) / 10}
		for j := 0; j < size; j++ {
			q.Members = append(q.Members, members[(i*size+j)%len(members)])
		}
		rd.Quorums = append(rd.Quorums, q)
	}
	// Targets go round-robin to the quorums they are not members of.
	next := 0
	for _, t := range targets {
		for tries := 0; tries < count; tries++ {
			qi := (next + tries) % count
			q := &rd.Quorums[qi]
			if !slices.Contains(q.Members, t) && len(q.Targets) < p.QuorumTargets {
				q.Targets = append(q.Targets, t)
				next = qi + 1
				break
			}
		}
	}
	for i := range rd.Quorums {
		slices.Sort(rd.Quorums[i].Members)
		slices.Sort(rd.Quorums[i].Targets)
	}
}

func mapKeysOf(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// tally applies a finished round's verdicts.
func (s *State) tally(p chain.Params, rd *round, h uint64) {
	if rd.Tallied {
		return
	}
	rd.Tallied = true
	defer rd.stopVoting()
	// Each target's voters, failing and passing, in the order they voted.
	keys, quorum := rd.targets()
	fails, passes := make([][]string, len(keys)), make([][]string, len(keys))
	rd.eachVote(func(v vote) {
		voter := rd.Quorums[quorum[v.target]].Members[v.voter>>1]
		if v.voter&1 == 1 {
			passes[v.target] = append(passes[v.target], voter)
		} else {
			fails[v.target] = append(fails[v.target], voter)
		}
	})
	for _, q := range rd.Quorums {
		for _, t := range q.Targets {
			n, ok := s.Nodes[t]
			if !ok {
				continue
			}
			at := rd.where[t].target
			switch {
			case len(fails[at]) >= q.Threshold && n.State == chain.StateActive:
				s.changeState(p, &chain.StateChangeBody{NodeKey: t, State: chain.StateDecommissioned}, h)
				rd.Changes = append(rd.Changes, chain.Change{Target: t, State: s.Nodes[t].State, Votes: fails[at], Height: h})
				s.NodesHeight = h
			case len(passes[at]) >= q.Threshold && n.State == chain.StateDecommissioned:
				s.changeState(p, &chain.StateChangeBody{NodeKey: t, State: chain.StateActive}, h)
				rd.Changes = append(rd.Changes, chain.Change{Target: t, State: chain.StateActive, Votes: passes[at], Height: h})
				s.NodesHeight = h
			}
		}
	}
}

func (s *State) commit(p chain.Params, node string, b *chain.CommitBody, h uint64) error {
	if n, ok := s.Nodes[node]; !ok || n.State != chain.StateActive {
		return fmt.Errorf("%w: only active nodes commit", ErrForbidden)
	}
	if b.Round != p.RoundOf(h) || p.RoundPhase(h) != "commit" {
		return fmt.Errorf("%w: round %d takes commits at heights %d-%d", ErrNodeState, b.Round, p.RoundStart(b.Round), p.RoundStart(b.Round)+p.CommitBlocks-1)
	}
	rd := s.round(p, b.Round)
	if _, dup := rd.Commits[node]; dup {
		return fmt.Errorf("%w: already committed in round %d", ErrNodeState, b.Round)
	}
	rd.Commits[s.Nodes[node].Key] = b.Hash // (the key the state holds, not the transaction's copy)
	return nil
}

func (s *State) reveal(p chain.Params, node string, b *chain.RevealBody, h uint64) error {
	if b.Round != p.RoundOf(h) || p.RoundPhase(h) != "reveal" {
		return fmt.Errorf("%w: round %d takes reveals at heights %d-%d", ErrNodeState, b.Round,
			p.RoundStart(b.Round)+p.CommitBlocks, p.QuorumHeight(b.Round)-1)
	}
	rd := s.round(p, b.Round)
	c, ok := rd.Commits[node]
	if !ok {
		return fmt.Errorf("%w: no commit in round %d", ErrNodeState, b.Round)
	}
	if _, dup := rd.Reveals[node]; dup {
		return fmt.Errorf("%w: already revealed in round %d", ErrNodeState, b.Round)
	}
	secret, _ := hex.DecodeString(b.Secret)
	if chain.CommitHash(secret) != c {
		return fmt.Errorf("%w: the secret does not match the commit", ErrForbidden)
	}
	if n, ok := s.Nodes[node]; ok {
		node = n.Key // (the key the state holds, not the transaction's copy)
	}
	rd.Reveals[node] = b.Secret
	return nil
}

func (s *State) vote(p chain.Params, voter string, b *chain.VoteBody, h uint64) error {
	rd, ok := s.Rounds[b.Round]
	if !ok || rd.Seed == "" {
		return fmt.Errorf("%w: round %d has no quorums", ErrNodeState, b.Round)
	}
	if h < p.QuorumHeight(b.Round) || h >= p.RoundStart(b.Round+1) {
		return fmt.Errorf("%w: round %d takes votes at heights %d-%d", ErrNodeState, b.Round, p.QuorumHeight(b.Round), p.RoundStart(b.Round+1)-1)
	}
	ok, dup := rd.vote(voter, b.Target, b.Pass, b.Reason, h)
	switch {
	case !ok:
		return fmt.Errorf("%w: the voter is not in the quorum testing %s in round %d", ErrForbidden, short(b.Target), b.Round)
	case dup:
		return fmt.Errorf("%w: already voted on %s in round %d", ErrNodeState, short(b.Target), b.Round)
	}
	return nil
}

func (s *State) uptimeProof(node string, h uint64) error {
	n, ok := s.Nodes[node]
	if !ok || n.State == chain.StateDeregistered || n.State == chain.StateAwaiting {
		return fmt.Errorf("%w: only registered, staked nodes send uptime proofs", ErrForbidden)
	}
	n.LastProof = h
	return nil
}
