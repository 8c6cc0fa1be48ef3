package ledger

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sessionctl/sessionctl/chain"
	"golang.org/x/crypto/blake2b"
)

// playVotes plays round r of h's nodes with secrets fixed by the names,
// then has every quorum member vote on each of its targets, in blocks of
// at most batch votes, until it has cast upTo votes (all: -1). The first
// target of the first quorum fails each member's test; on the others a
// quarter of the tests fail. It returns the votes as the round must show
// them, in order.
func (h *harness) playVotes(r uint64, nodes, batch, upTo int) []chain.Vote {
	h.t.Helper()
	p := h.p
	h.mineUntil(p.RoundStart(r))
	for i := 0; i < nodes; i++ {
		n := fmt.Sprint("n", i)
		if nd, _ := h.l.Node(newKey(n).pub); nd.State != chain.StateActive {
			continue
		}
		h.submit(h.tx(n, chain.TxCommit, chain.CommitBody{Round: r, Hash: chain.CommitHash(secretOf(n, r))}))
	}
	h.mineUntil(p.RoundStart(r) + p.CommitBlocks)
	committed, _ := h.l.RoundAt(p.RoundStart(r))
	name := map[string]string{}
	for i := 0; i < nodes; i++ {
		n := fmt.Sprint("n", i)
		name[newKey(n).pub] = n
		if committed.Commits[newKey(n).pub] != "" {
			h.submit(h.tx(n, chain.TxReveal, chain.RevealBody{Round: r, Secret: hex.EncodeToString(secretOf(n, r))}))
		}
	}
	h.mineUntil(p.QuorumHeight(r) + 1)
	rd, ok := h.l.RoundAt(p.RoundStart(r))
	if !ok || rd.Seed == "" || len(rd.Quorums) == 0 {
		h.t.Fatalf("round %d has no quorums", r)
	}
	var want []chain.Vote
	pending := 0
	flush := func() {
		before, _ := h.l.RoundAt(p.RoundStart(r))
		if len(before.Votes) != len(want)-pending {
			h.t.Fatalf("round %d: the tip shows %d votes before its block, want %d", r, len(before.Votes), len(want)-pending)
		}
		h.mine(1)
		height := h.l.Info().Height
		for i := len(want) - pending; i < len(want); i++ {
			want[i].Height = height
		}
		pending = 0
	}
	for qi, q := range rd.Quorums {
		for ti, t := range q.Targets {
			for mi, m := range q.Members {
				if upTo >= 0 && len(want) == upTo {
					break
				}
				v := chain.Vote{Voter: m, Target: t, Pass: qi+ti > 0 && (ti+mi)%4 != 0}
				if !v.Pass {
					v.Reason = fmt.Sprint("failed check ", mi%3)
				}
				h.submit(h.tx(name[m], chain.TxVote, chain.VoteBody{Round: r, Target: t, Pass: v.Pass, Reason: v.Reason}))
				want = append(want, v)
				if pending++; pending == batch {
					flush()
				}
			}
		}
	}
	if pending > 0 {
		flush()
	}
	return want
}

func secretOf(name string, r uint64) []byte {
	s := blake2b.Sum256(fmt.Appendf(nil, "secret %s %d", name, r))
	return s[:]
}

