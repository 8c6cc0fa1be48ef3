// Package bench measures a throwaway devnet and reports it beside floors
// measured in the same run (`sessionctl bench`):
//
//   - time to ready: devnet.Up of a fresh devnet, beside as many bare
//     libp2p hosts started and connected (p2phost.Floor);
//   - onion round trip: a storage request through three hops, beside the
//     same request sent straight to the node (client.Direct);
//   - sends a second and fetch latency (p50, p99) with 1, 8 and 64 clients
//     at once, each its own account, sending to an account of its own and
//     fetching its inbox (where the sync copies of its sends land);
//   - resident memory and open files the devnet added, per node;
//   - the onion encryption of one request alone, and the sends a second
//     that alone allows (a send is three onion requests): the ceiling no
//     storage or networking work can raise;
//   - the floor of a send's CPU, made of its parts measured alone in the
//     same run (Floor): three onion requests' layers built and peeled, a
//     bare insert into a node's store for every member of the recipient's
//     swarm and of the sender's, and a bare libp2p stream round trip for
//     each hop and each forward to a swarm member; each load level's CPU
//     a send is reported beside it (floor_ratio).
//
// CPU figures are the process's CPU time (getrusage), not wall time: on a
// machine shared with other work they hold where latencies do not.
// Each figure is set against the goal the project holds it to (Goals); the
// report says which are met. Nothing here is a test: the numbers are the
// machine's.
package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/p2phost"
	"github.com/sessionctl/sessionctl/internal/procstat"
	"github.com/sessionctl/sessionctl/node"
	"github.com/sessionctl/sessionctl/onion"
)

// Config configures a run.
type Config struct {
	// Nodes of the devnet; default 12.
	Nodes int
	// Duration of each load level; default DefaultDuration.
	Duration time.Duration
	// Clients are the load levels; default 1, 8 and 64.
	Clients []int
	// Dir holds the devnet; default a temporary directory, removed after.
	Dir string
	// Progress, if set, is told each step as it starts, and how the
	// devnet's start goes (many times: it must not block).
	Progress func(step string)
	// Exe, if set, is the sessionctl binary: `id ls` and `send` are then
	// run as new processes against the devnet, and their times reported.
	Exe string
}

// DefaultDuration is how long each load level runs by default.
const DefaultDuration = 5 * time.Second

// Goals are what the report is held to (issue 21, on a 2-core machine).
var Goals = struct {
	ReadyRatio   float64 // time to ready ≤ this × bare hosts (12 nodes)
	OnionRatio   float64 // onion round trip ≤ this × a direct request
	SendsPerSec  float64 // onion sends a second, at the best load level
	FetchP99At64 time.Duration
	FloorRatio   float64 // CPU a send ≤ this × its floor, at every load level
	P99OverShare float64 // send p99 at 64 clients ≤ this × the fair share
}{1.5, 6, 2000, 100 * time.Millisecond, 1.5, 1.5}

// Report is a run's result.
type Report struct {
	Nodes      int     `json:"nodes"`
	CPUs       int     `json:"cpus"`
	ReadyMS    float64 `json:"ready_ms"`
	BareMS     float64 `json:"bare_hosts_ms"`
	ReadyRatio float64 `json:"ready_ratio"`
	OnionMS    float64 `json:"onion_round_trip_ms"` // median
	DirectMS   float64 `json:"direct_round_trip_ms"`
	OnionRatio float64 `json:"onion_ratio"`
	Load       []Level `json:"load"`
	// OnionCryptoMS is the onion encryption of one request alone: building
	// its four layers and peeling them at three hops and the destination,
	// in CPU time. A send is three requests (the message, its sync copy
	// and its fetch); CryptoCeiling is what that alone allows a second on
	// every CPU, before any storage, replication or networking.
	OnionCryptoMS float64 `json:"onion_crypto_ms"`
	CryptoCeiling float64 `json:"onion_crypto_ceiling_sends_per_sec"`
	RSSMBNode     float64 `json:"rss_mb_per_node"`
	FilesNode     float64 `json:"open_files_per_node"`
	// Processes are commands run as new processes (Config.Exe), each a
	// few times: the medians of their wall and CPU time.
	Processes []Process `json:"processes,omitempty"`
	Floor
	Goals []Goal `json:"goals"`
}

