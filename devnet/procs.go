package devnet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/internal/edgelog"
)

// Nodes as their own processes (Config.Exe, `devnet up --procs`). Node i
// runs as the binary at Exe with NodeProcessEnv set, asked on its stdin to
// run node-i of this devnet (nodeproc.go: the contract, typed, both ends in
// this package). The devnet registered it at genesis, as it does its own
// nodes, so the child finds itself on the ledger and only serves (RunNode).
// The devnet supervises:
//   - the child says it is ready by writing its NodeInfo on stdout, after
//     its first view of the network;
//   - its logs (JSON on stderr) are written again through the node's own
//     logger, so they land in nodes.log and on the dashboard like an
//     in-process node's;
//   - StopNode (`node kill`) sends SIGKILL: a crash, as the fault it plays;
//   - Close closes the child's stdin, which stops it, and waits (10 s,
//     then SIGKILL);
//   - a child that exits by itself is a crash: logged as an error with its
//     exit status and last log line, kept for the manifest (Exited), and
//     told to Config.OnExit; it is not restarted (`node restart` does);
//   - children are in their own process group (Ctrl-C on the terminal
//     reaches the devnet, which stops them in order); if the devnet dies,
//     their stdin ends, which stops them (and on Linux the kernel sends
//     them SIGTERM too: its parent-death signal).
//
// The dashboard's onion and store events come from in-process nodes only;
// the ledger's view (states, votes, swarms) is the same for both.

// procStopGrace is how long Close waits for a child it asked to stop.
const procStopGrace = 10 * time.Second

// procReadyTimeout bounds a child's start.
const procReadyTimeout = 60 * time.Second

// nodeProc is a node running as a child process.
type nodeProc struct {
	child
	stdin io.WriteCloser // closing it stops the child
	info  NodeInfo
}

// child is a process the devnet started and supervises: a node's
// (nodeProc) or a worker's (workerProc).
type child struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the child exited and its output is read
	err  error         // its exit status, once done

	mu       sync.Mutex
	stopping bool   // the devnet stopped it: not a crash
	last     string // the child's last log line, for a crash report
}

func newChild(cmd *exec.Cmd) child { return child{cmd: cmd, done: make(chan struct{})} }

// startProc starts node i as a child process and waits until it is ready.
func (nw *Network) startProc(ctx context.Context, i int) (*nodeProc, error) {
	name := NodeName(i)
	log := nw.cfg.logger(name)
	req, err := json.Marshal(procConfig{Data: Dir(nw.cfg.Dir).NodeData(name), Ledger: nw.rpc.URL(), Seed: nw.cfg.Seed, Index: i, Nodes: len(nw.keys),
		Servers: nw.servers(), Listen: "/ip4/" + nw.cfg.Host + "/tcp/0", HTTPS: net.JoinHostPort(nw.cfg.Host, "0"), LogLevel: procLevel(log.GetLevel())})
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(nw.cfg.Exe, "devnet-node", name) // (the arguments only name it, for ps)
	cmd.Env = append(os.Environ(), NodeProcessEnv+"=1")
	cmd.SysProcAttr = childProcAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("devnet: start %s as a process: %w", name, err)
	}
	p := &nodeProc{child: newChild(cmd), stdin: stdin}
	if _, err := stdin.Write(append(req, '\n')); err != nil {
		p.kill() // (it read nothing: it exits, and is waited for below)
	}
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		p.relay(stderr, log, nw.nodeEdge(i))
	}()
	ready := make(chan error, 1)
	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		err := json.NewDecoder(stdout).Decode(&p.info)
		ready <- err
		io.Copy(io.Discard, stdout) // the rest, if any, until it exits
	}()
	go func() {
		<-logsDone
		<-outDone // (Wait closes the pipes: every read must be over)
		p.err = cmd.Wait()
		close(p.done)
	}()
	timer := time.NewTimer(procReadyTimeout)
	defer timer.Stop()
	select {
	case err := <-ready:
		if err == nil && p.info.Key == pub(nw.keys[i]) {
			log.Info().Int("pid", cmd.Process.Pid).Str("peer_id", p.info.PeerID).Msg("node process ready")
			return p, nil
		}
		p.kill()
		<-p.done
		if err == nil {
			return nil, fmt.Errorf("devnet: %s runs key %.16s, not its own", name, p.info.Key)
		}
		return nil, fmt.Errorf("devnet: %s (pid %d) %s", name, cmd.Process.Pid, p.exitText())
	case <-timer.C:
		p.kill()
		<-p.done
		return nil, fmt.Errorf("devnet: %s (pid %d) was not ready within %s; last log line: %s", name, cmd.Process.Pid, procReadyTimeout, p.lastLine())
	case <-ctx.Done():
		p.kill()
		<-p.done
		return nil, ctx.Err()
	}
}

