package node

import (
	"fmt"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/chain"
)

// The tests of a round start one after another through the first 80% of
// its test phase, not in a burst each block: at 2,000 nodes' parameters
// (rounds of 100 blocks of 1 s, 400 quorum members testing 50 targets
// each), no 100 ms of the phase starts more than a few times its share.
// The clock is the blocks': block h is seen at h·bt.
func TestTestSchedule(t *testing.T) {
	p := chain.DefaultParams()
	p.RoundBlocks = 100
	const bt = time.Second
	const members, targets = 400, 50
	r := uint64(7)
	first, end := p.QuorumHeight(r), p.RoundStart(r+1)
	window := time.Duration((end-first)*4/5) * bt
	// starts returns, for each test, when it starts: at the first block
	// seen that makes it due, after its wait.
	starts := func(jitter func(m, i int) float64, bt time.Duration) []time.Duration {
		var out []time.Duration
		for m := range members {
			for i := range targets {
				started := false
				for h := first - 1; h < end && !started; h++ {
					due, wait := testSchedule(p, r, h, i, targets, jitter(m, i), bt)
					if !due {
						continue
					}
					if wait < 0 || wait >= bt && bt > 0 {
						t.Fatalf("member %d target %d at height %d: wait %v, want within the block", m, i, h, wait)
					}
					out = append(out, time.Duration(h)*bt+wait)
					started = true
				}
				if !started {
					t.Fatalf("member %d never tests target %d", m, i)
				}
			}
		}
		return out
	}
	peak := func(starts []time.Duration) int {
		per := map[time.Duration]int{}
		most := 0
		for _, s := range starts {
			b := s / (100 * time.Millisecond)
			per[b]++
			most = max(most, per[b])
		}
		return most
	}
	got := starts(func(m, i int) float64 { return testJitter(fmt.Sprint("member", m), fmt.Sprint("target", m, i)) }, bt)
	share := members * targets / int(window/(100*time.Millisecond)) // tests a 100 ms on average
	lo, hi := got[0], got[0]
	for _, s := range got {
		lo, hi = min(lo, s), max(hi, s)
	}
	if lo < time.Duration(first-1)*bt || hi >= time.Duration(first-1)*bt+window {
		t.Fatalf("tests start from %v to %v, want within the first 80%% of the test phase (%v from %v)", lo, hi, window, time.Duration(first-1)*bt)
	}
	if most := peak(got); most > 3*share {
		t.Fatalf("%d tests start in one 100 ms, want at most %d (3x the average %d)", most, 3*share, share)
	}
	// Without the members' jitter, a quorum's members start together: the
	// check above would catch it.
	if most := peak(starts(func(int, int) float64 { return 0 }, bt)); most < members {
		t.Fatalf("without jitter the peak is %d, want a burst of at least %d", most, members)
	}
	// Blocks on demand have no clock: a due test starts at once.
	for h := first - 1; h < end; h++ {
		if _, wait := testSchedule(p, r, h, 3, targets, 0.5, 0); wait != 0 {
			t.Fatalf("blocks on demand: wait %v at height %d", wait, h)
		}
	}
}

func TestTestJitter(t *testing.T) {
	seen := map[float64]bool{}
	for i := range 1000 {
		j := testJitter(fmt.Sprint("tester", i), "target")
		if j < 0 || j >= 1 {
			t.Fatalf("jitter %v outside [0, 1)", j)
		}
		if j != testJitter(fmt.Sprint("tester", i), "target") {
			t.Fatal("the jitter of two keys changes")
		}
		seen[j] = true
	}
	if len(seen) < 990 {
		t.Fatalf("only %d jitters of 1,000 testers differ", len(seen))
	}
}