// Floor is the least CPU a send costs, made of its parts, each measured
// alone in the same run (CPU time): what the real network does for a send
// summed over every machine it touches. A send is three onion requests
// (the message, its sync copy and the fetch), each four layers built and
// peeled (OnionCryptoMS) and four stream round trips (the client to its
// guard over TCP, then hop to hop and to the destination in memory); and a
// store by every member of the recipient's swarm and of the sender's
// (StoresPerSend, counted in the run's sends), each a bare insert into a
// node's store and, but for the member the request reached, a round trip
// to it.
type Floor struct {
	InsertMS       float64 `json:"store_insert_cpu_ms"`
	MemRoundTripMS float64 `json:"stream_round_trip_cpu_ms"`
	TCPRoundTripMS float64 `json:"tcp_round_trip_cpu_ms"`
	StoresPerSend  float64 `json:"stores_per_send"`
	StreamsPerSend float64 `json:"stream_round_trips_per_send"`
	FloorCPUMS     float64 `json:"floor_cpu_ms"`
	OnionFloorMS   float64 `json:"floor_onion_cpu_ms"`
	StoreFloorMS   float64 `json:"floor_store_cpu_ms"`
	StreamFloorMS  float64 `json:"floor_stream_cpu_ms"`
}

// Process is a command run as a new process: the median of Runs runs'
// wall time, and of their CPU time (user and system, the process's own).
type Process struct {
	Command string  `json:"command"`
	Runs    int     `json:"runs"`
	WallMS  float64 `json:"wall_ms"`
	CPUMS   float64 `json:"cpu_ms"`
}

// Level is one load level: Clients sending and fetching at once.
type Level struct {
	Clients     int     `json:"clients"`
	Sends       int     `json:"sends"`
	Failed      int     `json:"failed"`
	SendsPerSec float64 `json:"sends_per_sec"`
	SendP50MS   float64 `json:"send_p50_ms"`
	SendP99MS   float64 `json:"send_p99_ms"`
	Fetches     int     `json:"fetches"`
	FetchP50MS  float64 `json:"fetch_p50_ms"`
	FetchP99MS  float64 `json:"fetch_p99_ms"`
	// CPUPerSend is the process's CPU time (all cores; the clients', the
	// nodes' and the ledger's) over the level, per send and its fetch: a
	// figure that rising concurrency should not raise. FloorRatio is it
	// over the run's Floor.
	CPUPerSendMS float64 `json:"cpu_ms_per_send"`
	FloorRatio   float64 `json:"floor_ratio"`
	// FairShareMS is what each client would wait for a send if the sends
	// a second were shared out evenly: clients over sends a second. A
	// send's p99 over it (P99OverShare) says how unevenly they were.
	FairShareMS  float64 `json:"fair_share_ms"`
	P99OverShare float64 `json:"send_p99_over_fair_share"`
	// FirstSendP50MS and FirstSendP99MS are of each client's first send
	// (its path built, its guard connected, the recipient made a contact),
	// made before the level's clock starts and not counted in it.
	FirstSendP50MS float64 `json:"first_send_p50_ms"`
	FirstSendP99MS float64 `json:"first_send_p99_ms"`
	// stores counts the swarm members that stored the level's sends and
	// their sync copies.
	stores int
}

// Goal is one goal and whether the run met it.
type Goal struct {
	What string `json:"what"`
	Want string `json:"want"`
	Got  string `json:"got"`
	Met  bool   `json:"met"`
}

