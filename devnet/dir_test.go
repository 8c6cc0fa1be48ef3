package devnet

import (
	"context"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionctl/sessionctl/device"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/atomicfile"
	"github.com/sessionctl/sessionctl/internal/errkind"
)

func TestDirLayout(t *testing.T) {
	d := Dir("/x")
	for got, want := range map[string]string{
		d.ManifestFile():         "/x/devnet.json",
		d.StateFile():            "/x/devnet/state.json",
		d.LockFile():             "/x/devnet/lock",
		d.KeysDir():              "/x/keys",
		d.ClientState("bob"):     "/x/clients/bob.json",
		d.GroupInboxState("bob"): "/x/clients/bob.groups.json",
		d.GroupsDir():            "/x/groups",
		d.LedgerDB():             "/x/ledger/ledger.db",
		d.LedgerEndpointFile():   "/x/ledger/endpoint.json",
		d.NodeData("node-3"):     "/x/nodes/node-3",
		d.LogsDir():              "/x/logs",
		d.SnapshotsDir():         "/x/snapshots",
		d.SecretFile():           "/x/secret.key",
	} {
		if got != filepath.FromSlash(want) {
			t.Errorf("%s, want %s", got, want)
		}
	}
}

func TestDirFindsNothingRunning(t *testing.T) {
	d := Dir(t.TempDir())
	if _, err := d.Ledger(context.Background(), "", ""); errkind.Of(err) != errkind.NotRunning || !strings.Contains(err.Error(), "no devnet or ledger is running under") {
		t.Fatalf("Ledger: %v", err)
	}
	if _, err := d.Server(FileServer); errkind.Of(err) != errkind.NotRunning {
		t.Fatalf("Server: %v", err)
	}
	if _, err := d.ReadLedgerEndpoint(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadLedgerEndpoint: %v", err)
	}
	if len(d.NodeNames()) != 0 {
		t.Fatal("names from nowhere")
	}
	// A damaged endpoint file says so, and which file.
	if err := atomicfile.Write(d.LedgerEndpointFile(), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Ledger(context.Background(), "", ""); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), d.LedgerEndpointFile()) {
		t.Fatalf("damaged endpoint: %v", err)
	}
}

func TestDirServersAndNames(t *testing.T) {
	d := Dir(t.TempDir())
	key := strings.Repeat("ab", 32)
	m := Manifest{Format: FormatVersion, Nodes: []ManifestNode{{Name: "node-1", Ed25519Pubkey: "k1"}},
		Servers: []ManifestServer{{Kind: FileServer, URL: "http://127.0.0.1:1", X25519Pubkey: key}, {Kind: CommunityServer, URL: "http://c", X25519Pubkey: "zz"}}}
	if err := writeJSONFile(d.ManifestFile(), &m); err != nil {
		t.Fatal(err)
	}
	fs, err := d.Server(FileServer)
	if err != nil || fs.URL != "http://127.0.0.1:1" || hex.EncodeToString(fs.X25519[:]) != key {
		t.Fatalf("file server: %+v, %v", fs, err)
	}
	if _, err := d.Server(CommunityServer); !errors.Is(err, ErrDamaged) {
		t.Fatalf("a malformed key: %v", err)
	}
	if _, err := d.Server("mail"); !errors.Is(err, ErrNoServer) {
		t.Fatalf("no such server: %v", err)
	}
	if n := d.NodeNames(); n["k1"] != "node-1" {
		t.Fatalf("NodeNames = %v", n)
	}
	ks := d.Keystore()
	alice := ClientKeys("s", "alice")
	if _, err := ks.Create("alice", alice); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Link("phone", mustGet(t, ks, "alice")); err != nil {
		t.Fatal(err)
	}
	w, err := d.Wallet("alice")
	if err != nil || w != hex.EncodeToString(alice.Ed25519Public()) {
		t.Fatalf("Wallet(alice) = %s, %v", w, err)
	}
	if w, err := d.Wallet(strings.ToUpper(key)); err != nil || w != key {
		t.Fatalf("Wallet(hex) = %s, %v", w, err)
	}
	if _, err := d.Wallet("../x"); !errors.Is(err, identity.ErrNameInvalid) {
		t.Fatalf("Wallet(../x): %v", err)
	}
	if _, err := os.Stat(d.KeysDir()); err != nil {
		t.Fatal(err)
	}
}

func mustGet(t *testing.T, ks *identity.Keystore, name string) *identity.Entry {
	t.Helper()
	e, err := ks.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var _ device.SentShower = Dir("")
