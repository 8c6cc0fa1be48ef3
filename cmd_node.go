package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
	"github.com/sessionctl/sessionctl/logs"
	"github.com/urfave/cli/v2"
)

func nodeCommand() *cli.Command {
	return &cli.Command{
		Name:  "node",
		Usage: "list, kill and restart the devnet's service nodes",
		Subcommands: []*cli.Command{
			{Name: "ls", Usage: "the nodes: peer ID, swarm, state, running", ArgsUsage: " ", Flags: []cli.Flag{jsonFlag}, Action: nodeList},
			{Name: "kill", Usage: "stop a node (it stays registered until the network notices)", ArgsUsage: "NAME", Flags: []cli.Flag{jsonFlag}, Action: nodeAct},
			{Name: "restart", Usage: "start a killed node again", ArgsUsage: "NAME", Flags: []cli.Flag{jsonFlag}, Action: nodeAct},
			nodeRunCommand(),
			nodeJoinCommand(),
		},
	}
}

func nodeList(c *cli.Context) error {
	cc, err := dialDevnet(c)
	if err != nil {
		return err
	}
	nodes, err := cc.Nodes(c.Context)
	if err != nil {
		return err
	}
	return output(c).Show(map[string]any{"nodes": nodes}, func(w io.Writer) error { return devnet.WriteNodes(w, nodes) })
}

// nodeAct kills or restarts a node, as the command's name says.
func nodeAct(c *cli.Context) error {
	name := c.Args().First()
	cc, err := dialDevnet(c)
	if err != nil {
		return err
	}
	what, was, done := c.Command.Name, true, "killed"
	if what == "kill" {
		err = cc.Kill(c.Context, name)
	} else if was, err = cc.Restart(c.Context, name); was {
		done = "was running: stopped and started again"
	} else {
		done = "started again"
	}
	if err != nil {
		return err
	}
	return output(c).Show(map[string]any{"node": name, "action": what, "was_running": was}, func(io.Writer) error { return output(c).Printf("%s: %s\n", name, done) })
}

// `sessionctl node run` and `node join`: one service node as its own
// process. `node run` joins the devnet of --dir (or, with --ledger, any
// ledger it can reach, without a faucet); `node join URL` joins a devnet
// on another machine through its join URL. Either way the node's operator
// wallet is paid its stake by the devnet's faucet, the operator signs the
// registration and the node co-signs it; then it serves like the devnet's
// own nodes, over TCP, until SIGTERM or Ctrl-C. `devnet up --procs` runs
// its nodes with `node run --ledger URL --seed S --index N` (registered at
// genesis: nothing to pay).

func nodeRunFlags(listenUsage string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "data", Usage: "the node's `DIR`: keys and database (required)"},
		&cli.StringFlag{Name: "listen", Usage: listenUsage},
		&cli.StringFlag{Name: "https", Usage: "`ADDR` of the HTTPS client edge, or :PORT on the --listen address (default: that address, a free port)"},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "`LEVEL` of the logs on stderr"},
		&cli.StringFlag{Name: "log-format", Value: "console", Usage: "`FORMAT` of the logs on stderr: console or json"},
		jsonFlag,
	}
}

func nodeRunCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run one service node as its own process, joining the devnet of --dir (or the ledger at --ledger)",
		ArgsUsage: " ",
		Description: "The node's key and its operator's wallet live in --data (node.key, operator.key, mode 0600;\n" +
			"made on the first run); the same --data again runs the same node. The devnet's faucet pays the stake.\n" +
			"--key FILE or --seed S --index N run a given key instead (--seed/--index: the devnet's node-N).",
		Flags: append(nodeRunFlags("the libp2p `MULTIADDR` to listen on (default /ip4/127.0.0.1/tcp/0)"),
			&cli.StringFlag{Name: "ledger", Usage: "`URL` of a ledger to join without the devnet's manifest (no faucet: the node must be registered, or its operator funded)"},
			&cli.StringFlag{Name: "key", Usage: "`FILE` holding the node's key (64 hex digits, the seed of an Ed25519 key; mode 0600)"},
			&cli.StringFlag{Name: "seed", Usage: "the devnet's `SEED`: with --index, run the devnet's own node-N"},
			&cli.IntFlag{Name: "index", Usage: "`N`: with --seed, run node-N"},
			&cli.StringSliceFlag{Name: "server", Usage: "`HOST:PORT` of a server the node forwards onion requests to, as an exit (repeatable; default: the devnet's)"},
		),
		Action: nodeRun,
	}
}

