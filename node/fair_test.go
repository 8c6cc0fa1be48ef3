package node

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"
)

// granted reports whether t's turn came.
func granted(t *fairTurn) bool {
	select {
	case <-t.granted:
		return true
	default:
		return false
	}
}

// TestFairQueueRounds: with one worker busy, requests wait in their
// client's line; each turn freed goes to the next client in the round, so
// a client that came with many requests is served one in each round, and
// one that came with one is served in the first round, however late it
// came. No timing: the test frees each turn itself.
func TestFairQueueRounds(t *testing.T) {
	q := newFairQueue(1, 10, 100)
	a, b, c := clientKey{addr: "a"}, clientKey{addr: "b"}, clientKey{addr: "c"}
	first, err := q.enter("", a, 0)
	if err != nil || !granted(first) {
		t.Fatalf("first request: %v, granted %v; want its turn at once", err, granted(first))
	}
	var turns []*fairTurn
	names := map[*fairTurn]string{}
	for i, k := range []clientKey{a, a, a, a, b, c, c} {
		tn, err := q.enter("", k, 0)
		if err != nil {
			t.Fatal(err)
		}
		if granted(tn) {
			t.Fatalf("request %d granted while the worker is busy", i)
		}
		turns = append(turns, tn)
		names[tn] = fmt.Sprintf("%s%d", k.addr, i)
	}
	var order []string
	cur := first
	for range turns {
		cur.done()
		cur.done() // a second done gives nothing back twice
		var next []*fairTurn
		for _, tn := range turns {
			if granted(tn) {
				next = append(next, tn)
			}
		}
		if len(next) != len(order)+1 {
			t.Fatalf("after %d turns, %d granted: one worker serves one at a time", len(order)+1, len(next))
		}
		for _, tn := range next {
			if !slices.Contains(order, names[tn]) {
				order = append(order, names[tn])
				cur = tn
			}
		}
	}
	want := []string{"a0", "b4", "c5", "a1", "c6", "a2", "a3"}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("served %v, want %v (a round of a, b, c, then what is left)", order, want)
	}
	cur.done()
	if q.busy != 0 || q.waiting != 0 || len(q.classes[0].queues) != 0 || len(q.classes[0].round) != 0 {
		t.Fatalf("after all: busy %d, waiting %d, %d lines, round %v; want nothing", q.busy, q.waiting, len(q.classes[0].queues), q.classes[0].round)
	}
}

