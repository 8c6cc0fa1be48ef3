package devnet

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/client"
	_ "github.com/sessionctl/sessionctl/internal/sqlitedb" // the sqlite driver

	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/node"
)

// fastNet is a devnet making a block every 100 ms: a testing round is a
// second, so a test sees nodes tested, voted on and changed in seconds.
func fastNet(t *testing.T, nodes int, credit uint64, tweak ...func(int, *node.Config)) *Network {
	p := chain.DefaultParams()
	p.InitialCredit, p.MinCreditDecomm = credit, credit
	// Rounds of 20 blocks: 14 blocks (1.4 s) to test and vote, room for a
	// loaded machine running the race detector.
	p.RoundBlocks = 20
	cfg := Config{Nodes: nodes, BlockTime: 100 * time.Millisecond, Params: &p}
	if len(tweak) > 0 {
		cfg.NodeConfig = tweak[0]
	}
	return StartT(t, cfg)
}

func waitState(t *testing.T, nw *Network, key string, want chain.NodeState, within uint64) uint64 {
	t.Helper()
	start := nw.Ledger.Info().Height
	for {
		n, ok := nw.Ledger.Node(key)
		if ok && n.State == want {
			return nw.Ledger.Info().Height - start
		}
		if want == chain.StateDeregistered && !ok {
			return nw.Ledger.Info().Height - start // gone: deregistered and unlocked
		}
		if h := nw.Ledger.Info().Height; h > start+within {
			for i, r := range nw.Ledger.Rounds() {
				if i < 4 {
					t.Logf("round %d: %d commits %d reveals seed %q quorums %d votes %d changes %d", r.Round, len(r.Commits), len(r.Reveals), r.Seed[:min(8, len(r.Seed))], len(r.Quorums), len(r.Votes), len(r.Changes))
					for _, v := range r.Votes {
						if v.Target == key {
							t.Logf("  vote on it by %s: pass %v %s", v.Voter[:8], v.Pass, v.Reason)
						}
					}
				}
			}
			t.Fatalf("%s is %s after %d blocks, want %s", key[:8], n.State, h-start, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKilledNodeDecommissionedThenRecommissioned: a killed node is voted
// down within a bounded number of blocks, its swarm keeps every message,
// and after a restart it is voted back.
func TestKilledNodeDecommissionedThenRecommissioned(t *testing.T) {
	nw := fastNet(t, 12, 60)
	ctx := context.Background()
	alice := clientT(t, nw.LedgerURL(), client.Config{Keys: ClientKeys("x", "alice")})
	var sent []string
	var recipients []*identity.Keys
	for i := 0; i < 6; i++ {
		k := ClientKeys("x", fmt.Sprint("r", i))
		res, err := alice.Send(ctx, k.AccountID(), fmt.Sprint("message ", i))
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, res.Hash)
		recipients = append(recipients, k)
	}
	victim := 4
	key := nw.NodeKey(victim)
	if err := nw.StopNode(victim); err != nil {
		t.Fatal(err)
	}
	// 10 rounds: in each, the victim is a quorum member (not a target)
	// with odds 5 in 11, so a bound of 6 rounds failed about once in 50.
	blocks := waitState(t, nw, key, chain.StateDecommissioned, 200)
	t.Logf("decommissioned %d blocks after it stopped", blocks)
	for i, k := range recipients {
		c := clientT(t, nw.LedgerURL(), client.Config{Keys: k})
		msgs, _, err := c.Fetch(ctx)
		if err != nil || len(msgs) != 1 || msgs[0].Hash != sent[i] {
			t.Fatalf("recipient %d: %+v, %v", i, msgs, err)
		}
		c.Close()
	}
	if err := nw.StartNode(ctx, victim); err != nil {
		t.Fatal(err)
	}
	blocks = waitState(t, nw, key, chain.StateActive, 120)
	t.Logf("recommissioned %d blocks after it restarted", blocks)
}

// TestNodeKeptDownDeregistered: without credit left, a node kept down is
// deregistered.
func TestNodeKeptDownDeregistered(t *testing.T) {
	nw := fastNet(t, 10, 8)
	key := nw.NodeKey(2)
	nw.StopNode(2)
	waitState(t, nw, key, chain.StateDecommissioned, 120)
	waitState(t, nw, key, chain.StateDeregistered, 60)
}

// TestDataDropperDecommissioned: a node that silently loses its records
// fails the storage test. (Replica repair would give them back to a node
// that lost them once: the victim repairs nothing, as a node that keeps
// losing data would not keep it.)
func TestDataDropperDecommissioned(t *testing.T) {
	victim := 6
	nw := fastNet(t, 12, 60, func(i int, c *node.Config) {
		if i == victim {
			c.RepairInterval = -1
		}
		// The nodes' clocks run ahead: the records are old enough to be
		// sampled at once, with no wait.
		c.Now = func() time.Time { return time.Now().Add(sampleWait) }
	})
	ctx := context.Background()
	alice := clientT(t, nw.LedgerURL(), client.Config{Keys: ClientKeys("x", "alice")})
	for i := 0; i < 12; i++ {
		if _, err := alice.Send(ctx, ClientKeys("x", fmt.Sprint("d", i)).AccountID(), "keep me"); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(nw.Dir(), "nodes", NodeName(victim), "storage.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key := nw.NodeKey(victim)
	start := nw.Ledger.Info().Height
	for {
		// The victim keeps losing what it holds: what swarm pushes or data
		// moves bring back is gone again.
		if _, err := db.Exec(`DELETE FROM messages`); err != nil {
			t.Fatal(err)
		}
		// Voted down, and for failing the storage test: on a loaded
		// machine the round that decommissions it may count testers that
		// could not reach it too, so the storage test's failures are looked
		// for in every round kept.
		down, failed := false, ""
		for _, r := range nw.Ledger.Rounds() {
			for _, c := range r.Changes {
				down = down || (c.Target == key && c.State == chain.StateDecommissioned)
			}
			for _, v := range r.Votes {
				if v.Target == key && !v.Pass && strings.HasPrefix(v.Reason, "storage test") {
					failed = v.Reason
				}
			}
		}
		if down && failed != "" {
			t.Logf("voted down; a failing vote: %s", failed)
			return
		}
		if nw.Ledger.Info().Height > start+300 {
			for _, r := range nw.Ledger.Rounds() {
				for _, v := range r.Votes {
					if v.Target == key {
						t.Logf("round %d: vote on it by %s: pass %v %s", r.Round, v.Voter[:8], v.Pass, v.Reason)
					}
				}
			}
			t.Fatal("the node that dropped its data was not decommissioned in 300 blocks")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sampleWait is the sample age of nodes with the default repair interval, and a second.
const sampleWait = 31 * time.Second
