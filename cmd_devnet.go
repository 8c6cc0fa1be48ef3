package main

import (
	"log/slog"
	"maps"
	"net"

	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/libp2p/go-libp2p/gologshim"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/device"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/ledger"
	"github.com/sessionctl/sessionctl/logs"
	"github.com/sessionctl/sessionctl/scenario"
	"github.com/urfave/cli/v2"
)

func devnetCommand() *cli.Command {
	return &cli.Command{
		Name:  "devnet",
		Usage: "run a whole Session network on this machine",
		Subcommands: []*cli.Command{
			{
				Name:      "up",
				Usage:     "start a devnet (or resume the one saved under --dir) and print how to use it",
				ArgsUsage: " ",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "nodes", Usage: "number of service nodes, `N` (4 to 2000)", DefaultText: "12, or the saved devnet's"},
					&cli.StringFlag{Name: "seed", Usage: "`SEED` of every key and of the chain (default \"sessionctl\", or the saved devnet's)", EnvVars: []string{"SESSIONCTL_SEED"}},
					&cli.DurationFlag{Name: "block-time", Value: time.Second, Usage: "`DURATION` between ledger blocks (a unit is needed: 500ms, 2s); 0: blocks only when mined ('ledger mine')"},
					&cli.StringFlag{Name: "clients", Usage: "client identities to create, `NAMES` comma-separated (default alice,bob,carol)"},
					&cli.BoolFlag{Name: "reset", Usage: "discard the saved devnet and start afresh"},
					&cli.BoolFlag{Name: "detach", Usage: "run in the background; return once the devnet is ready"},
					&cli.BoolFlag{Name: "traffic", Usage: "make the clients exchange messages in the background"},
					&cli.DurationFlag{Name: "file-expiry", Value: time.Hour, Usage: "how long the file server keeps an attachment, a `DURATION` (mainnet: 3 weeks)"},
					&cli.StringFlag{Name: "log-format", Value: "console", Usage: "`FORMAT` of the log files: console or json"},
					&cli.StringFlag{Name: "scenario", Usage: "run the scenario `FILE` once the devnet is ready, then stop; the exit code is the scenario's"},
					&cli.BoolFlag{Name: "procs", Usage: "run every node as its own process ('node run'), supervised by this one"},
					&cli.StringFlag{Name: "listen", Value: "127.0.0.1", Usage: "`IP` address that the ledger, servers and nodes listen on; another than loopback lets other machines join ('node join')"},
					&cli.StringSliceFlag{Name: "fund", Usage: "pay `NAME=COINS` from the faucet once the devnet is ready (an identity or a wallet; repeatable)"},
					jsonFlag,
				},
				Action: devnetUp,
			},
			{Name: "status", Usage: "is a devnet running under --dir? (exit 0 yes, 3 no)", ArgsUsage: " ", Flags: []cli.Flag{jsonFlag}, Action: devnetStatus},
			{Name: "down", Usage: "stop the devnet running under --dir", ArgsUsage: " ", Flags: []cli.Flag{jsonFlag}, Action: devnetDown},
			{
				Name:  "snapshot",
				Usage: "save a stopped devnet whole (chain, nodes' storage, servers, keys, clients) and load it back",
				Subcommands: []*cli.Command{
					{Name: "save", Usage: "save the stopped devnet as NAME", ArgsUsage: "NAME",
						Flags: []cli.Flag{&cli.BoolFlag{Name: "replace", Usage: "overwrite a snapshot of that name"}, jsonFlag}, Action: snapshotSave},
					{Name: "load", Usage: "replace the stopped devnet with snapshot NAME; 'devnet up' resumes it", ArgsUsage: "NAME", Flags: []cli.Flag{jsonFlag}, Action: snapshotLoad},
					{Name: "ls", Usage: "the saved snapshots", ArgsUsage: " ", Flags: []cli.Flag{jsonFlag}, Action: snapshotList},
				},
			},
		},
	}
}

