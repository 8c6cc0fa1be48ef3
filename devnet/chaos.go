package devnet

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sessionctl/sessionctl/chaos"
	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/internal/httpserve"
)

// ChaosTarget is the network, in this process, as package chaos's Target:
// its nodes killed and restarted as node kill and node restart do them.
func (nw *Network) ChaosTarget() chaos.Target { return &localTarget{nw: nw} }

type localTarget struct {
	nw *Network
}

// nodeByName reads node-N.
func nodeByName(name string, nodes int) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(name, "node-"))
	if err != nil || !strings.HasPrefix(name, "node-") || n < 1 || n > nodes {
		return 0, fmt.Errorf("%w %q", ErrUnknownNode, name)
	}
	return n - 1, nil
}

func (t *localTarget) LedgerURL() string { return t.nw.LedgerURL() }

func (t *localTarget) Servers() (client.ServerInfo, client.ServerInfo) {
	return client.ServerInfo{URL: t.nw.Files.URL(), X25519: t.nw.FileServerKey().Public},
		client.ServerInfo{URL: t.nw.Community.URL(), X25519: t.nw.CommunityKey().Public}
}

func (t *localTarget) Nodes(context.Context) ([]chaos.Node, error) {
	out := make([]chaos.Node, len(t.nw.keys))
	for i := range t.nw.keys {
		out[i] = chaos.Node{Name: NodeName(i), Key: t.nw.NodeKey(i), Running: t.nw.Running(i)}
	}
	return out, nil
}

func (t *localTarget) Kill(_ context.Context, name string) error {
	i, err := nodeByName(name, len(t.nw.keys))
	if err != nil {
		return err
	}
	return t.nw.StopNode(i)
}

func (t *localTarget) Restart(ctx context.Context, name string) error {
	i, err := nodeByName(name, len(t.nw.keys))
	if err != nil {
		return err
	}
	return t.nw.restartNode(ctx, i)
}

// restartNode starts node i (if it is stopped) and waits until it serves
// and the ledger has its new address, as the control endpoint's restart.
func (nw *Network) restartNode(ctx context.Context, i int) error {
	if !nw.Running(i) {
		if err := nw.StartNode(ctx, i); err != nil && !errors.Is(err, ErrNodeRunning) {
			return err
		}
	}
	if err := nw.WaitNodeReady(ctx, i); err != nil {
		return err
	}
	return nw.AwaitPublished(ctx, i)
}

func (t *localTarget) Repair(ctx context.Context) error {
	for _, n := range t.nw.Nodes() {
		n.Repair(ctx) // a member that is down fails the round: fine
	}
	return nil
}

func (t *localTarget) Supports(kind string) string { return t.nw.chaosFaults()[kind] }

// chaosFaults says, for each fault kind beyond kill, swarm and miss, why
// this network cannot make it ("" when it can).
func (nw *Network) chaosFaults() map[string]string {
	out := map[string]string{}
	for _, k := range chaos.FaultKinds {
		out[k] = unsupported(k, false)
	}
	if nw.cfg.Exe == "" {
		out[chaos.FaultSkew], out[chaos.FaultSkewFar] = "", ""
	} else {
		out[chaos.FaultSkew] = "the nodes run in their own processes, on this machine's clock"
		out[chaos.FaultSkewFar] = out[chaos.FaultSkew]
		out[chaos.FaultSigkill] = ""
		if nw.cfg.Workers > 0 {
			out[chaos.FaultSigkill] = "the nodes share worker processes (devnet up --procs runs each in its own)"
		}
	}
	why := nw.DiskFaults()
	out[chaos.FaultDisk], out[chaos.FaultReadOnly] = why, why
	return out
}

func (t *localTarget) Inject(ctx context.Context, f chaos.PlannedFault, nodes []string) (chaos.Injected, error) {
	i, err := nodeByName(nodes[0], len(t.nw.keys))
	if err != nil {
		return chaos.Injected{}, err
	}
	switch f.Kind {
	case chaos.FaultDisk, chaos.FaultReadOnly:
		heal, err := t.nw.DiskFault(ctx, i, f.Kind == chaos.FaultReadOnly)
		return chaos.Injected{Detail: diskDetail(nodes[0], f.Kind), Heal: heal}, err
	case chaos.FaultSkew, chaos.FaultSkewFar:
		if err := t.nw.SetSkew(i, f.Skew); err != nil {
			return chaos.Injected{}, err
		}
		return chaos.Injected{Detail: fmt.Sprintf("%s's clock moved %+ds", nodes[0], int(f.Skew.Seconds())),
			Heal: func(context.Context) error { return t.nw.SetSkew(i, 0) }}, nil
	}
	return chaos.Injected{}, errors.New(t.Supports(f.Kind))
}

