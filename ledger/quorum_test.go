package ledger

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/sessionctl/sessionctl/chain"
	"golang.org/x/crypto/blake2b"
)

// quorumNet is a ledger with n active nodes named n0, n1, ...
func quorumNet(t *testing.T, n int) *harness {
	h := startLedger(t, "", "quorums", map[string]uint64{"op": uint64(n) * stake})
	for i := 0; i < n; i++ {
		h.submit(h.registerTx("op", fmt.Sprint("n", i), stake, 0))
	}
	h.mine(1)
	return h
}

// mineUntil mines until the next block will have height next.
func (h *harness) mineUntil(next uint64) {
	h.t.Helper()
	if cur := h.l.Info().Height; cur+1 < next {
		h.mine(int(next - cur - 1))
	}
}

func nodeName(h *harness, key string) string {
	for i := 0; i < 100; i++ {
		if newKey(fmt.Sprint("n", i)).pub == key {
			return fmt.Sprint("n", i)
		}
	}
	h.t.Fatalf("unknown node %s", key)
	return ""
}

// playRound commits and reveals for every node of names (revealing only for
// those in reveal) and mines to the round's quorum height.
func (h *harness) playRound(r uint64, names, reveal []string) chain.Round {
	h.t.Helper()
	p := h.p
	h.mineUntil(p.RoundStart(r))
	secrets := map[string][]byte{}
	for _, n := range names {
		if nd, _ := h.l.Node(newKey(n).pub); nd.State != chain.StateActive {
			continue
		}
		s := make([]byte, 32)
		rand.Read(s)
		secrets[n] = s
		sum := blake2b.Sum256(s)
		h.submit(h.tx(n, chain.TxCommit, chain.CommitBody{Round: r, Hash: hex.EncodeToString(sum[:])}))
	}
	h.mineUntil(p.RoundStart(r) + p.CommitBlocks)
	for _, n := range reveal {
		if secrets[n] == nil {
			continue
		}
		h.submit(h.tx(n, chain.TxReveal, chain.RevealBody{Round: r, Secret: hex.EncodeToString(secrets[n])}))
	}
	h.mineUntil(p.QuorumHeight(r) + 1)
	rd, ok := h.l.RoundAt(p.RoundStart(r))
	if !ok || rd.Seed == "" {
		h.t.Fatalf("round %d has no quorums", r)
	}
	return rd
}

func names(n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, fmt.Sprint("n", i))
	}
	return out
}

