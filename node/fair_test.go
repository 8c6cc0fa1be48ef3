package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
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
	first, err := q.enter(a)
	if err != nil || !granted(first) {
		t.Fatalf("first request: %v, granted %v; want its turn at once", err, granted(first))
	}
	var turns []*fairTurn
	names := map[*fairTurn]string{}
	for i, k := range []clientKey{a, a, a, a, b, c, c} {
		tn, err := q.enter(k)
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
	if q.busy != 0 || q.waiting != 0 || len(q.queues) != 0 || len(q.round) != 0 {
		t.Fatalf("after all: busy %d, waiting %d, %d lines, round %v; want nothing", q.busy, q.waiting, len(q.queues), q.round)
	}
}

// TestFairQueueBounds: a client may have perClient requests waiting and
// the node total; more are refused at once, and one that gives up waiting
// leaves its line.
func TestFairQueueBounds(t *testing.T) {
	q := newFairQueue(1, 2, 3)
	a, b := clientKey{addr: "a"}, clientKey{addr: "b"}
	busy, _ := q.enter(a)
	a1, _ := q.enter(a)
	if _, err := q.enter(a); err != nil {
		t.Fatal(err)
	}
	if _, err := q.enter(a); !errors.Is(err, errQueueFull) {
		t.Fatalf("a third waiting request of a: %v, want errQueueFull", err)
	}
	b1, err := q.enter(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.enter(b); !errors.Is(err, errQueueFull) {
		t.Fatalf("a fourth waiting request: %v, want errQueueFull", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a1.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait with a cancelled context: %v", err)
	}
	if q.waiting != 2 || len(q.queues[a]) != 1 {
		t.Fatalf("after a1 left: waiting %d, a's line %d; want 2 and 1", q.waiting, len(q.queues[a]))
	}
	// a, first in the round, has its other request waiting still: it is
	// served, then b's.
	a2 := q.queues[a][0]
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
	first, _ := q.enter(k)
	ctx := withTurn(context.Background(), first)
	second, _ := q.enter(k)
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
