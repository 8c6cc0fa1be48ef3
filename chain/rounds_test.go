package chain

import "testing"

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
