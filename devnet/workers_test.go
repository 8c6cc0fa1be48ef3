//go:build unix

package devnet

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
)

// TestWorkers: 40 nodes over 3 worker processes (this test binary, as a
// worker): they register, serve a send and a fetch; one node stops and
// starts again in its worker; a worker killed behind the devnet's back is
// reported through each of its nodes, and a restart starts a new worker.
func TestWorkers(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan int, 64)
	nw := StartT(t, Config{Nodes: 40, Workers: 3, Exe: exe, OnExit: func(i int, _ string) { exited <- i }})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if n := nw.RunningCount(); n != 40 {
		t.Fatalf("%d nodes running, want 40", n)
	}
	pids := map[int]bool{}
	for i := range 40 {
		info, _ := nw.NodeInfo(i)
		pids[info.PID] = true
		if sn, ok := nw.Ledger.Node(nw.NodeKey(i)); !ok || sn.State != chain.StateActive || sn.PeerID != info.PeerID {
			t.Fatalf("%s on the ledger: %+v (%v), want active as %s", NodeName(i), sn, ok, info.PeerID)
		}
	}
	if len(pids) != 3 || pids[os.Getpid()] {
		t.Fatalf("the nodes run in processes %v, want 3 workers", pids)
	}
	checkWorkerNice(t, pids)

	alice := clientT(t, nw.LedgerURL(), client.Config{Keys: ClientKeys("sessionctl", "alice")})
	bob := clientT(t, nw.LedgerURL(), client.Config{Keys: ClientKeys("sessionctl", "bob")})
	res, err := alice.Send(ctx, bob.AccountID(), "over workers")
	if err != nil {
		t.Fatal(err)
	}
	if msgs, _, err := bob.Fetch(ctx); err != nil || len(msgs) != 1 || msgs[0].Hash != res.Hash {
		t.Fatalf("bob fetched %+v, %v", msgs, err)
	}

	// One node stops in its worker, and starts again there.
	before, _ := nw.NodeInfo(5)
	if err := nw.StopNode(5); err != nil {
		t.Fatal(err)
	}
	if nw.Running(5) || nw.RunningCount() != 39 {
		t.Fatalf("node-6 stopped: running %v, %d running", nw.Running(5), nw.RunningCount())
	}
	if err := nw.StopNode(5); !errors.Is(err, ErrNodeStopped) {
		t.Fatalf("a stopped node stopped again: %v", err)
	}
	if err := nw.StartNode(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if err := nw.StartNode(ctx, 5); !errors.Is(err, ErrNodeRunning) {
		t.Fatalf("a running node started again: %v", err)
	}
	after, _ := nw.NodeInfo(5)
	if after.PID != before.PID || after.PeerID != before.PeerID {
		t.Fatalf("node-6 restarted as %+v, want in its worker (pid %d)", after, before.PID)
	}
	if err := nw.AwaitPublished(ctx, 5); err != nil {
		t.Fatal(err)
	}

	// A worker killed: each of its nodes is reported, named by its worker.
	victim, _ := nw.NodeInfo(39)
	lo, hi := shardRange(2, 3, 40)
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for range hi - lo {
		select {
		case i := <-exited:
			if i < lo || i >= hi {
				t.Fatalf("%s reported exited, not a node of the killed worker", NodeName(i))
			}
		case <-ctx.Done():
			t.Fatalf("the killed worker's nodes were not all reported: %v", ctx.Err())
		}
	}
	if e := nw.Exited(39); !strings.Contains(e, "worker-3") || !strings.Contains(e, "killed") {
		t.Fatalf("node-40 exited: %q, want its worker named, killed", e)
	}
	if n := nw.RunningCount(); n != 40-(hi-lo) {
		t.Fatalf("%d nodes running after the worker died, want %d", n, 40-(hi-lo))
	}
	if err := nw.StartNode(ctx, 39); err != nil {
		t.Fatal(err)
	}
	if info, _ := nw.NodeInfo(39); info.PID == victim.PID || nw.Exited(39) != "" {
		t.Fatalf("node-40 restarted in pid %d (the dead worker's %d), exit %q", info.PID, victim.PID, nw.Exited(39))
	}
	if err := nw.StartNode(ctx, 38); err != nil { // the new worker takes its range's orders
		t.Fatal(err)
	}
	if a, b := nw.nodeInfo(t, 38), nw.nodeInfo(t, 39); a.PID != b.PID {
		t.Fatalf("node-39 and node-40 run in pids %d and %d, want their range's one worker", a.PID, b.PID)
	}
	if err := nw.Close(); err != nil {
		t.Fatal(err)
	}
}

