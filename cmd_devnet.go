package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/gologshim"
	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/internal/exitcode"
	"github.com/sessionctl/sessionctl/internal/pprofserve"
	"github.com/sessionctl/sessionctl/internal/progress"
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
				Flags: append([]cli.Flag{
					&cli.IntFlag{Name: "nodes", Usage: "number of service nodes, `N` (4 to 2000, or 10000 with --workers; 0: none of its own, they all join it)", DefaultText: "12, or the saved devnet's"},
					&cli.StringFlag{Name: "seed", Usage: "`SEED` of every key and of the chain (default \"sessionctl\", or the saved devnet's)", EnvVars: []string{"SESSIONCTL_SEED"}},
					&cli.DurationFlag{Name: "block-time", Value: time.Second, Usage: "`DURATION` between ledger blocks (a unit is needed: 500ms, 2s); 0: blocks only when mined ('ledger mine')"},
					&cli.StringFlag{Name: "clients", Usage: "client identities to create, `NAMES` comma-separated (default alice,bob,carol)"},
					&cli.BoolFlag{Name: "reset", Usage: "discard the saved devnet and start afresh"},
					&cli.BoolFlag{Name: "detach", Usage: "run in the background; return once the devnet is ready"},
					&cli.BoolFlag{Name: "traffic", Usage: "make the clients exchange messages in the background"},
					&cli.DurationFlag{Name: "file-expiry", Value: time.Hour, Usage: "how long the file server keeps an attachment, a `DURATION` (mainnet: 3 weeks)"},
					&cli.StringFlag{Name: "log-format", Value: "console", Usage: "`FORMAT` of the log files: console or json"},
					&cli.StringFlag{Name: "scenario", Usage: "run the scenario `FILE` once the devnet is ready, then stop; the exit code is the scenario's"},
					&cli.BoolFlag{Name: "wait-viewer", Usage: "with --scenario: begin once a browser has opened the dashboard"},
					&cli.BoolFlag{Name: "procs", Usage: "run every node as its own process ('node run'), supervised by this one"},
					&cli.IntFlag{Name: "workers", Usage: "run the nodes over `K` worker processes, each hosting a range of them (up to 10000 nodes)", DefaultText: "none: the nodes run in this process"},
					&cli.StringFlag{Name: "listen", Value: "127.0.0.1", Usage: "`IP` address that the ledger, servers and nodes listen on ('auto': the one that is not loopback, a pod's); another than loopback lets other machines join ('node join')"},
					&cli.IntFlag{Name: "base-port", Usage: "fixed ports from `N`: the seed (ledger), N+1 control (join URL, dashboard), N+2 proxy, N+3 file, N+4 community server", DefaultText: "free ports"},
					&cli.StringFlag{Name: "advertise", Usage: "the `NAME` others reach this devnet by (a Kubernetes Service's): in the join URL, to joiners, for the servers", DefaultText: "the --listen address"},
					&cli.StringFlag{Name: "join-secret", EnvVars: []string{devnet.JoinSecretEnv}, Usage: "the join URL's `SECRET`, the same at each start (16 to 128 letters, digits, - and _)", DefaultText: "a new one each start"},
					&cli.StringSliceFlag{Name: "fund", Usage: "pay `NAME=COINS` from the faucet once the devnet is ready (an identity or a wallet; repeatable)"},
					jsonFlag,
				}, pacingFlags...),
				Action: devnetUp,
			},
			{Name: "status", Usage: "is a devnet running under --dir? (exit 0 yes, 3 no)", ArgsUsage: " ", Flags: []cli.Flag{jsonFlag}, Action: devnetStatus},
			{Name: "down", Usage: "stop the devnet running under --dir (none running: exit 0, saying so on stderr)", ArgsUsage: " ", Flags: []cli.Flag{jsonFlag}, Action: devnetDown},
			{
				Name:  "snapshot",
				Usage: "save a devnet whole (chain, nodes' storage, servers, keys, clients), running or stopped, and rewind to it",
				Subcommands: []*cli.Command{
					{Name: "save", Usage: "save the devnet as NAME; a running one runs on (an online copy of each database)", ArgsUsage: "NAME",
						Flags: []cli.Flag{&cli.BoolFlag{Name: "replace", Usage: "overwrite a snapshot of that name"}, jsonFlag}, Action: snapshotAct},
					{Name: "load", Usage: "rewind the running devnet to snapshot NAME in place, or replace the stopped one ('devnet up' resumes it)", ArgsUsage: "NAME", Flags: []cli.Flag{jsonFlag}, Action: snapshotAct},
					{Name: "ls", Usage: "the saved snapshots", ArgsUsage: " ", Flags: []cli.Flag{jsonFlag}, Action: snapshotAct},
				},
			},
		},
	}
}