// dialDevnet finds the devnet running under --dir: exit 3 when there is none.
func dialDevnet(c *cli.Context) (*devnet.ControlClient, error) {
	ctx, cancel := context.WithTimeout(c.Context, 10*time.Second)
	defer cancel()
	cc, err := devnet.Dial(ctx, c.String(dirFlag.Name))
	if errors.Is(err, devnet.ErrNotRunning) {
		return nil, errkind.AsNotRunning(fmt.Errorf("no devnet is running under %s; start one with 'sessionctl devnet up'", c.String(dirFlag.Name)))
	}
	if errors.Is(err, devnet.ErrUnresponsive) {
		return cc, fmt.Errorf("%w; 'sessionctl devnet down' stops it", err)
	}
	return cc, err
}

// blockTimeFlag is --block-time when given; 0 (the saved one on resume, 1 s
// for a new devnet) when not.
func blockTimeFlag(c *cli.Context) time.Duration {
	if !c.IsSet("block-time") {
		return 0
	}
	if c.Duration("block-time") == 0 {
		return devnet.BlockTimeManual
	}
	return c.Duration("block-time")
}

func devnetUp(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	dir := c.String(dirFlag.Name)
	format := c.String("log-format")
	if err := logs.CheckFormat(format); err != nil {
		return errkind.Invalidf("--log-format %v", err)
	}
	if !c.IsSet("log-format") {
		format = logs.SavedFormat(dirOf(c).LogsDir(), format) // a resumed devnet keeps its format
	}
	if c.Duration("block-time") < 0 {
		return errkind.Invalidf("--block-time must be positive, or 0 for blocks only on demand ('sessionctl ledger mine')")
	}
	if c.Duration("file-expiry") < time.Second {
		return errkind.Invalidf("--file-expiry must be at least 1s")
	}
	if n := c.Int("nodes"); c.IsSet("nodes") && (n < devnet.MinNodes || n > devnet.MaxNodes) {
		return errkind.Invalidf("--nodes %d: want %d to %d (%s)", n, devnet.MinNodes, devnet.MaxNodes, devnet.MinNodesReason)
	}
	var payments []devnet.Payment
	for _, f := range c.StringSlice("fund") {
		name, coins, ok := strings.Cut(f, "=")
		amount, err := ledger.ParseCoins(coins)
		if !ok || name == "" || err != nil || amount == 0 {
			return errkind.Invalidf("--fund %q: want NAME=COINS, as alice=100", f)
		}
		payments = append(payments, devnet.Payment{To: name, Amount: amount})
	}
	listen := c.String("listen")
	if ip := net.ParseIP(listen); ip == nil || ip.To4() == nil || ip.IsUnspecified() {
		return errkind.Invalidf("--listen %q: want the IPv4 address that other machines reach this one at (not 0.0.0.0: nodes publish it)", listen)
	}
	var exe string
	if c.Bool("procs") {
		var err error
		if exe, err = selfExe(); err != nil {
			return fmt.Errorf("--procs runs this binary again: %w", err)
		}
	}
	var steps []scenario.Step
	if f := c.String("scenario"); f != "" {
		if c.Bool("detach") {
			return errkind.Invalidf("--scenario runs in the foreground; drop --detach")
		}
		var err error
		if steps, err = loadScenario(f); err != nil {
			return err
		}
	}
	if !net.ParseIP(listen).IsLoopback() {
		fmt.Fprintf(c.App.ErrWriter, "warning: listening on %s: the ledger, the servers and the nodes are reachable from other machines.\n"+
			"  Anyone who can reach them reads the chain and sends messages; kill, restart, mine and payments need the token in devnet.json,\n"+
			"  and the join URL funds node stakes: hand it only to those who should run nodes.\n", listen)
	}
	if c.Bool("detach") && os.Getenv(devnet.DetachedEnv) == "" {
		return detach(c)
	}
	var clients []string
	if c.IsSet("clients") {
		for _, n := range strings.Split(c.String("clients"), ",") {
			if n = strings.TrimSpace(n); n != "" {
				if err := identity.ValidName(n); err != nil {
					return errkind.Invalidf("--clients: %w", err)
				}
				clients = append(clients, n)
			}
		}
	}
	level, _ := zerolog.ParseLevel(c.String(logLevelFlag.Name))
	if !c.IsSet(logLevelFlag.Name) {
		level = zerolog.InfoLevel // the files keep the lifecycle; the console shows the summary
	}
	events := devnet.NewEvents()
	logFiles, err := logs.Open(dirOf(c).LogsDir(), logs.Options{Format: format, Level: level, Tee: events})
	if err != nil {
		return err
	}
	defer logFiles.Close()
	// libp2p's own logs (slog) go to logs/libp2p.log, not the terminal:
	// closing 2,000 hosts made it print an error a listener.
	if f, err := logFiles.Writer("libp2p"); err == nil {
		gologshim.SetDefaultHandler(slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	stderr := c.App.ErrWriter
	progress := func(started, total int) {}
	if display.IsTerminal(stderr) {
		progress = display.ProgressBar(stderr)
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	setMemoryLimit()
	if err := servePprof(stderr); err != nil {
		return err
	}
	began := time.Now()
	d, err := devnet.Up(ctx, devnet.UpConfig{
		Dir: dir, Nodes: c.Int("nodes"), Seed: c.String("seed"), BlockTime: blockTimeFlag(c),
		Clients: clients, Reset: c.Bool("reset"), Traffic: c.Bool("traffic"), Logs: logFiles.Logger, Progress: progress, FileExpiry: c.Duration("file-expiry"), Events: events, Fund: payments,
		Listen: listen, Exe: exe,
	})
	if err != nil {
		if errors.Is(err, devnet.ErrConflict) || errors.Is(err, devnet.ErrFormat) || errors.Is(err, devnet.ErrRunning) {
			return errkind.AsInvalid(err)
		}
		return err
	}
	defer d.Close()
	m := d.Manifest()
	if c.Bool("json") && steps == nil {
		printJSON(c.App.Writer, m)
	} else if !c.Bool("json") && steps != nil {
		// A scenario tells its own story: one line, not the banner.
		fmt.Fprintf(c.App.Writer, "sessionctl devnet: seed %q, %s, ready in %v\n\n", m.Seed, display.Plural(len(m.Nodes), "service node"), time.Since(began).Round(time.Millisecond))
	} else if !c.Bool("json") {
		printBanner(c.App.Writer, dir, &m, keystore(c), time.Since(began), false)
	}
	if steps != nil {
		err := runScenario(c, steps)
		if cerr := d.Close(); err == nil && cerr != nil {
			err = cerr
		}
		return err
	}
	// Until Ctrl-C, 'devnet down', or a part the devnet needs fails: then
	// the exit code is 1, and the error says which part.
	err = devnet.Wait(ctx, d, d.Done())
	fmt.Fprintln(stderr, "stopping the devnet")
	return errors.Join(err, d.Close())
}

// devnetMemoryLimit is the heap size past which the Go runtime collects
// garbage harder (a soft limit; GOMEMLIMIT overrides it). A 2,000-node
// devnet's live heap is about 1.5 GiB; with the default GOGC the process
// would grow to twice that before collecting.
const devnetMemoryLimit = 3 << 30

func setMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(devnetMemoryLimit)
	}
}

// detach starts `devnet up` again in the background and waits until it is
// ready, or exited.
func detach(c *cli.Context) error {
	self, err := selfExe()
	if err != nil {
		return err
	}
	var args []string
	for _, a := range os.Args[1:] {
		if a != "--detach" && a != "-detach" && a != "--detach=true" {
			args = append(args, a)
		}
	}
	m, err := devnet.Detach(c.Context, dirOf(c), self, args)
	var de *devnet.DetachError
	if errors.As(err, &de) && de.Code == exitUsage {
		return errkind.AsInvalid(errors.New(de.Last))
	}
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, m)
	}
	printBanner(c.App.Writer, c.String(dirFlag.Name), m, keystore(c), 0, true)
	fmt.Fprintf(c.App.Writer, "Running in the background (pid %d); stop it with 'sessionctl devnet down'.\n", m.PID)
	return nil
}

