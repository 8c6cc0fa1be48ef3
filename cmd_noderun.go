package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/internal/atomicfile"
	"github.com/sessionctl/sessionctl/internal/edgelog"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/ledger"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
	"github.com/sessionctl/sessionctl/logs"
	"github.com/sessionctl/sessionctl/node"
	"github.com/urfave/cli/v2"
)

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
		&cli.StringFlag{Name: "https", Usage: "`ADDR` of the HTTPS client edge (default: the --listen address, a free port)"},
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
		Flags:  nodeRunFlags("the `IP` address to listen on, that the devnet's machine reaches (default: this machine's address towards it)"),
		Action: nodeJoin,
	}
}

// nodeRunner is what `node run` and `node join` have settled before the
// node starts.
type nodeRunner struct {
	data    string
	nodeKey ed25519.PrivateKey
	ledger  *ledgerrpc.Client
	// fund pays the operator's wallet; nil when there is no faucet.
	fund    func(ctx context.Context, wallet string, amount uint64) error
	servers []string
	listen  string // multiaddr
	https   string // host:port
	log     zerolog.Logger
	edge    zerolog.Logger // the HTTPS edge's request lines
}

// nodeRunKey reads DIR/NAME (a 32-byte seed in hex), or makes one (and
// DIR, 0700).
func nodeRunKey(dir, name string) (ed25519.PrivateKey, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name)
	k, err := readKeyFile(path)
	if errors.Is(err, os.ErrNotExist) {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, []byte(hex.EncodeToString(seed)+"\n"), 0o600); err != nil {
			return nil, err
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	return k, err
}