// TestFairQueueBounds: a client may have perClient requests waiting and
// the node total; more are refused at once, and one that gives up waiting
// leaves its line.
func TestFairQueueBounds(t *testing.T) {
	q := newFairQueue(1, 2, 3)
	a, b := clientKey{addr: "a"}, clientKey{addr: "b"}
	busy, _ := q.enter("", a, 0)
	a1, _ := q.enter("", a, 0)
	if _, err := q.enter("", a, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := q.enter("", a, 0); !errors.Is(err, errQueueFull) {
		t.Fatalf("a third waiting request of a: %v, want errQueueFull", err)
	}
	b1, err := q.enter("", b, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.enter("", b, 0); !errors.Is(err, errQueueFull) {
		t.Fatalf("a fourth waiting request: %v, want errQueueFull", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a1.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait with a cancelled context: %v", err)
	}
	if q.waiting != 2 || len(q.classes[0].queues[lineKey{"", a}]) != 1 {
		t.Fatalf("after a1 left: waiting %d, a's line %d; want 2 and 1", q.waiting, len(q.classes[0].queues[lineKey{"", a}]))
	}
	// a, first in the round, has its other request waiting still: it is
	// served, then b's.
	a2 := q.classes[0].queues[lineKey{"", a}][0]
	busy.done()
	if !granted(a2) || granted(b1) {
		t.Fatalf("a's second request granted %v, b's %v; want a's", granted(a2), granted(b1))
	}
	if err := a2.wait(ctx); err != nil {
		t.Fatalf("a granted turn: %v", err)
	}
	a2.done()
	if !granted(b1) {
		t.Fatal("b's request not served next")
	}
	if err := b1.wait(ctx); err != nil {
		t.Fatalf("b's granted turn: %v", err)
	}
	b1.done()
	if q.busy != 0 || q.waiting != 0 {
		t.Fatalf("busy %d, waiting %d; want 0", q.busy, q.waiting)
	}
}

// TestYieldTurn: a request gives its turn up when it waits for another
// node, and the one waiting gets it then.
func TestYieldTurn(t *testing.T) {
	q := newFairQueue(1, 10, 10)
	k := clientKey{addr: "a"}
	first, _ := q.enter("", k, 0)
	ctx := withTurn(context.Background(), first)
	second, _ := q.enter("", k, 0)
	yieldTurn(ctx)
	if !granted(second) {
		t.Fatal("the waiting request did not get the turn yielded")
	}
	first.done() // given back already: nothing more
	if q.busy != 1 {
		t.Fatalf("busy %d, want 1", q.busy)
	}
	yieldTurn(context.Background()) // no turn: nothing
	second.done()
	if q.busy != 0 {
		t.Fatalf("busy %d, want 0", q.busy)
	}
}

// TestFairQueueClasses: a turn that frees goes to a waiting request of the
// highest class, whoever came first; within a class, clients take turns in
// rounds; a request that gives up waiting leaves its class's line.
func TestFairQueueClasses(t *testing.T) {
	q := newFairQueue(1, 10, 100)
	a, b, n1, n2 := clientKey{addr: "a"}, clientKey{addr: "b"}, clientKey{addr: "n1"}, clientKey{addr: "n2"}
	cur, _ := q.enter("", a, classNew)
	names := map[*fairTurn]string{}
	for _, r := range []struct {
		name string
		k    clientKey
		c    int
	}{
		{"a-new", a, classNew}, {"b-new", b, classNew}, {"n1-middle", n1, onionClass(2)},
		{"n1-replica1", n1, classReplica}, {"n2-replica1", n2, classReplica}, {"n1-replica2", n1, classReplica},
		{"n2-destination", n2, onionClass(4)},
	} {
		tn, err := q.enter("", r.k, r.c)
		if err != nil || granted(tn) {
			t.Fatalf("%s: %v, granted %v; want it waiting", r.name, err, granted(tn))
		}
		names[tn] = r.name
	}
	gone, _ := q.enter("", b, classReplica)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := gone.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait with a cancelled context: %v", err)
	}
	var order []string
	for range names {
		cur.done()
		var next *fairTurn
		for tn, name := range names {
			if granted(tn) && !slices.Contains(order, name) {
				if next != nil {
					t.Fatal("two turns granted by one worker")
				}
				next = tn
			}
		}
		if next == nil {
			t.Fatalf("after %v nothing granted", order)
		}
		order = append(order, names[next])
		cur = next
	}
	cur.done()
	want := []string{"n1-replica1", "n2-replica1", "n1-replica2", "n2-destination", "n1-middle", "a-new", "b-new"}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("served %v, want %v (replicas in rounds, the destination's layer, the middle's, then new work)", order, want)
	}
	if q.busy != 0 || q.waiting != 0 {
		t.Fatalf("busy %d, waiting %d; want 0", q.busy, q.waiting)
	}
}

// TestRequestClasses: the class of an onion layer is how far it has come,
// that of a swarm request whether it replicates a client's request.
func TestRequestClasses(t *testing.T) {
	for hop, want := range map[int]int{1: classNew, 2: 1, 3: 2, 4: 3, 5: 4, 15: 4, 0: classNew} {
		if got := onionClass(hop); got != want {
			t.Errorf("onionClass(%d) = %d, want %d", hop, got, want)
		}
	}
	for body, want := range map[string]int{
		`{"method":"store","params":{}}`:         classReplica,
		`{"method":"delete","params":{}}`:        classReplica,
		`{"method":"push","params":{}}`:          classNew,
		`{"method":"storage_test","params":{}}`:  classNew,
		`{"method":"repair_digest","params":{}}`: classNew,
		`{"params":{},"method":"store"}`:         classNew,
		`{"method":"store`:                       classNew,
		``:                                       classNew,
	} {
		if got := swarmClass([]byte(body)); got != want {
			t.Errorf("swarmClass(%s) = %d, want %d", body, got, want)
		}
	}
}

// TestTurnsShared: nodes sharing one queue (Turns) share its workers; a
// client of each node has a line of its own, served in the same rounds,
// and each node's requests waiting are bounded apart.
func TestTurnsShared(t *testing.T) {
	if w := NewTurns(0).q.workers; w != runtime.GOMAXPROCS(0) {
		t.Fatalf("NewTurns(0): %d workers, want GOMAXPROCS (%d)", w, runtime.GOMAXPROCS(0))
	}
	q := NewTurns(1).q
	q.total = 2
	a, b := clientKey{addr: "a"}, clientKey{addr: "b"}
	busy, _ := q.enter("n1", a, classNew)
	x1, _ := q.enter("n1", a, classNew)
	x2, _ := q.enter("n1", a, classNew)
	if _, err := q.enter("n1", b, classNew); !errors.Is(err, errQueueFull) {
		t.Fatalf("a third request waiting at n1: %v, want errQueueFull", err)
	}
	y1, err := q.enter("n2", a, classNew)
	if err != nil || granted(y1) {
		t.Fatalf("n2's request: %v, granted %v; want it waiting (one worker for both nodes)", err, granted(y1))
	}
	var order []string
	names := map[*fairTurn]string{x1: "n1-a1", x2: "n1-a2", y1: "n2-a1"}
	cur := busy
	for range names {
		cur.done()
		for tn, name := range names {
			if granted(tn) && !slices.Contains(order, name) {
				order = append(order, name)
				cur = tn
			}
		}
	}
	cur.done()
	if want := []string{"n1-a1", "n2-a1", "n1-a2"}; fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("served %v, want %v: a's line at each node its own", order, want)
	}
	if q.busy != 0 || q.waiting != 0 || len(q.waitingAt) != 0 {
		t.Fatalf("busy %d, waiting %d %v; want none", q.busy, q.waiting, q.waitingAt)
	}
}

