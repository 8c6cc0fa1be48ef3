package devnet

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/chaos"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/group"
)

// The dashboard's timeline: what happened to the devnet, each entry with
// the names of the nodes and accounts it concerns and its time, kept (a
// bounded ring) so that the moment a node is voted down stays on screen
// after the round is over, and a page opened later sees it too.

// The kinds of timeline entries.
const (
	TimelineSend         = "send"         // a client's message, with its path
	TimelineStore        = "store"        // a node stored a message (replicas are not entries)
	TimelineKill         = "kill"         // a node killed (node kill, the dashboard)
	TimelineRestart      = "restart"      // a node restarted
	TimelineExit         = "exit"         // a node's own process ended by itself
	TimelineVote         = "vote"         // a block's testing votes, the failing ones named
	TimelineDecommission = "decommission" // a round's votes decommissioned a node
	TimelineRecommission = "recommission" // ... or brought it back
	TimelineDeregister   = "deregister"   // ... or removed it
	TimelineGroup        = "group"        // a closed group made
	TimelineKick         = "kick"         // a member removed from a closed group
	TimelineLeave        = "leave"        // a member gone from a closed group by itself
	TimelineKeyRotation  = "key rotation" // a closed group's keys rotated
	TimelineFault        = "fault"        // a fault injected (chaos)
)

// TimelineEvent is one entry of the timeline.
type TimelineEvent struct {
	At       int64    `json:"at"` // unix ms
	Kind     string   `json:"kind"`
	Text     string   `json:"text"`               // what happened, naming who
	Short    string   `json:"short,omitempty"`    // the same in a few words, where Text is long (presenter mode)
	Nodes    []string `json:"nodes,omitempty"`    // the nodes it concerns, by name
	Accounts []string `json:"accounts,omitempty"` // the accounts and groups it concerns, by name
}

// Bounds of the timeline: messages (sends and stores) come by the second
// under traffic, so they have their own ring and never push a kill or a
// vote out of the other.
const (
	maxTimelineTraffic = 200
	maxTimelineNetwork = 300
)

// groupPoll is how often the watcher reads the closed groups' files.
const groupPoll = 2 * time.Second

// timeline is two bounded rings of entries, oldest first.
type timeline struct {
	mu      sync.Mutex
	traffic []TimelineEvent
	network []TimelineEvent
}

func (tl *timeline) add(e TimelineEvent) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	ring, limit := &tl.network, maxTimelineNetwork
	if e.Kind == TimelineSend || e.Kind == TimelineStore {
		ring, limit = &tl.traffic, maxTimelineTraffic
	}
	if len(*ring) >= limit {
		*ring = slices.Delete(*ring, 0, len(*ring)-limit+1)
	}
	*ring = append(*ring, e)
}

// list is every entry, oldest first.
func (tl *timeline) list() []TimelineEvent {
	tl.mu.Lock()
	out := make([]TimelineEvent, 0, len(tl.traffic)+len(tl.network))
	out = append(append(out, tl.traffic...), tl.network...)
	tl.mu.Unlock()
	slices.SortStableFunc(out, func(a, b TimelineEvent) int { return int(a.At - b.At) })
	return out
}

// Record puts an entry on the dashboard's timeline (its time now, if not
// set) and sends it to the open pages. Anything that acts on the devnet
// may record what it did (a chaos run records each fault it injects,
// TimelineFault, naming its nodes).
func (h *Events) Record(e TimelineEvent) {
	if e.At == 0 {
		e.At = h.now().UnixMilli()
	}
	h.timeline.add(e)
	h.publish(map[string]any{"t": "timeline", "event": e})
}

// Timeline returns the timeline's entries, oldest first.
func (h *Events) Timeline() []TimelineEvent { return h.timeline.list() }

// roundWatch remembers how much of the testing rounds the timeline has
// told: the round, its votes and its changes so far.
type roundWatch struct {
	round, votes, changes int
	seen                  bool
}

// rounds records what blocks up to height added to the testing rounds:
// the votes (a block's failing ones named, grouped by the node tested)
// and the state changes they decided.
func (db *dashboard) rounds(height uint64) {
	l := db.d.Network.Ledger
	p := l.Info().Params
	if p.RoundBlocks == 0 {
		return
	}
	last := p.RoundOf(height)
	first := last
	if db.rw.seen && uint64(db.rw.round) < last {
		first = max(uint64(db.rw.round), last-1) // the end of the round before, at most one
	}
	for r := first; r <= last; r++ {
		rd, ok := l.RoundAt(max(p.RoundStart(r), 1))
		if !ok || rd.Round != r {
			continue
		}
		if !db.rw.seen || uint64(db.rw.round) != r {
			db.rw = roundWatch{round: int(r), seen: true}
			if !db.rwStarted {
				// what was there before the dashboard watched is not news
				db.rw.votes, db.rw.changes = len(rd.Votes), len(rd.Changes)
			}
		}
		db.rwStarted = true
		for _, e := range roundEvents(rd, db.rw.votes, db.rw.changes, db.name) {
			db.hub.Record(e)
		}
		db.rw.votes, db.rw.changes = len(rd.Votes), len(rd.Changes)
	}
}

