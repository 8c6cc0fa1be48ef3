package devnet

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/chaos"
	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/group"
)

// TestTimelineBounded: the timeline keeps at most its bound of messages
// and of the rest, and a flood of messages never pushes a kill out.
func TestTimelineBounded(t *testing.T) {
	h := NewEvents()
	clock := time.UnixMilli(1_000_000)
	h.now = func() time.Time { clock = clock.Add(time.Millisecond); return clock }
	h.Record(TimelineEvent{Kind: TimelineKill, Text: "node-3 killed", Nodes: []string{"node-3"}})
	for i := range 3 * maxTimelineTraffic {
		h.Record(TimelineEvent{Kind: TimelineStore, Text: fmt.Sprint("store ", i)})
	}
	for i := range maxTimelineNetwork - 1 {
		h.Record(TimelineEvent{Kind: TimelineVote, Text: fmt.Sprint("vote ", i)})
	}
	got := h.Timeline()
	if len(got) != maxTimelineTraffic+maxTimelineNetwork {
		t.Fatalf("%d entries, want %d", len(got), maxTimelineTraffic+maxTimelineNetwork)
	}
	if got[0].Kind != TimelineKill || got[0].At != 1_000_001 {
		t.Errorf("the first entry is %+v, want the kill, at its time", got[0])
	}
	if !slices.IsSortedFunc(got, func(a, b TimelineEvent) int { return int(a.At - b.At) }) {
		t.Error("the entries are not in time order")
	}
	h.Record(TimelineEvent{Kind: TimelineVote, Text: "one more"})
	if got := h.Timeline(); got[0].Kind == TimelineKill || len(got) != maxTimelineTraffic+maxTimelineNetwork {
		t.Errorf("past its bound, the oldest other entry stays: %+v (%d entries)", got[0], len(got))
	}
}