// TestRoundsKeepEveryVote: the rounds' votes, kept compactly and shared
// between the tip and its clones, read back as cast, in order, through
// blocks, clones, a tally, a restart from a snapshot and a replay.
func TestRoundsKeepEveryVote(t *testing.T) {
	const nodes = 60 // 2 quorums of 10 testing 60 targets: 600 votes a round, 3 chunks
	path := filepath.Join(t.TempDir(), "ledger.db")
	h := startLedger(t, path, "votes", map[string]uint64{"op": nodes * stake})
	for i := 0; i < nodes; i++ {
		h.submit(h.registerTx("op", fmt.Sprint("n", i), stake, 0))
	}
	h.mine(1)
	want := map[uint64][]chain.Vote{}
	for r := uint64(1); r <= 3; r++ {
		want[r] = h.playVotes(r, nodes, 200, -1)
	}
	want[4] = h.playVotes(4, nodes, 150, 300) // a round still taking votes

	// A vote twice is refused and changes nothing.
	rd4, _ := h.l.RoundAt(h.p.RoundStart(4))
	before := h.snapshot()
	first := want[4][0]
	if _, err := h.l.Submit(h.tx(nodeName(h, first.Voter), chain.TxVote, chain.VoteBody{Round: 4, Target: first.Target, Pass: true})); !errors.Is(err, ErrNodeState) {
		t.Fatalf("a second vote: %v", err)
	}
	if !reflect.DeepEqual(before, h.snapshot()) {
		t.Fatal("a refused vote changed the pending state")
	}
	if len(rd4.Votes) != 300 {
		t.Fatalf("round 4 has %d votes, want 300", len(rd4.Votes))
	}

	check := func(l *Ledger, when string) {
		t.Helper()
		for r, w := range want {
			rd, ok := l.RoundAt(h.p.RoundStart(r))
			if !ok || !reflect.DeepEqual(rd.Votes, w) {
				t.Fatalf("%s: round %d shows %d votes, not the %d cast (first difference at %d)", when, r, len(rd.Votes), len(w), firstDiff(rd.Votes, w))
			}
			qs, _ := l.QuorumsAt(h.p.RoundStart(r))
			rd.Commits, rd.Reveals, rd.Votes = nil, nil, nil
			if !reflect.DeepEqual(qs, rd) {
				t.Fatalf("%s: QuorumsAt(%d) = %+v, not the round without its commits, reveals and votes", when, h.p.RoundStart(r), qs)
			}
			rd, _ = l.RoundAt(h.p.RoundStart(r))
			if len(rd.Commits) < nodes-4 || len(rd.Reveals) != len(rd.Commits) {
				t.Fatalf("%s: round %d has %d commits and %d reveals", when, r, len(rd.Commits), len(rd.Reveals))
			}
		}
		for _, rd := range l.Rounds() {
			if w, ok := want[rd.Round]; ok && !reflect.DeepEqual(rd.Votes, w) {
				t.Fatalf("%s: Rounds() shows round %d otherwise than RoundAt", when, rd.Round)
			}
		}
		// Round 1's first target failed every test: its quorum's votes decided.
		rd1, _ := l.RoundAt(h.p.RoundStart(1))
		q := rd1.Quorums[0]
		if len(rd1.Changes) != 1 || rd1.Changes[0].Target != q.Targets[0] || rd1.Changes[0].State != chain.StateDecommissioned ||
			!reflect.DeepEqual(rd1.Changes[0].Votes, q.Members) {
			t.Fatalf("%s: round 1's changes %+v", when, rd1.Changes)
		}
	}
	check(h.l, "running")
	st := h.l.state.clone()
	enc, err := st.encode()
	if err != nil {
		t.Fatal(err)
	}
	dec, err := decodeState(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dec, st) {
		t.Fatal("a state decoded from its snapshot differs")
	}
	h.l.Close()

	for _, replay := range []bool{false, true} {
		if replay { // without the closing snapshot: replayed from genesis
			s, err := openStore(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			s.db.Exec(`DELETE FROM snapshots`)
			s.close()
		}
		l, err := New(Config{Path: path, Seed: "votes"})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		again, _ := l.state.encode()
		if !bytes.Equal(again, enc) || !reflect.DeepEqual(l.state, st) {
			t.Fatalf("restarted (replay %v): another state", replay)
		}
		check(l, fmt.Sprint("restarted, replay ", replay))
		// The round still taking votes takes the rest after the restart.
		h2 := &harness{t: t, l: l, p: h.p}
		h2.submit(h2.tx(nodeName(h2, rd4.Quorums[1].Members[0]), chain.TxVote, chain.VoteBody{Round: 4, Target: rd4.Quorums[1].Targets[0], Pass: true}))
		if _, err := l.Submit(h2.tx(nodeName(h2, first.Voter), chain.TxVote, chain.VoteBody{Round: 4, Target: first.Target, Pass: true})); !errors.Is(err, ErrNodeState) {
			t.Fatalf("restarted: a second vote: %v", err)
		}
		l.Close()
	}
}

func firstDiff(a, b []chain.Vote) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestDecodeStateRefusesForeignVotes: a snapshot's vote by a node not in
// the target's quorum (which the rules never let in) is an error.
func TestDecodeStateRefusesForeignVotes(t *testing.T) {
	for name, rounds := range map[string]string{
		"not a member": `{"1":{"round":1,"seed":"ab","quorums":[{"members":["a","b"],"targets":["c"],"threshold":2}],"votes":[{"voter":"c","target":"c","height":7}],"tallied":false}}`,
		"not a target": `{"1":{"round":1,"seed":"ab","quorums":[{"members":["a","b"],"targets":["c"],"threshold":2}],"votes":[{"voter":"a","target":"d","height":7}],"tallied":false}}`,
		"twice":        `{"1":{"round":1,"seed":"ab","quorums":[{"members":["a","b"],"targets":["c"],"threshold":2}],"votes":[{"voter":"a","target":"c","height":7},{"voter":"a","target":"c","height":8}],"tallied":false}}`,
		"no quorums":   `{"1":{"round":1,"votes":[{"voter":"a","target":"c","height":7}],"tallied":false}}`,
		"null":         `{"1":null}`,
	} {
		if _, err := decodeState([]byte(`{"rounds":` + rounds + `}`)); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	ok := `{"rounds":{"1":{"round":1,"start":10,"commits":{},"reveals":{},"seed":"ab","quorums":[{"members":["a","b"],"targets":["c"],"threshold":2}],"votes":[{"voter":"b","target":"c","pass":true,"height":7},{"voter":"a","target":"c","pass":false,"reason":"x","height":8}],"tallied":true}}}`
	s, err := decodeState([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	want := []chain.Vote{{Voter: "b", Target: "c", Pass: true, Height: 7}, {Voter: "a", Target: "c", Reason: "x", Height: 8}}
	if got := s.Rounds[1].export().Votes; !reflect.DeepEqual(got, want) {
		t.Fatalf("votes %+v", got)
	}
}