// diskImageMB is the size of a node's file system under a disk-full fault.
const diskImageMB = 64

// diskDetail says what a disk fault did.
func diskDetail(node, kind string) string {
	if kind == chaos.FaultReadOnly {
		return node + "'s data directory made read-only, and the node started again on it"
	}
	return fmt.Sprintf("%s's data directory on a %d MiB file system, filled", node, diskImageMB)
}

// unsupported says why a fault kind is not made (for the kinds neither
// target makes, and those a devnet reached from outside makes only so).
func unsupported(kind string, remote bool) string {
	switch kind {
	case chaos.FaultSigkill:
		return "the nodes run in the devnet's process (devnet up --procs runs them in their own)"
	case chaos.FaultDevnet:
		if !remote {
			return "the network runs in this process"
		}
		return ""
	case chaos.FaultPartition, chaos.FaultSlow:
		return "the nodes share one host: it needs nodes on hosts of their own (network namespaces, given to 'sessionctl chaos --netns')"
	}
	return "unknown fault kind"
}

// ChaosTarget is the devnet this client controls as package chaos's
// Target: its nodes killed and restarted through the control endpoint,
// its ledger and servers as its manifest says. A devnet that stops
// answering is dialled again from its directory (it may have been resumed
// elsewhere).
// resume, if set, starts the devnet again after a devnet-kill fault;
// hosts are network namespaces holding nodes of the devnet, which
// partition and slow faults cut off and slow (netfault_linux.go).
func (c *ControlClient) ChaosTarget(resume func(context.Context) error, hosts []string) chaos.Target {
	return &remoteTarget{c: c, dir: c.dir, resume: resume, hosts: hosts}
}

// slowRate is a slow link's rate (tc's units).
const slowRate = "256kbit"

type remoteTarget struct {
	dir     string
	resume  func(context.Context) error
	faults  map[string]string // what the devnet says it makes (t.mu)
	hosts   []string
	netOnce sync.Once
	netWhy  string
	mu      sync.Mutex
	c       *ControlClient
}

func (t *remoteTarget) client() *ControlClient {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.c
}

// redial reads the manifest again, once the devnet stopped answering.
func (t *remoteTarget) redial(ctx context.Context) error {
	c, err := Dial(ctx, t.dir)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.c = c
	t.mu.Unlock()
	return nil
}

// call runs f, dialling the devnet again if it did not answer.
func (t *remoteTarget) call(ctx context.Context, f func(c *ControlClient) error) error {
	err := f(t.client())
	if errors.Is(err, ErrNotRunning) {
		if derr := t.redial(ctx); derr == nil {
			err = f(t.client())
		}
	}
	return err
}

func (t *remoteTarget) LedgerURL() string { return t.client().m.Ledger.URL }

func (t *remoteTarget) Servers() (files, community client.ServerInfo) {
	for _, s := range t.client().m.Servers {
		k, err := hex.DecodeString(s.X25519Pubkey)
		if err != nil || len(k) != 32 {
			continue
		}
		info := client.ServerInfo{URL: s.URL, X25519: [32]byte(k)}
		switch s.Kind {
		case "file":
			files = info
		case "community":
			community = info
		}
	}
	return files, community
}

func (t *remoteTarget) Nodes(ctx context.Context) ([]chaos.Node, error) {
	var out []chaos.Node
	err := t.call(ctx, func(c *ControlClient) error {
		nodes, err := c.Nodes(ctx)
		out = out[:0]
		for _, n := range nodes {
			out = append(out, chaos.Node{Name: n.Name, Key: n.Ed25519Pubkey, Running: n.Running})
		}
		return err
	})
	return out, err
}

func (t *remoteTarget) Kill(ctx context.Context, name string) error {
	return t.call(ctx, func(c *ControlClient) error { return c.Kill(ctx, name) })
}

func (t *remoteTarget) Restart(ctx context.Context, name string) error {
	return t.call(ctx, func(c *ControlClient) error { _, err := c.Restart(ctx, name); return err })
}

func (t *remoteTarget) Repair(ctx context.Context) error {
	return t.call(ctx, func(c *ControlClient) error { return c.Repair(ctx) })
}