// procLevel is the --log-level of a child logging for a logger at l.
func procLevel(l zerolog.Level) string {
	if l <= zerolog.DebugLevel {
		return "debug"
	}
	return "info"
}

// relay writes the child's JSON log lines through log (its edge lines,
// component=edge, through edge): level and message are the child's, the
// time is when the devnet read it, and the other fields are kept. A line
// that is not JSON (a panic's trace) is logged as it is, at error level.
func (p *nodeProc) relay(r io.Reader, log zerolog.Logger, edge edgelog.Sink) {
	relayLines(r, func(string) (zerolog.Logger, edgelog.Sink) { return log, edge }, p.setLast)
}

// relayLines writes a child's JSON log lines through the logger that pick
// gives for the line's node field ("" for none): the edge lines through its
// edge sink. Each line but edge lines is told to setLast.
func relayLines(r io.Reader, pick func(node string) (zerolog.Logger, edgelog.Sink), setLast func(string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var fields map[string]any
		if json.Unmarshal(line, &fields) != nil {
			setLast(string(line))
			log, _ := pick("")
			log.Error().Msg(string(line))
			continue
		}
		lvl, _ := zerolog.ParseLevel(fmt.Sprint(fields["level"]))
		msg, _ := fields["message"].(string)
		component, _ := fields["component"].(string)
		node, _ := fields["node"].(string)
		for _, k := range []string{"level", "message", "time", "component"} {
			delete(fields, k)
		}
		log, edge := pick(node)
		if component == "edge" {
			delete(fields, "node") // edge's logger names the node
			edge.Log.WithLevel(lvl).Fields(fields).Msg(msg)
			if edge.Observe != nil {
				endpoint, _ := fields[edgelog.KeyEndpoint].(string)
				status, _ := fields[edgelog.KeyStatus].(float64)
				edge.Observe(edgelog.Entry{Endpoint: endpoint, Status: int(status)})
			}
			continue
		}
		setLast(msg)
		log.WithLevel(lvl).Fields(fields).Msg(msg)
	}
	io.Copy(io.Discard, r) // a line beyond 1 MiB: drain, so the child never blocks
}

func (p *child) setLast(s string) {
	p.mu.Lock()
	p.last = s
	p.mu.Unlock()
}

func (p *child) lastLine() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last == "" {
		return "(none)"
	}
	return strings.TrimSpace(p.last)
}

// exitText says how the child ended, once done.
func (p *child) exitText() string {
	return fmt.Sprintf("exited (%v); last log line: %s", p.err, p.lastLine())
}

// kill sends SIGKILL: the devnet asked for it.
func (p *child) kill() {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	p.cmd.Process.Kill()
}

// stopWith has the child stop by closeStdin and waits; after grace,
// SIGKILL. name names it in an error: an exit status but 0, or the kill.
func (p *child) stopWith(closeStdin func(), grace time.Duration, name string) error {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	closeStdin()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		var ee *exec.ExitError
		if errors.As(p.err, &ee) && ee.ExitCode() != 0 {
			return fmt.Errorf("%s %s", name, p.exitText())
		}
		return nil
	case <-t.C:
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s: killed", name, grace)
	}
}

// stop closes the child's stdin, which stops it, and waits; after the
// grace, SIGKILL.
func (p *nodeProc) stop() error {
	return p.stopWith(func() { p.stdin.Close() }, procStopGrace, fmt.Sprintf("node process %d", p.cmd.Process.Pid))
}

// crashed reports whether the child ended without the devnet asking.
func (p *child) crashed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.stopping
}
