package devnet

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/internal/edgelog"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
	"github.com/sessionctl/sessionctl/node"
)

// A node run on its own: `node run` (joining the devnet of a directory, or
// any ledger), `node join URL` (a devnet on another machine), and the nodes
// of `devnet up --procs` (nodeproc.go). The node's operator wallet is paid
// its stake by the devnet's faucet when the ledger does not know the node;
// the operator signs the registration and the node co-signs it; then the
// node serves like the devnet's own, over TCP, until it is closed.

// NodeConfig configures a node run on its own (RunNode).
type NodeConfig struct {
	// Data is the node's directory (made 0700): its keys, node.key and
	// operator.key (64 hex digits, 0600, made at the first run), and its
	// database. Required.
	Data string
	// Key is the node's key; nil reads Data/node.key, making it the
	// first time.
	Key ed25519.PrivateKey
	// Ledger is the ledger the node joins. Required.
	Ledger *ledgerrpc.Client
	// Fund pays the operator's wallet (a faucet) when the node must
	// register; nil when there is none (then the operator must hold the
	// stake already).
	Fund func(ctx context.Context, wallet string, amount uint64) error
	// Servers are the host:port of the servers the node forwards onion
	// requests to, as an exit.
	Servers []string
	// Listen is the libp2p multiaddr; default /ip4/127.0.0.1/tcp/0.
	Listen string
	// HTTPS is the client edge's address; default 127.0.0.1:0.
	HTTPS string
	// Name is the node's name in its logs, NameOf the other nodes' (by
	// their Ed25519 keys, hex; "" for one it does not know): node.Config's.
	Name   string
	NameOf func(key string) string
	// Logger is the node's logger; Edge the logger of its edge's request
	// lines (component=edge).
	Logger zerolog.Logger
	Edge   zerolog.Logger
	// ReadyTimeout bounds the wait for the node's first view of the
	// network; default a minute.
	ReadyTimeout time.Duration
	// Now is the node's clock; nil means time.Now.
	Now func() time.Time
	// NodeLedger, if set, is what the node itself asks of the ledger (a
	// worker's shared long poll); Ledger still registers it.
	NodeLedger node.Ledger
	// Views, Budget, TestSlots and Turns, if set, are shared by the nodes
	// of one process (a worker's, as a devnet's in-process nodes share
	// theirs); nil gives the node its own.
	Views     *node.Views
	Budget    *node.Budget
	TestSlots node.TestSlots
	Turns     *node.Turns
	// RepairInterval and ExpiryInterval are node.Config's (0: its defaults).
	RepairInterval, ExpiryInterval time.Duration
}

// NodeInfo is what a running node says of itself: its ready file
// (DATA/node.json), what a node's process tells the devnet that started it
// (nodeproc.go), and a running devnet's view of its nodes.
type NodeInfo struct {
	Key    string   `json:"ed25519_pubkey"`
	PeerID string   `json:"peer_id"`
	Addrs  []string `json:"addrs"`
	HTTPS  string   `json:"https"`
	Data   string   `json:"data,omitempty"`
	PID    int      `json:"pid"`
}

// NodeRunner is a node run on its own: a Part.
type NodeRunner struct {
	node  *node.Node
	info  NodeInfo
	ready string // its ready file

	once     sync.Once
	closeErr error
}

// ReadKeyFile reads a node key file: 64 hex digits, the seed of an Ed25519
// key, readable by its owner only (else an errkind.Invalid error).
func ReadKeyFile(path string) (ed25519.PrivateKey, error) {
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

// dataKey reads DIR/NAME (a key file), or makes one (and DIR, 0700).
func dataKey(dir, name string) (ed25519.PrivateKey, error) {
	k, _, err := dataKeyMade(dir, name)
	return k, err
}

// dataKeyMade is dataKey, and whether it made the key.
func dataKeyMade(dir, name string) (_ ed25519.PrivateKey, made bool, _ error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	path := filepath.Join(dir, name)
	k, err := ReadKeyFile(path)
	if errors.Is(err, os.ErrNotExist) {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, false, err
		}
		if err := os.WriteFile(path, []byte(hex.EncodeToString(seed)+"\n"), 0o600); err != nil {
			return nil, false, err
		}
		return ed25519.NewKeyFromSeed(seed), true, nil
	}
	return k, false, err
}

