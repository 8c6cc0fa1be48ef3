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