func (nw *Network) nodeInfo(t *testing.T, i int) NodeInfo {
	t.Helper()
	info, ok := nw.NodeInfo(i)
	if !ok {
		t.Fatalf("%s is not running", NodeName(i))
	}
	return info
}

// TestWorkersRefused: numbers of workers that cannot host the nodes.
func TestWorkersRefused(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Nodes: 4, Workers: 5, Exe: "sessionctl"}, "more workers than the 4 nodes"},
		{Config{Nodes: 4, Workers: -1, Exe: "sessionctl"}, "want at least 1"},
		{Config{Nodes: NoNodes, Workers: 2, Exe: "sessionctl"}, "no nodes of its own"},
		{Config{Nodes: 4, Workers: 2}, "needs Exe"},
		{Config{Nodes: 2001}, "want 1 to 2000"},
		{Config{Nodes: 10001, Workers: 4, Exe: "sessionctl"}, "want 1 to 10000"},
	} {
		c.cfg.Dir = t.TempDir()
		if _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
	dir := t.TempDir()
	for _, c := range []struct {
		cfg  UpConfig
		want string
	}{
		{UpConfig{Dir: dir, Nodes: 5, Workers: 6, Exe: "sessionctl"}, "more workers than the 5 nodes"},
		{UpConfig{Dir: dir, Nodes: 3000}, "add --workers K"},
	} {
		_, err := Open(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) || errkind.Of(err) != errkind.Invalid {
			t.Errorf("%+v: %v, want an invalid-input error saying %q", c.cfg, err, c.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused devnet left %d files in its directory", len(entries))
	}
}

// A worker's nodes share one long poll, one node list fetch and one round
// fetch (once its quorums are drawn) a ledger state: counted at the RPC.
func TestSharedLedger(t *testing.T) {
	nw := StartT(t, Config{Nodes: 12})
	target, _ := url.Parse(nw.LedgerURL())
	var mu sync.Mutex
	asked := map[string]int{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked[strings.SplitN(strings.TrimPrefix(r.URL.Path, "/v1/"), "/", 2)[0]]++
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	count := func(what string) int {
		mu.Lock()
		defer mu.Unlock()
		return asked[what]
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := newSharedLedger(ledgerrpc.NewClient(srv.URL, ""))
	pctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); s.poll(pctx) }()
	defer func() { stop(); <-done }()

	p := nw.params()
	h := nw.Ledger.Info().Height
	var wg sync.WaitGroup
	for range 20 { // twenty nodes wait for the next block: one poll
		wg.Add(1)
		go func() {
			defer wg.Done()
			if info, err := s.WaitHeight(ctx, h+1); err != nil || info.Height < h+1 {
				t.Errorf("wait for %d: %+v, %v", h+1, info, err)
			}
		}()
	}
	if _, err := nw.Ledger.Mine(ctx, 1); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if n := count("info"); n > 3 {
		t.Errorf("twenty waits asked the ledger %d times", n)
	}
	for range 5 {
		if nodes, err := s.Nodes(ctx); err != nil || len(nodes) != 12 {
			t.Fatalf("nodes: %d, %v", len(nodes), err)
		}
	}
	if n := count("nodes"); n != 1 {
		t.Errorf("five node lists at one state fetched %d times", n)
	}
	// Rounds: fetched once each, once their quorums are drawn; the last
	// four kept.
	for r := uint64(1); r <= 5; r++ {
		for nw.Ledger.Info().Height < p.QuorumHeight(r) {
			if _, err := nw.Ledger.Mine(ctx, 1); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			if rd, err := s.RoundAt(ctx, p.RoundStart(r)); err != nil || rd.Round != r || len(rd.Quorums) == 0 {
				t.Fatalf("round %d: %+v, %v", r, rd, err)
			}
		}
		if n := count("rounds"); n != int(r) {
			t.Fatalf("after round %d the rounds were fetched %d times", r, n)
		}
	}
	if len(s.rounds) != maxSharedRounds {
		t.Fatalf("%d rounds kept, want %d", len(s.rounds), maxSharedRounds)
	}
	if _, ok := s.rounds[p.RoundStart(1)]; ok {
		t.Fatal("the oldest round is still kept")
	}
}
