package devnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/internal/edgelog"
	"github.com/sessionctl/sessionctl/internal/errkind"
)

// Nodes over worker processes (Config.Workers, `devnet up --workers K`).
// The devnet's nodes are cut in K ranges of indexes, each hosted by a
// worker: the binary at Exe run as a node process in worker mode
// (worker.go), many nodes in one process, as the devnet hosts its own
// without workers, each worker under its own open-file limit. The ledger,
// the seed, the servers and the dashboard stay in the devnet. The devnet
// supervises, as it does a node's own process (procs.go):
//   - the worker tells each node ready with its NodeInfo (its pid is the
//     worker's), and the devnet records it as running;
//   - StopNode and StartNode (`node kill`, `node restart`) are orders to
//     the node's worker: that node alone stops (closed, as Close would) or
//     starts again;
//   - a node that fails in its worker is reported exited, as an in-process
//     one is;
//   - a worker that dies (a crash, SIGKILL) takes its nodes with it: each
//     is reported exited, naming the worker and how it ended; `node
//     restart` of any of them starts a new worker for that range;
//   - Close closes each worker's stdin, which stops its nodes, and waits
//     (workerStopGrace, then SIGKILL).

// workerStopGrace is how long Close waits for a worker to stop its nodes.
const workerStopGrace = time.Minute

// workerProc is a worker process, hosting one range of the devnet's nodes.
type workerProc struct {
	child // (its mu guards the fields below too)
	shard int

	inMu  sync.Mutex
	stdin io.WriteCloser

	waiting map[int]chan workerEvent // by node index: the answer to an order
	told    time.Time                // when it last told of a node (or started)
}

// hostedNode is a node running in a worker.
type hostedNode struct {
	w    *workerProc
	info NodeInfo
}

// shardRange is the indexes [lo, hi) of the nodes of worker k of workers.
func shardRange(k, workers, nodes int) (lo, hi int) {
	return k * nodes / workers, (k + 1) * nodes / workers
}

// shardOf is the worker of node i.
func shardOf(i, workers, nodes int) int {
	for k := range workers {
		if _, hi := shardRange(k, workers, nodes); i < hi {
			return k
		}
	}
	return workers - 1
}

// WorkerName is worker k's name in the logs: worker-1, worker-2, ...
func WorkerName(k int) string { return fmt.Sprintf("worker-%d", k+1) }

// startWorkers starts every worker with its range of nodes and waits until
// each node is ready or failed.
func (nw *Network) startWorkers(ctx context.Context) error {
	total := len(nw.keys)
	errs := make([]error, total)
	var wg sync.WaitGroup
	var pmu sync.Mutex
	started := 0
	progress := func() {
		if nw.cfg.Progress != nil {
			pmu.Lock()
			started++
			nw.cfg.Progress(StartProgress{Stage: StageStarting, Done: started, Total: total})
			pmu.Unlock()
		}
	}
	for k := range nw.cfg.Workers {
		lo, hi := shardRange(k, nw.cfg.Workers, total)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var indexes []int
			for i := lo; i < hi; i++ {
				indexes = append(indexes, i)
			}
			w, answers, err := nw.startWorker(ctx, k, indexes)
			if err != nil {
				for i := lo; i < hi; i++ {
					errs[i] = err
				}
				return
			}
			for j, i := range indexes {
				errs[i] = nw.await(ctx, w, i, answers[j], procReadyTimeout)
				progress()
			}
		}()
	}
	wg.Wait()
	return summarize(errs)
}

