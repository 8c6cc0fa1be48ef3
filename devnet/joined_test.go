package devnet

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sessionctl/sessionctl/chain"
)

// The nodes that joined are named after the devnet's own, in the order they
// registered, once, and keep their names across a restart.
func TestJoinedNames(t *testing.T) {
	d := Dir(t.TempDir())
	os.MkdirAll(d.path("devnet"), 0o700)
	key := func(c string) string { return strings.Repeat(c, 64) }
	j, err := loadJoined(d, 4)
	if err != nil {
		t.Fatal(err)
	}
	names := newNodeNames()
	names.add(key("0"), "node-1") // one of the devnet's own
	nodes := []chain.ServiceNode{{Key: key("0")}, {Key: key("b"), RegistrationHeight: 9}, {Key: key("a"), RegistrationHeight: 9}, {Key: key("c"), RegistrationHeight: 3}}
	if named, err := j.name(nodes, names); !named || err != nil {
		t.Fatalf("name: %v, %v", named, err)
	}
	want := []JoinedNode{{"node-5", key("c")}, {"node-6", key("a")}, {"node-7", key("b")}}
	if !slices.Equal(j.list(), want) || names.of(key("a")) != "node-6" {
		t.Fatalf("named %v, want %v", j.list(), want)
	}
	if named, _ := j.name(nodes, names); named {
		t.Fatal("named the same nodes twice")
	}
	j2, err := loadJoined(d, 4)
	if err != nil || !slices.Equal(j2.list(), want) {
		t.Fatalf("after a restart: %v, %v", j2.list(), err)
	}
	os.WriteFile(filepath.Join(string(d), "devnet", "joined.json"), []byte(`{"format":1,"nodes":[{"name":"../x","ed25519_pubkey":"ab"}]}`), 0o600)
	if _, err := loadJoined(d, 4); err == nil {
		t.Fatal("a damaged joined.json was read")
	}
}

// FuzzLoadJoined: whatever devnet/joined.json holds, it is read whole and
// well formed, or refused; never a panic.
func FuzzLoadJoined(f *testing.F) {
	f.Add([]byte(`{"format":1,"nodes":[{"name":"node-13","ed25519_pubkey":"` + strings.Repeat("ab", 32) + `"}]}`))
	f.Add([]byte(`{"format":1,"nodes":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := Dir(t.TempDir())
		os.MkdirAll(d.path("devnet"), 0o700)
		os.WriteFile(d.path("devnet", "joined.json"), data, 0o600)
		j, err := loadJoined(d, 12)
		if err != nil {
			return
		}
		for _, n := range j.list() {
			if !joinedNameRE().MatchString(n.Name) || !joinedKeyRE().MatchString(n.Key) {
				t.Fatalf("read %+v", n)
			}
		}
	})
}