func nodeJoinCommand() *cli.Command {
	return &cli.Command{
		Name:      "join",
		Usage:     "run a service node in a devnet on another machine, from its join URL",
		ArgsUsage: "URL",
		Description: "URL is what 'devnet up --listen IP' prints (Join). The devnet's faucet pays this node's stake;\n" +
			"the keys stay in --data (0600), and the same --data again runs the same node.",
		Flags: append(nodeRunFlags("the `IP` address to listen on, that the devnet's machine reaches (default: this machine's address towards it)"),
			&cli.StringFlag{Name: "join-secret", EnvVars: []string{devnet.JoinSecretEnv}, Usage: "the join `SECRET`, when URL is the devnet's address alone (http://HOST:PORT)"},
			&cli.BoolFlag{Name: "host-subdir", Usage: "keep the node's data in --data/HOSTNAME (pods that share one volume: each by its name)"}),
		Before: func(c *cli.Context) error { // (before the count of arguments: a clearer word)
			if c.NArg() != 1 {
				return errkind.Invalidf("node join needs the devnet's join URL (as 'devnet up --listen IP' prints it)")
			}
			return nil
		},
		Action: nodeJoin,
	}
}

// nodeRunCommon reads the flags both commands share: the data directory,
// the logger, and the logger of the node's edge lines (component=edge).
func nodeRunCommon(c *cli.Context) (devnet.NodeConfig, error) {
	cfg := devnet.NodeConfig{Data: c.String("data"), HTTPS: c.String("https")}
	if cfg.Data == "" {
		return cfg, errkind.Invalidf("node %s needs --data DIR: where the node keeps its keys and database", c.Command.Name)
	}
	level, err := zerolog.ParseLevel(c.String("log-level"))
	if err != nil {
		return cfg, errkind.Invalidf("--log-level %q: want debug, info, warn or error", c.String("log-level"))
	}
	if err := logs.CheckFormat(c.String("log-format")); err != nil {
		return cfg, errkind.Invalidf("--log-format %v", err)
	}
	base := logs.New(c.App.ErrWriter, c.String("log-format"), level)
	cfg.Logger, cfg.Edge = base.With().Str("component", "node-"+c.Command.Name).Logger(), base.With().Str("component", "edge").Logger()
	return cfg, nil
}

func nodeRun(c *cli.Context) error {
	cfg, err := nodeRunCommon(c)
	if err != nil {
		return err
	}
	cfg.Listen, cfg.Servers = c.String("listen"), c.StringSlice("server")
	if u := c.String("ledger"); u != "" {
		if _, err := url.ParseRequestURI(u); err != nil || !strings.HasPrefix(u, "http") {
			return errkind.Invalidf("--ledger %q: want the ledger's URL, as http://127.0.0.1:4000", u)
		}
	}
	// The flags are checked before anything is made (the key, --data).
	switch {
	case c.IsSet("key") && (c.IsSet("seed") || c.IsSet("index")):
		return errkind.Invalidf("give --key FILE or --seed S --index N, not both")
	case c.IsSet("key"):
		if cfg.Key, err = devnet.ReadKeyFile(c.String("key")); errors.Is(err, os.ErrNotExist) {
			return errkind.Invalidf("--key %s: no such file", c.String("key"))
		} else if err != nil {
			return err
		}
	case c.IsSet("seed") || c.IsSet("index"):
		if !c.IsSet("seed") || c.Int("index") < 1 || c.Int("index") > devnet.MaxNodes {
			return errkind.Invalidf("--seed S --index N run the devnet's node-N: give both, N from 1 to %d", devnet.MaxNodes)
		}
		cfg.Key = devnet.NodeKey(c.String("seed"), c.Int("index")-1)
	}
	if u := c.String("ledger"); u != "" {
		cfg.Ledger = ledgerrpc.NewClient(u, "")
	} else if err := dirOf(c).JoinLocal(c.Context, &cfg); err != nil {
		return err
	}
	return runNode(c, cfg)
}

func nodeJoin(c *cli.Context) error {
	joinURL, err := devnet.JoinURL(c.Args().First(), c.String("join-secret"))
	if err != nil {
		return err
	}
	cfg, err := nodeRunCommon(c)
	if err == nil && c.Bool("host-subdir") {
		cfg.Data, err = devnet.HostData(cfg.Data)
	}
	if err != nil {
		return err
	}
	info, err := devnet.JoinRemote(c.Context, joinURL, c.String("listen"), &cfg)
	if err != nil {
		return err
	}
	cfg.Logger.Info().Str("ledger", info.LedgerURL).Str("listen", cfg.Listen).Str("seed", info.Seed).Msg("joining")
	return runNode(c, cfg)
}

// runNode runs the node until SIGTERM or Ctrl-C (or its failure).
func runNode(c *cli.Context, cfg devnet.NodeConfig) error {
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := devnet.RunNode(ctx, cfg)
	if err != nil {
		if c.Context.Err() == nil && ctx.Err() != nil {
			return nil // stopped (SIGTERM, Ctrl-C) while registering or starting
		}
		return err
	}
	info := r.Info()
	if c.Bool("json") {
		display.JSON(c.App.Writer, info)
	} else {
		fmt.Fprintf(c.App.Writer, "node %s running: peer ID %s, %s, HTTPS %s (Ctrl-C or SIGTERM stops it)\n", info.Key[:16], info.PeerID, strings.Join(info.Addrs, " "), info.HTTPS)
	}
	err = devnet.Wait(ctx, r, nil)
	cfg.Logger.Info().Msg("stopping")
	return errors.Join(err, r.Close())
}