// Run starts a devnet, measures it, stops it and reports.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Nodes == 0 {
		cfg.Nodes = 12
	}
	if cfg.Nodes < devnet.MinNodes || cfg.Nodes > devnet.MaxNodes {
		return nil, fmt.Errorf("bench: %d nodes: want %d to %d", cfg.Nodes, devnet.MinNodes, devnet.MaxNodes)
	}
	if cfg.Duration == 0 {
		cfg.Duration = DefaultDuration
	}
	if len(cfg.Clients) == 0 {
		cfg.Clients = []int{1, 8, 64}
	}
	for _, c := range cfg.Clients {
		if c < 1 || c > 1024 {
			return nil, fmt.Errorf("bench: %d clients: want 1 to 1024", c)
		}
	}
	step := func(s string) {
		if cfg.Progress != nil {
			cfg.Progress(s)
		}
	}
	if cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "sessionctl-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		cfg.Dir = dir
	}
	r := &Report{Nodes: cfg.Nodes, CPUs: runtime.NumCPU()}
	step("the floor's parts alone: onion layers, a store's insert, stream round trips")
	if err := r.onionCrypto(); err != nil {
		return nil, err
	}
	if err := r.floorParts(ctx, cfg.Dir); err != nil {
		return nil, err
	}

	step(fmt.Sprintf("%d bare libp2p hosts (the floor)", cfg.Nodes))
	bare, err := p2phost.Floor(ctx, cfg.Nodes)
	if err != nil {
		return nil, fmt.Errorf("bench: the floor: %w", err)
	}
	settle()
	rss0, files0 := procstat.RSSMB(), procstat.OpenFiles()
	step(fmt.Sprintf("a devnet of %d nodes", cfg.Nodes))
	began := time.Now()
	d, err := devnet.Up(ctx, devnet.UpConfig{Dir: cfg.Dir, Nodes: cfg.Nodes, Clients: []string{},
		Progress: func(p devnet.StartProgress) { step(fmt.Sprintf("a devnet of %d nodes: %s", cfg.Nodes, p)) }})
	if err != nil {
		return nil, fmt.Errorf("bench: devnet: %w", err)
	}
	defer d.Close()
	ready := time.Since(began)
	r.ReadyMS, r.BareMS = ms(ready), ms(bare)
	r.ReadyRatio = ready.Seconds() / bare.Seconds()
	settle()
	r.RSSMBNode = (procstat.RSSMB() - rss0) / float64(cfg.Nodes)
	r.FilesNode = float64(procstat.OpenFiles()-files0) / float64(cfg.Nodes)

	ledgerURL := d.Network.LedgerURL()
	step("onion round trip beside a direct request")
	if err := r.roundTrips(ctx, ledgerURL, d.Network.NodeKey(0)); err != nil {
		return nil, err
	}
	if cfg.Exe != "" {
		step("`id ls` and `send` as new processes")
		if err := r.processes(ctx, cfg.Exe, cfg.Dir); err != nil {
			return nil, err
		}
	}
	for i, n := range cfg.Clients {
		step(fmt.Sprintf("load level %d of %d: %d clients for %v", i+1, len(cfg.Clients), n, cfg.Duration))
		lv, err := load(ctx, ledgerURL, n, cfg.Duration)
		if err != nil {
			return nil, err
		}
		r.Load = append(r.Load, lv)
	}
	r.floor()
	r.judge()
	return r, nil
}

// roundTrips times 200 "info" requests to one node each way.
func (r *Report) roundTrips(ctx context.Context, ledgerURL, dest string) error {
	c, err := newClient(ctx, ledgerURL)
	if err != nil {
		return err
	}
	defer c.Close()
	const n = 200
	var onion, direct []time.Duration
	for i := 0; i < n+5; i++ { // the first few make the path and connections
		t := time.Now()
		if _, _, err := c.RPC(ctx, dest, "info", struct{}{}); err != nil {
			return fmt.Errorf("bench: onion request: %w", err)
		}
		if i >= 5 {
			onion = append(onion, time.Since(t))
		}
		t = time.Now()
		if _, err := c.Direct(ctx, dest, "info", struct{}{}); err != nil {
			return fmt.Errorf("bench: direct request: %w", err)
		}
		if i >= 5 {
			direct = append(direct, time.Since(t))
		}
	}
	r.OnionMS, r.DirectMS = ms(quantile(onion, 0.5)), ms(quantile(direct, 0.5))
	r.OnionRatio = r.OnionMS / r.DirectMS
	return nil
}

