package chaos

import (
	"strings"
	"testing"
)

// TestCheckHistory reads made-up histories: each break is named, with the
// operations that prove it, and a clean one passes.
func TestCheckHistory(t *testing.T) {
	base := func() *History {
		return &History{Accounts: map[string][]string{"c1": {"c1", "c1b"}, "c2": {"c2", "c2b"}}, Members: []string{"c1g", "c2g"},
			Ops: []Op{
				{ID: 1, Kind: OpSend, Device: "c1", Target: "c2", Outcome: Acked, Synced: true, Start: 100, End: 200},
				{ID: 2, Kind: OpGroupSend, Device: "c1g", Outcome: Acked, Start: 300, End: 400},
				{ID: 3, Kind: OpSend, Device: "c2", Target: "c1", Outcome: Unknown, Start: 500, End: 600},
			},
			Shown: []Shown{{Device: "c2", Op: 1, Start: 250}, {Device: "c2b", Op: 1, Start: 260}, {Device: "c1b", Op: 1, Kind: "sync", Start: 270},
				{Device: "c2g", Op: 2, Kind: "group", Start: 450}, {Device: "c1", Op: 3, Start: 700}},
			Final: Final{LedgerHeight: 10, Heads: []NodeHead{{Node: "node-1", Height: 10}},
				Configs: []DeviceConfig{{Account: "c1", Device: "c1", Name: "x", Seqno: 2}, {Account: "c1", Device: "c1b", Name: "x", Seqno: 2}}}}
	}
	if vs, n := Check(base()); n != 0 {
		t.Fatalf("a clean history: %+v", vs)
	}
	for _, tc := range []struct {
		name   string
		break_ func(h *History)
		prop   string
		text   string
	}{
		{"lost", func(h *History) { h.Shown = h.Shown[1:] }, PropExactlyOnce, "never shown by c2"},
		{"twice", func(h *History) { h.Shown = append(h.Shown, Shown{Device: "c2b", Op: 1, Start: 900}) }, PropExactlyOnce, "shown 2 times by c2b"},
		{"unacked twice", func(h *History) { h.Shown = append(h.Shown, Shown{Device: "c1", Op: 3, Start: 900}) }, PropUnackedTwice, "#3 (unknown) was shown 2 times by c1"},
		{"unsent", func(h *History) {
			h.Ops = append(h.Ops, Op{ID: 4, Kind: OpUnsend, Device: "c1", Ref: 1, Outcome: Acked, Start: 210, End: 240})
		}, PropUnsent, "after its unsend #4"},
		{"kick", func(h *History) {
			h.Ops = append(h.Ops, Op{ID: 4, Kind: OpGroupKick, Device: "c1g", Target: "g1", Outcome: Acked, Start: 150, End: 250})
			h.Shown = append(h.Shown, Shown{Device: "g1", Op: 2, Kind: "group", Start: 500})
			h.Final.Probes = []Probe{{Kick: 4, Member: "g1", Node: "node-3", Served: true}}
		}, PropKickReads, "g1, kicked by #4, read group message #2"},
		{"configs", func(h *History) {
			h.Ops = append(h.Ops, Op{ID: 4, Kind: OpConfig, Device: "c1b", Target: "c1", Outcome: Acked})
			h.Final.Configs[1].Seqno = 1
		}, PropConfigs, "did not converge"},
		{"head", func(h *History) { h.Final.Heads[0].Height = 9 }, PropLedgerHead, "node-1 at height 9"},
	} {
		h := base()
		tc.break_(h)
		vs, _ := Check(h)
		found := false
		for _, v := range vs {
			if v.Property == tc.prop && strings.Contains(v.Text, tc.text) && len(v.Ops)+len(v.Nodes) > 0 {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: %+v", tc.name, vs)
		}
	}
}
