package devnet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
	"github.com/sessionctl/sessionctl/node"
)

// A worker: a node process that hosts many of a devnet's nodes (`devnet up
// --workers K`, workers.go), as the devnet's own process does without
// --procs: the nodes share one view of the network, one request budget,
// one queue of turns to work (the worker's CPUs) and one long poll of the ledger, under the worker's own open-file limit.
// The contract is nodeproc.go's, with procConfig.Worker set, in JSON lines
// both ways after the request:
//
//	devnet -> worker  stdin:  workerCmd lines: start or stop node Index
//	worker -> devnet  stdout: workerEvent lines: a node ready (its
//	                  NodeInfo), stopped, failed to start, or exited by
//	                  itself (it failed while serving)
//	                  stderr: the nodes' logs, JSON lines naming the node
//
// The worker starts procConfig.Indexes first (a few at a time), telling each
// as it is ready; it stops every node and exits when stdin ends.

// workerCmd is a devnet's order to its worker.
type workerCmd struct {
	Op    string `json:"op"` // "start" or "stop"
	Index int    `json:"index"`
}

// The events a worker tells.
const (
	workerReady   = "ready"   // the node serves: Info
	workerStopped = "stopped" // the node was stopped, as asked
	workerFailed  = "failed"  // the node could not start: Error
	workerExited  = "exited"  // the node failed while serving: Error
)

// workerEvent is what a worker tells its devnet of one node.
type workerEvent struct {
	Index int       `json:"index"`
	Event string    `json:"event"`
	Info  *NodeInfo `json:"info,omitempty"`
	Error string    `json:"error,omitempty"`
}

// workerStarts is how many nodes a worker starts at once.
const workerStarts = 8

// worker runs a devnet's nodes in this process.
type worker struct {
	cfg    procConfig
	log    zerolog.Logger
	ledger *sharedLedger
	views  *node.Views
	budget *node.Budget
	tests  node.TestSlots
	turns  *node.Turns

	outMu sync.Mutex
	out   *json.Encoder

	mu      sync.Mutex
	running map[int]*NodeRunner // bounded by cfg.Nodes
	busy    map[int]bool        // a start or stop under way
	names   func(string) string
	wg      sync.WaitGroup // the poll, starts and orders
	watches sync.WaitGroup // the nodes' watchers: over once each is closed
}

// runWorker serves a devnet as its worker until stdin or ctx ends.
func runWorker(ctx context.Context, cfg procConfig, stdin io.Reader, stdout io.Writer, log zerolog.Logger) error {
	for _, i := range cfg.Indexes {
		if i < 0 || i >= cfg.Nodes {
			return fmt.Errorf("the devnet's request names node index %d of %d", i, cfg.Nodes)
		}
	}
	if err := checkFileLimit(len(cfg.Indexes)); err != nil {
		return err
	}
	lowerPriority()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &worker{cfg: cfg, log: log, ledger: newSharedLedger(ledgerrpc.NewClient(cfg.Ledger, "")), views: node.NewViews(),
		budget: node.NewBudget(requestBudget, requestBudgetPerPeer), tests: newTestSlots(), turns: node.NewTurns(0), out: json.NewEncoder(stdout), running: map[int]*NodeRunner{}, busy: map[int]bool{}}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.ledger.poll(ctx)
	}()
	w.wg.Add(1)
	go func() { // in index order, a few at a time: the devnet waits for them in that order
		defer w.wg.Done()
		sem := make(chan struct{}, workerStarts)
		for _, i := range cfg.Indexes {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				defer func() { <-sem }()
				w.start(ctx, i)
			}()
		}
	}()
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		var c workerCmd
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil || c.Index < 0 || c.Index >= cfg.Nodes {
			log.Error().Str("line", sc.Text()).Msg("the devnet's order is malformed: ignored")
			continue
		}
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			switch c.Op {
			case "start":
				w.start(ctx, c.Index)
			case "stop":
				w.stop(c.Index)
			default:
				w.tell(workerEvent{Index: c.Index, Event: workerFailed, Error: fmt.Sprintf("unknown order %q", c.Op)})
			}
		}()
	}
	cancel() // stdin ended: the devnet stopped us, or died
	w.wg.Wait()
	w.mu.Lock()
	var errs []error
	var cw sync.WaitGroup
	var emu sync.Mutex
	for _, r := range w.running {
		cw.Add(1)
		go func() {
			defer cw.Done()
			if err := r.Close(); err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		}()
	}
	w.running = nil
	w.mu.Unlock()
	cw.Wait()
	w.watches.Wait()
	return errors.Join(errs...)
}