// TestRoundEvents: a block's votes are one entry, the failing ones named
// with their voters and reason; each state change is an entry naming the
// node and the voters who decided it.
func TestRoundEvents(t *testing.T) {
	name := func(k string) string { return strings.Replace(k, "key", "node-", 1) }
	rd := chain.Round{Round: 7, Votes: []chain.Vote{
		{Voter: "key1", Target: "key2", Pass: true},
		{Voter: "key1", Target: "key3", Reason: "no answer"},
		{Voter: "key10", Target: "key3", Reason: "no answer"},
		{Voter: "key4", Target: "key3", Pass: true},
	}, Changes: []chain.Change{{Target: "key3", State: chain.StateDecommissioned, Votes: []string{"key10", "key1"}, Height: 150}}}
	got := roundEvents(rd, 0, 0, name)
	want := []TimelineEvent{
		{Kind: TimelineVote, Nodes: []string{"node-3"}, Text: "round 7: 4 testing votes, 2 passing; node-3 failed by node-1, node-10 (no answer)",
			Short: "round 7: node-3 failed 2 tests"},
		{Kind: TimelineDecommission, Nodes: []string{"node-3"}, Text: "node-3 decommissioned at height 150 by the votes of node-1, node-10",
			Short: "node-3 decommissioned by 2 votes"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
	// Only what is new is told again.
	if got := roundEvents(rd, 4, 1, name); len(got) != 0 {
		t.Errorf("nothing new, yet %+v", got)
	}
	rd.Changes = append(rd.Changes, chain.Change{Target: "key3", State: chain.StateActive, Votes: []string{"key4"}, Height: 170})
	if got := roundEvents(rd, 4, 1, name); len(got) != 1 || got[0].Kind != TimelineRecommission || got[0].Text != "node-3 recommissioned at height 170 by the votes of node-4" {
		t.Errorf("a recommission: %+v", got)
	}
}

// TestGroupEvents: a group made, a member kicked (the admin revoked a
// token), a member who left, and the keys rotated are each an entry, by
// name.
func TestGroupEvents(t *testing.T) {
	m := func(id, name string) group.Member { return group.Member{AccountID: id, Name: name} }
	g0 := dashGroup{ID: "03g", Name: "book club", Generation: 1, Members: []group.Member{m("05a", "alice"), m("05b", "bob"), m("05c", "carol")}}
	got := groupEvents(nil, []dashGroup{g0})
	if len(got) != 1 || got[0].Kind != TimelineGroup || got[0].Text != "group book club: alice, bob, carol" {
		t.Errorf("a new group: %+v", got)
	}
	g1 := g0
	g1.Members, g1.Revoked, g1.Generation = []group.Member{m("05a", "alice"), m("05c", "carol")}, 1, 2
	got = groupEvents([]dashGroup{g0}, []dashGroup{g1})
	want := []TimelineEvent{
		{Kind: TimelineKick, Accounts: []string{"bob", "book club"}, Text: "bob removed from book club by an admin"},
		{Kind: TimelineKeyRotation, Accounts: []string{"book club"}, Text: "book club's keys rotated to generation 2: who was removed cannot read what follows",
			Short: "book club's keys rotated (generation 2)"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("a kick:\n%+v\nwant\n%+v", got, want)
	}
	g2 := g1
	g2.Members = []group.Member{m("05a", "alice")}
	if got := groupEvents([]dashGroup{g1}, []dashGroup{g2}); len(got) != 1 || got[0].Kind != TimelineLeave || got[0].Text != "carol left book club" {
		t.Errorf("a member who left: %+v", got)
	}
	if got := groupEvents([]dashGroup{g2}, []dashGroup{g2}); len(got) != 0 {
		t.Errorf("nothing changed, yet %+v", got)
	}
}

// TestDashboardTimeline: a running devnet's timeline has a message's store
// (naming its node and its recipient) and a kill, and keeps them for a
// page that asks later.
func TestDashboardTimeline(t *testing.T) {
	dir := t.TempDir()
	d := up(t, UpConfig{Dir: dir, Nodes: 6, BlockTime: BlockTimeManual, Clients: []string{"alice", "bob"}})
	t.Cleanup(func() { d.Close() })
	dashStateT(t, d) // the names are read
	alice := clientT(t, d.Network.LedgerURL(), client.Config{Keys: ClientKeys(d.st.Seed, "alice")})
	res, err := alice.Send(context.Background(), ClientKeys(d.st.Seed, "bob").AccountID(), "hello")
	if err != nil {
		t.Fatal(err)
	}
	cc, err := Dial(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := cc.Kill(context.Background(), "node-5"); err != nil {
		t.Fatal(err)
	}
	var store, kill bool
	for _, e := range d.cfg.Events.Timeline() {
		switch {
		case e.Kind == TimelineStore && strings.Contains(e.Text, "a message for bob ("+res.Hash[:8]) && len(e.Nodes) == 1 && strings.HasPrefix(e.Nodes[0], "node-"):
			store = true
		case e.Kind == TimelineKill && slices.Equal(e.Nodes, []string{"node-5"}):
			kill = true
		}
	}
	if !store || !kill {
		t.Errorf("store %v, kill %v in the timeline:\n%+v", store, kill, d.cfg.Events.Timeline())
	}
}

// TestChaosEvents: each fault a chaos run tells is on the timeline once
// when it starts and once when it is healed, with its nodes.
func TestChaosEvents(t *testing.T) {
	var fs faultsSeen
	kill := chaos.FaultEvent{Kind: "kill", Nodes: []string{"node-3"}, Start: 100}
	skew := chaos.FaultEvent{Kind: "skew", Nodes: []string{"node-5"}, Detail: "+30s", Start: 200}
	got := fs.chaosEvents(ChaosStatus{Seed: 1, Active: []chaos.FaultEvent{kill}})
	if len(got) != 1 || got[0].Kind != TimelineFault || got[0].Text != "chaos: kill node-3" || !slices.Equal(got[0].Nodes, []string{"node-3"}) {
		t.Errorf("a fault started: %+v", got)
	}
	if got := fs.chaosEvents(ChaosStatus{Seed: 1, Active: []chaos.FaultEvent{kill}}); len(got) != 0 {
		t.Errorf("told twice: %+v", got)
	}
	healed := kill
	healed.End = 150
	got = fs.chaosEvents(ChaosStatus{Seed: 1, Active: []chaos.FaultEvent{skew}, Recent: []chaos.FaultEvent{healed}})
	if len(got) != 2 || got[0].Text != "chaos: skew node-5 (+30s)" || got[1].Text != "chaos: healed kill node-3" {
		t.Errorf("a fault started and one healed: %+v", got)
	}
	// a new run starts afresh
	if got := fs.chaosEvents(ChaosStatus{Seed: 2, Active: []chaos.FaultEvent{kill}}); len(got) != 1 {
		t.Errorf("another run's fault: %+v", got)
	}
}