func TestQuorumRound(t *testing.T) {
	h := quorumNet(t, 12)
	all := names(12)
	rd := h.playRound(1, all, all[:11]) // n11 commits and does not reveal
	if !slices.Equal(rd.MissingReveals, []string{newKey("n11").pub}) {
		t.Fatalf("missing reveals %v", rd.MissingReveals)
	}
	if len(rd.Quorums) != 1 {
		t.Fatalf("%d quorums", len(rd.Quorums))
	}
	q := rd.Quorums[0]
	if len(q.Members) != 6 || q.Threshold != 5 || len(q.Targets) != 6 {
		t.Fatalf("quorum of %d members (threshold %d) testing %d", len(q.Members), q.Threshold, len(q.Targets))
	}
	for _, m := range q.Members {
		if slices.Contains(q.Targets, m) {
			t.Fatal("a quorum tests one of its members")
		}
	}
	target := q.Targets[0]
	var outsider string
	for _, k := range q.Targets[1:] {
		outsider = k
	}
	// Votes: only members, only in the window, once each.
	for name, tc := range map[string]struct {
		voter string
		body  chain.VoteBody
		want  error
	}{
		"not a member":  {nodeName(h, outsider), chain.VoteBody{Round: 1, Target: target}, ErrForbidden},
		"another round": {nodeName(h, q.Members[0]), chain.VoteBody{Round: 0, Target: target}, ErrNodeState},
		"not a target":  {nodeName(h, q.Members[0]), chain.VoteBody{Round: 1, Target: q.Members[1]}, ErrForbidden},
	} {
		if _, err := h.l.Submit(h.tx(tc.voter, chain.TxVote, tc.body)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	// A minority of lying voters cannot decommission an honest node.
	for _, m := range q.Members[:q.Threshold-1] {
		h.submit(h.tx(nodeName(h, m), chain.TxVote, chain.VoteBody{Round: 1, Target: target, Pass: false, Reason: "lie"}))
	}
	if _, err := h.l.Submit(h.tx(nodeName(h, q.Members[0]), chain.TxVote, chain.VoteBody{Round: 1, Target: target})); !errors.Is(err, ErrNodeState) {
		t.Fatalf("a second vote: %v", err)
	}
	for _, m := range q.Members[q.Threshold-1:] {
		h.submit(h.tx(nodeName(h, m), chain.TxVote, chain.VoteBody{Round: 1, Target: target, Pass: true}))
	}
	// The threshold of failing votes decommissions another target.
	victim := q.Targets[1]
	for _, m := range q.Members[:q.Threshold] {
		h.submit(h.tx(nodeName(h, m), chain.TxVote, chain.VoteBody{Round: 1, Target: victim, Pass: false, Reason: "storage rpc unreachable"}))
	}
	h.mineUntil(h.p.RoundStart(2) + 1)
	if n, _ := h.l.Node(target); n.State != chain.StateActive {
		t.Fatalf("a minority of lying voters decommissioned an honest node: %s", n.State)
	}
	n, _ := h.l.Node(victim)
	if n.State != chain.StateDecommissioned || n.SwarmID != chain.UnassignedSwarm {
		t.Fatalf("the voted-down node is %s in swarm %x", n.State, n.SwarmID)
	}
	rd, _ = h.l.RoundAt(h.p.RoundStart(1))
	if len(rd.Changes) != 1 || rd.Changes[0].Target != victim || len(rd.Changes[0].Votes) != q.Threshold {
		t.Fatalf("changes %+v", rd.Changes)
	}

	// Next round: if the victim is a target again, passing votes recommission it.
	for r := uint64(2); r < 12; r++ {
		rd := h.playRound(r, all, all)
		q := rd.QuorumOf(victim)
		if q == nil {
			continue
		}
		for _, m := range q.Members[:q.Threshold] {
			h.submit(h.tx(nodeName(h, m), chain.TxVote, chain.VoteBody{Round: r, Target: victim, Pass: true}))
		}
		h.mineUntil(h.p.RoundStart(r+1) + 1)
		if n, _ := h.l.Node(victim); n.State != chain.StateActive {
			t.Fatalf("passing votes left the node %s", n.State)
		}
		return
	}
	t.Fatal("the decommissioned node was never a target again")
}

func TestRevealMustMatch(t *testing.T) {
	h := quorumNet(t, 4)
	h.mineUntil(h.p.RoundStart(1))
	sum := blake2b.Sum256(make([]byte, 32))
	h.submit(h.tx("n0", chain.TxCommit, chain.CommitBody{Round: 1, Hash: hex.EncodeToString(sum[:])}))
	if _, err := h.l.Submit(h.tx("n0", chain.TxReveal, chain.RevealBody{Round: 1, Secret: hex.EncodeToString(make([]byte, 32))})); !errors.Is(err, ErrNodeState) {
		t.Fatalf("a reveal in the commit phase: %v", err)
	}
	h.mineUntil(h.p.RoundStart(1) + h.p.CommitBlocks)
	bad := make([]byte, 32)
	bad[0] = 1
	if _, err := h.l.Submit(h.tx("n0", chain.TxReveal, chain.RevealBody{Round: 1, Secret: hex.EncodeToString(bad)})); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a reveal that does not match: %v", err)
	}
	if _, err := h.l.Submit(h.tx("op", chain.TxCommit, chain.CommitBody{Round: 1, Hash: hex.EncodeToString(sum[:])})); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a commit by a wallet: %v", err)
	}
	h.submit(h.tx("n1", chain.TxUptimeProof, chain.UptimeProofBody{Version: "test"}))
	h.mine(1)
	if n := h.node("n1"); n.LastProof != h.l.Info().Height {
		t.Fatalf("last proof %d", n.LastProof)
	}
}