// startWorker starts worker k hosting indexes (none: it waits for orders),
// and returns the channels their readiness comes on, in order.
func (nw *Network) startWorker(ctx context.Context, k int, indexes []int) (*workerProc, []chan workerEvent, error) {
	name := WorkerName(k)
	log := nw.cfg.logger("devnet").With().Str("worker", name).Logger()
	req, err := json.Marshal(procConfig{Data: Dir(nw.cfg.Dir).path("nodes"), Ledger: nw.rpc.URL(), Seed: nw.cfg.Seed, Nodes: len(nw.keys),
		Servers: nw.servers(), Listen: "/ip4/" + nw.cfg.Host + "/tcp/0", HTTPS: net.JoinHostPort(nw.cfg.Host, "0"), LogLevel: procLevel(log.GetLevel()),
		Worker: true, Indexes: indexes})
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(nw.cfg.Exe, "devnet-worker", name) // (the arguments only name it, for ps)
	cmd.Env = append(os.Environ(), NodeProcessEnv+"=1")
	cmd.SysProcAttr = childProcAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, nil, err
	}
	w := &workerProc{child: newChild(cmd), shard: k, stdin: stdin, waiting: map[int]chan workerEvent{}, told: time.Now()}
	answers := make([]chan workerEvent, len(indexes))
	for j, i := range indexes {
		answers[j] = make(chan workerEvent, 1)
		w.waiting[i] = answers[j]
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("devnet: start %s: %w", name, err)
	}
	nw.mu.Lock()
	if nw.done {
		nw.mu.Unlock()
		cmd.Process.Kill()
		cmd.Wait()
		return nil, nil, errors.New("devnet: the network stopped")
	}
	nw.workers[k] = w
	nw.mu.Unlock()
	if _, err := stdin.Write(append(req, '\n')); err != nil {
		w.kill() // (it read nothing: it exits, and is waited for below)
	}
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		relayLines(stderr, func(node string) (zerolog.Logger, edgelog.Sink) {
			if i, err := nodeByName(node, len(nw.keys)); err == nil {
				return nw.cfg.logger(node), nw.nodeEdge(i)
			}
			return log, nw.edgeSink(nil)
		}, w.setLast)
	}()
	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		dec := json.NewDecoder(stdout)
		for {
			var e workerEvent
			if err := dec.Decode(&e); err != nil {
				break
			}
			nw.workerEvent(w, e)
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		<-logsDone
		<-outDone // (Wait closes the pipes: every read must be over)
		w.err = cmd.Wait()
		nw.workerGone(w)
		close(w.done)
	}()
	log.Info().Int("pid", cmd.Process.Pid).Int("nodes", len(indexes)).Msg("worker started")
	return w, answers, nil
}

// workerEvent takes in what worker w told of a node.
func (nw *Network) workerEvent(w *workerProc, e workerEvent) {
	if e.Index < 0 || e.Index >= len(nw.keys) {
		return
	}
	i := e.Index
	switch e.Event {
	case workerReady:
		if e.Info == nil || e.Info.Key != pub(nw.keys[i]) {
			e = workerEvent{Index: i, Event: workerFailed, Error: fmt.Sprintf("%s did not run its own key", NodeName(i))}
			break
		}
		nw.mu.Lock()
		if !nw.done && nw.hosted != nil {
			nw.hosted[i] = &hostedNode{w: w, info: *e.Info}
			nw.exits[i] = ""
		}
		nw.mu.Unlock()
	case workerExited:
		report := fmt.Sprintf("%s in %s (pid %d) %s", NodeName(i), WorkerName(w.shard), w.cmd.Process.Pid, e.Error)
		if nw.dropHosted(w, i, report) {
			log := nw.cfg.logger(NodeName(i))
			log.Error().Str("worker", WorkerName(w.shard)).Str("exit", e.Error).Msg("node exited in its worker")
			if nw.cfg.OnExit != nil {
				nw.cfg.OnExit(i, report)
			}
		}
		return
	}
	w.mu.Lock()
	ch := w.waiting[i]
	delete(w.waiting, i)
	w.told = time.Now()
	w.mu.Unlock()
	if ch != nil {
		ch <- e
	}
}

// dropHosted marks node i, run by w, stopped with report; false if it was
// not running there.
func (nw *Network) dropHosted(w *workerProc, i int, report string) bool {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if nw.hosted == nil || nw.hosted[i] == nil || nw.hosted[i].w != w {
		return false
	}
	nw.hosted[i] = nil
	nw.exits[i] = report
	return true
}

// workerGone takes in that worker w exited: its waiting orders fail, and,
// unless the devnet stopped it, each of its nodes is reported exited.
func (nw *Network) workerGone(w *workerProc) {
	w.mu.Lock()
	waiting := w.waiting
	w.waiting = nil
	crashed := !w.stopping
	w.mu.Unlock()
	how := fmt.Sprintf("%s (pid %d) exited (%v); last log line: %s", WorkerName(w.shard), w.cmd.Process.Pid, w.err, w.lastLine())
	for i, ch := range waiting {
		ch <- workerEvent{Index: i, Event: workerFailed, Error: how}
	}
	nw.mu.Lock()
	if nw.workers != nil && nw.workers[w.shard] == w {
		nw.workers[w.shard] = nil
	}
	nw.mu.Unlock()
	if !crashed {
		return
	}
	log := nw.cfg.logger("devnet")
	log.Error().Str("worker", WorkerName(w.shard)).Int("pid", w.cmd.Process.Pid).Str("exit", fmt.Sprint(w.err)).Str("last", w.lastLine()).Msg("worker exited by itself: its nodes with it")
	for i := range nw.keys {
		report := "its worker " + how
		if nw.dropHosted(w, i, report) && nw.cfg.OnExit != nil {
			nw.cfg.OnExit(i, report)
		}
	}
}

