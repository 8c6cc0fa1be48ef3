package streampool

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// deadlineStream records the deadlines set on it.
type deadlineStream struct {
	network.Stream
	set []time.Time
}

func (s *deadlineStream) SetDeadline(t time.Time) error { s.set = append(s.set, t); return nil }

// A request's deadline is set on its stream up to DeadlineSlack later,
// never sooner; a stream whose deadline is within that of the request's
// keeps it.
func TestKeepDeadline(t *testing.T) {
	s := &deadlineStream{}
	want := time.Now().Add(10 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), want)
	defer cancel()
	dl := keepDeadline(ctx, s, time.Time{})
	if len(s.set) != 1 || dl != want.Add(DeadlineSlack) || s.set[0] != dl {
		t.Fatalf("first request: set %v, held %v; want %v", s.set, dl, want.Add(DeadlineSlack))
	}
	ctx2, cancel2 := context.WithDeadline(context.Background(), want.Add(DeadlineSlack/2))
	defer cancel2()
	if got := keepDeadline(ctx2, s, dl); got != dl || len(s.set) != 1 {
		t.Fatalf("a request within the slack: held %v, set %v; want it kept", got, s.set)
	}
	for _, later := range []time.Time{want.Add(DeadlineSlack + time.Millisecond), want.Add(-time.Second)} {
		ctx3, cancel3 := context.WithDeadline(context.Background(), later)
		n := len(s.set)
		if got := keepDeadline(ctx3, s, dl); len(s.set) != n+1 || got.Before(later) || got.After(later.Add(DeadlineSlack)) {
			t.Fatalf("request due %v on a stream due %v: held %v", later, dl, got)
		}
		cancel3()
	}
	// A deadline passed, or close: no slack.
	past := time.Now().Add(-time.Second)
	ctx4, cancel4 := context.WithDeadline(context.Background(), past)
	defer cancel4()
	if got := keepDeadline(ctx4, s, dl); got != past {
		t.Fatalf("past deadline: held %v, want %v", got, past)
	}
}
