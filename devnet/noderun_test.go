package devnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
)

// A node run on its own joins a network: the faucet pays its stake, it
// registers, serves, writes its ready file; run again it is known.
func TestRunNodeRegistersAndServes(t *testing.T) {
	nw := StartT(t, Config{Nodes: 5})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var logs bytes.Buffer
	data := filepath.Join(t.TempDir(), "n1")
	cfg := NodeConfig{Data: data, Ledger: ledgerrpc.NewClient(nw.LedgerURL(), ""), Servers: nw.servers(),
		Fund: func(ctx context.Context, wallet string, amount uint64) error {
			_, _, err := nw.Fund(ctx, wallet, amount)
			return err
		}, Logger: zerolog.New(zerolog.SyncWriter(&logs))}
	r, err := RunNode(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	info := r.Info()
	var ready NodeInfo
	b, err := os.ReadFile(filepath.Join(data, "node.json"))
	if err != nil || json.Unmarshal(b, &ready) != nil || ready.PeerID != info.PeerID || ready.Key != info.Key || ready.PID != os.Getpid() || ready.Data != data {
		t.Fatalf("ready file %s (%v), want %+v", b, err, info)
	}
	if sn, ok := nw.Ledger.Node(info.Key); !ok || sn.Operator == "" {
		t.Fatalf("not registered: %+v", sn)
	}
	for _, f := range []string{"node.key", "operator.key", "node.json"} {
		if st, err := os.Stat(filepath.Join(data, f)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, st.Mode(), err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, "node.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the ready file outlived the node")
	}
	if _, open := <-r.Err(); open {
		t.Fatal("Err is open after Close")
	}
	// The same data again: the same node, registered already.
	r2, err := RunNode(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	r2.Close()
	if r2.Info().Key != info.Key || !strings.Contains(logs.String(), "already registered") {
		t.Fatalf("run again: key %s, logs %s", r2.Info().Key, logs.String())
	}
}

func TestRunNodeRefuses(t *testing.T) {
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose.key")
	os.WriteFile(loose, []byte(strings.Repeat("01", 32)), 0o644)
	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("not hex"), 0o600)
	for _, path := range []string{loose, bad} {
		if _, err := ReadKeyFile(path); errkind.Of(err) != errkind.Invalid {
			t.Errorf("ReadKeyFile(%s): %v", filepath.Base(path), err)
		}
	}
	good := filepath.Join(dir, "good.key")
	os.WriteFile(good, []byte(strings.Repeat("02", 32)+"\n"), 0o600)
	if k, err := ReadKeyFile(good); err != nil || len(k) != 64 {
		t.Fatalf("ReadKeyFile(good): %v", err)
	}
	// No faucet, no stake: said, and nothing runs.
	nw := StartT(t, Config{Nodes: 4})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := RunNode(ctx, NodeConfig{Data: filepath.Join(dir, "poor"), Ledger: ledgerrpc.NewClient(nw.LedgerURL(), "")})
	if err == nil || !strings.Contains(err.Error(), "without the devnet's faucet") {
		t.Fatalf("a node without a stake: %v", err)
	}
}

// A node's process, as a devnet runs one: asked on stdin, ready on stdout,
// stopped when stdin ends.
func TestNodeProcess(t *testing.T) {
	nw := StartT(t, Config{Nodes: 5})
	if err := nw.StopNode(4); err != nil {
		t.Fatal(err)
	}
	req, _ := json.Marshal(procConfig{Data: filepath.Join(t.TempDir(), "node-5"), Ledger: nw.LedgerURL(), Seed: "sessionctl", Index: 4,
		Servers: nw.servers(), Listen: "/ip4/127.0.0.1/tcp/0", HTTPS: "127.0.0.1:0", LogLevel: "info"})
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- NodeProcess(context.Background(), stdinR, stdoutW, &stderr) }()
	go stdinW.Write(append(req, '\n'))
	var info NodeInfo
	if err := json.NewDecoder(stdoutR).Decode(&info); err != nil {
		t.Fatal(err)
	}
	if info.Key != nw.NodeKey(4) || info.PeerID == "" || info.HTTPS == "" {
		t.Fatalf("the process runs %+v, want node-5 (%.16s)", info, nw.NodeKey(4))
	}
	go io.Copy(io.Discard, stdoutR)
	stdinW.Close() // the devnet stops it
	select {
	case err := <-done:
		stdoutW.Close()
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the node process did not stop when its stdin ended")
	}
	// A malformed request: an error, said on stderr as a JSON line.
	stderr.Reset()
	err := NodeProcess(context.Background(), strings.NewReader(`{"index": -1}`), io.Discard, &stderr)
	if err == nil || !strings.Contains(stderr.String(), `"level":"error"`) {
		t.Fatalf("a malformed request: %v, stderr %s", err, stderr.String())
	}
}
