package ledger

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sessionctl/sessionctl/chain"
)

// Known answers for the pubkey-to-swarm mapping, worked by hand from SPEC 3:
// the owner is the closest id on the 2^64 ring, the left one on a tie.
func TestSwarmFor(t *testing.T) {
	const top = math.MaxUint64
	for _, tc := range []struct {
		ids  []uint64
		v    uint64
		want uint64
	}{
		{nil, 5, chain.UnassignedSwarm},
		{[]uint64{0}, 12345, 0},                 // one swarm owns everything
		{[]uint64{0, 100}, 49, 0},               // 49 from 0, 51 from 100
		{[]uint64{0, 100}, 51, 100},             // 51 from 0, 49 from 100
		{[]uint64{0, 100}, 50, 0},               // tie: the left swarm, 0
		{[]uint64{0, 100}, 100, 100},            // exact hit
		{[]uint64{100, 200}, 10, 100},           // below the first id: 90 right, 2^64-190 left via the wrap
		{[]uint64{10, top - 10}, top, top - 10}, // 10 left, 11 right (wrapping to 10)
		{[]uint64{10, top - 10}, 0, 10},         // 10 right, 11 left (wrapping to top-10)
		// Tie across the wrap: from top-9 (id 10 is at distance 20 going up
		// through 0; top-29 is 20 below), the left one is top-29.
		{[]uint64{10, top - 29}, top - 9, top - 29},
		// Tie the other way: v = 0 sits 10 above top-9 (wrapping) and 10
		// below 10: the left one is top-9, reached by wrapping down.
		{[]uint64{10, top - 9}, 0, top - 9},
		{[]uint64{0, 1 << 63}, 1 << 62, 0},         // exact tie between the two halves
		{[]uint64{0, 1 << 63}, 1<<62 + 1, 1 << 63}, //
		{[]uint64{0, 1 << 63}, 3 << 62, 1 << 63},   // tie: left is 1<<63
		{[]uint64{0, 1 << 63}, 3<<62 + 1, 0},       // closer to 0 via the wrap
	} {
		if got := chain.SwarmFor(tc.ids, tc.v); got != tc.want {
			t.Errorf("SwarmFor(%v, %d) = %d, want %d", tc.ids, tc.v, got, tc.want)
		}
	}
}

func TestNewSwarmID(t *testing.T) {
	for _, tc := range []struct {
		ids  []uint64
		want uint64
	}{
		{nil, 0},
		{[]uint64{0}, 1 << 63},
		{[]uint64{0, 1 << 63}, 1 << 62},                  // equal gaps: the lowest start
		{[]uint64{0, 1 << 62, 1 << 63}, 3 << 62},         // the wrap gap is largest
		{[]uint64{1 << 62, 1 << 63}, 1<<63 + 3<<61},      // the wrap gap, 3*2^62 from 2^63
		{[]uint64{0, 100, 1 << 63, 3 << 62}, 1<<62 + 50}, // gap 100..2^63
	} {
		if got := newSwarmID(tc.ids); got != tc.want {
			t.Errorf("newSwarmID(%v) = %d, want %d", tc.ids, got, tc.want)
		}
	}
}

// checkSwarms checks the invariants of SPEC 3 and the issue.
func checkSwarms(t *testing.T, sw Swarms, active []string, newIDs map[uint64]bool) {
	t.Helper()
	seen := map[string]uint64{}
	for id, m := range sw {
		if id == chain.UnassignedSwarm {
			t.Fatalf("a swarm has the unassigned id")
		}
		if len(m) == 0 {
			t.Fatalf("swarm %d is empty", id)
		}
		for _, k := range m {
			if other, dup := seen[k]; dup {
				t.Fatalf("node %s in swarms %d and %d", k, other, id)
			}
			seen[k] = id
		}
		if len(sw) > 1 && len(m) < SwarmMin {
			t.Fatalf("%d swarms and swarm %d has %d < Nmin nodes", len(sw), id, len(m))
		}
		if len(active) >= 12 && len(m) > SwarmMax {
			t.Fatalf("%d active nodes and swarm %d has %d > Nmax nodes", len(active), id, len(m))
		}
		if newIDs[id] && len(m) != SwarmTarget {
			t.Fatalf("new swarm %d starts with %d nodes, want Ntarget", id, len(m))
		}
	}
	if len(seen) != len(active) {
		t.Fatalf("%d nodes in swarms, %d active", len(seen), len(active))
	}
	for _, k := range active {
		if _, ok := seen[k]; !ok {
			t.Fatalf("active node %s in no swarm", k)
		}
	}
}