// roundEvents are the timeline's entries for a round's votes from the
// fromVotes-th and its changes from the fromChanges-th.
func roundEvents(rd chain.Round, fromVotes, fromChanges int, name func(string) string) []TimelineEvent {
	var out []TimelineEvent
	if fromVotes < len(rd.Votes) {
		votes := rd.Votes[fromVotes:]
		pass := 0
		failed := map[string][]string{} // target -> voters
		why := map[string]string{}
		var targets []string
		for _, v := range votes {
			if v.Pass {
				pass++
				continue
			}
			t := name(v.Target)
			if _, ok := failed[t]; !ok {
				targets = append(targets, t)
			}
			failed[t] = append(failed[t], name(v.Voter))
			if v.Reason != "" {
				why[t] = v.Reason
			}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "round %d: %s", rd.Round, display.Plural(len(votes), "testing vote"))
		if pass > 0 {
			fmt.Fprintf(&b, ", %d passing", pass)
		}
		slices.SortFunc(targets, compareNames)
		for _, t := range targets {
			fmt.Fprintf(&b, "; %s failed by %s", t, nameList(failed[t], 4))
			if why[t] != "" {
				fmt.Fprintf(&b, " (%s)", why[t])
			}
		}
		short := fmt.Sprintf("round %d: %s, all passing", rd.Round, display.Plural(len(votes), "testing vote"))
		if len(targets) > 0 {
			var fs []string
			for _, t := range targets {
				fs = append(fs, fmt.Sprintf("%s failed %s", t, display.Plural(len(failed[t]), "test")))
			}
			short = fmt.Sprintf("round %d: %s", rd.Round, nameList(fs, 3))
		}
		out = append(out, TimelineEvent{Kind: TimelineVote, Text: b.String(), Short: short, Nodes: targets})
	}
	for _, c := range rd.Changes[min(fromChanges, len(rd.Changes)):] {
		t := name(c.Target)
		kind := TimelineDeregister
		switch c.State {
		case chain.StateDecommissioned:
			kind = TimelineDecommission
		case chain.StateActive:
			kind = TimelineRecommission
		}
		voters := make([]string, len(c.Votes))
		for i, v := range c.Votes {
			voters[i] = name(v)
		}
		slices.SortFunc(voters, compareNames)
		out = append(out, TimelineEvent{Kind: kind, Nodes: []string{t},
			Text:  fmt.Sprintf("%s %s at height %d by the votes of %s", t, pastTense(kind), c.Height, nameList(voters, 6)),
			Short: fmt.Sprintf("%s %s by %s", t, pastTense(kind), display.Plural(len(voters), "vote"))})
	}
	return out
}

func pastTense(kind string) string {
	switch kind {
	case TimelineDecommission:
		return "decommissioned"
	case TimelineRecommission:
		return "recommissioned"
	}
	return "deregistered"
}

