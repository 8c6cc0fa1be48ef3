package devnet

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
)

// Dir is a devnet's directory (the command line's --dir). It owns the
// layout of everything under it, and finds what runs there:
//
//	devnet.json              the manifest of the devnet running (Manifest; its ready file)
//	devnet/state.json        what a devnet saves to resume; devnet/lock, held while one runs
//	devnet/joined.json       the names it gave the nodes that joined it (joined.go)
//	secret.key               the devnet's secret (secret.go)
//	keys/NAME.json           the identities (identity.Keystore)
//	clients/NAME.json        an identity's client state: what it read and sent
//	clients/NAME.groups.json its state for reading group invites
//	groups/                  the closed groups' state, by device
//	ledger/ledger.db         the chain; ledger/endpoint.json: a ledger served alone (its ready file)
//	nodes/node-N/            a node's keys and database
//	fileserver/, community/  the servers' state
//	logs/                    the logs (package logs)
//	snapshots/NAME/          saved devnets (snapshot.go)
//
// A Dir is a path; its methods that build a path from a name are given names
// that a keystore has checked (identity.ValidName).
type Dir string

// The paths of the layout.
func (d Dir) path(elem ...string) string {
	return filepath.Join(append([]string{string(d)}, elem...)...)
}

// ManifestFile is where a ready devnet describes itself (mode 0600).
func (d Dir) ManifestFile() string { return d.path("devnet.json") }

// StateFile is what a devnet saves to resume.
func (d Dir) StateFile() string { return d.path("devnet", "state.json") }

// LockFile is held (flock) while a devnet runs in the directory.
func (d Dir) LockFile() string { return d.path("devnet", "lock") }

// KeysDir holds the keystore.
func (d Dir) KeysDir() string { return d.path("keys") }

// Keystore is the identities of the directory.
func (d Dir) Keystore() *identity.Keystore { return identity.OpenKeystore(d.KeysDir()) }

// ClientState is identity name's client state: what it read and sent.
func (d Dir) ClientState(name string) string { return d.path("clients", name+".json") }

// GroupInboxState is identity name's client state for reading its group
// invites and promotions (apart from ClientState, so that 'fetch' still
// shows them).
func (d Dir) GroupInboxState(name string) string { return d.path("clients", name+".groups.json") }

// GroupsDir holds the closed groups' state, by device.
func (d Dir) GroupsDir() string { return d.path("groups") }

// LedgerDB is the chain's database.
func (d Dir) LedgerDB() string { return d.path("ledger", "ledger.db") }

// LedgerEndpointFile is a ledger served alone's ready file (LedgerEndpoint).
func (d Dir) LedgerEndpointFile() string { return d.path("ledger", "endpoint.json") }

// NodeData is the data directory of the devnet's node called name (node-3).
func (d Dir) NodeData(name string) string { return d.path("nodes", name) }

// FileServerDir and CommunityDir hold the servers' state.
func (d Dir) FileServerDir() string { return d.path("fileserver") }
func (d Dir) CommunityDir() string  { return d.path("community") }

// LogsDir holds the logs.
func (d Dir) LogsDir() string { return d.path("logs") }

// SnapshotsDir holds the saved snapshots.
func (d Dir) SnapshotsDir() string { return d.path("snapshots") }

// SecretFile holds the devnet's secret.
func (d Dir) SecretFile() string { return d.path(secretFile) }

// ManifestPath is Dir(dir).ManifestFile().
func ManifestPath(dir string) string { return Dir(dir).ManifestFile() }

// ReadManifest reads the manifest; ErrNotRunning when there is none.
func (d Dir) ReadManifest() (*Manifest, error) { return ReadManifest(string(d)) }

// LedgerEndpoint is the ready file of a ledger served alone (ServeLedger):
// how to reach it.
type LedgerEndpoint struct {
	URL   string `json:"url"`
	Token string `json:"token"` // guards mining
	PID   int    `json:"pid"`
	Seed  string `json:"seed"`
}

// ErrDamaged is a file of the directory that cannot be read as what it
// should hold.
var ErrDamaged = errors.New("damaged")

// ReadLedgerEndpoint reads the ready file of a ledger served alone:
// fs.ErrNotExist when none runs.
func (d Dir) ReadLedgerEndpoint() (LedgerEndpoint, error) {
	var ep LedgerEndpoint
	data, err := os.ReadFile(d.LedgerEndpointFile())
	if err != nil {
		return ep, err
	}
	if err := json.Unmarshal(data, &ep); err != nil || ep.URL == "" {
		return ep, fmt.Errorf("%s is %w; stop the ledger and start it again", d.LedgerEndpointFile(), ErrDamaged)
	}
	return ep, nil
}

// Ledger finds the ledger: url when given, else the devnet running in the
// directory (its ledger, guarded by the control token), else a ledger
// served alone there; and checks that it answers (within 5 s). Nothing
// there is an errkind.NotRunning error; one that does not answer is
// ledgerrpc's error.
func (d Dir) Ledger(ctx context.Context, url, token string) (*ledgerrpc.Client, error) {
	if m, err := d.ReadManifest(); url == "" && err == nil {
		url = m.Ledger.URL
		if token == "" {
			token = m.Control.Token // the devnet guards its ledger with the control token
		}
	}
	if url == "" {
		ep, err := d.ReadLedgerEndpoint()
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errkind.AsNotRunning(fmt.Errorf("no devnet or ledger is running under %s; start one with 'sessionctl devnet up' or pass --ledger URL", d))
		}
		if err != nil {
			return nil, err
		}
		url = ep.URL
		if token == "" {
			token = ep.Token
		}
	}
	lc := ledgerrpc.NewClient(url, token)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := lc.Info(ctx); err != nil {
		return nil, err
	}
	return lc, nil
}

// Wallet reads a wallet: a hex Ed25519 public key, or an identity of the
// keystore (a name or an Account ID), whose Ed25519 key it is.
func (d Dir) Wallet(arg string) (string, error) {
	if len(arg) == 64 {
		if b, err := hex.DecodeString(arg); err == nil && len(b) == 32 {
			return hex.EncodeToString(b), nil
		}
	}
	e, err := d.Keystore().Resolve(arg)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(e.Keys.Ed25519Public()), nil
}

// NodeNames maps the running devnet's node keys (Ed25519, hex) to their
// names; empty when none runs.
func (d Dir) NodeNames() map[string]string {
	out := map[string]string{}
	if m, err := d.ReadManifest(); err == nil {
		for _, n := range m.Nodes {
			out[n.Ed25519Pubkey] = n.Name
		}
	}
	return out
}