// tell writes an event on stdout.
func (w *worker) tell(e workerEvent) {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	w.out.Encode(e) // (a devnet gone: stdin ends too, which stops us)
}

// claim marks node i busy; false if it is busy already.
func (w *worker) claim(i int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.busy[i] || w.running == nil {
		return false
	}
	w.busy[i] = true
	return true
}

func (w *worker) release(i int) {
	w.mu.Lock()
	delete(w.busy, i)
	w.mu.Unlock()
}

// start starts node i and tells how it went.
func (w *worker) start(ctx context.Context, i int) {
	if !w.claim(i) {
		w.tell(workerEvent{Index: i, Event: workerFailed, Error: NodeName(i) + " is starting or stopping"})
		return
	}
	// Told once the node is free for the next order (deferred: last).
	ev := workerEvent{Index: i, Event: workerFailed}
	defer func() {
		w.release(i)
		if ev.Event != "" {
			w.tell(ev)
		}
	}()
	w.mu.Lock()
	_, running := w.running[i]
	w.mu.Unlock()
	if running {
		ev.Error = NodeName(i) + " is running"
		return
	}
	name := NodeName(i)
	cfg := NodeConfig{Data: filepath.Join(w.cfg.Data, name), Key: NodeKey(w.cfg.Seed, i), Ledger: w.ledger.Client, NodeLedger: w.ledger, Servers: w.cfg.Servers,
		Listen: w.cfg.Listen, HTTPS: w.cfg.HTTPS, Name: name, NameOf: w.nameOf(),
		Logger: w.log.With().Str("component", "node").Logger(), Edge: w.log.With().Str("component", "edge").Str("node", name).Logger(),
		Views: w.views, Budget: w.budget, TestSlots: w.tests, Turns: w.turns}
	if scale := w.cfg.Nodes / 200; scale > 1 { // as the devnet's own nodes (StartNode)
		cfg.RepairInterval = time.Duration(scale) * 10 * time.Second
		cfg.ExpiryInterval = cfg.RepairInterval
	}
	r, err := RunNode(ctx, cfg)
	if err != nil {
		ev.Error = err.Error()
		return
	}
	w.mu.Lock()
	if w.running == nil { // stopping
		w.mu.Unlock()
		r.Close()
		ev.Event = ""
		return
	}
	w.running[i] = r
	w.watches.Add(1)
	w.mu.Unlock()
	info := r.Info()
	ev = workerEvent{Index: i, Event: workerReady, Info: &info}
	go w.watch(i, r)
}

// watch tells a node that fails while serving as exited, and stops it.
func (w *worker) watch(i int, r *NodeRunner) {
	defer w.watches.Done()
	err, ok := <-r.Err()
	if !ok {
		return // closed
	}
	w.mu.Lock()
	mine := w.running != nil && w.running[i] == r
	if mine {
		delete(w.running, i)
	}
	w.mu.Unlock()
	if !mine {
		return
	}
	w.log.Error().Err(err).Str("node", NodeName(i)).Msg("node failed: stopped")
	r.Close()
	w.tell(workerEvent{Index: i, Event: workerExited, Error: "failed: " + err.Error()})
}

// stop stops node i and tells so.
func (w *worker) stop(i int) {
	if !w.claim(i) {
		w.tell(workerEvent{Index: i, Event: workerFailed, Error: NodeName(i) + " is starting or stopping"})
		return
	}
	w.mu.Lock()
	r := w.running[i]
	delete(w.running, i)
	w.mu.Unlock()
	if r != nil {
		if err := r.Close(); err != nil {
			w.log.Warn().Err(err).Str("node", NodeName(i)).Msg("stop node")
		}
	}
	w.release(i)
	w.tell(workerEvent{Index: i, Event: workerStopped})
}