func (t *remoteTarget) Supports(kind string) string {
	if kind == chaos.FaultPartition || kind == chaos.FaultSlow {
		t.netOnce.Do(func() { t.netWhy = netFaults(t.hosts) })
		return t.netWhy
	}
	if kind == chaos.FaultDevnet {
		if t.resume == nil {
			return "no way to resume the devnet was given"
		}
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.faults == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := t.c.do(ctx, http.MethodGet, "/v1/chaos/faults", nil, &t.faults); err != nil {
			return "the devnet did not say which faults it makes: " + err.Error()
		}
	}
	why, ok := t.faults[kind]
	if !ok {
		return "the devnet does not make it"
	}
	return why
}

func (t *remoteTarget) Inject(ctx context.Context, f chaos.PlannedFault, nodes []string) (chaos.Injected, error) {
	switch f.Kind {
	case chaos.FaultSkew, chaos.FaultSkewFar:
		name := nodes[0]
		if err := t.call(ctx, func(c *ControlClient) error { return c.Skew(ctx, name, f.Skew) }); err != nil {
			return chaos.Injected{}, err
		}
		return chaos.Injected{Detail: fmt.Sprintf("%s's clock moved %+ds", name, int(f.Skew.Seconds())), Heal: func(ctx context.Context) error {
			return t.call(ctx, func(c *ControlClient) error { return c.Skew(ctx, name, 0) })
		}}, nil
	case chaos.FaultSigkill:
		var down []string
		for _, n := range nodes {
			if err := t.Kill(ctx, n); err == nil { // a node's process: SIGKILL
				down = append(down, n)
			}
		}
		if len(down) == 0 {
			return chaos.Injected{}, errors.New("no node process was killed")
		}
		return chaos.Injected{Detail: "SIGKILL to the processes of " + strings.Join(down, ", "), Heal: func(ctx context.Context) error {
			var errs []error
			for _, n := range down {
				errs = append(errs, t.Restart(ctx, n))
			}
			return errors.Join(errs...)
		}}, nil
	case chaos.FaultDisk, chaos.FaultReadOnly:
		name := nodes[0]
		mode := "full"
		if f.Kind == chaos.FaultReadOnly {
			mode = "read-only"
		}
		if err := t.call(ctx, func(c *ControlClient) error { return c.Disk(ctx, name, mode) }); err != nil {
			return chaos.Injected{}, err
		}
		return chaos.Injected{Detail: diskDetail(name, f.Kind), Heal: func(ctx context.Context) error {
			return t.call(ctx, func(c *ControlClient) error { return c.Disk(ctx, name, "heal") })
		}}, nil
	case chaos.FaultPartition, chaos.FaultSlow:
		h := t.hosts[f.Keep%len(t.hosts)]
		ip := hostIP(ctx, h)
		affected := []string{}
		if nodes, err := t.client().Nodes(ctx); err == nil && ip != "" {
			for _, n := range nodes {
				if slices.ContainsFunc(n.Addrs, func(a string) bool { return strings.HasPrefix(a, "/ip4/"+ip+"/") }) {
					affected = append(affected, n.Name)
				}
			}
		}
		heal, err := netFault(ctx, h, f.Kind == chaos.FaultSlow, slowRate)
		if err != nil {
			return chaos.Injected{}, err
		}
		what := "cut off"
		if f.Kind == chaos.FaultSlow {
			what = "slowed to " + slowRate + " each way"
		}
		return chaos.Injected{Detail: fmt.Sprintf("host %s (%s) %s", h, ip, what), Nodes: affected, Heal: heal}, nil
	case chaos.FaultDevnet:
		pid := t.client().m.PID
		if err := signalStop(pid, true); err != nil {
			return chaos.Injected{}, fmt.Errorf("SIGKILL the devnet (pid %d): %w", pid, err)
		}
		for Locked(t.dir) {
			select {
			case <-ctx.Done():
				return chaos.Injected{}, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		return chaos.Injected{Detail: fmt.Sprintf("SIGKILL to the devnet (pid %d)", pid), Nodes: []string{}, Heal: func(ctx context.Context) error {
			// A devnet of many nodes on a busy machine may not settle in
			// time: it is tried again.
			var err error
			for try := 0; try < 3; try++ {
				if err = t.resume(ctx); err == nil {
					return t.redial(ctx)
				}
			}
			return fmt.Errorf("resume the devnet: %w", err)
		}}, nil
	}
	return chaos.Injected{}, errors.New(unsupported(f.Kind, true))
}

// Skew moves a node's clock (0 puts it back).
func (c *ControlClient) Skew(ctx context.Context, name string, d time.Duration) error {
	return c.do(ctx, http.MethodPost, "/v1/nodes/"+url.PathEscape(name)+"/skew", map[string]int64{"ms": d.Milliseconds()}, nil)
}

func (c *controlServer) skew(w http.ResponseWriter, r *http.Request) {
	i, err := c.d.nodeIndex(r.PathValue("name"))
	if err != nil {
		writeErrOf(w, http.StatusNotFound, err)
		return
	}
	var req struct {
		MS int64 `json:"ms"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil || req.MS < -maxSkew.Milliseconds() || req.MS > maxSkew.Milliseconds() {
		httpserve.WriteError(w, http.StatusBadRequest, fmt.Sprintf(`want {"ms": N}, N within ±%d`, maxSkew.Milliseconds()))
		return
	}
	if err := c.d.Network.SetSkew(i, time.Duration(req.MS)*time.Millisecond); err != nil {
		writeErrOf(w, http.StatusConflict, err)
		return
	}
	c.d.log.Info().Str("node", NodeName(i)).Int64("ms", req.MS).Msg("node clock moved")
	c.d.cfg.Events.publish(map[string]any{"t": "skew", "name": NodeName(i), "ms": req.MS})
	httpserve.WriteJSON(w, http.StatusOK, map[string]any{"node": NodeName(i), "skew_ms": req.MS})
}

// maxSkew bounds how far the control endpoint moves a node's clock.
const maxSkew = 24 * time.Hour

// Repair asks every node of the devnet's process for a replica repair
// round now (nodes of their own process repair on their timer).
func (c *ControlClient) Repair(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/v1/repair", nil, nil)
}

func (c *controlServer) repair(w http.ResponseWriter, r *http.Request) {
	var wg sync.WaitGroup
	for _, n := range c.d.Network.Nodes() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.Repair(r.Context()) // a member that is down fails the round: fine
		}()
	}
	wg.Wait()
	httpserve.WriteJSON(w, http.StatusOK, map[string]bool{"repaired": true})
}

// ChaosStatus is what a chaos run tells the devnet's dashboard as it goes:
// the faults in force, the recent ones, and the operations by outcome.
type ChaosStatus struct {
	Seed       uint64                `json:"seed"`
	Active     []chaos.FaultEvent    `json:"active"`
	Recent     []chaos.FaultEvent    `json:"recent"` // the newest 20 healed
	Faults     int                   `json:"faults"`
	Ops        map[chaos.Outcome]int `json:"ops"`
	Done       bool                  `json:"done"`
	Violations int                   `json:"violations"`
}

// maxChaosStatus bounds what a chaos run may tell the dashboard at once.
const maxChaosStatus = 256 << 10

// TellChaos gives the dashboard a chaos run's status.
func (c *ControlClient) TellChaos(ctx context.Context, st ChaosStatus) error {
	return c.do(ctx, http.MethodPost, "/v1/chaos", st, nil)
}

func (c *controlServer) chaos(w http.ResponseWriter, r *http.Request) {
	var st ChaosStatus
	if err := json.NewDecoder(io.LimitReader(r.Body, maxChaosStatus)).Decode(&st); err != nil || len(st.Active) > 100 || len(st.Recent) > 100 {
		httpserve.WriteError(w, http.StatusBadRequest, "want a chaos status (at most 100 faults of each list)")
		return
	}
	c.d.mu.Lock()
	c.d.chaos = &st
	c.d.mu.Unlock()
	c.d.cfg.Events.publish(map[string]any{"t": "chaos", "faults": st.Faults, "active": len(st.Active)})
	for _, e := range c.d.dash.faults.chaosEvents(st) {
		c.d.cfg.Events.Record(e)
	}
	httpserve.WriteJSON(w, http.StatusOK, map[string]bool{"told": true})
}

// chaosStatus is the last status a chaos run told (nil: none).
func (d *Devnet) chaosStatus() *ChaosStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.chaos
}

// ChaosReporter keeps a chaos run's status and tells the devnet at most
// once a second (Run's OnFault and OnOp feed it).
type ChaosReporter struct {
	mu   sync.Mutex
	st   ChaosStatus
	tell func(context.Context, ChaosStatus) error
}

// NewChaosReporter reports to the devnet behind c (dialled again from its
// directory when it stops answering: a fault may have resumed it).
func NewChaosReporter(c *ControlClient, seed uint64) *ChaosReporter {
	t := &remoteTarget{c: c, dir: c.dir}
	tell := func(ctx context.Context, st ChaosStatus) error {
		return t.call(ctx, func(c *ControlClient) error { return c.TellChaos(ctx, st) })
	}
	return &ChaosReporter{st: ChaosStatus{Seed: seed, Ops: map[chaos.Outcome]int{}}, tell: tell}
}

// Fault notes a fault that started or was healed.
func (r *ChaosReporter) Fault(f chaos.FaultEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	same := func(x chaos.FaultEvent) bool { return x.Start == f.Start && x.Kind == f.Kind }
	r.st.Active = slices.DeleteFunc(r.st.Active, same)
	if f.End == 0 {
		r.st.Active = append(r.st.Active, f)
		r.st.Faults++
		return
	}
	r.st.Recent = append(r.st.Recent, f)
	if len(r.st.Recent) > 20 {
		r.st.Recent = r.st.Recent[1:]
	}
}

// Op notes an operation's outcome.
func (r *ChaosReporter) Op(op chaos.Op) {
	r.mu.Lock()
	r.st.Ops[op.Outcome]++
	r.mu.Unlock()
}

// Done notes the run's end and tells the devnet at once.
func (r *ChaosReporter) Done(ctx context.Context, violations int) {
	r.mu.Lock()
	r.st.Done, r.st.Violations, r.st.Active = true, violations, nil
	r.mu.Unlock()
	r.send(ctx)
}

func (r *ChaosReporter) send(ctx context.Context) {
	r.mu.Lock()
	st := r.st
	st.Ops = maps.Clone(r.st.Ops)
	st.Active, st.Recent = slices.Clone(st.Active), slices.Clone(st.Recent)
	r.mu.Unlock()
	tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	r.tell(tctx, st) // a devnet down for a moment (a fault) misses one
}

// Run tells the devnet every second until ctx ends.
func (r *ChaosReporter) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.send(ctx)
		}
	}
}

// Disk makes a disk fault on a node ("full", "read-only") or heals it ("heal").
func (c *ControlClient) Disk(ctx context.Context, name, mode string) error {
	return c.do(ctx, http.MethodPost, "/v1/nodes/"+url.PathEscape(name)+"/disk", map[string]string{"mode": mode}, nil)
}

func (c *controlServer) disk(w http.ResponseWriter, r *http.Request) {
	i, err := c.d.nodeIndex(r.PathValue("name"))
	if err != nil {
		writeErrOf(w, http.StatusNotFound, err)
		return
	}
	var req struct {
		Mode string `json:"mode"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil || (req.Mode != "full" && req.Mode != "read-only" && req.Mode != "heal") {
		httpserve.WriteError(w, http.StatusBadRequest, `want {"mode": "full"|"read-only"|"heal"}`)
		return
	}
	c.d.mu.Lock()
	heal := c.d.disks[i]
	if req.Mode != "heal" && heal == nil {
		c.d.disks[i] = func(context.Context) error { return errors.New("a disk fault is being made") }
	}
	c.d.mu.Unlock()
	if req.Mode == "heal" {
		if heal == nil {
			httpserve.WriteError(w, http.StatusConflict, "no disk fault on "+NodeName(i))
			return
		}
		err := heal(r.Context())
		c.d.mu.Lock()
		delete(c.d.disks, i)
		c.d.mu.Unlock()
		if err != nil {
			httpserve.WriteError(w, http.StatusInternalServerError, err.Error())
			return
		}
		c.d.cfg.Events.publish(map[string]any{"t": "disk", "name": NodeName(i), "mode": ""})
		httpserve.WriteJSON(w, http.StatusOK, map[string]string{"node": NodeName(i), "healed": "disk"})
		return
	}
	if heal != nil {
		httpserve.WriteError(w, http.StatusConflict, "a disk fault is on "+NodeName(i)+" already")
		return
	}
	heal, err = c.d.Network.DiskFault(r.Context(), i, req.Mode == "read-only")
	c.d.mu.Lock()
	if err != nil {
		delete(c.d.disks, i)
	} else {
		c.d.disks[i] = heal
	}
	c.d.mu.Unlock()
	if err != nil {
		httpserve.WriteError(w, http.StatusInternalServerError, err.Error())
		return
	}
	c.d.log.Info().Str("node", NodeName(i)).Str("mode", req.Mode).Msg("disk fault")
	c.d.cfg.Events.publish(map[string]any{"t": "disk", "name": NodeName(i), "mode": req.Mode})
	httpserve.WriteJSON(w, http.StatusOK, map[string]string{"node": NodeName(i), "disk": req.Mode})
}

func (c *controlServer) chaosFaults(w http.ResponseWriter, r *http.Request) {
	httpserve.WriteJSON(w, http.StatusOK, c.d.Network.chaosFaults())
}