// readKeyFile reads a key file: 64 hex digits, the seed of an Ed25519 key,
// readable by its owner only.
func readKeyFile(path string) (ed25519.PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, errkind.Invalidf("%s: mode %04o lets others read the key; 'chmod 600 %s'", path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errkind.Invalidf("%s: want 64 hex digits (a key's seed)", path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// nodeRunCommon reads the flags both commands share: the data directory,
// the logger, and the logger of the node's edge lines (component=edge: a
// devnet running the node as its child files them in its edge log).
func nodeRunCommon(c *cli.Context) (string, zerolog.Logger, zerolog.Logger, error) {
	data := c.String("data")
	if data == "" {
		return "", zerolog.Nop(), zerolog.Nop(), errkind.Invalidf("node %s needs --data DIR: where the node keeps its keys and database", c.Command.Name)
	}
	level, err := zerolog.ParseLevel(c.String("log-level"))
	if err != nil {
		return "", zerolog.Nop(), zerolog.Nop(), errkind.Invalidf("--log-level %q: want debug, info, warn or error", c.String("log-level"))
	}
	if err := logs.CheckFormat(c.String("log-format")); err != nil {
		return "", zerolog.Nop(), zerolog.Nop(), errkind.Invalidf("--log-format %v", err)
	}
	base := logs.New(c.App.ErrWriter, c.String("log-format"), level)
	return data, base.With().Str("component", "node-"+c.Command.Name).Logger(), base.With().Str("component", "edge").Logger(), nil
}

func nodeRun(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	data, log, edge, err := nodeRunCommon(c)
	if err != nil {
		return err
	}
	r := nodeRunner{data: data, log: log, edge: edge, listen: c.String("listen"), https: c.String("https"), servers: c.StringSlice("server")}
	if r.listen == "" {
		r.listen = "/ip4/127.0.0.1/tcp/0"
	}
	if r.https == "" {
		r.https = "127.0.0.1:0"
	}
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
		if r.nodeKey, err = readKeyFile(c.String("key")); errors.Is(err, os.ErrNotExist) {
			return errkind.Invalidf("--key %s: no such file", c.String("key"))
		}
	case c.IsSet("seed") || c.IsSet("index"):
		if !c.IsSet("seed") || c.Int("index") < 1 || c.Int("index") > devnet.MaxNodes {
			return errkind.Invalidf("--seed S --index N run the devnet's node-N: give both, N from 1 to %d", devnet.MaxNodes)
		}
		r.nodeKey = devnet.NodeKey(c.String("seed"), c.Int("index")-1)
	}
	if err != nil {
		return err
	}
	if u := c.String("ledger"); u != "" {
		r.ledger = ledgerrpc.NewClient(u, "")
	} else {
		cc, err := dialDevnet(c)
		if err != nil {
			return err
		}
		m := cc.Manifest()
		r.ledger = ledgerrpc.NewClient(m.Ledger.URL, m.Control.Token) // the token mines, when blocks come only on demand
		r.fund = func(ctx context.Context, wallet string, amount uint64) error {
			_, _, err := cc.Fund(ctx, wallet, amount)
			return err
		}
		if len(r.servers) == 0 {
			for _, s := range m.Servers {
				if u, err := url.Parse(s.URL); err == nil {
					r.servers = append(r.servers, u.Host)
				}
			}
		}
	}
	if r.nodeKey == nil { // DATA/node.key, made once there is a network to join
		if r.nodeKey, err = nodeRunKey(data, "node.key"); err != nil {
			return err
		}
	}
	return r.run(c)
}

func nodeJoin(c *cli.Context) error {
	if c.NArg() != 1 {
		return errkind.Invalidf("node join needs the devnet's join URL (as 'devnet up --listen IP' prints it)")
	}
	jc, err := devnet.NewJoinClient(c.Args().First())
	if err != nil {
		return errkind.AsInvalid(err)
	}
	data, log, edge, err := nodeRunCommon(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, 30*time.Second)
	info, err := jc.Info(ctx)
	cancel()
	if err != nil {
		return err
	}
	ip := c.String("listen")
	if ip == "" {
		if ip, err = localIPTowards(info.LedgerURL); err != nil {
			return err
		}
	}
	if p := net.ParseIP(ip); p == nil || p.To4() == nil || p.IsUnspecified() {
		return errkind.Invalidf("--listen %q: want this machine's IPv4 address that the devnet reaches (not 0.0.0.0: the node publishes it)", ip)
	}
	r := nodeRunner{data: data, log: log, edge: edge, listen: "/ip4/" + ip + "/tcp/0", https: c.String("https"), servers: info.Servers,
		ledger: ledgerrpc.NewClient(info.LedgerURL, "")}
	if r.https == "" {
		r.https = net.JoinHostPort(ip, "0")
	}
	r.fund = func(ctx context.Context, wallet string, _ uint64) error { return jc.Fund(ctx, wallet) }
	if r.nodeKey, err = nodeRunKey(data, "node.key"); err != nil {
		return err
	}
	log.Info().Str("ledger", info.LedgerURL).Str("listen", ip).Str("seed", info.Seed).Msg("joining")
	return r.run(c)
}

// localIPTowards is this machine's address on the route to the host of
// rawURL (a UDP socket's local address once connected: nothing is sent).
func localIPTowards(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	conn, err := net.Dial("udp4", net.JoinHostPort(u.Hostname(), "9"))
	if err != nil {
		return "", fmt.Errorf("no route to the devnet at %s: %w (give --listen IP)", u.Hostname(), err)
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).IP.String(), nil
}

// run registers the node if it must, starts it and serves until SIGTERM or
// Ctrl-C.
func (r nodeRunner) run(c *cli.Context) error {
	if err := os.MkdirAll(r.data, 0o700); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	keyHex := hex.EncodeToString(r.nodeKey.Public().(ed25519.PublicKey))
	if err := r.register(ctx); err != nil {
		if c.Context.Err() == nil && ctx.Err() != nil {
			return nil // stopped (SIGTERM, Ctrl-C) while registering
		}
		return err
	}
	n, err := node.New(node.Config{Key: r.nodeKey, DataDir: r.data, Ledger: r.ledger, ListenAddrs: []string{r.listen},
		HTTPSAddr: r.https, Logger: r.log, Servers: r.servers, Edge: edgelog.Sink{Log: r.edge}})
	if err != nil {
		return errkind.AsInvalid(err)
	}
	if err := n.Start(ctx); err != nil {
		return err
	}
	defer n.Close()
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = n.WaitReady(rctx)
	cancel()
	if err != nil {
		if c.Context.Err() == nil && ctx.Err() != nil {
			return n.Close() // stopped (SIGTERM, Ctrl-C) while starting
		}
		return fmt.Errorf("the node did not get its first view of the network: %w", err)
	}
	desc := map[string]any{"ed25519_pubkey": keyHex, "peer_id": n.PeerID().String(), "addrs": n.Addrs(), "https": n.HTTPSURL(), "data": r.data, "pid": os.Getpid()}
	// DATA/node.json says the node is up (a script waits for it), until it stops.
	readyFile := filepath.Join(r.data, "node.json")
	if b, err := json.MarshalIndent(desc, "", "  "); err == nil {
		if err := atomicfile.Write(readyFile, append(b, '\n'), 0o600); err != nil {
			return err
		}
		defer os.Remove(readyFile)
	}
	if c.Bool("json") {
		printJSON(c.App.Writer, desc)
	} else {
		fmt.Fprintf(c.App.Writer, "node %s running: peer ID %s, %s, HTTPS %s (Ctrl-C or SIGTERM stops it)\n", keyHex[:16], n.PeerID(), strings.Join(n.Addrs(), " "), n.HTTPSURL())
	}
	<-ctx.Done()
	r.log.Info().Msg("stopping")
	return n.Close()
}

// register stakes and registers the node unless the ledger knows it: the
// faucet pays the operator (DATA/operator.key) the stake and a fee's
// worth, the operator signs the registration and the node co-signs it.
func (r nodeRunner) register(ctx context.Context) error {
	lc, log, nodeKey := r.ledger, r.log, r.nodeKey
	keyHex := hex.EncodeToString(nodeKey.Public().(ed25519.PublicKey))
	if _, err := lc.Node(ctx, keyHex); err == nil {
		log.Info().Str("node", keyHex[:16]).Msg("already registered")
		return nil
	}
	opKey, err := nodeRunKey(r.data, "operator.key")
	if err != nil {
		return err
	}
	info, err := lc.Info(ctx)
	if err != nil {
		return ledgerrpc.Marked(err)
	}
	wallet := hex.EncodeToString(opKey.Public().(ed25519.PublicKey))
	need := info.Params.StakeRequirement
	acct, err := lc.Account(ctx, wallet)
	if err != nil {
		return ledgerrpc.Marked(err)
	}
	if acct.Balance < need {
		if r.fund == nil {
			return fmt.Errorf("the node is not registered and its operator %s holds %s coins of the %s a stake needs; without the devnet's faucet (--dir, or 'node join URL'), pay it first",
				wallet, ledger.FormatCoins(acct.Balance), ledger.FormatCoins(need))
		}
		if err := r.fund(ctx, wallet, need-acct.Balance+ledger.Coin); err != nil {
			return fmt.Errorf("fund the operator's stake: %w", err)
		}
		if acct, err = lc.Account(ctx, wallet); err != nil {
			return ledgerrpc.Marked(err)
		}
	}
	tx, err := ledger.NewTx(ledger.TxRegister, opKey, acct.NextNonce, ledger.RegisterBody{NodeKey: keyHex, Amount: need})
	if err != nil {
		return err
	}
	tx.SignAsNode(nodeKey)
	hash, err := lc.Submit(ctx, tx)
	if err != nil {
		return fmt.Errorf("register the node: %w", err)
	}
	log.Info().Str("tx", hash[:12]).Str("node", keyHex[:16]).Msg("registration submitted")
	for {
		if _, err := lc.Node(ctx, keyHex); err == nil {
			log.Info().Str("node", keyHex[:16]).Msg("registered")
			return nil
		}
		h := info.Height
		if info, err = lc.Info(ctx); err != nil {
			return ledgerrpc.Marked(err)
		}
		if info.Height == h {
			if info.BlockTimeMS == 0 {
				if _, err := lc.Mine(ctx, 1); err != nil {
					return fmt.Errorf("make the block of the registration: %w", err)
				}
				continue
			}
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := lc.WaitHeight(wctx, h+1)
			cancel()
			if err != nil {
				return fmt.Errorf("the registration is not in a block: %w", err)
			}
		}
	}
}
