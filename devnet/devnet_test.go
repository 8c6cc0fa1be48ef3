package devnet

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/community"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/ledger"
	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: Close
// must stop every node, server and loop a devnet started.
func TestMain(m *testing.M) {
	// As a devnet's node process or worker (Config.Exe is this binary).
	if os.Getenv(NodeProcessEnv) != "" {
		if NodeProcess(context.Background(), os.Stdin, os.Stdout, os.Stderr) != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	// As a helper process: hold a devnet directory's lock and never answer.
	if dir := os.Getenv("SESSIONCTL_TEST_HOLD_LOCK"); dir != "" {
		if _, err := lockDir(dir); err != nil {
			os.Exit(2)
		}
		os.WriteFile(filepath.Join(dir, "held"), nil, 0o600)
		select {}
	}
	// As a helper process: run a devnet in a directory until killed.
	if dir := os.Getenv("SESSIONCTL_TEST_DEVNET"); dir != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		_, err := Up(ctx, UpConfig{Dir: dir, Nodes: 7, BlockTime: time.Second})
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper devnet:", err)
			os.Exit(2)
		}
		select {}
	}
	goleak.VerifyTestMain(m)
}

func up(t *testing.T, cfg UpConfig) *Devnet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := Up(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// layout is what must be the same for the same seed.
func layout(m Manifest) any {
	type n struct{ Name, Ed, X, Peer, Swarm string }
	var out []any
	for _, x := range m.Nodes {
		out = append(out, n{x.Name, x.Ed25519Pubkey, x.X25519Pubkey, x.PeerID, x.SwarmID})
	}
	return []any{out, m.Clients}
}

func TestSameSeedSameNetwork(t *testing.T) {
	a := up(t, UpConfig{Dir: t.TempDir(), Nodes: 14, Seed: "same"})
	ma := a.Manifest()
	a.Close()
	b := up(t, UpConfig{Dir: t.TempDir(), Nodes: 14, Seed: "same"})
	mb := b.Manifest()
	b.Close()
	if !reflect.DeepEqual(layout(ma), layout(mb)) {
		t.Fatal("two fresh devnets with one seed differ")
	}
	c := up(t, UpConfig{Dir: t.TempDir(), Nodes: 14, Seed: "other"})
	mc := c.Manifest()
	c.Close()
	if reflect.DeepEqual(layout(ma), layout(mc)) {
		t.Fatal("another seed made the same devnet")
	}
}

// TestResumeKeepsMessages: down, up again: same keys, chain and messages;
// the ports of the first run are closed.
func TestResumeKeepsMessages(t *testing.T) {
	dir := t.TempDir()
	d := up(t, UpConfig{Dir: dir, Nodes: 7})
	m1 := d.Manifest()
	ctx := context.Background()
	bob := ClientKeys(m1.Seed, "bob")
	alice := clientT(t, d.Network.LedgerURL(), client.Config{Keys: ClientKeys(m1.Seed, "alice")})
	res, err := alice.Send(ctx, bob.AccountID(), "kept")
	if err != nil {
		t.Fatal(err)
	}
	alice.Close()
	height := d.Network.Ledger.Info().Height
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	for _, addr := range append([]string{m1.Ledger.URL, m1.Control.URL}, m1.Nodes[0].Addrs...) {
		hostport := addr[strings.LastIndex(addr, "/")+1:]
		if strings.HasPrefix(addr, "/ip4/") {
			parts := strings.Split(addr, "/")
			hostport = net.JoinHostPort(parts[2], parts[4])
		}
		if c, err := net.DialTimeout("tcp", hostport, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after down", addr)
		}
	}
	if _, err := ReadManifest(dir); err == nil {
		t.Fatal("the manifest outlives the devnet")
	}

	d2 := up(t, UpConfig{Dir: dir})
	defer d2.Close()
	if !reflect.DeepEqual(m1.Clients, d2.Manifest().Clients) || d2.Network.NodeKey(3) != m1.Nodes[3].Ed25519Pubkey {
		t.Fatal("the resumed devnet has other keys")
	}
	if h := d2.Network.Ledger.Info().Height; h < height {
		t.Fatalf("the chain went back from %d to %d", height, h)
	}
	bc := clientT(t, d2.Network.LedgerURL(), client.Config{Keys: bob})
	msgs, _, err := bc.Fetch(ctx)
	if err != nil || len(msgs) != 1 || msgs[0].Hash != res.Hash {
		t.Fatalf("after resume bob got %+v, %v", msgs, err)
	}
}

func TestUpRefuses(t *testing.T) {
	dir := t.TempDir()
	d := up(t, UpConfig{Dir: dir, Nodes: 5, Seed: "s1"})
	if _, err := Up(context.Background(), UpConfig{Dir: dir}); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("a second devnet in the same directory: %v", err)
	}
	d.Close()
	for _, cfg := range []UpConfig{{Dir: dir, Seed: "s2"}, {Dir: dir, Nodes: 6}, {Dir: dir, Clients: []string{"dave"}}} {
		if _, err := Up(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "contradict") {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
	// A user's identity named like a devnet client is never overwritten.
	dir2 := t.TempDir()
	k, _ := identity.NewAccount(rand.Reader)
	identity.OpenKeystore(filepath.Join(dir2, "keys")).Create("alice", k)
	if _, err := Up(context.Background(), UpConfig{Dir: dir2, Nodes: 5}); err == nil || !strings.Contains(err.Error(), "another identity named") {
		t.Fatalf("up over a user's alice: %v", err)
	}
}

func TestControlNeedsToken(t *testing.T) {
	d := up(t, UpConfig{Dir: t.TempDir(), Nodes: 5})
	defer d.Close()
	m := d.Manifest()
	bad := m
	bad.Control.Token = "wrong"
	cc := &ControlClient{m: &bad, hc: http2()}
	if _, err := cc.Status(context.Background()); err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("status with a wrong token: %v", err)
	}
	good := &ControlClient{m: &m, hc: http2()}
	if err := good.Kill(context.Background(), "node-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := good.Restart(context.Background(), "node-2"); err != nil {
		t.Fatal(err)
	}
	if err := good.Kill(context.Background(), "node-9"); err == nil {
		t.Fatal("killed a node that does not exist")
	}
}

func http2() *http.Client { return &http.Client{Timeout: 10 * time.Second} }

// TestTraffic: with Traffic, the clients' messages reach the nodes, and
// the dashboard shows them as sends.
func TestTraffic(t *testing.T) {
	d := up(t, UpConfig{Dir: t.TempDir(), Nodes: 5, Traffic: true})
	defer d.Close()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		total := 0
		for _, n := range d.Network.Nodes() {
			c, _ := n.MessageCount(context.Background())
			total += c
		}
		if _, last := d.dash.reqs.list(0); total > 0 && last != nil && slices.Contains(d.st.Clients, last.From) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no traffic message reached the nodes and the dashboard in 30 s")
}

// TestSeedRevealsNoControl: the seed is public, so nothing that controls the
// devnet derives from it: the operator wallets that staked the nodes and the
// ledger's authority are the devnet's own secrets, kept 0600 under --dir.
func TestSeedRevealsNoControl(t *testing.T) {
	dir := t.TempDir()
	d := up(t, UpConfig{Dir: dir, Nodes: 7, Seed: "public"})
	defer d.Close()
	info := d.Network.Ledger.Info()
	for i := range 7 {
		op := derive("public", "operator", i) // how operator wallets were made before
		if a, _ := d.Network.Ledger.Account(pub(op)); a.Balance != 0 || a.NextNonce != 0 {
			t.Fatalf("the seed gives operator %d's wallet: %+v", i, a)
		}
	}
	if info.Authority == pub(ledger.LegacyAuthorityKey("public")) {
		t.Fatal("the ledger's authority derives from the seed")
	}
	for _, f := range []string{filepath.Join(dir, "secret.key"), filepath.Join(dir, "ledger", "authority.key")} {
		st, err := os.Stat(f)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v", f, err, st.Mode())
		}
	}
	// The operators exist: every node is staked by a wallet of the secret.
	sec, _ := LoadSecret(dir)
	if a, _ := d.Network.Ledger.Account(pub(deriveSecret(sec, "operator", 0))); a.NextNonce == 0 {
		t.Fatal("operator 0 of the secret staked nothing")
	}
}