// TestTurnsGrow: every nodesPerTurn nodes that join Turns add a turn, and
// a request waiting gets it at once; nodes that leave take it away.
func TestTurnsGrow(t *testing.T) {
	tt := NewTurns(1)
	q := tt.q
	a := clientKey{addr: "a"}
	busy, _ := q.enter("n1", a, classNew)
	waiting, _ := q.enter("n1", a, classNew)
	for range nodesPerTurn - 1 {
		tt.join()
	}
	if granted(waiting) {
		t.Fatalf("granted with %d nodes: want a second turn at %d", nodesPerTurn-1, nodesPerTurn)
	}
	tt.join()
	if !granted(waiting) || q.workers != 2 {
		t.Fatalf("with %d nodes: granted %v, %d workers; want the second turn given", nodesPerTurn, granted(waiting), q.workers)
	}
	tt.leave()
	third, _ := q.enter("n1", a, classNew)
	busy.done()
	if granted(third) || q.busy != 1 {
		t.Fatalf("a node left: granted %v, busy %d; want one turn again", granted(third), q.busy)
	}
	waiting.done()
	if !granted(third) {
		t.Fatal("the waiting request did not get the turn freed")
	}
	third.done()
}

// TestFairQueueLateComers: a client served goes to the end of the round,
// and clients that come after it line up behind it: one that keeps
// requests waiting is not passed by every newcomer until the round empties.
func TestFairQueueLateComers(t *testing.T) {
	q := newFairQueue(1, 10, 100)
	a := clientKey{addr: "a"}
	cur, _ := q.enter("", a, classNew)
	a1, _ := q.enter("", a, classNew)
	a2, _ := q.enter("", a, classNew)
	cur.done()
	if !granted(a1) {
		t.Fatal("a's first waiting request not served")
	}
	cur = a1
	// While a works, newcomers come one by one, each after a went to the
	// end of the round: a is served before each.
	for i := range 3 {
		b, _ := q.enter("", clientKey{addr: fmt.Sprint("b", i)}, classNew)
		if i == 0 {
			cur.done()
			if !granted(a2) || granted(b) {
				t.Fatalf("a2 granted %v, b0 %v: want a2, in the round before b0 came", granted(a2), granted(b))
			}
			cur = a2
		}
		cur.done()
		if !granted(b) {
			t.Fatalf("b%d not served next", i)
		}
		cur = b
	}
	cur.done()
	if q.busy != 0 || q.waiting != 0 || len(q.classes[0].round) != 0 {
		t.Fatalf("busy %d, waiting %d, round %v; want none", q.busy, q.waiting, q.classes[0].round)
	}
}

// TestTurnContext: the context a turn makes (withTurn) is its request's:
// the same deadline, values and end, and contexts made from it end with it.
func TestTurnContext(t *testing.T) {
	type key struct{}
	q := newFairQueue(1, 10, 10)
	tn, _ := q.enter("", clientKey{addr: "a"}, 0)
	at := time.Now().Add(time.Hour)
	parent, cancel := context.WithDeadline(context.WithValue(context.Background(), key{}, "v"), at)
	ctx := withTurn(parent, tn)
	if dl, ok := ctx.Deadline(); !ok || !dl.Equal(at) {
		t.Fatalf("deadline %v %v, want %v", dl, ok, at)
	}
	if ctx.Value(key{}) != "v" || ctx.Value(turnKey{}) != tn {
		t.Fatalf("values %v %v, want the parent's and the turn", ctx.Value(key{}), ctx.Value(turnKey{}))
	}
	child, stop := context.WithCancel(ctx)
	defer stop()
	cancel()
	<-child.Done()
	if ctx.Err() != context.Canceled || child.Err() != context.Canceled {
		t.Fatalf("errors %v %v, want both cancelled", ctx.Err(), child.Err())
	}
	tn.done()
}