// selfExe is this program, to run again: as the shell found it (a test's
// "sessionctl" is the test binary under that name), else the running file.
func selfExe() (string, error) {
	if self, err := exec.LookPath(os.Args[0]); err == nil {
		return filepath.Abs(self)
	}
	return os.Executable()
}

// printBanner prints what a user needs: clients, endpoints, nodes, a first command.
func printBanner(w io.Writer, dir string, m *devnet.Manifest, ks *identity.Keystore, took time.Duration, detached bool) {
	swarms := map[string]bool{}
	for _, n := range m.Nodes {
		if n.SwarmID != "" {
			swarms[n.SwarmID] = true
		}
	}
	ready := ""
	if took > 0 {
		ready = fmt.Sprintf(", ready in %v", took.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "sessionctl devnet: seed %q, %s in %s%s\n\n", m.Seed, display.Plural(len(m.Nodes), "service node"), display.Plural(len(swarms), "swarm"), ready)
	fmt.Fprintln(w, "Clients (their recovery phrases restore them in any Session app; devnet use only):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, cl := range m.Clients {
		phrase := ""
		if e, err := ks.Get(cl.Name); err == nil {
			phrase = e.Keys.Phrase()
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", cl.Name, cl.AccountID, phrase)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nLedger   %s\nControl  %s  (token in %s)\n", m.Ledger.URL, m.Control.URL, devnet.ManifestPath(dir))
	if m.Dashboard.URL != "" {
		fmt.Fprintf(w, "Dashboard %s  (open it in a browser; keep the address to yourself)\n", m.Dashboard.URL)
	}
	if m.Join.URL != "" {
		fmt.Fprintf(w, "Join     sessionctl node join %s  (runs a node of this devnet, from any machine that reaches it)\n", m.Join.URL)
	}
	fmt.Fprintf(w, "Seed     LOCAL_DEVNET_SEED_URL=%s  (point a Session app or library here)\n", m.SeedNode.URL)
	if m.Proxy.URL != "" {
		fmt.Fprintf(w, "Proxy    %s  (for clients that hard-code the real hosts: seed1.getsession.org, filev2, open.getsession.org)\n", m.Proxy.URL)
	}
	for _, s := range m.Servers {
		fmt.Fprintf(w, "%-8s %s  (x25519 %s)\n", strings.ToUpper(s.Kind[:1])+s.Kind[1:], s.URL, s.X25519Pubkey)
		for _, r := range s.Rooms {
			fmt.Fprintf(w, "  room %s: %s  (join link for Session apps; %s/ shows its QR code)\n", r.Token, r.JoinURL, s.URL)
		}
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  NODE\tPEER ID\tSWARM\tSTATE")
	for i, n := range m.Nodes {
		if i == 20 {
			fmt.Fprintf(tw, "  ... and %d more: 'sessionctl node ls'\n", len(m.Nodes)-20)
			break
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", n.Name, n.PeerID, display.OrDash(n.SwarmID), n.State)
	}
	tw.Flush()
	if len(m.Clients) >= 2 {
		a, b := m.Clients[0].Name, m.Clients[1].Name
		fmt.Fprintf(w, "\nTry:  sessionctl send --from %s --to %s \"hello %s\"   then   sessionctl fetch --as %s\n", a, b, b, b)
	}
	stop := "Ctrl-C or 'sessionctl devnet down' stops it."
	if detached {
		stop = "'sessionctl devnet down' stops it."
	}
	fmt.Fprintf(w, "Manifest %s, logs in %s. %s\n", devnet.ManifestPath(dir), devnet.Dir(dir).LogsDir(), stop)
}

func devnetStatus(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	cc, err := dialDevnet(c)
	if errors.Is(err, devnet.ErrUnresponsive) {
		// It runs (it holds the directory), but cannot say how it is.
		if c.Bool("json") {
			return printJSON(c.App.Writer, map[string]any{"running": true, "responding": false, "error": err.Error()})
		}
		fmt.Fprintf(c.App.Writer, "running, but not answering: %v\n", err)
		return nil
	}
	if errkind.Of(err) == errkind.NotRunning && c.Bool("json") {
		// Still an answer a script can read; the exit code (3) says the same.
		printJSON(c.App.Writer, map[string]any{"running": false})
		return err
	}
	if err != nil {
		return err
	}
	st, err := cc.Status(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, struct {
			Running bool `json:"running"`
			*devnet.Status
		}{true, st})
	}
	fmt.Fprintf(c.App.Writer, "running (pid %d): seed %q, height %d, %d/%s running, %d active in %s\nledger %s\n",
		st.PID, st.Seed, st.Height, st.NodesRunning, display.Plural(st.Nodes, "node"), st.ActiveNodes, display.Plural(st.Swarms, "swarm"), st.LedgerURL)
	for _, name := range slices.Sorted(maps.Keys(st.Exited)) {
		what := "'s process ended" // a node's process (devnet up --procs)
		if !strings.HasPrefix(st.Exited[name], "pid ") {
			what = " stopped" // a node in the devnet's process that failed
		}
		fmt.Fprintf(c.App.Writer, "%s%s by itself: %s ('sessionctl node restart %s' starts it again)\n", name, what, st.Exited[name], name)
	}
	return nil
}

func devnetDown(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	cc, err := dialDevnet(c)
	if err != nil && (cc == nil || !errors.Is(err, devnet.ErrUnresponsive)) {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	if err := cc.Down(ctx); err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, map[string]any{"stopped": true})
	}
	fmt.Fprintln(c.App.Writer, "devnet stopped; 'sessionctl devnet up' resumes it")
	return nil
}

func nodeCommand() *cli.Command {
	return &cli.Command{
		Name:  "node",
		Usage: "list, kill and restart the devnet's service nodes",
		Subcommands: []*cli.Command{
			{Name: "ls", Usage: "the nodes: peer ID, swarm, state, running", ArgsUsage: " ", Flags: []cli.Flag{jsonFlag}, Action: nodeList},
			{Name: "kill", Usage: "stop a node (it stays registered until the network notices)", ArgsUsage: "NAME", Flags: []cli.Flag{jsonFlag}, Action: nodeAct("kill")},
			{Name: "restart", Usage: "start a killed node again", ArgsUsage: "NAME", Flags: []cli.Flag{jsonFlag}, Action: nodeAct("restart")},
			nodeRunCommand(),
			nodeJoinCommand(),
		},
	}
}

func nodeList(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	cc, err := dialDevnet(c)
	if err != nil {
		return err
	}
	nodes, err := cc.Nodes(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, struct {
			Nodes []devnet.ManifestNode `json:"nodes"`
		}{nodes})
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tED25519\tPEER ID\tSWARM\tSTATE\tCREDIT\tLAST PROOF\tRUNNING")
	for _, n := range nodes {
		running := fmt.Sprint(n.Running)
		if n.Exited != "" {
			running = "exited" // by itself: 'devnet status' says how
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", n.Name, n.Ed25519Pubkey[:16], n.PeerID, display.OrDash(n.SwarmID), n.State, n.Credit, n.LastProof, running)
	}
	return tw.Flush()
}

func nodeAct(what string) cli.ActionFunc {
	return func(c *cli.Context) error {
		name, err := oneArg(c, "NAME")
		if err != nil {
			return err
		}
		cc, err := dialDevnet(c)
		if err != nil {
			return err
		}
		done := "killed"
		if what == "kill" {
			err = cc.Kill(c.Context, name)
		} else {
			var was bool
			was, err = cc.Restart(c.Context, name)
			done = "started again"
			if was {
				done = "was running: stopped and started again"
			}
		}
		if err != nil {
			if errors.Is(err, devnet.ErrUnknownNode) || errors.Is(err, devnet.ErrNodeStopped) || errors.Is(err, devnet.ErrNodeRunning) {
				return errkind.AsInvalid(err)
			}
			return err
		}
		if c.Bool("json") {
			return printJSON(c.App.Writer, map[string]any{"node": name, "action": what, "was_running": what == "kill" || done != "started again"})
		}
		fmt.Fprintf(c.App.Writer, "%s: %s\n", name, done)
		return nil
	}
}

func swarmCommand() *cli.Command {
	return &cli.Command{
		Name:  "swarm",
		Usage: "the swarms of the network and which one owns an account",
		Subcommands: []*cli.Command{
			{Name: "ls", Usage: "every swarm and its members", ArgsUsage: " ", Flags: []cli.Flag{ledgerURLFlag, jsonFlag}, Action: swarmList},
			{Name: "of", Usage: "the swarm that stores an account's messages", ArgsUsage: "ACCOUNT_ID|NAME", Flags: []cli.Flag{ledgerURLFlag, jsonFlag}, Action: swarmOf},
		},
	}
}

// nodeNames maps node keys to devnet names, when a devnet runs under --dir.
func nodeNames(c *cli.Context) map[string]string { return dirOf(c).NodeNames() }

func nameOf(names map[string]string, key string) string {
	if n, ok := names[key]; ok {
		return n
	}
	return key[:12]
}

type swarmJSON struct {
	SwarmID string   `json:"swarm_id"`
	Members []string `json:"members"` // Ed25519 keys
	Names   []string `json:"names,omitempty"`
}

func swarmList(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	lc, err := ledgerClient(c)
	if err != nil {
		return err
	}
	swarms, _, err := lc.Swarms(c.Context)
	if err != nil {
		return err
	}
	names := nodeNames(c)
	var out []swarmJSON
	for _, s := range swarms {
		sj := swarmJSON{SwarmID: fmt.Sprintf("%016x", s.ID), Members: s.Members}
		for _, k := range s.Members {
			sj.Names = append(sj.Names, nameOf(names, k))
		}
		out = append(out, sj)
	}
	if c.Bool("json") {
		if out == nil {
			out = []swarmJSON{}
		}
		return printJSON(c.App.Writer, struct {
			Swarms []swarmJSON `json:"swarms"`
		}{out})
	}
	if len(out) == 0 {
		fmt.Fprintln(c.App.Writer, "no swarms: no service node is active")
		return nil
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SWARM\tSIZE\tMEMBERS")
	for _, s := range out {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", s.SwarmID, len(s.Members), strings.Join(s.Names, " "))
	}
	return tw.Flush()
}

func swarmOf(c *cli.Context) error {
	arg, err := oneArg(c, "ACCOUNT_ID or NAME")
	if err != nil {
		return err
	}
	lc, err := ledgerClient(c)
	if err != nil {
		return err
	}
	id, err := device.Resolve(c.Context, keystore(c), lc, arg)
	if err != nil {
		return err
	}
	s, err := lc.SwarmOf(c.Context, id)
	if err != nil {
		return err
	}
	if s.ID == ledger.UnassignedSwarm {
		return errors.New("no swarm exists yet: no service node is active")
	}
	names := nodeNames(c)
	sj := swarmJSON{SwarmID: fmt.Sprintf("%016x", s.ID), Members: s.Members}
	for _, k := range s.Members {
		sj.Names = append(sj.Names, nameOf(names, k))
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, struct {
			AccountID  string `json:"account_id"`
			SwarmSpace string `json:"swarm_space"`
			swarmJSON
		}{id.String(), fmt.Sprint(id.SwarmSpace()), sj})
	}
	fmt.Fprintf(c.App.Writer, "%s (swarm space %d) is stored by swarm %s: %s\n", id, id.SwarmSpace(), sj.SwarmID, strings.Join(sj.Names, " "))
	return nil
}

func snapshotError(err error) error {
	switch {
	case errors.Is(err, devnet.ErrRunning), errors.Is(err, devnet.ErrSnapshotName), errors.Is(err, devnet.ErrNoSnapshot), errors.Is(err, devnet.ErrSnapshotExists):
		return errkind.AsInvalid(err)
	case errors.Is(err, devnet.ErrNotRunning):
		return errkind.AsNotRunning(err)
	}
	return err
}

func snapshotSave(c *cli.Context) error {
	name, err := oneArg(c, "the snapshot NAME")
	if err != nil {
		return err
	}
	if err := devnet.SaveSnapshot(c.String(dirFlag.Name), name, c.Bool("replace")); err != nil {
		return snapshotError(err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, map[string]any{"saved": name})
	}
	fmt.Fprintf(c.App.Writer, "saved snapshot %q; 'sessionctl devnet snapshot load %s' rewinds to it\n", name, name)
	return nil
}

func snapshotLoad(c *cli.Context) error {
	name, err := oneArg(c, "the snapshot NAME")
	if err != nil {
		return err
	}
	if err := devnet.LoadSnapshot(c.String(dirFlag.Name), name); err != nil {
		return snapshotError(err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, map[string]any{"loaded": name})
	}
	fmt.Fprintf(c.App.Writer, "loaded snapshot %q; 'sessionctl devnet up' resumes the devnet as it was then\n", name)
	return nil
}

func snapshotList(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	snaps, err := devnet.Snapshots(c.String(dirFlag.Name))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, map[string]any{"snapshots": snaps})
	}
	if len(snaps) == 0 {
		fmt.Fprintln(c.App.Writer, "no snapshots; 'sessionctl devnet snapshot save NAME' makes one of a stopped devnet")
		return nil
	}
	for _, s := range snaps {
		fmt.Fprintf(c.App.Writer, "%s\t%s\n", s.Name, s.Saved.Local().Format("2006-01-02 15:04:05"))
	}
	return nil
}
