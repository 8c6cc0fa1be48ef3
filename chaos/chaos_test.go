package chaos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/chaos"
	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/devnet/devnettest"
	"github.com/sessionctl/sessionctl/node"
)

// start starts a network whose nodes share one set of test faults, and
// repair every 2 s (a run's final reads then wait less). With blockTime 0
// blocks come only when mined, and with them no testing rounds (a node
// broken on purpose is then not voted out of the network).
func start(t *testing.T, nodes int, blockTime time.Duration, f *node.Faults) *devnet.Network {
	t.Helper()
	return devnettest.Start(t, devnet.Config{Nodes: nodes, BlockTime: blockTime, NodeConfig: func(i int, c *node.Config) {
		c.Faults = f
		c.RepairInterval = 2 * time.Second
	}})
}

func run(t *testing.T, nw *devnet.Network, cfg chaos.Config) *chaos.Report {
	t.Helper()
	cfg.Target = nw.ChaosTarget()
	cfg.Dir = t.TempDir()
	if cfg.CheckTimeout == 0 {
		cfg.CheckTimeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := chaos.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.WriteText(&b)
	for _, op := range rep.History.Ops {
		if op.Outcome != chaos.Acked {
			fmt.Fprintf(&b, "op #%d %s by %s: %s: %s\n", op.ID, op.Kind, op.Device, op.Outcome, op.Err)
		}
	}
	t.Log("\n" + b.String())
	return rep
}

// script is a plan of the given operations, account by account (c1 is
// the first), and no faults. The run ends when they are done (the
// duration only bounds them).
func script(ops ...[]chaos.PlannedOp) *chaos.Plan {
	return &chaos.Plan{Seed: 1, Duration: time.Minute, Ops: ops}
}

func op(kind string, to int, pause time.Duration) chaos.PlannedOp {
	return chaos.PlannedOp{Kind: kind, To: to, Pause: pause}
}

// TestCheckerNamesEachProperty breaks the network (or a client) one way at
// a time and checks that the checker names the property that breaks, and
// only it.
func TestCheckerNamesEachProperty(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a devnet")
	}
	nf := &node.Faults{}
	nw := start(t, 5, 0, nf)
	ms := 100 * time.Millisecond
	for _, tc := range []struct {
		name   string
		plan   *chaos.Plan
		broken func(cf map[string]*client.Faults)
		kicks  bool
		want   string
		text   string
	}{
		{"a node loses what it acknowledged", script([]chaos.PlannedOp{op(chaos.OpSend, 1, ms), op(chaos.OpSend, 1, ms)}, nil),
			func(map[string]*client.Faults) { nf.DropMessages.Store(true) }, false, chaos.PropExactlyOnce, "never shown by c2"},
		{"a client shows a message twice", script([]chaos.PlannedOp{op(chaos.OpSend, 1, ms)}, nil),
			func(cf map[string]*client.Faults) { cf["c2"].ShowTwice.Store(true) }, false, chaos.PropExactlyOnce, "shown 2 times by c2"},
		{"an unacknowledged message shown twice", script([]chaos.PlannedOp{op(chaos.OpSend, 1, ms)}, nil),
			func(cf map[string]*client.Faults) { nf.FailMessages.Store(true); cf["c2"].ShowTwice.Store(true) }, false, chaos.PropUnackedTwice, "shown 2 times by c2"},
		{"a client shows what was unsent", script([]chaos.PlannedOp{op(chaos.OpSend, 1, ms), op(chaos.OpUnsend, 1, ms)}, nil),
			func(cf map[string]*client.Faults) { cf["c2"].ShowUnsent.Store(true) }, false, chaos.PropUnsent, "after its unsend"},
		{"a node ignores revocations", script([]chaos.PlannedOp{op(chaos.OpGroupAdd, 0, ms), op(chaos.OpGroupKick, 0, ms)}, nil),
			func(map[string]*client.Faults) { nf.IgnoreRevocations.Store(true) }, false, chaos.PropKickRefused, "g1, kicked by"},
		// (The message is sent by the admin after the kick, in that order:
		// another client's send at a set time came before a kick that a
		// loaded machine made late, and then reading it broke nothing.)
		{"a kick keeps the key", script([]chaos.PlannedOp{op(chaos.OpGroupAdd, 0, ms), op(chaos.OpGroupKick, 0, ms), op(chaos.OpGroupSend, 0, ms), op(chaos.OpFetch, 0, time.Second)}, nil),
			func(map[string]*client.Faults) { nf.IgnoreRevocations.Store(true) }, true, chaos.PropKickReads, "read group message"},
		{"a device reads no config", script([]chaos.PlannedOp{op(chaos.OpConfig, 0, ms)}, nil),
			func(cf map[string]*client.Faults) { cf["c1b"].IgnoreConfigs.Store(true) }, false, chaos.PropConfigs, "did not converge"},
		// Last: a frozen view does not thaw.
		{"nodes stop following the ledger", script(nil, nil),
			func(map[string]*client.Faults) {
				nf.FreezeView.Store(true)
				// Each node takes one more block, then stops following.
				ctx := context.Background()
				nw.Ledger.Mine(ctx, 1)
				for _, n := range nw.Nodes() {
					n.WaitView(ctx, nw.Ledger.Info().Height)
				}
				nw.Ledger.Mine(ctx, 2)
			}, false, chaos.PropLedgerHead, "the ledger at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, b := range []*atomic.Bool{&nf.DropMessages, &nf.FailMessages, &nf.IgnoreRevocations} {
				b.Store(false)
			}
			cf := map[string]*client.Faults{}
			rep := run(t, nw, chaos.Config{Clients: 2, Faults: []string{}, Plan: tc.plan, Duration: tc.plan.Duration, BrokenKicks: tc.kicks,
				ClientFaults: func(device string) *client.Faults {
					cf[device] = &client.Faults{}
					return cf[device]
				},
				Ready: func() { tc.broken(cf) }})
			found := false
			for _, v := range rep.Violations {
				if v.Property != tc.want && !(tc.kicks && v.Property == chaos.PropKickRefused) {
					t.Errorf("also %s: %s", v.Property, v.Text)
					continue
				}
				if strings.Contains(v.Text, tc.text) {
					found = true
				}
			}
			if !found {
				t.Fatalf("the checker did not name %s (%q)", tc.want, tc.text)
			}
		})
	}
}

// TestRunUnderFaults runs a short drawn schedule of node faults and
// traffic on a healthy network: the checker finds nothing, the report
// counts what happened, and the JSON says the same.
func TestRunUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a devnet")
	}
	nw := start(t, 8, 500*time.Millisecond, nil)
	rep := run(t, nw, chaos.Config{Seed: 7, Duration: 15 * time.Second, Clients: 3, CheckTimeout: 40 * time.Second})
	if rep.ViolationCount != 0 {
		t.Errorf("%d violations on a healthy network", rep.ViolationCount)
	}
	if rep.Outcomes[chaos.Acked] < 10 {
		t.Errorf("only %d operations acknowledged", rep.Outcomes[chaos.Acked])
	}
	if len(rep.Timeline) == 0 {
		t.Error("the plan's faults are not in the timeline")
	}
	if len(rep.Skipped) == 0 {
		t.Error("an in-process network supports every fault kind?")
	}
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(data, &back); err != nil || back["seed"] != float64(7) || back["violation_count"] != float64(0) {
		t.Fatalf("JSON report: %v %s", err, data[:min(len(data), 300)])
	}
}
