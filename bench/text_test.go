package bench

import (
	"strings"
	"testing"
	"time"
)

func TestWriteText(t *testing.T) {
	r := &Report{Nodes: 12, CPUs: 2, ReadyMS: 900, BareMS: 300, ReadyRatio: 3, Load: []Level{{Clients: 8, SendsPerSec: 40, Failed: 1}},
		Goals: []Goal{{What: "ready", Want: "< 5x", Got: "3.00x", Met: true}, {What: "p99", Want: "< 1 s", Got: "2 s"}}}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sessionctl bench: 12 nodes, 2 CPUs", "ready             900 ms", "(bare libp2p hosts: 300 ms, 3.00×)", "        8       40", "ready  < 5x   3.00x  yes", "p99    < 1 s  2 s    no"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in:\n%s", want, b.String())
		}
	}
}

func TestParseLevelsAndCheck(t *testing.T) {
	if l, err := ParseLevels("1, 8,64"); err != nil || len(l) != 3 || l[1] != 8 {
		t.Fatalf("ParseLevels = %v, %v", l, err)
	}
	for _, bad := range []string{"", "1,x", "0", "2000"} {
		if _, err := ParseLevels(bad); err == nil {
			t.Errorf("ParseLevels(%q) accepted", bad)
		}
	}
	if err := (Config{Nodes: 12, Duration: time.Second}).Check(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Config{{Nodes: 3, Duration: time.Second}, {Nodes: 12, Duration: time.Millisecond}} {
		if bad.Check() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestFloor: the floor of a send is its parts times the counts a send
// needs, with the stores the run's sends made; each level's ratio is its
// CPU a send over it.
func TestFloor(t *testing.T) {
	r := &Report{OnionCryptoMS: 1, Floor: Floor{InsertMS: 0.1, MemRoundTripMS: 0.05, TCPRoundTripMS: 0.2},
		Load: []Level{{Sends: 10, stores: 120, CPUPerSendMS: 12}, {Sends: 30, stores: 360, CPUPerSendMS: 4}}}
	r.floor()
	f := r.Floor
	// 12 stores a send: 12 inserts, 10 forwards; 3 TCP and 9+10 memory round trips.
	want := 3*1 + 12*0.1 + 3*0.2 + 19*0.05
	if f.StoresPerSend != 12 || f.StreamsPerSend != 22 || !near(f.FloorCPUMS, want) {
		t.Fatalf("floor %+v: want 12 stores, 22 round trips, %.3f ms", f, want)
	}
	if !near(r.Load[0].FloorRatio, 12/want) || !near(r.Load[1].FloorRatio, 4/want) {
		t.Fatalf("ratios %.3f, %.3f", r.Load[0].FloorRatio, r.Load[1].FloorRatio)
	}
	r.judge()
	if g := r.Goals[len(r.Goals)-1]; !strings.HasPrefix(g.What, "CPU a send / its floor") || g.Met {
		t.Fatalf("goal %+v: want the floor goal, not met at %.2f×", g, 12/want)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// TestFairGoals: 64 clients are held to the sends a second of 8 and to a
// p99 of at most 1.5 fair shares (64 clients / their sends a second).
func TestFairGoals(t *testing.T) {
	r := &Report{Load: []Level{{Clients: 8, SendsPerSec: 200}, {Clients: 64, SendsPerSec: 160, SendP99MS: 700, FairShareMS: 400, P99OverShare: 1.75}}}
	r.judge()
	got := map[string]bool{}
	for _, g := range r.Goals {
		got[g.What] = g.Met
	}
	if met, ok := got["sends a second, 64 clients / 8"]; !ok || met {
		t.Errorf("throughput goal: %v %v, want present and not met", ok, met)
	}
	if met, ok := got["send p99 at 64 clients / fair share"]; !ok || met {
		t.Errorf("p99 goal: %v %v, want present and not met", ok, met)
	}
	r = &Report{Load: []Level{{Clients: 8, SendsPerSec: 200}, {Clients: 64, SendsPerSec: 210, P99OverShare: 1.2}}}
	r.judge()
	for _, g := range r.Goals {
		if strings.Contains(g.What, "64 clients") && !strings.Contains(g.What, "fetch") && !g.Met {
			t.Errorf("goal %+v: want met", g)
		}
	}
}
