package display

import (
	"strings"
	"testing"

	"github.com/sessionctl/sessionctl/chain"
)

func TestJSONWritesSwarmIDsInHex(t *testing.T) {
	type node struct {
		Name    string `json:"name"`
		SwarmID uint64 `json:"swarm_id"`
	}
	var b strings.Builder
	v := map[string]any{"nodes": []node{{"a", 1<<63 + 5}, {"b", chain.UnassignedSwarm}}, "height": 12}
	if err := JSON(&b, v); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"swarm_id": "8000000000000005"`, `"swarm_id": ""`, `"height": 12`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %s in %s", want, b.String())
		}
	}
	// Nothing to rewrite: the struct's own field order stays.
	b.Reset()
	JSON(&b, struct {
		Z int `json:"z"`
		A int `json:"a"`
	}{1, 2})
	if b.String() != "{\n  \"z\": 1,\n  \"a\": 2\n}\n" {
		t.Errorf("order lost: %q", b.String())
	}
}

// A round and a swarm name every node as one object, name and key: no bare
// keys beside a map of names, no parallel arrays.
func TestNodesAreObjects(t *testing.T) {
	k1, k2, k3 := strings.Repeat("a", 64), strings.Repeat("b", 64), strings.Repeat("c", 64)
	names := map[string]string{k1: "node-1", k2: "node-2"} // k3: a key the devnet does not know
	rd := chain.Round{Round: 4, Start: 80, Commits: map[string]string{k2: "h2", k1: "h1"}, Reveals: map[string]string{k1: "s1"},
		MissingReveals: []string{k2}, Quorums: []chain.Quorum{{Members: []string{k1, k2}, Targets: []string{k3}, Threshold: 2}},
		Votes:   []chain.Vote{{Voter: k1, Target: k3, Pass: false, Reason: "storage rpc unreachable", Height: 95}},
		Changes: []chain.Change{{Target: k3, State: chain.StateDecommissioned, Votes: []string{k1, k2}, Height: 96}}}
	var b strings.Builder
	if err := JSON(&b, NameRound(rd, names)); err != nil {
		t.Fatal(err)
	}
	ref := func(name, key string) string {
		if name == "" {
			return `{"ed25519_pubkey":"` + key + `"}`
		}
		return `{"node":"` + name + `","ed25519_pubkey":"` + key + `"}`
	}
	got := strings.Join(strings.Fields(b.String()), "")
	for _, want := range []string{
		`"commits":[{"node":"node-1","ed25519_pubkey":"` + k1 + `","hash":"h1"},{"node":"node-2","ed25519_pubkey":"` + k2 + `","hash":"h2"}]`,
		`"reveals":[{"node":"node-1","ed25519_pubkey":"` + k1 + `","secret":"s1"}]`,
		`"missing_reveals":[` + ref("node-2", k2) + `]`,
		`"quorums":[{"members":[` + ref("node-1", k1) + `,` + ref("node-2", k2) + `],"targets":[` + ref("", k3) + `],"threshold":2}]`,
		`"votes":[{"voter":` + ref("node-1", k1) + `,"target":` + ref("", k3) + `,"pass":false`,
		`"changes":[{"target":` + ref("", k3) + `,"state":"decommissioned","voters":[` + ref("node-1", k1) + `,` + ref("node-2", k2) + `],"height":96}]`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
	if strings.Contains(got, "node_names") {
		t.Errorf("a map of names beside the keys: %s", got)
	}
	b.Reset()
	s := NameSwarm(Swarm{ID: 7, Members: []string{k1, k3}}, names)
	JSON(&b, s)
	got = strings.Join(strings.Fields(b.String()), "")
	if want := `{"swarm_id":"0000000000000007","members":[` + ref("node-1", k1) + `,` + ref("", k3) + `]}`; got != want {
		t.Errorf("swarm: %s, want %s", got, want)
	}
	if s.Names() != "node-1 "+k3[:12] {
		t.Errorf("swarm names: %q", s.Names())
	}
}
