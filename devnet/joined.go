package devnet

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/sessionctl/sessionctl/chain"
)

// The nodes that joined a devnet from processes of their own ('node run',
// 'node join'): registered on its ledger under keys that are not the
// devnet's. The devnet names each the first time it sees it, after its own
// (node-13 in a devnet of 12), and keeps the names in devnet/joined.json:
// 'node ls', 'devnet status', the manifest and the logs name them so. It
// neither started nor can stop them.

// maxJoined bounds the names kept: a ledger that registered more nodes
// than that names the rest by their keys.
const maxJoined = MaxNodes

// What joined.json may hold: names as the devnet gives them, keys in hex.
var (
	joinedNameRE = lazyRegexp(`^node-[1-9][0-9]{0,4}$`)
	joinedKeyRE  = lazyRegexp(`^[0-9a-f]{64}$`)
)

// JoinedNode is a node named by the devnet it joined.
type JoinedNode struct {
	Name string `json:"name"`
	Key  string `json:"ed25519_pubkey"`
}

// joinedFile is devnet/joined.json.
type joinedFile struct {
	Format int          `json:"format"`
	Nodes  []JoinedNode `json:"nodes"`
}

// joined are the nodes that joined, in the order they were named.
type joined struct {
	mu    sync.Mutex
	path  string
	own   int // the devnet's own nodes: the names go on from node-(own+1)
	nodes []JoinedNode
}

// loadJoined reads the names given so far under d (none the first time).
func loadJoined(d Dir, own int) (*joined, error) {
	j := &joined{path: d.path("devnet", "joined.json"), own: own}
	data, err := os.ReadFile(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, err
	}
	var f joinedFile
	if err := json.Unmarshal(data, &f); err != nil || f.Format != FormatVersion || len(f.Nodes) > maxJoined {
		return nil, fmt.Errorf("%w: %s", ErrFormat, j.path)
	}
	for _, n := range f.Nodes {
		if !joinedNameRE().MatchString(n.Name) || !joinedKeyRE().MatchString(n.Key) {
			return nil, fmt.Errorf("%w: %s: node %q", ErrFormat, j.path, n.Name)
		}
	}
	j.nodes = f.Nodes
	return j, nil
}

// list returns the joined nodes, in the order they were named.
func (j *joined) list() []JoinedNode {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.nodes)
}

// name names the nodes of the ledger that names does not know (neither the
// devnet's own nor named before), in the order they registered, adds them
// to names and saves them; it reports whether it named any.
func (j *joined) name(nodes []chain.ServiceNode, names *nodeNames) (bool, error) {
	var fresh []chain.ServiceNode
	for _, n := range nodes {
		if names.of(n.Key) == "" {
			fresh = append(fresh, n)
		}
	}
	if len(fresh) == 0 {
		return false, nil
	}
	slices.SortFunc(fresh, func(a, b chain.ServiceNode) int {
		return cmp.Or(cmp.Compare(a.RegistrationHeight, b.RegistrationHeight), strings.Compare(a.Key, b.Key))
	})
	j.mu.Lock()
	defer j.mu.Unlock()
	named := false
	for _, n := range fresh {
		if len(j.nodes) == maxJoined {
			break
		}
		jn := JoinedNode{Name: NodeName(j.own + len(j.nodes)), Key: n.Key}
		j.nodes = append(j.nodes, jn)
		names.add(jn.Key, jn.Name)
		named = true
	}
	if !named {
		return false, nil
	}
	return true, writeJSONFile(j.path, joinedFile{Format: FormatVersion, Nodes: j.nodes})
}

// nameJoined names the nodes that joined since it last looked.
func (d *Devnet) nameJoined() (bool, error) {
	return d.joined.name(d.Network.Ledger.Nodes(), d.Network.names)
}

// followJoined names the nodes that join while the devnet runs, looking
// at each block that changes how many nodes the ledger registers, and
// rewrites the manifest when it named one. It returns when ctx ends or the
// ledger stops.
func (d *Devnet) followJoined(ctx context.Context) {
	count := d.Network.Ledger.Info().Nodes
	for {
		info, err := d.Network.Ledger.WaitHeight(ctx, d.Network.Ledger.Info().Height+1)
		if err != nil {
			return
		}
		if info.Nodes == count {
			continue
		}
		count = info.Nodes
		named, err := d.nameJoined()
		if err != nil {
			d.log.Error().Err(err).Msg("name the nodes that joined")
		}
		if named {
			d.writeManifestLogged()
		}
	}
}