// dialDevnet finds the devnet running under --dir: exit 3 when there is none.
func dialDevnet(c *cli.Context) (*devnet.ControlClient, error) { return dirOf(c).Dial(c.Context) }

func devnetUp(c *cli.Context) error {
	if c.Duration("block-time") < 0 {
		return errkind.Invalidf("--block-time must be positive, or 0 for blocks only on demand ('sessionctl ledger mine')")
	}
	level, _ := zerolog.ParseLevel(c.String(logLevelFlag.Name))
	if !c.IsSet(logLevelFlag.Name) {
		level = zerolog.InfoLevel // the files keep the lifecycle; the console shows the summary
	}
	cfg := devnet.UpConfig{Dir: c.String(dirFlag.Name), Nodes: devnet.NodesFlag(c.Int("nodes"), c.IsSet("nodes")), Seed: c.String("seed"), Reset: c.Bool("reset"), Traffic: c.Bool("traffic"),
		FileExpiry: c.Duration("file-expiry"), Listen: c.String("listen"), WriteLogs: true, LogLevel: level,
		BasePort: c.Int("base-port"), Advertise: c.String("advertise"), JoinSecret: c.String("join-secret")}
	if c.IsSet("log-format") {
		cfg.LogFormat = c.String("log-format") // else the saved one (a resumed devnet keeps its format)
	}
	switch bt := c.Duration("block-time"); {
	case c.IsSet("block-time") && bt == 0:
		cfg.BlockTime = devnet.BlockTimeManual
	case c.IsSet("block-time"):
		cfg.BlockTime = bt // else 0: the saved one on resume, 1 s for a new devnet
	}
	var err error
	if cfg.Fund, err = devnet.ParsePayments(c.StringSlice("fund")); err != nil {
		return err
	}
	warning, err := devnet.CheckListen(cfg.Listen)
	if err != nil {
		return err
	}
	if cfg.Workers, err = devnet.WorkersFlag(c.Int("workers"), c.IsSet("workers"), c.Bool("procs")); err != nil {
		return err
	}
	if c.Bool("procs") || cfg.Workers > 0 {
		if cfg.Exe, err = selfExe(); err != nil {
			return fmt.Errorf("--procs and --workers run this binary again: %w", err)
		}
	}
	var steps []scenario.Step
	if f := c.String("scenario"); f == "" && (c.IsSet("wait-viewer") || c.IsSet("pace") || c.IsSet("step")) {
		return errkind.Invalidf("--wait-viewer, --pace and --step go with --scenario FILE")
	} else if f != "" {
		if c.Bool("detach") {
			return errkind.Invalidf("--scenario runs in the foreground; drop --detach")
		}
		if steps, err = loadScenario(c, f); err != nil {
			return err
		}
	}
	if warning != "" {
		fmt.Fprintln(c.App.ErrWriter, warning)
	}
	if c.Bool("detach") && os.Getenv(devnet.DetachedEnv) == "" {
		return detach(c)
	}
	if c.IsSet("clients") {
		if cfg.Clients, err = devnet.ParseClients(c.String("clients")); err != nil {
			return err
		}
	}
	stderr := c.App.ErrWriter
	line := progressLine(c)
	defer line.Clear()
	cfg.Progress = func(p devnet.StartProgress) { line.Show(p.String()) }
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := forLoad(stderr, devnet.MinMemoryLimit); err != nil {
		return err
	}
	began := time.Now()
	d, err := devnet.Open(cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	memoryLimit(d.MemoryLimit()) // once the nodes it hosts are known
	// libp2p's own logs (slog) go to logs/libp2p.log, not the terminal:
	// closing 2,000 hosts made it print an error a listener.
	if f, err := d.LogFile("libp2p"); err == nil {
		gologshim.SetDefaultHandler(slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if err := d.Start(ctx); err != nil {
		return err
	}
	line.Clear()
	m := d.Manifest()
	switch json := c.Bool("json"); {
	case json && steps == nil:
		display.JSON(c.App.Writer, m)
	case !json && steps != nil: // a scenario tells its own story: two lines, not the banner
		fmt.Fprintf(c.App.Writer, "sessionctl devnet: seed %q, %s, ready in %v\nDashboard %s\n\n", m.Seed, display.Plural(len(m.Nodes), "service node"), time.Since(began).Round(time.Millisecond), m.Dashboard.URL)
	case !json:
		m.WriteBanner(c.App.Writer, dirOf(c), time.Since(began), false)
	}
	if steps != nil && c.Bool("wait-viewer") {
		if err := d.WaitViewer(ctx, stderr); err != nil {
			return errors.Join(err, d.Close())
		}
	}
	if steps != nil {
		return errors.Join(runScenario(c, steps), d.Close())
	}
	// Until Ctrl-C, 'devnet down', or a part the devnet needs fails: then
	// the exit code is 1, and the error says which part.
	d, err = devnet.Serve(ctx, d) // (and rewinds it in place for a snapshot load)
	fmt.Fprintln(stderr, "stopping the devnet")
	return errors.Join(err, d.Close())
}

// forLoad readies the process for a large devnet or a benchmark: a soft
// memory limit (devnet.MemoryLimit; GOMEMLIMIT overrides it), and Go's
// profiles where SESSIONCTL_PPROF asks for them.
func forLoad(stderr io.Writer, limit int64) error {
	memoryLimit(limit)
	addr := os.Getenv(pprofserve.Env)
	if addr == "" {
		return nil
	}
	at, err := pprofserve.Start(addr)
	if errors.Is(err, pprofserve.ErrNotLoopback) {
		return errkind.Invalidf("%s=%v", pprofserve.Env, err)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", pprofserve.Env, err)
	}
	fmt.Fprintf(stderr, "profiles at http://%s/debug/pprof/\n", at)
	return nil
}

func memoryLimit(limit int64) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
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
	if errors.As(err, &de) && de.Code == exitcode.Usage {
		return errkind.AsInvalid(errors.New(de.Last))
	}
	if err != nil || c.Bool("json") {
		return orJSON(c, m, err)
	}
	m.WriteBanner(c.App.Writer, dirOf(c), 0, true)
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

func devnetStatus(c *cli.Context) error {
	cc, err := dialDevnet(c)
	switch {
	case errors.Is(err, devnet.ErrUnresponsive): // it runs (it holds the directory), but cannot say how it is
		return output(c).Show(map[string]any{"running": true, "responding": false, "error": err.Error()}, func(w io.Writer) error {
			return output(c).Printf("running, but not answering: %v\n", err)
		})
	case errkind.Of(err) == errkind.NotRunning && c.Bool("json"):
		// Still an answer a script can read; the exit code (3) says the same.
		display.JSON(c.App.Writer, map[string]any{"running": false})
		return err
	case err != nil:
		return err
	}
	st, err := cc.Status(c.Context)
	if err != nil {
		return err
	}
	return output(c).Show(struct {
		Running bool `json:"running"`
		*devnet.Status
	}{true, st}, st.WriteText)
}

func devnetDown(c *cli.Context) error {
	cc, err := dialDevnet(c)
	if errkind.Of(err) == errkind.NotRunning { // not a failure: `trap 'sessionctl devnet down' EXIT` may find none
		fmt.Fprintf(c.App.ErrWriter, "sessionctl: no devnet is running under %s; nothing to stop\n", dirOf(c))
		return output(c).Show(map[string]any{"stopped": false}, func(io.Writer) error { return nil })
	}
	if err != nil && (cc == nil || !errors.Is(err, devnet.ErrUnresponsive)) {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	if err := cc.Down(ctx); err != nil {
		return err
	}
	return output(c).Show(map[string]any{"stopped": true}, func(io.Writer) error {
		return output(c).Printf("devnet stopped; 'sessionctl devnet up' resumes it\n")
	})
}

// snapshotAct saves, loads or lists the snapshots of --dir.
func snapshotAct(c *cli.Context) error {
	dir, name := c.String(dirFlag.Name), c.Args().First()
	if c.Command.Name == "ls" {
		snaps, err := devnet.Snapshots(dir)
		if err != nil {
			return err
		}
		return output(c).Show(map[string]any{"snapshots": snaps}, func(w io.Writer) error { return devnet.WriteSnapshots(w, snaps) })
	}
	done, err := devnet.SnapshotCommand(c.Context, dir, c.Command.Name, name, c.Bool("replace"))
	if err != nil {
		return err
	}
	return output(c).Show(done, done.WriteText)
}

// progressLine is long work's progress line on stderr: on a terminal only,
// never with --json (SESSIONCTL_PROGRESS=always: as if on one, for tests).
func progressLine(c *cli.Context) *progress.Line {
	return progress.New(c.App.ErrWriter, c.Bool("json"), os.Getenv("SESSIONCTL_PROGRESS") == "always")
}
