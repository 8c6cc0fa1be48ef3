package ledger

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"unique"

	"github.com/sessionctl/sessionctl/chain"
)

// round is a testing round as a State keeps it: chain.Round's fields, with
// its votes kept compactly. A round of a 2,000-node devnet takes 20,000
// votes; as chain.Votes, each with its own copies of two 64-character keys
// (decoded from its transaction), they took 200 bytes each and about 130
// MB for the rounds a devnet remembers, and every block copied the votes
// of the newest rounds. Here a vote is 24 bytes: its target and voter are
// places in the round's quorums, whose keys the round has already, its
// reason is interned, and the votes are kept in chunks that clones share
// (only the last, partial chunk is copied when a clone votes). A round
// reads and writes as the chain.Round it stands for (JSON, Rounds, RoundAt).
type round struct {
	chain.Round // Votes is always nil: the votes are in votes

	votes [][]vote // in the order cast; chunks of voteChunk, only the last partial
	// While the round takes votes (from its draw to its tally):
	where map[string]place // target -> its place; shared by clones, never changed
	size  int              // the most members a quorum has
	voted []uint64         // bit place.target*size+member: that member voted on it
}

// vote is a chain.Vote in a round: Voter is the round's
// Quorums[target's quorum].Members[voter>>1], Target its target-th target
// (the quorums' targets in order), Pass voter&1.
type vote struct {
	target uint32
	voter  uint32
	height uint64
	reason unique.Handle[string] // zero for ""
}

// place is where a target stands in its round: its index among the
// round's targets (the quorums' targets in order) and its quorum.
type place struct{ target, quorum uint32 }

// voteChunk is how many votes a chunk holds (6 KB).
const voteChunk = 256

func newRound(r, start uint64) *round {
	return &round{Round: chain.Round{Round: r, Start: start, Commits: map[string]string{}, Reveals: map[string]string{}}}
}

// clone returns a copy of r that a State may change without changing r:
// what can still change is copied (the commits and reveals until the
// draw, the vote bits while votes are taken, the list of vote chunks),
// and the rest is shared: the full vote chunks, the quorums, the targets'
// places. The last vote chunk is shared too, clipped, so that a vote on
// the copy copies it first.
func (r *round) clone() *round {
	c := *r
	if r.Seed == "" {
		c.Commits = maps.Clone(r.Commits)
		c.Reveals = maps.Clone(r.Reveals)
	}
	c.MissingReveals = slices.Clip(r.MissingReveals)
	c.Quorums = slices.Clip(r.Quorums)
	c.Changes = slices.Clip(r.Changes)
	c.votes = slices.Clone(r.votes)
	if n := len(c.votes); n > 0 {
		c.votes[n-1] = slices.Clip(c.votes[n-1])
	}
	c.voted = slices.Clone(r.voted)
	return &c
}

// vote records voter's vote on target; ok is false if voter is not in
// the quorum testing target, dup if it voted on it already.
func (r *round) vote(voter, target string, pass bool, reason string, h uint64) (ok, dup bool) {
	pl, found := r.where[target]
	if !found {
		return false, false
	}
	m := slices.Index(r.Quorums[pl.quorum].Members, voter)
	if m < 0 {
		return false, false
	}
	bit := int(pl.target)*r.size + m
	if r.voted[bit/64]&(1<<(bit%64)) != 0 {
		return true, true
	}
	r.voted[bit/64] |= 1 << (bit % 64)
	v := vote{target: pl.target, voter: uint32(m) << 1, height: h}
	if pass {
		v.voter |= 1
	}
	if reason != "" {
		v.reason = unique.Make(reason)
	}
	r.add(v)
	return true, false
}

func (r *round) add(v vote) {
	n := len(r.votes)
	if n == 0 || len(r.votes[n-1]) == voteChunk {
		r.votes = append(r.votes, make([]vote, 0, voteChunk))
		n++
	}
	last := r.votes[n-1]
	if len(last) == cap(last) { // shared with the state this one was cloned from
		last = append(make([]vote, 0, voteChunk), last...)
	}
	r.votes[n-1] = append(last, v)
}

