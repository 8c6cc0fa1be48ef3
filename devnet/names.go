package devnet

import (
	"encoding/json"
	"os"
	"slices"
	"sync"

	"github.com/sessionctl/sessionctl/group"
	"github.com/sessionctl/sessionctl/logs"
)

// The kinds of names that Dir.Names lists: what a shell completes.
const (
	NamesNode     = "node"     // the nodes: the running devnet's, else the saved one's
	NamesIdentity = "identity" // the keystore's identities
	NamesGroup    = "group"    // the closed groups the identities are in, as they last read them
	NamesRoom     = "room"     // the community server's rooms (a devnet runs)
	NamesSnapshot = "snapshot" // the saved snapshots
	NamesLog      = "log"      // the logs' components and the nodes ('sessionctl logs')
)

// maxNames bounds what Names reads (a keystore or a store of groups that a
// script filled): a shell offers at most this many names of a kind.
const maxNames = 1000

// Names lists the names of a kind under d, sorted, without duplicates:
// what a shell offers to complete a word. It reads files only (no devnet
// need run; what it cannot read it leaves out) and never fails.
func (d Dir) Names(kind string) []string {
	var out []string
	add := func(name string) {
		if name != "" && len(out) < maxNames {
			out = append(out, name)
		}
	}
	switch kind {
	case NamesNode:
		for _, n := range d.nodeNames() {
			add(n)
		}
	case NamesLog:
		comps, _ := logs.Components(d.LogsDir())
		for _, c := range append(comps, d.nodeNames()...) {
			add(c)
		}
	case NamesIdentity, NamesGroup:
		all, _ := d.Keystore().List()
		for _, e := range all {
			if kind == NamesIdentity {
				add(e.Name)
				continue
			}
			gs, _ := (&group.Store{Dir: d.GroupsDir()}).List(e.Name, e.Keys.AccountID().String())
			for _, g := range gs {
				add(g.Name)
			}
		}
	case NamesRoom:
		if m, err := d.ReadManifest(); err == nil {
			for _, s := range m.Servers {
				for _, r := range s.Rooms {
					add(r.Token)
				}
			}
		}
	case NamesSnapshot:
		snaps, _ := Snapshots(string(d))
		for _, s := range snaps {
			add(s.Name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// nodeNames are the running devnet's nodes (those that joined it too), else
// those of the devnet saved under d.
func (d Dir) nodeNames() []string {
	var out []string
	if m, err := d.ReadManifest(); err == nil {
		for _, n := range m.Nodes {
			out = append(out, n.Name)
		}
		return out
	}
	var st state
	if data, err := os.ReadFile(d.StateFile()); err == nil && json.Unmarshal(data, &st) == nil {
		for i := 0; i < st.Nodes && i < MaxWorkerNodes; i++ {
			out = append(out, NodeName(i))
		}
	}
	return out
}

// nodeNames names nodes by their Ed25519 keys (hex): the devnet's own and
// those that joined it. Safe for concurrent use; bounded by the nodes the
// ledger registers.
type nodeNames struct {
	mu    sync.RWMutex
	byKey map[string]string
}

func newNodeNames() *nodeNames { return &nodeNames{byKey: map[string]string{}} }

// of is the name of the node of key, "" for one the devnet does not know
// (node.Config.NameOf).
func (nn *nodeNames) of(key string) string {
	nn.mu.RLock()
	defer nn.mu.RUnlock()
	return nn.byKey[key]
}

func (nn *nodeNames) add(key, name string) {
	nn.mu.Lock()
	defer nn.mu.Unlock()
	nn.byKey[key] = name
}

// seedNames names the n nodes of a devnet of seed, deriving their keys the
// first time a name is asked (a node's own process: most never ask).
func seedNames(seed string, n int) func(key string) string {
	var once sync.Once
	nn := newNodeNames()
	return func(key string) string {
		once.Do(func() {
			for i := 0; i < n && i < MaxWorkerNodes; i++ {
				nn.add(pub(NodeKey(seed, i)), NodeName(i))
			}
		})
		return nn.of(key)
	}
}
