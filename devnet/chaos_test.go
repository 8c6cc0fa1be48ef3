package devnet

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/chaos"
)

// TestChaosThroughControl: a chaos run's target through the control
// endpoint lists the nodes and says which faults it makes; a node's clock
// moves and moves back; what a run tells the dashboard is in its state,
// the moved clock too; a skew out of bounds is refused.
func TestChaosThroughControl(t *testing.T) {
	dir := t.TempDir()
	d := up(t, UpConfig{Dir: dir, Nodes: 4, BlockTime: BlockTimeManual, Clients: []string{}})
	t.Cleanup(func() { d.Close() })
	ctx := context.Background()
	cc, err := Dial(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	tg := cc.ChaosTarget(nil, nil)
	nodes, err := tg.Nodes(ctx)
	if err != nil || len(nodes) != 4 || !nodes[1].Running || nodes[1].Name != "node-2" {
		t.Fatalf("nodes %+v %v", nodes, err)
	}
	if why := tg.Supports(chaos.FaultSkewFar); why != "" {
		t.Fatalf("skew: %s", why)
	}
	for _, k := range []string{chaos.FaultSigkill, chaos.FaultDevnet, chaos.FaultPartition} {
		if tg.Supports(k) == "" {
			t.Errorf("%s made by a devnet in one process, without a way to resume it?", k)
		}
	}
	in, err := tg.Inject(ctx, chaos.PlannedFault{Kind: chaos.FaultSkewFar, Skew: 90 * time.Second}, []string{"node-2"})
	detail, heal := in.Detail, in.Heal
	if err != nil || d.Network.Skew(1) != 90*time.Second {
		t.Fatalf("skew: %q %v, node-2 at %v", detail, err, d.Network.Skew(1))
	}
	if err := cc.Skew(ctx, "node-2", 48*time.Hour); err == nil {
		t.Fatal("a skew of two days was taken")
	}

	tell := NewChaosReporter(cc, 5)
	tell.Fault(chaos.FaultEvent{Kind: chaos.FaultSkewFar, Nodes: []string{"node-2"}, Detail: detail, Start: 1})
	tell.Op(chaos.Op{Outcome: chaos.Acked})
	tell.send(ctx)
	state := func(ok func(*ChaosStatus) bool) dashState {
		t.Helper()
		var st dashState
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			w := httptest.NewRecorder()
			d.dash.state(w, httptest.NewRequest("GET", "/state", nil))
			if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
				t.Fatal(err)
			}
			if st.Chaos != nil && ok(st.Chaos) {
				break
			}
		}
		return st
	}
	st := state(func(c *ChaosStatus) bool { return len(c.Active) == 1 })
	if st.Chaos == nil || st.Chaos.Seed != 5 || len(st.Chaos.Active) != 1 || st.Chaos.Ops[chaos.Acked] != 1 || st.Nodes[1].SkewMS != 90_000 {
		t.Fatalf("the dashboard's state: %+v, node-2 %+v", st.Chaos, st.Nodes[1])
	}
	if err := heal(ctx); err != nil || d.Network.Skew(1) != 0 {
		t.Fatalf("heal: %v, node-2 at %v", err, d.Network.Skew(1))
	}
	tell.Done(ctx, 0)
	if st := state(func(c *ChaosStatus) bool { return c.Done }); !st.Chaos.Done || len(st.Chaos.Active) != 0 {
		t.Fatalf("after the run: %+v", st.Chaos)
	}
}