// nameList lists names, the first n of them and how many more.
func nameList(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// compareNames orders node-2 before node-10.
func compareNames(a, b string) int {
	if len(a) != len(b) && strings.HasPrefix(a, "node-") && strings.HasPrefix(b, "node-") {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// groupEvents are the timeline's entries for what changed between two
// views of the closed groups: a group made, a member removed by an admin
// (a kick: the admin revoked its token) or gone by itself, the keys
// rotated.
func groupEvents(old, cur []dashGroup) []TimelineEvent {
	before := map[string]dashGroup{}
	for _, g := range old {
		before[g.ID] = g
	}
	var out []TimelineEvent
	label := func(m group.Member) string { return cmp.Or(m.Name, display.Short(m.AccountID)) }
	for _, g := range cur {
		o, ok := before[g.ID]
		if !ok {
			names := make([]string, 0, len(g.Members))
			for _, m := range g.Members {
				names = append(names, label(m))
			}
			out = append(out, TimelineEvent{Kind: TimelineGroup, Accounts: append([]string{g.Name}, names...),
				Text: fmt.Sprintf("group %s: %s", g.Name, nameList(names, 8))})
			continue
		}
		now := map[string]bool{}
		for _, m := range g.Members {
			now[m.AccountID] = true
		}
		for _, m := range o.Members {
			if now[m.AccountID] {
				continue
			}
			kind, text := TimelineLeave, "%s left %s"
			if g.Revoked > o.Revoked {
				kind, text = TimelineKick, "%s removed from %s by an admin"
			}
			out = append(out, TimelineEvent{Kind: kind, Accounts: []string{label(m), g.Name}, Text: fmt.Sprintf(text, label(m), g.Name)})
		}
		if g.Generation > o.Generation {
			out = append(out, TimelineEvent{Kind: TimelineKeyRotation, Accounts: []string{g.Name},
				Text:  fmt.Sprintf("%s's keys rotated to generation %d: who was removed cannot read what follows", g.Name, g.Generation),
				Short: fmt.Sprintf("%s's keys rotated (generation %d)", g.Name, g.Generation)})
		}
	}
	return out
}

// watch records on the timeline what the blocks and the group commands
// change, until ctx ends: the rounds at each block, the closed groups
// every few seconds (the group commands run in other processes and write
// the groups' files; nothing tells the devnet).
func (db *dashboard) watch(ctx context.Context, every time.Duration) {
	l := db.d.Network.Ledger
	h := l.Info().Height
	db.rounds(h)
	names := db.accountNames()
	groups := db.groups(names)
	db.remember(names, groups)
	tick := time.NewTicker(every)
	defer tick.Stop()
	// The blocks are followed apart, so that a slow look at the groups
	// never delays a block's event; the rounds are read at the latest.
	var latest atomic.Uint64
	latest.Store(h)
	block := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for h := h; ; {
			info, err := l.WaitHeight(ctx, h+1)
			if err != nil {
				return
			}
			h = info.Height
			db.hub.publish(map[string]any{"t": "block", "height": h, "hash": info.Hash, "active": info.ActiveNodes, "swarms": info.Swarms})
			latest.Store(h)
			select {
			case block <- struct{}{}:
			default: // told already: the rounds are read at the latest height
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			<-done
			return
		case <-block:
			db.rounds(latest.Load())
		case <-tick.C:
			names := db.accountNames()
			cur := db.groups(names)
			db.remember(names, cur)
			for _, e := range groupEvents(groups, cur) {
				db.hub.Record(e)
			}
			groups = cur
		}
	}
}

// faultsSeen remembers the chaos faults the timeline has told, started
// and healed, of the run told last.
type faultsSeen struct {
	mu      sync.Mutex
	run     string
	started map[string]bool
	healed  map[string]bool
}

// maxFaultsSeen bounds what faultsSeen remembers (a run's faults; past
// it, the oldest are forgotten and never told again as new: a healed fault
// is not in force again).
const maxFaultsSeen = 4096

// chaosEvents are the timeline's entries for what a chaos run's status
// tells that is new: each fault started, and each healed.
func (fs *faultsSeen) chaosEvents(st ChaosStatus) []TimelineEvent {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.started == nil || fmt.Sprint(st.Seed) != fs.run || len(fs.started)+len(fs.healed) > maxFaultsSeen {
		fs.run, fs.started, fs.healed = fmt.Sprint(st.Seed), map[string]bool{}, map[string]bool{}
	}
	key := func(f chaos.FaultEvent) string { return fmt.Sprint(f.Start, "\x00", f.Kind, "\x00", f.Nodes) }
	what := func(f chaos.FaultEvent) string {
		s := f.Kind
		if len(f.Nodes) > 0 {
			s += " " + nameList(f.Nodes, 6)
		}
		if f.Detail != "" {
			s += " (" + f.Detail + ")"
		}
		return s
	}
	var out []TimelineEvent
	for _, f := range st.Active {
		if k := key(f); !fs.started[k] {
			fs.started[k] = true
			text := "chaos: " + what(f)
			if f.Err != "" {
				text += ": not made: " + f.Err
			}
			out = append(out, TimelineEvent{Kind: TimelineFault, Nodes: f.Nodes, Text: text, Short: "chaos: " + f.Kind + " " + strings.Join(f.Nodes, ", ")})
		}
	}
	for _, f := range st.Recent {
		if k := key(f); !fs.healed[k] {
			fs.healed[k] = true
			fs.started[k] = true // healed between two statuses: told once
			out = append(out, TimelineEvent{Kind: TimelineFault, Nodes: f.Nodes, Text: "chaos: healed " + what(f), Short: "chaos: healed " + f.Kind + " " + strings.Join(f.Nodes, ", ")})
		}
	}
	return out
}