// load runs n clients for d: each sends to an account of its own, and
// fetches its own inbox, in turn, as fast as it can. Each client's first
// send warms it up and is not counted: it builds the client's onion path,
// connects to its guard and makes the recipient a contact (a config push:
// two more requests), work a client does once, which n clients starting
// at the same instant did all at once (at 64 clients their first sends were
// the level's slowest 3%, so its p99 measured cold starts, not the load).
// The clients run on without a pause, and the level's clock starts once
// every one has made its first send: only the sends and fetches begun
// after it count (FirstSendP50MS and FirstSendP99MS report the first
// sends). The level ends on an event, not a timer alone: once d has passed
// and a counted send has gone through (on a loaded machine one send may
// take longer than d); the sends and fetches under way then finish and
// count. A level in which no send goes through within maxLevelWait fails.
func load(ctx context.Context, ledgerURL string, n int, d time.Duration) (Level, error) {
	clients := make([]*client.Client, n)
	for i := range clients {
		c, err := newClient(ctx, ledgerURL)
		if err != nil {
			return Level{}, err
		}
		defer c.Close()
		clients[i] = c
	}
	lv := Level{Clients: n}
	var mu sync.Mutex
	var sends, fetches, firsts []time.Duration
	var failed atomic.Int64
	// warm is done once every client made its first send; began (unix ns)
	// is then set, and cpu0; over is closed when the level ends; sent when
	// a counted send went through.
	var warm sync.WaitGroup
	warm.Add(n)
	var began atomic.Int64
	var cpu0 time.Duration
	over, sent := make(chan struct{}), make(chan struct{})
	var sentOnce sync.Once
	lctx, cancel := context.WithTimeout(ctx, d+2*maxLevelWait)
	defer cancel()
	go func() {
		defer close(over)
		warmed := make(chan struct{})
		go func() { warm.Wait(); close(warmed) }()
		select {
		case <-warmed:
		case <-lctx.Done():
			return
		}
		cpu0 = procstat.CPUTime()
		began.Store(time.Now().UnixNano())
		t := time.NewTimer(d)
		defer t.Stop()
		select { // the duration, then the first counted send
		case <-t.C:
		case <-lctx.Done():
			return
		}
		select {
		case <-sent:
		case <-lctx.Done():
		}
	}()
	ended := func() bool {
		select {
		case <-over:
			return true
		default:
			return false
		}
	}
	// counts tells whether what began at t is counted.
	counts := func(t time.Time) bool {
		b := began.Load()
		return b != 0 && t.UnixNano() >= b
	}
	var wg sync.WaitGroup
	for _, c := range clients {
		// Each sends to an account nobody reads: every level does the
		// same work a send (its store and its sync copy) and a fetch. (A
		// ring of clients sent to itself at 1 client, which skips the
		// sync copy: half the work, and a figure that did not compare.)
		rk, err := identity.NewAccount(rand.Reader)
		if err != nil {
			return Level{}, err
		}
		to := rk.AccountID()
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mySends, myFetches []time.Duration
			var first time.Duration
			myStores := 0
			for i := 0; !ended(); i++ {
				t := time.Now()
				res, err := c.Send(lctx, to, "bench")
				took := time.Since(t)
				switch {
				case i == 0:
					first = took
					warm.Done()
				case !counts(t):
				case err == nil:
					mySends = append(mySends, took)
					myStores += res.Stored + res.SyncStored
					sentOnce.Do(func() { close(sent) })
				case lctx.Err() == nil:
					failed.Add(1)
				}
				t = time.Now()
				_, _, err = c.Fetch(lctx)
				switch {
				case !counts(t):
				case err == nil:
					myFetches = append(myFetches, time.Since(t))
				case lctx.Err() == nil:
					failed.Add(1)
				}
			}
			mu.Lock()
			sends, fetches = append(sends, mySends...), append(fetches, myFetches...)
			firsts = append(firsts, first)
			lv.stores += myStores
			mu.Unlock()
		}()
	}
	wg.Wait()
	if began.Load() == 0 {
		if err := ctx.Err(); err != nil {
			return lv, err
		}
		return lv, fmt.Errorf("bench: the clients' first sends did not end in %v", d+2*maxLevelWait)
	}
	took := time.Since(time.Unix(0, began.Load()))
	cpu := procstat.CPUTime() - cpu0
	lv.Sends, lv.Fetches, lv.Failed = len(sends), len(fetches), int(failed.Load())
	lv.SendsPerSec = float64(len(sends)) / took.Seconds()
	lv.SendP50MS, lv.SendP99MS = ms(quantile(sends, 0.5)), ms(quantile(sends, 0.99))
	lv.FetchP50MS, lv.FetchP99MS = ms(quantile(fetches, 0.5)), ms(quantile(fetches, 0.99))
	lv.FirstSendP50MS, lv.FirstSendP99MS = ms(quantile(firsts, 0.5)), ms(quantile(firsts, 0.99))
	if len(sends) == 0 {
		if err := ctx.Err(); err != nil {
			return lv, err
		}
		return lv, fmt.Errorf("bench: no send went through in %v", d+maxLevelWait)
	}
	lv.CPUPerSendMS = ms(cpu) / float64(len(sends))
	lv.FairShareMS = float64(n) / lv.SendsPerSec * 1000
	lv.P99OverShare = lv.SendP99MS / lv.FairShareMS
	return lv, nil
}

// processRuns is how many times each command runs as a new process.
const processRuns = 7