// RunNode registers the node if the ledger does not know it, starts it,
// waits for its first view of the network and writes its ready file
// (DATA/node.json: NodeInfo); Close removes it. Stopped (ctx) on the way,
// it returns ctx's error.
func RunNode(ctx context.Context, cfg NodeConfig) (_ *NodeRunner, err error) {
	if cfg.Data == "" || cfg.Ledger == nil {
		return nil, errors.New("devnet: NodeConfig.Data and Ledger are required")
	}
	if cfg.Listen == "" {
		cfg.Listen = "/ip4/127.0.0.1/tcp/0"
	}
	if cfg.HTTPS == "" {
		cfg.HTTPS = "127.0.0.1:0"
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = time.Minute
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, err
	}
	if cfg.Key == nil {
		var made bool
		if cfg.Key, made, err = dataKeyMade(cfg.Data, "node.key"); err != nil {
			return nil, err
		}
		if made {
			// Said each time, not only the first: a node whose volume was
			// lost joins as this new node, under a new key, while its old
			// key stays on the ledger until the quorums vote it out.
			cfg.Logger.Warn().Str("data", cfg.Data).Str("node", pub(cfg.Key)[:16]).
				Msg("a new node: no node.key in its data directory, so a new key was made; if this node ran before, its data (a lost volume?) is gone, and its old key stays registered until the quorums vote it out")
		}
	}
	if err := register(ctx, cfg); err != nil {
		return nil, err
	}
	var nl node.Ledger = cfg.Ledger
	if cfg.NodeLedger != nil {
		nl = cfg.NodeLedger
	}
	n, err := node.New(node.Config{Key: cfg.Key, DataDir: cfg.Data, Ledger: nl, ListenAddrs: []string{cfg.Listen},
		HTTPSAddr: cfg.HTTPS, Logger: cfg.Logger, Name: cfg.Name, NameOf: cfg.NameOf, Servers: cfg.Servers, Edge: edgelog.Sink{Log: cfg.Edge}, Now: cfg.Now,
		Views: cfg.Views, Budget: cfg.Budget, TestSlots: cfg.TestSlots, Turns: cfg.Turns, RepairInterval: cfg.RepairInterval, ExpiryInterval: cfg.ExpiryInterval})
	if err != nil {
		return nil, errkind.AsInvalid(err)
	}
	r := &NodeRunner{node: n, ready: filepath.Join(cfg.Data, "node.json")}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	if err := n.Start(ctx); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
	err = n.WaitReady(rctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("the node did not get its first view of the network: %w", err)
	}
	r.info = NodeInfo{Key: n.Key(), PeerID: n.PeerID().String(), Addrs: n.Addrs(), HTTPS: n.HTTPSURL(), Data: cfg.Data, PID: os.Getpid()}
	if err := writeJSONFile(r.ready, r.info); err != nil {
		return nil, err
	}
	return r, nil
}

// Info is what the node says of itself (its ready file).
func (r *NodeRunner) Info() NodeInfo { return r.info }

// Err delivers the node's failure (node.Node.Err), and is closed by Close.
func (r *NodeRunner) Err() <-chan error { return r.node.Err() }

// Close removes the ready file and stops the node. Safe to call twice.
func (r *NodeRunner) Close() error {
	r.once.Do(func() {
		if err := os.Remove(r.ready); err != nil && !errors.Is(err, os.ErrNotExist) {
			r.closeErr = err
		}
		r.closeErr = errors.Join(r.closeErr, r.node.Close())
	})
	return r.closeErr
}