// nameOf names the devnet's nodes, deriving their keys once, when first asked.
func (w *worker) nameOf() func(string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.names == nil {
		w.names = seedNames(w.cfg.Seed, w.cfg.Nodes)
	}
	return w.names
}

// sharedLedger is the ledger as a worker's nodes see it: one long poll for
// them all (poll), one node list fetched at a time; the rest as it is.
// Without it, each of thousands of nodes would hold a long poll of its own
// to the ledger's RPC (a connection and a file each, at both ends).
type sharedLedger struct {
	*ledgerrpc.Client

	mu      sync.Mutex
	info    chain.Info
	have    bool
	changed chan struct{} // closed when info moves, then replaced

	nodesMu sync.Mutex // one node list fetch at a time
	nodes   []chain.ServiceNode
	nodesAt [2]uint64 // the NodesHeight and SwarmsHeight it was fetched at

	roundMu sync.Mutex             // one round fetch at a time
	rounds  map[uint64]chain.Round // by height asked, once its quorums are drawn
}

// maxSharedRounds bounds the rounds a worker keeps.
const maxSharedRounds = 4

func newSharedLedger(c *ledgerrpc.Client) *sharedLedger {
	return &sharedLedger{Client: c, changed: make(chan struct{}), rounds: map[uint64]chain.Round{}}
}

// poll follows the ledger's height until ctx ends.
func (s *sharedLedger) poll(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		s.mu.Lock()
		next := s.info.Height + 1
		if !s.have {
			next = 0
		}
		s.mu.Unlock()
		info, err := s.Client.WaitHeight(ctx, next)
		if err != nil {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		s.mu.Lock()
		if !s.have || info.Height > s.info.Height {
			s.info, s.have = info, true
			close(s.changed)
			s.changed = make(chan struct{})
		}
		s.mu.Unlock()
	}
}

// WaitHeight waits until the shared poll has seen height.
func (s *sharedLedger) WaitHeight(ctx context.Context, height uint64) (chain.Info, error) {
	for {
		s.mu.Lock()
		info, have, ch := s.info, s.have, s.changed
		s.mu.Unlock()
		if have && info.Height >= height {
			return info, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return chain.Info{}, ctx.Err()
		}
	}
}

// Nodes fetches the node list once for every node that asks at the same
// ledger state (the nodes of a worker ask together, at each change).
func (s *sharedLedger) Nodes(ctx context.Context) ([]chain.ServiceNode, error) {
	s.mu.Lock()
	at := [2]uint64{s.info.NodesHeight, s.info.SwarmsHeight}
	have := s.have
	s.mu.Unlock()
	s.nodesMu.Lock()
	defer s.nodesMu.Unlock()
	if have && s.nodes != nil && s.nodesAt == at {
		return s.nodes, nil
	}
	nodes, err := s.Client.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	if have {
		s.nodes, s.nodesAt = nodes, at
	}
	return nodes, nil
}

// RoundAt fetches a round once for every node of the worker once its
// quorums are drawn (they are fixed then; the nodes read only them of it:
// its votes, kept from the first fetch, are stale). A round's record holds
// every vote so far (10,000 at 1,000 nodes): fetched by each node, at the
// block its quorums are drawn, it held up the ledger for seconds.
func (s *sharedLedger) RoundAt(ctx context.Context, height uint64) (chain.Round, error) {
	s.roundMu.Lock()
	defer s.roundMu.Unlock()
	if rd, ok := s.rounds[height]; ok {
		return rd, nil
	}
	rd, err := s.Client.RoundAt(ctx, height)
	if err != nil || len(rd.Quorums) == 0 {
		return rd, err
	}
	if len(s.rounds) >= maxSharedRounds {
		delete(s.rounds, slices.Min(slices.Collect(maps.Keys(s.rounds))))
	}
	s.rounds[height] = rd
	return rd, nil
}