// voteCount is how many votes the round has.
func (r *round) voteCount() int {
	if len(r.votes) == 0 {
		return 0
	}
	return (len(r.votes)-1)*voteChunk + len(r.votes[len(r.votes)-1])
}

// eachVote calls f with each vote in the order cast.
func (r *round) eachVote(f func(v vote)) {
	for _, ch := range r.votes {
		for _, v := range ch {
			f(v)
		}
	}
}

// targets returns the round's targets in order and each one's quorum.
func (r *round) targets() (keys []string, quorum []uint32) {
	for qi, q := range r.Quorums {
		for _, t := range q.Targets {
			keys = append(keys, t)
			quorum = append(quorum, uint32(qi))
		}
	}
	return keys, quorum
}

// startVoting indexes the drawn quorums' targets for the votes.
func (r *round) startVoting() {
	keys, quorum := r.targets()
	r.where = make(map[string]place, len(keys))
	for i, t := range keys {
		if _, dup := r.where[t]; !dup { // (a target is in one quorum: QuorumOf finds the first)
			r.where[t] = place{target: uint32(i), quorum: quorum[i]}
		}
	}
	r.size = 0
	for _, q := range r.Quorums {
		r.size = max(r.size, len(q.Members))
	}
	r.voted = make([]uint64, (len(keys)*r.size+63)/64)
}

// stopVoting drops what only votes needed (at the tally).
func (r *round) stopVoting() { r.where, r.size, r.voted = nil, 0, nil }

// export returns the round as a chain.Round that shares nothing with it.
func (r *round) export() chain.Round {
	c := r.Round
	c.Commits = maps.Clone(r.Commits)
	c.Reveals = maps.Clone(r.Reveals)
	c.MissingReveals = slices.Clone(r.MissingReveals)
	c.Quorums = slices.Clone(r.Quorums)
	c.Changes = slices.Clone(r.Changes)
	if n := r.voteCount(); n > 0 {
		keys, quorum := r.targets()
		c.Votes = make([]chain.Vote, 0, n)
		r.eachVote(func(v vote) {
			cv := chain.Vote{Target: keys[v.target], Voter: r.Quorums[quorum[v.target]].Members[v.voter>>1], Pass: v.voter&1 == 1, Height: v.height}
			if v.reason != (unique.Handle[string]{}) {
				cv.Reason = v.reason.Value()
			}
			c.Votes = append(c.Votes, cv)
		})
	}
	return c
}

// quorumsOnly returns the round without its commits, reveals and votes:
// what a node reads of it (its quorums), sharing the quorums with r, which
// never change once drawn. Callers must not change them.
func (r *round) quorumsOnly() chain.Round {
	c := r.Round
	c.Commits, c.Reveals, c.Votes = nil, nil, nil
	return c
}

// MarshalJSON writes the round as its chain.Round.
func (r *round) MarshalJSON() ([]byte, error) { return json.Marshal(r.export()) }

// UnmarshalJSON reads a chain.Round, checking that each vote's voter is in
// the quorum testing its target (as the rules let no other vote in).
func (r *round) UnmarshalJSON(data []byte) error {
	var cr chain.Round
	if err := json.Unmarshal(data, &cr); err != nil {
		return err
	}
	if cr.Commits == nil {
		cr.Commits = map[string]string{}
	}
	if cr.Reveals == nil {
		cr.Reveals = map[string]string{}
	}
	votes := cr.Votes
	*r = round{Round: cr}
	r.Votes = nil
	if len(votes) > 0 && r.Seed == "" {
		return fmt.Errorf("round %d has votes and no quorums", cr.Round)
	}
	if r.Seed != "" {
		r.startVoting()
	}
	for i, v := range votes {
		ok, dup := r.vote(v.Voter, v.Target, v.Pass, v.Reason, v.Height)
		if !ok || dup {
			return fmt.Errorf("round %d: vote %d is not one the rules let in", cr.Round, i)
		}
	}
	if r.Tallied {
		r.stopVoting()
	}
	return nil
}