// TestDownStopsASickDevnet: a devnet process that holds its directory but
// does not answer its control endpoint is reported as running but not
// answering, and down stops it (SIGTERM), watching the lock, not the pid.
func TestDownStopsASickDevnet(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SESSIONCTL_TEST_HOLD_LOCK="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	// A control endpoint that accepts and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	for !Locked(dir) {
		select {
		case <-exited:
			t.Fatal("the helper did not take the lock")
		case <-time.After(10 * time.Millisecond):
		}
	}
	m := Manifest{Format: FormatVersion, PID: cmd.Process.Pid, Control: Endpoint{URL: "http://" + ln.Addr().String(), Token: "t"}}
	if err := writeJSONFile(ManifestPath(dir), &m); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cc, err := Dial(ctx, dir)
	if !errors.Is(err, ErrUnresponsive) || cc == nil {
		t.Fatalf("dial a stuck devnet: %v", err)
	}
	if err := cc.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if Locked(dir) {
		t.Fatal("down returned while the devnet holds its directory")
	}
	<-exited
	ln.Close()
	if _, err := Dial(ctx, dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("after down: %v", err)
	}
}

// TestControlKeepsSentinels: errors cross the control protocol as codes and
// come back as the sentinels callers test with errors.Is.
func TestControlKeepsSentinels(t *testing.T) {
	dir := t.TempDir()
	d := up(t, UpConfig{Dir: dir, Nodes: 5})
	defer d.Close()
	ctx := context.Background()
	cc, err := Dial(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := cc.Kill(ctx, "node-99"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("kill an unknown node: %v", err)
	}
	if err := cc.Kill(ctx, "node-2"); err != nil {
		t.Fatal(err)
	}
	if err := cc.Kill(ctx, "node-2"); !errors.Is(err, ErrNodeStopped) || !strings.Contains(err.Error(), "node-2") {
		t.Errorf("kill a stopped node: %v", err)
	}
	if err := cc.AddRoom(ctx, "lobby", ""); !errors.Is(err, community.ErrRoomExists) {
		t.Errorf("add an existing room: %v", err)
	}
	if err := cc.AddRoom(ctx, "Bad Token", ""); !errors.Is(err, community.ErrRoomToken) {
		t.Errorf("add a malformed room: %v", err)
	}
}

// TestResumeKeepsBlockTime: a resumed devnet runs at the block time it was
// saved with, unless one is given (which is then saved).
func TestResumeKeepsBlockTime(t *testing.T) {
	dir := t.TempDir()
	d := up(t, UpConfig{Dir: dir, Nodes: 5, BlockTime: 250 * time.Millisecond})
	d.Close()
	d = up(t, UpConfig{Dir: dir})
	if got := d.Network.Ledger.Info().BlockTimeMS; got != 250 {
		t.Fatalf("resumed with a block time of %d ms, want 250", got)
	}
	d.Close()
	d = up(t, UpConfig{Dir: dir, BlockTime: 2 * time.Second})
	d.Close()
	d = up(t, UpConfig{Dir: dir})
	defer d.Close()
	if got := d.Network.Ledger.Info().BlockTimeMS; got != 2000 {
		t.Fatalf("after a given block time, resumed with %d ms, want 2000", got)
	}
}

// TestOpenBindsNothing: Open takes the directory and builds the network but
// listens on nothing and writes no manifest; Close before Start frees the
// directory, and a second Start is refused.
func TestOpenBindsNothing(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(UpConfig{Dir: dir, Nodes: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(UpConfig{Dir: dir}); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Open: %v, want ErrRunning", err)
	}
	if _, err := ReadManifest(dir); err == nil {
		t.Fatal("a manifest before Start")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err == nil {
		t.Fatal("Start after Close succeeded")
	}
	d, err = Open(UpConfig{Dir: dir})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadManifest(dir); err != nil {
		t.Fatalf("no manifest after Start: %v", err)
	}
	if err := d.Start(ctx); err == nil {
		t.Fatal("a second Start succeeded")
	}
}

// TestFileLimitSaidOnce: a devnet too large for the open-file limit is
// refused in one line that says the numbers and what to do, before
// anything starts.
func TestFileLimitSaidOnce(t *testing.T) {
	old := fileLimit
	fileLimit = func() (uint64, error) { return 4096, nil }
	defer func() { fileLimit = old }()
	dir := t.TempDir()
	_, err := Open(UpConfig{Dir: dir, Nodes: 2000})
	if !errors.Is(err, ErrFileLimit) || !strings.Contains(err.Error(), "2000 nodes need about 16200 open files") ||
		!strings.Contains(err.Error(), "use at most 487 nodes") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Open: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nodes")); err == nil {
		t.Fatal("a node was made before the refusal")
	}
	// The lock is free again: a smaller devnet opens.
	d, err := Open(UpConfig{Dir: dir, Nodes: 12})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
}