// await waits for the answer about node i from w: nil once it is ready or
// stopped, its error if it failed. The worker is given up on (and killed by
// the caller's error path) only when it told nothing of any node for
// timeout: a worker starting a thousand nodes, a few at a time, answers for
// its last one long after it began, and is fine while its answers come.
func (nw *Network) await(ctx context.Context, w *workerProc, i int, ch chan workerEvent, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case e := <-ch:
			if e.Event == workerFailed {
				return fmt.Errorf("devnet: %s: %s", NodeName(i), e.Error)
			}
			return nil
		case <-t.C:
			w.mu.Lock()
			quiet := time.Since(w.told)
			w.mu.Unlock()
			if quiet < timeout {
				t.Reset(timeout - quiet)
				continue
			}
			return fmt.Errorf("devnet: %s in %s (pid %d) was not ready, and the worker told of no node for %s; last log line: %s", NodeName(i), WorkerName(w.shard), w.cmd.Process.Pid, timeout, w.lastLine())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// startHosted starts node i in the worker of its range; if that worker is
// gone, in a new one.
func (nw *Network) startHosted(ctx context.Context, i int) error {
	k := shardOf(i, nw.cfg.Workers, len(nw.keys))
	nw.respawn.Lock() // one new worker a range, however many restarts at once
	nw.mu.Lock()
	if nw.workers == nil {
		nw.mu.Unlock()
		nw.respawn.Unlock()
		return errors.New("devnet: the network is not running")
	}
	w := nw.workers[k]
	nw.mu.Unlock()
	if w != nil {
		nw.respawn.Unlock()
		return nw.order(ctx, w, "start", i)
	}
	w, answers, err := nw.startWorker(ctx, k, []int{i})
	nw.respawn.Unlock()
	if err != nil {
		return err
	}
	return nw.await(ctx, w, i, answers[0], procReadyTimeout)
}

// order sends worker w an order about node i and waits for its answer.
func (nw *Network) order(ctx context.Context, w *workerProc, op string, i int) error {
	k := w.shard
	ch := make(chan workerEvent, 1)
	w.mu.Lock()
	if w.waiting == nil {
		w.mu.Unlock()
		return fmt.Errorf("devnet: %s has exited", WorkerName(k))
	}
	if w.waiting[i] != nil {
		w.mu.Unlock()
		return fmt.Errorf("devnet: %s is starting or stopping", NodeName(i))
	}
	w.waiting[i] = ch
	w.mu.Unlock()
	line, _ := json.Marshal(workerCmd{Op: op, Index: i})
	w.inMu.Lock()
	_, err := w.stdin.Write(append(line, '\n'))
	w.inMu.Unlock()
	if err != nil {
		w.mu.Lock()
		if w.waiting != nil {
			delete(w.waiting, i)
		}
		w.mu.Unlock()
		return fmt.Errorf("devnet: order %s: %w", WorkerName(k), err)
	}
	return nw.await(ctx, w, i, ch, procReadyTimeout)
}

// stop closes the worker's stdin, which stops its nodes, and waits; after
// the grace, SIGKILL.
func (w *workerProc) stop() error {
	return w.stopWith(func() {
		w.inMu.Lock()
		w.stdin.Close()
		w.inMu.Unlock()
	}, workerStopGrace, fmt.Sprintf("%s (pid %d)", WorkerName(w.shard), w.cmd.Process.Pid))
}

// nodesLimit is the most nodes a devnet runs with workers workers.
func nodesLimit(workers int) int {
	if workers > 0 {
		return MaxWorkerNodes
	}
	return MaxNodes
}

// checkWorkers refuses a number of workers that cannot host nodes nodes
// (NoNodes: none), as an errkind.Invalid error.
func checkWorkers(workers, nodes int, exe string) error {
	switch {
	case workers == 0:
		return nil
	case workers < 0:
		return errkind.Invalidf("--workers %d: want at least 1", workers)
	case exe == "":
		return errors.New("devnet: Config.Workers needs Exe, the binary the workers run")
	case nodes == NoNodes || nodes == 0:
		return errkind.Invalidf("--workers %d: this devnet runs no nodes of its own for workers to host", workers)
	case workers > nodes:
		return errkind.Invalidf("--workers %d: more workers than the %d nodes they host; give at most %d", workers, nodes, nodes)
	}
	return nil
}

// WorkersFlag is UpConfig.Workers from --workers K (given or not) beside
// --procs: K at least 1, and not with --procs.
func WorkersFlag(k int, set, procs bool) (int, error) {
	switch {
	case !set:
		return 0, nil
	case procs:
		return 0, errkind.Invalidf("--workers K hosts many nodes in each process, --procs one: give one of them")
	case k < 1:
		return 0, errkind.Invalidf("--workers %d: want at least 1 worker process", k)
	}
	return k, nil
}