// processes runs `id ls` and `send` (alice to bob) as new processes of
// exe against the devnet in dir, processRuns times each (after one run
// that is not counted: the binary's pages into the cache). It makes the
// two identities first, with `id new`, after the devnet's time to ready.
func (r *Report) processes(ctx context.Context, exe, dir string) error {
	for _, name := range []string{"alice", "bob"} {
		if out, err := exec.CommandContext(ctx, exe, "--dir", dir, "id", "new", "--name", name).CombinedOutput(); err != nil {
			return fmt.Errorf("bench: id new %s: %w: %s", name, err, bytes.TrimSpace(out))
		}
	}
	for _, c := range []struct {
		name string
		args []string
	}{{"id ls", []string{"id", "ls"}}, {"send", []string{"send", "--from", "alice", "--to", "bob", "bench"}}} {
		args := c.args
		var wall, cpu []time.Duration
		for i := 0; i <= processRuns; i++ {
			cmd := exec.CommandContext(ctx, exe, append([]string{"--dir", dir}, args...)...)
			began := time.Now()
			out, err := cmd.CombinedOutput()
			took := time.Since(began)
			if err != nil {
				return fmt.Errorf("bench: %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
			}
			if i > 0 {
				wall = append(wall, took)
				cpu = append(cpu, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
			}
		}
		r.Processes = append(r.Processes, Process{Command: c.name, Runs: processRuns,
			WallMS: ms(quantile(wall, 0.5)), CPUMS: ms(quantile(cpu, 0.5))})
	}
	return nil
}

// maxLevelWait is how long past its duration a load level waits for its
// first send before it fails.
const maxLevelWait = time.Minute

// requestsPerSend are the onion requests a send costs in the load: the
// message, its sync copy for the sender's other devices, and its fetch.
const requestsPerSend = 3

// onionCrypto measures the CPU of the onion encryption of a request alone:
// build four layers (three hops and the destination), peel each.
func (r *Report) onionCrypto() error {
	keys := make([]onion.KeyPair, 4)
	hops := make([]onion.Hop, 3)
	for i := range keys {
		kp, err := onion.NewKeyPair(rand.Reader)
		if err != nil {
			return err
		}
		keys[i] = kp
		if i < 3 {
			hops[i] = onion.Hop{Ed25519: fmt.Sprintf("%064x", i), X25519: kp.Public}
		}
	}
	dest := onion.Hop{Ed25519: fmt.Sprintf("%064x", 3), X25519: keys[3].Public}
	payload := make([]byte, 600)
	const n = 200
	cpu0 := procstat.CPUTime()
	for range n {
		data, _, err := onion.Build(rand.Reader, hops, dest, payload, onion.XChaCha20)
		if err != nil {
			return err
		}
		for i, k := range keys {
			p, err := onion.Peel(data, k)
			if err != nil {
				return fmt.Errorf("bench: peel: %w", err)
			}
			if i < len(hops) {
				if data, err = p.Next(); err != nil {
					return fmt.Errorf("bench: next layer: %w", err)
				}
			}
		}
	}
	per := (procstat.CPUTime() - cpu0) / n
	r.OnionCryptoMS = ms(per)
	r.CryptoCeiling = float64(r.CPUs) / (requestsPerSend * per.Seconds())
	return nil
}

// floorParts measures the floor's parts other than the onion layers, each
// alone: a bare insert into a node's store and bare stream round trips.
func (r *Report) floorParts(ctx context.Context, dir string) error {
	sdir, err := os.MkdirTemp(dir, "floor-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(sdir)
	// About what the bench's messages take stored (sealed, padded, in
	// their envelope).
	insert, err := node.InsertFloor(ctx, sdir, 500, 400)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	// About an onion request's size at its guard, and its answer's.
	mem, tcp, err := p2phost.RoundTripFloor(ctx, 500, 1200)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	r.InsertMS, r.MemRoundTripMS, r.TCPRoundTripMS = ms(insert), ms(mem), ms(tcp)
	return nil
}

// floor sums the parts into the floor of a send, with the stores the run's
// sends made, and sets each level's ratio to it.
func (r *Report) floor() {
	sends, stores := 0, 0
	for _, l := range r.Load {
		sends, stores = sends+l.Sends, stores+l.stores
	}
	if sends == 0 {
		return
	}
	f := &r.Floor
	f.StoresPerSend = float64(stores) / float64(sends)
	// Each onion request: the client to its guard (TCP), guard to middle,
	// middle to exit, exit to destination (in memory); each store but the
	// destination's: the destination to that member.
	forwards := f.StoresPerSend - 2 // the message's and the sync copy's destinations store without one
	f.StreamsPerSend = requestsPerSend*4 + forwards
	f.OnionFloorMS = requestsPerSend * r.OnionCryptoMS
	f.StoreFloorMS = f.StoresPerSend * f.InsertMS
	f.StreamFloorMS = requestsPerSend*f.TCPRoundTripMS + (requestsPerSend*3+forwards)*f.MemRoundTripMS
	f.FloorCPUMS = f.OnionFloorMS + f.StoreFloorMS + f.StreamFloorMS
	for i := range r.Load {
		if f.FloorCPUMS > 0 {
			r.Load[i].FloorRatio = r.Load[i].CPUPerSendMS / f.FloorCPUMS
		}
	}
}

// judge sets the report against Goals.
func (r *Report) judge() {
	r.Goals = append(r.Goals, Goal{What: "time to ready / bare hosts", Want: fmt.Sprintf("≤ %.1f×", Goals.ReadyRatio),
		Got: fmt.Sprintf("%.2f×", r.ReadyRatio), Met: r.ReadyRatio <= Goals.ReadyRatio})
	r.Goals = append(r.Goals, Goal{What: "onion round trip / direct", Want: fmt.Sprintf("≤ %.0f×", Goals.OnionRatio),
		Got: fmt.Sprintf("%.2f×", r.OnionRatio), Met: r.OnionRatio <= Goals.OnionRatio})
	best := 0.0
	for _, l := range r.Load {
		best = max(best, l.SendsPerSec)
	}
	r.Goals = append(r.Goals, Goal{What: "onion sends a second", Want: fmt.Sprintf("≥ %.0f", Goals.SendsPerSec),
		Got: fmt.Sprintf("%.0f (onion crypto alone allows %.0f)", best, r.CryptoCeiling), Met: best >= Goals.SendsPerSec})
	if r.FloorCPUMS > 0 {
		worst := 0.0
		for _, l := range r.Load {
			worst = max(worst, l.FloorRatio)
		}
		r.Goals = append(r.Goals, Goal{What: "CPU a send / its floor, every level", Want: fmt.Sprintf("≤ %.1f×", Goals.FloorRatio),
			Got: fmt.Sprintf("%.2f× (floor %.2f ms)", worst, r.FloorCPUMS), Met: worst <= Goals.FloorRatio})
	}
	at8 := slices.IndexFunc(r.Load, func(l Level) bool { return l.Clients == 8 })
	if i := slices.IndexFunc(r.Load, func(l Level) bool { return l.Clients == 64 }); i >= 0 {
		l := r.Load[i]
		if at8 >= 0 {
			r.Goals = append(r.Goals, Goal{What: "sends a second, 64 clients / 8", Want: "≥ 1×",
				Got: fmt.Sprintf("%.2f× (%.0f / %.0f)", l.SendsPerSec/r.Load[at8].SendsPerSec, l.SendsPerSec, r.Load[at8].SendsPerSec),
				Met: l.SendsPerSec >= r.Load[at8].SendsPerSec})
		}
		r.Goals = append(r.Goals, Goal{What: "send p99 at 64 clients / fair share", Want: fmt.Sprintf("≤ %.1f×", Goals.P99OverShare),
			Got: fmt.Sprintf("%.2f× (%.0f ms / %.0f ms)", l.P99OverShare, l.SendP99MS, l.FairShareMS), Met: l.P99OverShare <= Goals.P99OverShare})
	}
	if i := slices.IndexFunc(r.Load, func(l Level) bool { return l.Clients == 64 }); i >= 0 {
		p99 := r.Load[i].FetchP99MS
		r.Goals = append(r.Goals, Goal{What: "fetch p99 at 64 clients", Want: fmt.Sprintf("< %v", Goals.FetchP99At64),
			Got: fmt.Sprintf("%.0f ms", p99), Met: p99 < ms(Goals.FetchP99At64)})
	}
}

func newClient(ctx context.Context, ledgerURL string) (*client.Client, error) {
	k, err := identity.NewAccount(rand.Reader)
	if err != nil {
		return nil, err
	}
	return devnet.StartClient(ctx, ledgerURL, client.Config{Keys: k})
}

// quantile is the q-quantile of ds (0 for none); ds is sorted in place.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(q*float64(len(ds))))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// settle collects garbage and returns memory to the OS, so that the RSS
// read next is what is live.
func settle() {
	runtime.GC()
	debug.FreeOSMemory()
}
