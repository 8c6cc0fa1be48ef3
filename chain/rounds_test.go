package chain

import (
	"context"
	"errors"
	"testing"
)

func TestRoundLookup(t *testing.T) {
	rounds := []Round{ // newest first
		{Round: 5},
		{Round: 4, Votes: []Vote{{Target: "a"}}, Tallied: true},
		{Round: 3, Changes: []Change{{Target: "b"}}, Votes: []Vote{{Target: "b"}}, Tallied: true},
		{Round: 2, Changes: []Change{{Target: "a"}}},
	}
	for _, tc := range []struct {
		target string
		want   uint64
		ok     bool
	}{{"", 3, true}, {"a", 2, true}, {"b", 3, true}, {"c", 0, false}} {
		r, ok := LastChanged(rounds, tc.target)
		if ok != tc.ok || r.Round != tc.want {
			t.Errorf("LastChanged(%q) = %d, %v; want %d, %v", tc.target, r.Round, ok, tc.want, tc.ok)
		}
	}
	if r, ok := LastTallied(rounds); !ok || r.Round != 4 {
		t.Errorf("LastTallied = %d, %v; want 4", r.Round, ok)
	}
	if _, ok := LastTallied(rounds[:1]); ok {
		t.Error("an untallied round found")
	}
}

type fakeRounds []Round

func (f fakeRounds) Rounds(context.Context) ([]Round, error) { return f, nil }
func (f fakeRounds) RoundAt(_ context.Context, h uint64) (Round, error) {
	for _, r := range f {
		if r.Start == h {
			return r, nil
		}
	}
	return Round{}, ErrNoRound
}

func TestFindRound(t *testing.T) {
	src := fakeRounds{
		{Round: 2, Start: 20, Votes: []Vote{{}}, Tallied: true},
		{Round: 1, Start: 10, Changes: []Change{{Target: "k"}}},
	}
	n, h := uint64(2), uint64(10)
	ctx := context.Background()
	for _, tc := range []struct {
		q    RoundQuery
		want uint64
	}{{RoundQuery{Number: &n}, 2}, {RoundQuery{Height: &h}, 1}, {RoundQuery{Node: "k"}, 1}, {RoundQuery{}, 1}} {
		if r, err := FindRound(ctx, src, 10, tc.q); err != nil || r.Round != tc.want {
			t.Errorf("FindRound(%+v) = %d, %v; want %d", tc.q, r.Round, err, tc.want)
		}
	}
	if _, err := FindRound(ctx, src, 0, RoundQuery{Number: &n}); !errors.Is(err, ErrNoRoundLength) {
		t.Errorf("no round length: %v", err)
	}
	if _, err := FindRound(ctx, src, 10, RoundQuery{Node: "other"}); !errors.Is(err, ErrNoRound) {
		t.Errorf("a node no round changed: %v", err)
	}
	if _, err := FindRound(ctx, fakeRounds{{Round: 1}}, 10, RoundQuery{}); !errors.Is(err, ErrNoRound) {
		t.Errorf("nothing tallied: %v", err)
	}
}