// register stakes and registers the node unless the ledger knows it: the
// faucet pays the operator (DATA/operator.key) the stake and a fee's
// worth, the operator signs the registration and the node co-signs it.
func register(ctx context.Context, cfg NodeConfig) error {
	lc, log, nodeKey := cfg.Ledger, cfg.Logger, cfg.Key
	keyHex := hex.EncodeToString(nodeKey.Public().(ed25519.PublicKey))
	if _, err := lc.Node(ctx, keyHex); err == nil {
		log.Info().Str("node", keyHex[:16]).Msg("already registered")
		return nil
	}
	opKey, err := dataKey(cfg.Data, "operator.key")
	if err != nil {
		return err
	}
	info, err := lc.Info(ctx)
	if err != nil {
		return err
	}
	wallet := hex.EncodeToString(opKey.Public().(ed25519.PublicKey))
	need := info.Params.StakeRequirement
	acct, err := lc.Account(ctx, wallet)
	if err != nil {
		return err
	}
	if acct.Balance < need {
		if cfg.Fund == nil {
			return fmt.Errorf("the node is not registered and its operator %s holds %s coins of the %s a stake needs; without the devnet's faucet (--dir, or 'node join URL'), pay it first",
				wallet, chain.FormatCoins(acct.Balance), chain.FormatCoins(need))
		}
		if err := cfg.Fund(ctx, wallet, need-acct.Balance+chain.Coin); err != nil {
			return fmt.Errorf("fund the operator's stake: %w", err)
		}
		if acct, err = lc.Account(ctx, wallet); err != nil {
			return err
		}
	}
	tx, err := chain.NewTx(chain.TxRegister, opKey, acct.NextNonce, chain.RegisterBody{NodeKey: keyHex, Amount: need})
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
			return err
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

// LocalIPTowards is this machine's address on the route to the host of
// rawURL (a UDP socket's local address once connected: nothing is sent):
// where a node joining a devnet on another machine listens.
func LocalIPTowards(rawURL string) (string, error) {
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

// JoinLocal fills in how a node joins the devnet running in d: its ledger
// (with the control token, which mines when blocks come only on demand),
// its faucet, and its servers unless cfg names some. No devnet there is an
// errkind.NotRunning error.
func (d Dir) JoinLocal(ctx context.Context, cfg *NodeConfig) error {
	cc, err := d.Dial(ctx)
	if err != nil {
		return err
	}
	m := cc.Manifest()
	cfg.Ledger = ledgerrpc.NewClient(m.Ledger.URL, m.Control.Token)
	if cfg.NameOf == nil { // the logs name the devnet's nodes as it does
		names := map[string]string{}
		for _, n := range m.Nodes {
			names[n.Ed25519Pubkey] = n.Name
		}
		cfg.NameOf = func(key string) string { return names[key] }
	}
	cfg.Fund = func(ctx context.Context, wallet string, amount uint64) error {
		_, _, err := cc.Fund(ctx, wallet, amount)
		return err
	}
	if len(cfg.Servers) == 0 {
		for _, s := range m.Servers {
			if u, err := url.Parse(s.URL); err == nil {
				cfg.Servers = append(cfg.Servers, u.Host)
			}
		}
	}
	return nil
}

// joinWait bounds how long JoinRemote waits for a devnet that does not
// answer yet (a pod started before the devnet's).
const joinWait = 2 * time.Minute

// JoinRemote fills in how a node joins a devnet on another machine from
// its join URL: the devnet's ledger, servers and join faucet, and where the
// node listens (ip, or this machine's address towards the devnet). It
// waits up to two minutes for a devnet that does not answer yet; one that
// refuses the join secret is an errkind.Invalid error (ErrJoinSecret).
// cfg.HTTPS ":PORT" is that port on the node's address.
func JoinRemote(ctx context.Context, joinURL, ip string, cfg *NodeConfig) (JoinInfo, error) {
	jc, err := NewJoinClient(joinURL)
	if err != nil {
		return JoinInfo{}, errkind.AsInvalid(err)
	}
	info, err := jc.waitInfo(ctx, cfg.Logger)
	if errors.Is(err, ErrJoinSecret) {
		return info, errkind.Invalidf("%w: the devnet at %s does not know it; give the one it prints (Join), or its devnet.json's join.url; in a pod, the Secret's (%s)", ErrJoinSecret, jc.host(), JoinSecretEnv)
	}
	if err != nil {
		return info, err
	}
	if ip == "" {
		if ip, err = LocalIPTowards(info.LedgerURL); err != nil {
			return info, err
		}
	}
	if p := net.ParseIP(ip); p == nil || p.To4() == nil || p.IsUnspecified() {
		return info, errkind.Invalidf("--listen %q: want this machine's IPv4 address that the devnet reaches (not 0.0.0.0: the node publishes it)", ip)
	}
	cfg.Listen, cfg.Servers, cfg.Ledger = "/ip4/"+ip+"/tcp/0", info.Servers, ledgerrpc.NewClient(info.LedgerURL, "")
	if cfg.HTTPS == "" {
		cfg.HTTPS = ":0"
	}
	if port, ok := strings.CutPrefix(cfg.HTTPS, ":"); ok {
		cfg.HTTPS = net.JoinHostPort(ip, port)
	}
	cfg.Fund = func(ctx context.Context, wallet string, _ uint64) error { return jc.Fund(ctx, wallet) }
	return info, nil
}