// TestSwarmProperties runs thousands of random sequences of joins and
// departures, up to 2,000 nodes, and checks the invariants after every step.
func TestSwarmProperties(t *testing.T) {
	sequences := 3000
	if testing.Short() {
		sequences = 300
	}
	src := rand.New(rand.NewPCG(1, 2))
	next := 0
	for seq := 0; seq < sequences; seq++ {
		// Most sequences are small; one in ten grows to up to 2,000 nodes.
		limit := 5 + src.IntN(60)
		if seq%10 == 0 {
			limit = 100 + src.IntN(1901)
		}
		var active []string
		sw := Swarms{}
		steps := 4 + src.IntN(8)
		for step := 0; step < steps; step++ {
			// Register some nodes, unlock or decommission some others.
			joins := src.IntN(limit/2 + 2)
			for i := 0; i < joins && len(active) < limit; i++ {
				next++
				active = append(active, fmt.Sprintf("n%07d", next))
			}
			leaves := src.IntN(len(active)/3 + 2)
			for i := 0; i < leaves && len(active) > 0; i++ {
				j := src.IntN(len(active))
				active = append(active[:j], active[j+1:]...)
			}
			var seed [32]byte
			for i := range seed {
				seed[i] = byte(src.Uint32())
			}
			before := map[uint64]bool{}
			for id := range sw {
				before[id] = true
			}
			after := RecomputeSwarms(sw, active, seed)
			// New swarms: ids that were not there. When no old swarm
			// survives, the first swarm (0) is made afresh and counts as old.
			old := 0
			for id := range after {
				if before[id] {
					old++
				}
			}
			if old == 0 {
				before[0] = true
				if _, ok := after[0]; ok {
					old = 1
				}
			}
			newIDs := map[uint64]bool{}
			for id := range after {
				if !before[id] {
					newIDs[id] = true
				}
			}
			// The one exception (see RecomputeSwarms): a lone old swarm
			// that could not shed below 11 gives a new swarm one more node.
			newSize := SwarmTarget
			if old == 1 {
				for id := range newIDs {
					if len(after[id]) == SwarmTarget+1 {
						newSize = SwarmTarget + 1
						delete(newIDs, id)
					}
				}
				if newSize != SwarmTarget && len(newIDs) > 0 {
					t.Logf("lone old swarm gave a new swarm one node: %v", sizesOf(after))
				}
			}
			checkSwarms(t, after, active, newIDs)
			sw = after
		}
	}
}

func TestRecomputeSwarmsDeterministic(t *testing.T) {
	var active []string
	for i := 0; i < 500; i++ {
		active = append(active, fmt.Sprintf("k%03d", i))
	}
	seed := [32]byte{7}
	a := RecomputeSwarms(nil, active, seed)
	b := RecomputeSwarms(nil, slices.Clone(active), seed)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("same input and seed gave different swarms")
	}
	c := RecomputeSwarms(nil, active, [32]byte{8})
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Fatal("another seed gave the same swarms")
	}
	// Stable: recomputing with nothing changed moves nobody.
	if d := RecomputeSwarms(a, active, [32]byte{9}); fmt.Sprint(a) != fmt.Sprint(d) {
		t.Fatal("recomputing with the same active set moved nodes")
	}
}

func TestRecomputeSwarmsGrowth(t *testing.T) {
	var active []string
	sw := Swarms{}
	sizes := func() []int {
		var s []int
		for _, id := range sw.IDs() {
			s = append(s, len(sw[id]))
		}
		return s
	}
	for i := 1; i <= 14; i++ {
		active = append(active, fmt.Sprintf("k%02d", i))
		sw = RecomputeSwarms(sw, active, [32]byte{byte(i)})
		switch i {
		case 4, 11:
			if len(sw) != 1 {
				t.Fatalf("%d nodes: %d swarms, want 1", i, len(sw))
			}
		case 12:
			if got := sizes(); !slices.Equal(sortedInts(got), []int{5, 7}) {
				t.Fatalf("12 nodes: sizes %v, want a swarm of 5 and a new one of 7", got)
			}
			if _, ok := sw[1<<63]; !ok {
				t.Fatalf("the second swarm's id is not 2^63: %v", sw.IDs())
			}
		}
	}
}

func sortedInts(s []int) []int { s = slices.Clone(s); slices.Sort(s); return s }

func BenchmarkRecomputeSwarms2000(b *testing.B) {
	var active []string
	for i := 0; i < 2000; i++ {
		active = append(active, fmt.Sprintf("%064x", i))
	}
	base := RecomputeSwarms(nil, active, [32]byte{1})
	// A block's change: 20 nodes leave, 20 join.
	changed := append(slices.Clone(active[20:]), func() []string {
		var s []string
		for i := 0; i < 20; i++ {
			s = append(s, fmt.Sprintf("%064x", 5000+i))
		}
		return s
	}()...)
	b.ReportAllocs()
	for b.Loop() {
		RecomputeSwarms(base, changed, [32]byte{2})
	}
}

func BenchmarkRecomputeSwarms2000FromScratch(b *testing.B) {
	var active []string
	for i := 0; i < 2000; i++ {
		active = append(active, fmt.Sprintf("%064x", i))
	}
	b.ReportAllocs()
	for b.Loop() {
		RecomputeSwarms(nil, active, [32]byte{1})
	}
}

func sizesOf(sw Swarms) map[uint64]int {
	m := map[uint64]int{}
	for id, n := range sw {
		m[id] = len(n)
	}
	return m
}
