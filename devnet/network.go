// Package devnet builds and runs a whole Session network in one process: the
// ledger and its RPC, the service nodes registered through real staking
// transactions, the servers (Network); and around it a directory's devnet
// with its client identities, control endpoint and manifest (Devnet, Up),
// which the command line's `devnet up` runs. Other packages' tests start
// one with devnettest.Start.
//
//	nw, err := devnet.StartNetwork(ctx, devnet.Config{Dir: dir, Nodes: 12, Seed: "demo"})
//	defer nw.Close()     // ready when StartNetwork returns: every node serves, swarms are settled
//	c, err := nw.StartClient(ctx, client.Config{Keys: alice})
//	url := nw.LedgerURL()
//
// (ExampleStartNetwork is this, run.)
//
// Everything derives from the seed: node keys, operator wallets, the chain.
// The same directory again resumes the same network: the chain, the keys and
// the nodes' stored messages.
package devnet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/community"
	"github.com/sessionctl/sessionctl/fileserver"
	"github.com/sessionctl/sessionctl/internal/edgelog"
	"github.com/sessionctl/sessionctl/internal/p2phost"
	"github.com/sessionctl/sessionctl/internal/progress"
	"github.com/sessionctl/sessionctl/ledger"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
	"github.com/sessionctl/sessionctl/node"
	"github.com/sessionctl/sessionctl/onion"
	"github.com/sessionctl/sessionctl/proxy"
	"golang.org/x/crypto/blake2b"
)

// Config configures a Network.
type Config struct {
	// Dir holds the network's state (ledger, nodes' databases). Required.
	Dir string
	// Nodes is the number of service nodes; default 12. NoNodes runs none:
	// every node joins from its own process (node join, node run).
	Nodes int
	// Seed makes the public keys (nodes, clients) and the chain's random
	// draws; default "sessionctl".
	Seed string
	// Secret makes the keys only the devnet uses (operator wallets, server
	// keys); zero means the secret of Dir (see LoadSecret).
	Secret [32]byte
	// BlockTime is the ledger's block time; 0 makes blocks on demand only.
	BlockTime time.Duration
	// Genesis funds more wallets at genesis (clients, for instance).
	Genesis []ledger.Allocation
	// Params are the chain's rules for a new chain; nil means the defaults.
	Params *chain.Params
	// LedgerAddr is where the ledger RPC listens; default Host:0, or
	// Host:BasePort.
	LedgerAddr string
	// Host is the IP address that the ledger RPC, the servers and the nodes
	// listen on; default 127.0.0.1 (loopback: nothing is reachable from
	// another machine). Another address lets nodes on other machines join.
	// 0.0.0.0 (every address: a pod's, which a port-forward reaches at
	// 127.0.0.1) is for a network without nodes of its own that
	// Advertises a name: nodes publish where they listen.
	Host string
	// BasePort, if set, fixes the ports of the ledger RPC (the seed), the
	// proxy, the file and the community server at BasePort+PortSeed, ...
	// (a Kubernetes Service names them); 0 takes free ports.
	BasePort int
	// Advertise, if set, is the name others reach Host by (a Kubernetes
	// Service's): the servers are known by it (exits forward to
	// Advertise:port) and joiners are told the ledger's URL under it.
	Advertise string
	// Exe, if set, runs every node as its own process: the sessionctl
	// binary at Exe, as 'node run' (procs.go). "" runs them in this process.
	Exe string
	// Workers, with Exe, runs the nodes in that many worker processes,
	// each hosting a range of them (workers.go); 0 runs each in its own
	// process. With workers a devnet may have up to MaxWorkerNodes nodes.
	Workers int
	// LedgerToken guards the RPC's mine and state_change; "" leaves them open.
	LedgerToken string
	// Logger receives every component's logs; the zero value logs nothing.
	Logger zerolog.Logger
	// NodeConfig, if set, adjusts each node's config before it starts.
	NodeConfig func(i int, c *node.Config)
	// Logs, if set, gives each component its own logger ("ledger",
	// "node-1", ...); otherwise Logger is used with a component field.
	Logs func(component string) zerolog.Logger
	// Progress, if set, is told how far the start has gone: the nodes
	// registered, then started, then ready (their addresses on the
	// ledger) with the swarms ready. It must not block.
	Progress func(StartProgress)
	// FileExpiry is how long the file server keeps a file; default 1 hour
	// (mainnet: 3 weeks).
	FileExpiry time.Duration
	// NodeNow is the in-process nodes' clock; nil means time.Now (tests
	// move it to expire messages without waiting).
	NodeNow func() time.Time
	// ServerNow is the file and community servers' clock; nil means
	// time.Now (tests move it to expire files without waiting).
	ServerNow func() time.Time
	// CommunityAdmins are the community server's global admins (blinded IDs).
	CommunityAdmins []string
	// OnHop and OnStore, if set, are told what node i saw of each onion
	// request and each message it stored for the first time (the
	// dashboard). They must not block.
	OnHop   func(i int, h node.OnionHop)
	OnStore func(i int, e node.StoreEvent)
	// OnExit, if set, is told that node i's process (Exe) ended without
	// the devnet asking, and how. It must not block.
	OnExit func(i int, report string)
	// OnEdge, if set, is told of each request at the client edge (a
	// node's HTTPS edge, the seed, the proxy) as it is logged (edge.go).
	// It must not block.
	OnEdge func(edgelog.Entry)
}

// logger returns the logger of a component.
func (c *Config) logger(component string) zerolog.Logger {
	if c.Logs != nil {
		return c.Logs(component)
	}
	return c.Logger.With().Str("name", component).Logger()
}

// Network is a running devnet.
type Network struct {
	cfg    Config
	log    zerolog.Logger
	Ledger *ledger.Ledger
	// Files is the file server.
	Files *fileserver.Server
	// Community is the community server, with a room "lobby".
	Community *community.Server
	// Proxy takes the real network's host names to the devnet (edge.go).
	Proxy  *proxy.Proxy
	rpc    *ledgerrpc.Server
	client *ledgerrpc.Client

	mu    sync.Mutex
	nodes []*node.Node // by index; nil while stopped
	procs []*nodeProc  // by index, with Config.Exe; nil while stopped
	exits []string     // by index: how its process last ended by itself
	keys  []ed25519.PrivateKey
	names *nodeNames // the nodes' names by key: the logs name nodes by them
	done  bool

	// hosted are the nodes running in workers, by index (Config.Workers);
	// workers the workers, by range, nil once exited.
	hosted  []*hostedNode
	workers []*workerProc
	respawn sync.Mutex // a worker started again (startHosted)

	// skews move each in-process node's clock (SetSkew), ns.
	skews []atomic.Int64
	// budget bounds the request bytes all nodes hold at once.
	budget *node.Budget
	// views is the nodes' one view of the network.
	views *node.Views
	tests node.TestSlots // the peer tests of all its nodes at once
	// turns are the in-process nodes' turns to work: the process's CPUs.
	turns *node.Turns
	// fundMu orders the faucet's payments (their nonces).
	fundMu sync.Mutex
	// errc is Err: a shared part's failure; closed by Close.
	errc chan error
	// watching ends the watchers (Close); wg waits for them.
	watching context.CancelFunc
	wg       sync.WaitGroup
}

// The nodes of a devnet share one budget for request bodies in memory:
// 128 MiB in all, 16 MiB from one peer.
const (
	requestBudget        = 128 << 20
	requestBudgetPerPeer = 16 << 20
)

// New validates cfg.
func New(cfg Config) (*Network, error) {
	if cfg.Dir == "" {
		return nil, errors.New("devnet: Config.Dir is required")
	}
	switch cfg.Nodes {
	case 0:
		cfg.Nodes = 12
	case NoNodes:
		cfg.Nodes = 0
	}
	if err := checkWorkers(cfg.Workers, cfg.Nodes, cfg.Exe); err != nil {
		return nil, err
	}
	if limit := nodesLimit(cfg.Workers); cfg.Nodes < 0 || cfg.Nodes > limit {
		return nil, fmt.Errorf("devnet: %d nodes: want 1 to %d, or NoNodes", cfg.Nodes, limit)
	}
	if cfg.Seed == "" {
		cfg.Seed = "sessionctl"
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if err := checkHost(cfg.Host, cfg.Nodes, cfg.Advertise); err != nil {
		return nil, err
	}
	if err := checkPlacement(cfg.BasePort, cfg.Advertise); err != nil {
		return nil, err
	}
	if cfg.LedgerAddr == "" {
		cfg.LedgerAddr = cfg.addr(PortSeed)
	}
	if cfg.Secret == ([32]byte{}) {
		sec, err := LoadSecret(cfg.Dir)
		if err != nil {
			return nil, fmt.Errorf("devnet: %w", err)
		}
		cfg.Secret = sec
	}
	nw := &Network{cfg: cfg, log: cfg.Logger.With().Str("module", "devnet").Logger(),
		budget: node.NewBudget(requestBudget, requestBudgetPerPeer), views: node.NewViews(), tests: newTestSlots(), turns: node.NewTurns(0), errc: make(chan error, 1), names: newNodeNames()}
	for i := 0; i < cfg.Nodes; i++ {
		nw.keys = append(nw.keys, derive(cfg.Seed, "node", i))
		nw.names.add(pub(nw.keys[i]), NodeName(i))
	}
	nw.skews = make([]atomic.Int64, cfg.Nodes)
	return nw, nil
}

// SecretLabel is the string that a devnet's server keys derive from.
func SecretLabel(secret [32]byte) string { return "secret:" + hex.EncodeToString(secret[:]) }

// FileServerKey returns the network's file server key pair.
func (nw *Network) FileServerKey() onion.KeyPair { return FileServerKey(SecretLabel(nw.cfg.Secret)) }

// CommunityKey returns the network's community server key pair.
func (nw *Network) CommunityKey() onion.KeyPair { return CommunityKey(SecretLabel(nw.cfg.Secret)) }

// derive returns the Ed25519 key of a role's i-th member, from the seed.
func derive(seed, role string, i int) ed25519.PrivateKey {
	s := blake2b.Sum256([]byte(fmt.Sprintf("sessionctl-%s\x00%s\x00%d", role, seed, i)))
	return ed25519.NewKeyFromSeed(s[:])
}

func pub(k ed25519.PrivateKey) string { return hex.EncodeToString(k.Public().(ed25519.PublicKey)) }

// stake is each node's fixed stake.
const stake = 15_000 * chain.Coin

// Operator and contributor wallets: node i's operator is operator i; every
// third node is shared: its operator stakes half and two contributors a
// quarter each.
func (nw *Network) operator(i int) ed25519.PrivateKey {
	return deriveSecret(nw.cfg.Secret, "operator", i)
}
func (nw *Network) contributor(i, j int) ed25519.PrivateKey {
	return deriveSecret(nw.cfg.Secret, "contributor", i*2+j)
}
func shared(i int) bool { return i%3 == 2 }

func (nw *Network) genesis() []ledger.Allocation {
	var out []ledger.Allocation
	for i := 0; i < nw.cfg.Nodes; i++ {
		out = append(out, ledger.Allocation{Wallet: pub(nw.operator(i)), Amount: stake + 1_000*chain.Coin})
		if shared(i) {
			for j := 0; j < 2; j++ {
				out = append(out, ledger.Allocation{Wallet: pub(nw.contributor(i, j)), Amount: stake/4 + 100*chain.Coin})
			}
		}
	}
	out = append(out, ledger.Allocation{Wallet: pub(nw.faucet()), Amount: faucetGenesis})
	return append(out, nw.cfg.Genesis...)
}

// Start starts the ledger and its RPC, registers the nodes on a new chain,
// starts them and waits until each serves with its address on the ledger.
// On error, what it started is stopped.
func (nw *Network) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			nw.Close()
		}
	}()
	// The nodes' new databases are made while the ledger and the servers
	// start (each waits for a sync of the disk); the nodes open them.
	stores := nw.createStores(ctx)
	defer stores.waitAll()
	// The servers start beside the ledger, its RPC and the registrations
	// (neither needs the other), and both before the nodes: nodes forward
	// onion requests only to servers they know. The proxy, which needs
	// both and no node, starts beside the nodes.
	servers := nw.inBackground(func() error { return nw.startServers(ctx) })
	defer servers()
	// A new chain's registrations are signed while its ledger starts: its
	// wallets have sent nothing, their nonces are 0 (register checks).
	var ahead [][]*chain.Tx
	signed := func() error { return nil }
	if _, err := os.Lstat(Dir(nw.cfg.Dir).LedgerDB()); errors.Is(err, fs.ErrNotExist) {
		ahead = make([][]*chain.Tx, len(nw.keys))
		signed = nw.inBackground(func() error {
			parallel(len(nw.keys), func(i int) { ahead[i], _ = nw.stakeTxs(i, firstNonce) })
			return nil
		})
	}
	defer signed()
	// The nodes' hosts too, once the registrations are signed (register
	// waits for those): CPU work, done where the CPUs wait on the disk
	// (the ledger's, the servers' and the nodes' databases are synced).
	hosts := nw.makeHosts(signed)
	defer hosts.closeRest()
	l, err := ledger.New(ledger.Config{
		Path: Dir(nw.cfg.Dir).LedgerDB(), Seed: nw.cfg.Seed, BlockTime: nw.cfg.BlockTime, HoldBlocks: true,
		Genesis: nw.genesis(), Params: nw.params(), Logger: nw.cfg.logger("ledger"),
	})
	if err != nil {
		return err
	}
	if err := l.Start(ctx); err != nil {
		return err
	}
	nw.Ledger = l
	srv, err := ledgerrpc.NewServer(ledgerrpc.ServerConfig{Ledger: l, Addr: nw.cfg.LedgerAddr, Token: nw.cfg.LedgerToken, Logger: nw.cfg.logger("ledger"),
		Edge: nw.edgeSink(nil)})
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	nw.rpc = srv
	nw.client = ledgerrpc.NewClient(nw.LedgerURL(), nw.cfg.LedgerToken)
	signed()
	if err := errors.Join(nw.register(ctx, ahead), servers()); err != nil {
		return err
	}
	nw.mu.Lock()
	nw.nodes = make([]*node.Node, nw.cfg.Nodes)
	nw.procs = make([]*nodeProc, nw.cfg.Nodes)
	nw.hosted = make([]*hostedNode, nw.cfg.Nodes)
	nw.workers = make([]*workerProc, nw.cfg.Workers)
	nw.exits = make([]string, nw.cfg.Nodes)
	nw.mu.Unlock()
	proxy := nw.inBackground(func() error { return nw.startProxy(ctx) })
	defer proxy()
	if err := errors.Join(nw.startNodes(ctx, stores, hosts), proxy()); err != nil {
		return err
	}
	if err := nw.settle(ctx); err != nil {
		return err
	}
	// Timed blocks (and with them testing rounds) begin once every node
	// serves.
	nw.Ledger.Release()
	nw.watch()
	return nil
}

// inBackground runs f on a goroutine of its own and returns a function that
// waits for it and returns its error, as often as it is called (Start
// defers one too: what started is stopped only once it has).
func (nw *Network) inBackground(f func() error) func() error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	return sync.OnceValue(func() error { return <-done })
}

// startServers starts the file server and the community server, side by
// side.
func (nw *Network) startServers(ctx context.Context) error {
	files := nw.inBackground(func() error { return nw.startFiles(ctx) })
	return errors.Join(nw.startCommunity(ctx), files())
}

// watch reports on Err the first failure of a part the network cannot do
// without: the ledger, its RPC (the seed), the servers, the proxy.
func (nw *Network) watch() {
	ctx, cancel := context.WithCancel(context.Background())
	parts := map[string]<-chan error{"the ledger": nw.Ledger.Err(), "the ledger RPC": nw.rpc.Err(),
		"the file server": nw.Files.Err(), "the community server": nw.Community.Err(), "the proxy": nw.Proxy.Err()}
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if nw.done {
		cancel()
		return
	}
	nw.watching = cancel
	nw.wg.Add(1)
	go func() {
		defer nw.wg.Done()
		watchParts(ctx, nw.errc, parts)
	}()
}

// Err delivers the failure of a part the network cannot do without (a
// *PartError: the ledger, its RPC, a server, the proxy), and is closed by
// Close. A node that fails is no such part: it is stopped and reported as
// exited (Exited, Config.OnExit), as a node's process that crashed is.
func (nw *Network) Err() <-chan error { return nw.errc }

// nodeFailed stops in-process node i, which failed (node.OnErr: no
// goroutine a node waits on its Err), and reports it as exited.
func (nw *Network) nodeFailed(i int, n *node.Node, err error) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	nw.nodeFailedLocked(i, n, err)
}

func (nw *Network) nodeFailedLocked(i int, n *node.Node, err error) {
	if nw.done || nw.nodes == nil || nw.nodes[i] != n {
		return // stopped, or not started yet (StartNode looks at its Err)
	}
	report := "failed: " + err.Error()
	nw.nodes[i] = nil
	nw.exits[i] = report
	nw.wg.Add(1) // (before Close's Wait: nw.done is false)
	go func() {  // not on the failing goroutine, which the node's Close waits for
		defer nw.wg.Done()
		log := nw.cfg.logger(NodeName(i))
		log.Error().Err(err).Msg("node failed: stopped")
		n.Close()
		if nw.cfg.OnExit != nil {
			nw.cfg.OnExit(i, report)
		}
	}()
}

// params are the rules of a new chain: Config.Params, or the defaults
// with testing rounds as long as the network needs (ParamsFor).
func (nw *Network) params() *chain.Params {
	if nw.cfg.Params != nil {
		return nw.cfg.Params
	}
	p := ParamsFor(nw.cfg.Nodes)
	return &p
}

// ParamsFor returns the default rules for a devnet of n nodes. Every node is
// tested each round by a quorum of 10: 10·n tests (each three requests and
// a vote on the ledger) a round. Up to 200 nodes a round is the default 10
// blocks; beyond, a round lasts n/20 blocks (100 at 2,000 nodes), so that
// a block brings about 200 tests whatever the size, and uptime proofs come
// once a round. One machine then keeps up with 2,000 nodes; what it costs
// is that a node that stops is noticed within a round (100 s at 2,000).
func ParamsFor(n int) chain.Params {
	p := chain.DefaultParams()
	if rb := uint64(n / 20); rb > p.RoundBlocks {
		p.RoundBlocks = rb
		p.ProofInterval = rb
		p.ProofValidity = 2*rb + 1
	}
	return p
}

// register submits the staking transactions of the nodes the chain does not
// know yet, and makes a block with them. The transactions of up to
// registerChunk nodes are made (signed) side by side, then queued in the
// nodes' order (their signatures checked side by side: SubmitAll). A
// node's in ahead, made before (nil for none), are taken if their nonces
// are still their wallets' next.
func (nw *Network) register(ctx context.Context, ahead [][]*chain.Tx) error {
	var unregistered []int
	for i, k := range nw.keys {
		if _, ok := nw.Ledger.Node(pub(k)); !ok {
			unregistered = append(unregistered, i)
		}
	}
	submitted := len(unregistered)
	for len(unregistered) > 0 {
		part := unregistered[:min(registerChunk, len(unregistered))]
		unregistered = unregistered[len(part):]
		made := make([][]*chain.Tx, len(part))
		errs := make([]error, len(part))
		parallel(len(part), func(j int) {
			if i := part[j]; i < len(ahead) && nw.current(ahead[i]) {
				made[j] = ahead[i]
			} else {
				made[j], errs[j] = nw.stakeTxs(i, nw.nextNonce)
			}
		})
		var txs []*chain.Tx
		var of []int // the node of each transaction
		for j, m := range made {
			if errs[j] != nil {
				return fmt.Errorf("register node %d: %w", part[j], errs[j])
			}
			txs = append(txs, m...)
			for range m {
				of = append(of, part[j])
			}
		}
		for len(txs) > 0 {
			n, err := nw.Ledger.SubmitAll(txs)
			txs, of = txs[n:], of[n:]
			if errors.Is(err, ledger.ErrMempoolFull) {
				// Past about 3,000 nodes their registrations (a node
				// with shared stake is three transactions) fill the
				// pool: a block takes them.
				if _, err := nw.Ledger.Mine(ctx, 1); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("register node %d: %w", of[0], err)
			}
		}
		if nw.cfg.Progress != nil {
			nw.cfg.Progress(StartProgress{Stage: StageRegistering, Done: part[len(part)-1] + 1, Total: len(nw.keys)})
		}
	}
	if submitted > 0 {
		if _, err := nw.Ledger.Mine(ctx, 1); err != nil {
			return err
		}
		nw.log.Info().Int("nodes", submitted).Msg("service nodes registered")
	}
	return nil
}

// registerChunk is how many nodes' staking transactions register makes
// and queues at a time.
const registerChunk = 256

// parallel calls f(0) to f(n-1) on as many goroutines as the process has
// CPUs, and returns when all have returned.
func parallel(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}

// stakeTxs makes node i's staking transactions: its operator's
// registration, signed by the node's key too, and for a node with shared
// stake its two contributors' contributions; nonce gives a wallet's nonce.
func (nw *Network) stakeTxs(i int, nonce func(wallet string) (uint64, error)) ([]*chain.Tx, error) {
	k := nw.keys[i]
	amount := stake
	var reserved []chain.Reservation
	var contributors []ed25519.PrivateKey
	if shared(i) {
		amount = stake / 2
		for j := 0; j < 2; j++ {
			c := nw.contributor(i, j)
			contributors = append(contributors, c)
			reserved = append(reserved, chain.Reservation{Wallet: pub(c), Amount: stake / 4})
		}
	}
	reg, err := newTx(nonce, nw.operator(i), chain.TxRegister, chain.RegisterBody{NodeKey: pub(k), FeeBPS: uint32(100 * (i % 10)), Amount: amount, Reserved: reserved})
	if err != nil {
		return nil, err
	}
	reg.SignAsNode(k)
	txs := []*chain.Tx{reg}
	for j, c := range contributors {
		tx, err := newTx(nonce, c, chain.TxContribute, chain.ContributeBody{NodeKey: pub(k), Amount: reserved[j].Amount})
		if err != nil {
			return nil, fmt.Errorf("contribution: %w", err)
		}
		txs = append(txs, tx)
	}
	return txs, nil
}

// newTx makes a transaction signed by key, at the wallet's nonce.
func newTx(nonce func(wallet string) (uint64, error), key ed25519.PrivateKey, t chain.TxType, body any) (*chain.Tx, error) {
	n, err := nonce(pub(key))
	if err != nil {
		return nil, err
	}
	return chain.NewTx(t, key, n, body)
}

// nextNonce is a wallet's next nonce on the ledger, its pending
// transactions counted.
func (nw *Network) nextNonce(wallet string) (uint64, error) {
	a, err := nw.Ledger.Account(wallet)
	return a.NextNonce, err
}

// firstNonce is the nonce of a wallet's first transaction.
func firstNonce(string) (uint64, error) { return 0, nil }

// current reports whether txs, made before, can be submitted now: there
// are some, and each one's nonce is its signer's next.
func (nw *Network) current(txs []*chain.Tx) bool {
	for _, tx := range txs {
		if n, err := nw.nextNonce(tx.Signer); err != nil || n != tx.Nonce {
			return false
		}
	}
	return len(txs) > 0
}

// FileServerKey is the file server's X25519 key pair, from a secret (a
// devnet's: SecretLabel).
func FileServerKey(secret string) onion.KeyPair {
	s := blake2b.Sum256([]byte("sessionctl-fileserver\x00" + secret))
	kp, err := onion.NewKeyPair(bytes.NewReader(s[:]))
	if err != nil {
		panic("devnet: a 32-byte reader gives a key: " + err.Error())
	}
	return kp
}

func (nw *Network) startFiles(ctx context.Context) error {
	exp := nw.cfg.FileExpiry
	if exp == 0 {
		exp = time.Hour
	}
	fs, err := fileserver.New(fileserver.Config{Dir: Dir(nw.cfg.Dir).FileServerDir(), Key: FileServerKey(SecretLabel(nw.cfg.Secret)),
		Expiry: exp, Logger: nw.cfg.logger("fileserver"), Now: nw.cfg.ServerNow, Addr: nw.cfg.addr(PortFiles)})
	if err != nil {
		return err
	}
	if err := fs.Start(ctx); err != nil {
		return err
	}
	nw.Files = fs
	return nil
}

// CommunityKey is the community server's X25519 key pair, from a secret (a
// devnet's: SecretLabel).
func CommunityKey(secret string) onion.KeyPair {
	s := blake2b.Sum256([]byte("sessionctl-community\x00" + secret))
	kp, err := onion.NewKeyPair(bytes.NewReader(s[:]))
	if err != nil {
		panic("devnet: a 32-byte reader gives a key: " + err.Error())
	}
	return kp
}

func (nw *Network) startCommunity(ctx context.Context) error {
	cs, err := community.New(community.Config{Dir: Dir(nw.cfg.Dir).CommunityDir(), Key: CommunityKey(SecretLabel(nw.cfg.Secret)),
		Admins: nw.cfg.CommunityAdmins, Logger: nw.cfg.logger("community"), Now: nw.cfg.ServerNow, Addr: nw.cfg.addr(PortCommunity)})
	if err != nil {
		return err
	}
	if err := cs.Start(ctx); err != nil {
		return err
	}
	nw.Community = cs
	if err := cs.AddRoom(ctx, "lobby", "Lobby"); err != nil && !errors.Is(err, community.ErrRoomExists) {
		return err // (it exists already on a resumed devnet)
	}
	return nil
}

// storesAhead are the nodes' databases being made ahead of their start:
// made[i] is closed once node i's is (or failed to be); none when the
// nodes run elsewhere (workers, processes of their own).
type storesAhead struct{ made []chan struct{} }

// wait waits until node i's database is made.
func (s storesAhead) wait(i int) {
	if s.made != nil {
		<-s.made[i]
	}
}

// waitAll waits until every node's is.
func (s storesAhead) waitAll() {
	for i := range s.made {
		<-s.made[i]
	}
}

// createStores creates the databases of the nodes this process runs that
// have none (node.CreateStore), in the nodes' order, startConcurrency at a
// time. A failure is left for the node's start to meet again and report.
func (nw *Network) createStores(ctx context.Context) storesAhead {
	if nw.cfg.Workers > 0 || nw.cfg.Exe != "" {
		return storesAhead{}
	}
	s := storesAhead{made: make([]chan struct{}, len(nw.keys))}
	for i := range s.made {
		s.made[i] = make(chan struct{})
	}
	go func() {
		sem := make(chan struct{}, startConcurrency)
		for i := range nw.keys {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; close(s.made[i]) }()
				node.CreateStore(ctx, Dir(nw.cfg.Dir).NodeData(NodeName(i)))
			}()
		}
	}()
	return s
}

// hostsAhead are the nodes' libp2p hosts being made ahead of their start
// (node.Config.Host): made[i] is closed once node i's is made, hosts[i]
// (nil if its construction failed: the node's start makes it again and
// reports) until a start takes it.
type hostsAhead struct {
	made  []chan struct{}
	hosts []host.Host
}

// makeHosts makes the hosts of the nodes this process runs, once after
// has returned, startConcurrency at a time, in the nodes' order.
func (nw *Network) makeHosts(after func() error) *hostsAhead {
	hs := &hostsAhead{}
	if nw.cfg.Workers > 0 || nw.cfg.Exe != "" {
		return hs
	}
	hs.made, hs.hosts = make([]chan struct{}, len(nw.keys)), make([]host.Host, len(nw.keys))
	for i := range hs.made {
		hs.made[i] = make(chan struct{})
	}
	go func() {
		after()
		sem := make(chan struct{}, startConcurrency)
		for i := range nw.keys {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; close(hs.made[i]) }()
				hs.hosts[i], _ = p2phost.New(nw.keys[i], nw.listenAddrs())
			}()
		}
	}()
	return hs
}

// take waits for node i's host and hands it over (nil if there is none).
// Each node's is taken once, on one goroutine.
func (hs *hostsAhead) take(i int) host.Host {
	if hs.made == nil {
		return nil
	}
	<-hs.made[i]
	h := hs.hosts[i]
	hs.hosts[i] = nil
	return h
}

// closeRest waits for every host and closes those not taken (once every
// start that could take one has returned).
func (hs *hostsAhead) closeRest() {
	for i := range hs.made {
		if h := hs.take(i); h != nil {
			h.Close()
		}
	}
}

// listenAddrs are where an in-process node's host listens.
func (nw *Network) listenAddrs() []string { return []string{"/ip4/" + nw.cfg.Host + "/tcp/0"} }

// startConcurrency is how many nodes start at once, and how many of their
// databases are made at once ahead of them.
const startConcurrency = 8

// startNodes starts every node, a few at a time (each opens a database and
// a host: the work is mostly I/O and key setup).
func (nw *Network) startNodes(ctx context.Context, stores storesAhead, hosts *hostsAhead) error {
	if nw.cfg.Workers > 0 {
		return nw.startWorkers(ctx)
	}
	total := len(nw.keys)
	errs := make([]error, total)
	sem := make(chan struct{}, startConcurrency)
	var wg sync.WaitGroup
	var done int
	var dmu sync.Mutex
	for i := range nw.keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			stores.wait(i)
			errs[i] = nw.startNode(ctx, i, hosts.take(i))
			if nw.cfg.Progress != nil {
				dmu.Lock()
				done++
				nw.cfg.Progress(StartProgress{Stage: StageStarting, Done: done, Total: total})
				dmu.Unlock()
			}
		}()
	}
	wg.Wait()
	return summarize(errs)
}

// summarize makes one error of the nodes' start errors: a limit that stops
// many nodes says so once (which limit, what to do), not once a node.
func summarize(errs []error) error {
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	switch {
	case len(failed) == 0:
		return nil
	case len(failed) == 1:
		return failed[0]
	}
	for _, err := range failed {
		if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
			limit, _ := fileLimit()
			return fmt.Errorf("%w: %d of %d nodes could not start for want of open files (this process may open %d; %d nodes need about %d): raise 'ulimit -n' or use fewer nodes",
				ErrFileLimit, len(failed), len(errs), limit, len(errs), filesBase+filesPerNode*len(errs))
		}
	}
	return fmt.Errorf("devnet: %d of %d nodes could not start; the first: %w", len(failed), len(errs), failed[0])
}

// StartNode starts node i (again, after StopNode).
func (nw *Network) StartNode(ctx context.Context, i int) error { return nw.startNode(ctx, i, nil) }

// startNode starts node i, on host h if it is given (made ahead with the
// node's key and listenAddrs: the node takes it, and h is closed whatever
// happens); else the node makes its own.
func (nw *Network) startNode(ctx context.Context, i int, h host.Host) (err error) {
	defer func() {
		if h != nil {
			h.Close() // not taken by a node
		}
	}()
	if i < 0 || i >= len(nw.keys) {
		return fmt.Errorf("%w: %d", ErrUnknownNode, i)
	}
	nw.mu.Lock()
	if nw.done || nw.nodes == nil {
		nw.mu.Unlock()
		return errors.New("devnet: the network is not running")
	}
	if nw.upLocked(i) {
		nw.mu.Unlock()
		return fmt.Errorf("%w: %s is running", ErrNodeRunning, NodeName(i))
	}
	nw.mu.Unlock()
	if nw.cfg.Workers > 0 {
		return nw.startHosted(ctx, i)
	}
	if nw.cfg.Exe != "" {
		return nw.startNodeProc(ctx, i)
	}
	cfg := node.Config{
		Key: nw.keys[i], DataDir: Dir(nw.cfg.Dir).NodeData(NodeName(i)), Ledger: ledgerrpc.Local{L: nw.Ledger},
		Logger: nw.cfg.logger(NodeName(i)), Name: NodeName(i), NameOf: nw.names.of, Servers: nw.servers(), Budget: nw.budget, Views: nw.views, TestSlots: nw.tests, Turns: nw.turns,
		ListenAddrs: nw.listenAddrs(), HTTPSAddr: net.JoinHostPort(nw.cfg.Host, "0"),
		Now: nw.nodeClock(i), Edge: nw.nodeEdge(i),
	}
	// A node compares its replica with a swarm member every 10 s, and
	// drops expired messages as often; beyond 200 nodes both slow in
	// proportion (100 s at 2,000), so that the process does about as many a
	// second whatever the size.
	if scale := len(nw.keys) / 200; scale > 1 {
		cfg.RepairInterval = time.Duration(scale) * 10 * time.Second
		cfg.ExpiryInterval = time.Duration(scale) * 10 * time.Second
	}
	if nw.cfg.OnHop != nil {
		cfg.OnionObserver = func(h node.OnionHop) { nw.cfg.OnHop(i, h) }
	}
	if nw.cfg.OnStore != nil {
		cfg.OnStore = func(e node.StoreEvent) { nw.cfg.OnStore(i, e) }
	}
	if nw.cfg.NodeConfig != nil {
		nw.cfg.NodeConfig(i, &cfg)
	}
	if h != nil && slices.Equal(cfg.ListenAddrs, nw.listenAddrs()) && cfg.Key.Equal(nw.keys[i]) && cfg.Host == nil {
		cfg.Host = h // (not if the hook changed what it was made for)
	}
	n, err := node.New(cfg)
	if err == nil && cfg.Host == h {
		h = nil // the node's now: it closes it
	}
	if err == nil {
		n.OnErr(func(err error) { nw.nodeFailed(i, n, err) })
	}
	if err != nil {
		return err
	}
	if err := n.Start(ctx); err != nil {
		return err
	}
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if nw.done || nw.upLocked(i) {
		n.Close()
		return fmt.Errorf("devnet: %s was started twice or the network stopped", NodeName(i))
	}
	nw.nodes[i] = n
	nw.exits[i] = ""
	select {
	case err := <-n.Err(): // it failed before it was the network's
		nw.nodeFailedLocked(i, n, err)
	default:
	}
	return nil
}

// startNodeProc starts node i as a child process and watches it.
func (nw *Network) startNodeProc(ctx context.Context, i int) error {
	p, err := nw.startProc(ctx, i)
	if err != nil {
		return err
	}
	nw.mu.Lock()
	if nw.done || nw.upLocked(i) {
		nw.mu.Unlock()
		p.stop()
		return fmt.Errorf("devnet: %s was started twice or the network stopped", NodeName(i))
	}
	nw.procs[i] = p
	nw.exits[i] = ""
	nw.mu.Unlock()
	go func() {
		<-p.done
		if !p.crashed() {
			return
		}
		report := fmt.Sprintf("pid %d %s", p.cmd.Process.Pid, p.exitText())
		nw.mu.Lock()
		if nw.procs != nil && nw.procs[i] == p {
			nw.procs[i] = nil
			nw.exits[i] = report
		}
		nw.mu.Unlock()
		log := nw.cfg.logger(NodeName(i))
		log.Error().Int("pid", p.cmd.Process.Pid).Str("exit", p.err.Error()).Str("last", p.lastLine()).Msg("node process exited by itself")
		if nw.cfg.OnExit != nil {
			nw.cfg.OnExit(i, report)
		}
	}()
	return nil
}

// StopNode stops node i; it stays registered. A node's process (Config.Exe)
// is killed (SIGKILL), as a crash would end it.
func (nw *Network) StopNode(i int) error {
	nw.mu.Lock()
	if i < 0 || i >= len(nw.nodes) || !nw.upLocked(i) {
		nw.mu.Unlock()
		return fmt.Errorf("%w: %s is not running", ErrNodeStopped, NodeName(i))
	}
	n, p, h := nw.nodes[i], nw.procs[i], nw.hosted[i]
	nw.nodes[i], nw.procs[i], nw.hosted[i] = nil, nil, nil
	nw.mu.Unlock()
	if h != nil {
		return nw.order(context.Background(), h.w, "stop", i)
	}
	if p != nil {
		p.kill()
		<-p.done
		return nil
	}
	return n.Close()
}

// Running reports whether node i runs (in this process or its own).
func (nw *Network) Running(i int) bool {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return i >= 0 && i < len(nw.nodes) && nw.upLocked(i)
}

// upLocked reports whether node i runs: in this process, its own or a
// worker. nw.mu is held and i in range.
func (nw *Network) upLocked(i int) bool {
	return nw.nodes[i] != nil || nw.procs[i] != nil || nw.hosted[i] != nil
}

// NodeInfo returns what running node i says of itself; false while it is
// stopped.
func (nw *Network) NodeInfo(i int) (NodeInfo, bool) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if i < 0 || i >= len(nw.nodes) {
		return NodeInfo{}, false
	}
	if p := nw.procs[i]; p != nil {
		return p.info, true
	}
	if h := nw.hosted[i]; h != nil {
		return h.info, true
	}
	if n := nw.nodes[i]; n != nil {
		return NodeInfo{Key: n.Key(), PeerID: n.PeerID().String(), Addrs: n.Addrs(), HTTPS: n.HTTPSURL(), PID: os.Getpid()}, true
	}
	return NodeInfo{}, false
}

// AwaitPublished waits until the ledger has running node i's peer ID and
// addresses (a node publishes them when it starts), making blocks if they
// come only on demand.
func (nw *Network) AwaitPublished(ctx context.Context, i int) error {
	for {
		info, ok := nw.NodeInfo(i)
		if !ok {
			return fmt.Errorf("%w: %s is not running", ErrNodeStopped, NodeName(i))
		}
		if sn, found := nw.Ledger.Node(info.Key); found && sn.PeerID == info.PeerID && slices.Equal(sn.Addrs, info.Addrs) {
			return nil
		}
		if nw.cfg.BlockTime == 0 {
			if _, err := nw.Ledger.Mine(ctx, 1); err != nil {
				return err
			}
			continue
		}
		if _, err := nw.Ledger.WaitHeight(ctx, nw.Ledger.Info().Height+1); err != nil {
			return err
		}
	}
}

// RunningCount is the number of running nodes.
func (nw *Network) RunningCount() int {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	c := 0
	for i := range nw.nodes {
		if nw.upLocked(i) {
			c++
		}
	}
	return c
}

// Exited says how node i's process last ended by itself ("" if it did not).
func (nw *Network) Exited(i int) string {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if i < 0 || i >= len(nw.exits) {
		return ""
	}
	return nw.exits[i]
}

// WaitNodeReady waits until running node i has its first view of the
// network (a node's process is ready when it has started).
func (nw *Network) WaitNodeReady(ctx context.Context, i int) error {
	nw.mu.Lock()
	var n *node.Node
	running := false
	if i >= 0 && i < len(nw.nodes) {
		n, running = nw.nodes[i], nw.upLocked(i)
	}
	nw.mu.Unlock()
	if !running {
		return fmt.Errorf("%w: %s is not running", ErrNodeStopped, NodeName(i))
	}
	if n == nil {
		return nil
	}
	return n.WaitReady(ctx)
}

// servers are the host:port of the devnet's servers, where exits forward,
// under the advertised name (Config.Advertise).
func (nw *Network) servers() []string {
	var out []string
	for _, u := range []string{nw.Files.URL(), nw.Community.URL()} {
		if p, err := url.Parse(nw.advertised(local(u))); err == nil {
			out = append(out, p.Host)
		}
	}
	return out
}

// NodeName is node i's name in the devnet: node-1, node-2, ...
func NodeName(i int) string { return fmt.Sprintf("node-%d", i+1) }

// settle waits until every running node's address is on the ledger and
// every node has seen every other's. Nodes publish their addresses when
// they start, so one block usually settles it; otherwise it makes blocks
// until it is so.
func (nw *Network) settle(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		if _, err := nw.Ledger.Mine(ctx, 1); err != nil {
			return err
		}
		h := nw.Ledger.Info().Height
		ok := true
		for _, n := range nw.Nodes() {
			if err := n.WaitView(ctx, h); err != nil {
				return fmt.Errorf("devnet: nodes did not settle: %w", err)
			}
		}
		notReady := map[string]bool{}
		for i := range nw.keys {
			info, running := nw.NodeInfo(i)
			if !running {
				continue
			}
			sn, found := nw.Ledger.Node(info.Key)
			if !found || sn.PeerID != info.PeerID || !slices.Equal(sn.Addrs, info.Addrs) || sn.StoragePort == 0 {
				ok = false
				notReady[info.Key] = true
			}
		}
		if nw.cfg.Progress != nil {
			nw.cfg.Progress(nw.readiness(notReady))
		}
		if ok {
			// A resumed network's nodes catch up with each other (now
			// that each knows where the others are) before they let
			// clients read (node.Node.WaitCaughtUp).
			for _, n := range nw.Nodes() {
				if err := n.WaitCaughtUp(ctx); err != nil {
					return fmt.Errorf("devnet: nodes did not catch up with their swarms: %w", err)
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devnet: node addresses did not reach the ledger: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// The stages of a start (StartProgress.Stage).
const (
	StageRegistering = "registering" // the nodes' stakes go on the ledger
	StageStarting    = "starting"    // each node opens its database and its host
	StageReady       = "ready"       // each node's address reaches the ledger: its swarm can serve
)

// StartProgress is how far a network's start has gone.
type StartProgress struct {
	Stage       string
	Done, Total int // nodes registered, started, or ready
	// SwarmsReady counts the swarms whose every member is ready, of
	// Swarms (StageReady).
	SwarmsReady, Swarms int
}

// String says it in a line, the nodes as a bar.
func (p StartProgress) String() string {
	switch p.Stage {
	case StageRegistering:
		return progress.Bar("registering service nodes", p.Done, p.Total)
	case StageStarting:
		return progress.Bar("starting service nodes   ", p.Done, p.Total)
	}
	return progress.Bar("service nodes ready      ", p.Done, p.Total) + fmt.Sprintf(", swarms ready %d/%d", p.SwarmsReady, p.Swarms)
}

// readiness counts the nodes ready (all but notReady's, by Ed25519 key)
// and the swarms whose members all are.
func (nw *Network) readiness(notReady map[string]bool) StartProgress {
	p := StartProgress{Stage: StageReady, Total: len(nw.keys), Done: len(nw.keys) - len(notReady)}
	for _, s := range nw.Ledger.Swarms() {
		p.Swarms++
		if !slices.ContainsFunc(s.Members, func(k string) bool { return notReady[k] }) {
			p.SwarmsReady++
		}
	}
	return p
}

// Nodes returns the running nodes.
func (nw *Network) Nodes() []*node.Node {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	var out []*node.Node
	for _, n := range nw.nodes {
		if n != nil {
			out = append(out, n)
		}
	}
	return out
}

// Node returns node i, or nil while it is stopped.
func (nw *Network) Node(i int) *node.Node {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if i < 0 || i >= len(nw.nodes) {
		return nil
	}
	return nw.nodes[i]
}

// NodeKey returns node i's Ed25519 public key (hex).
func (nw *Network) NodeKey(i int) string { return pub(nw.keys[i]) }

// Host is the IP address everything listens on.
func (nw *Network) Host() string { return nw.cfg.Host }

// Dir returns the network's state directory.
func (nw *Network) Dir() string { return nw.cfg.Dir }

// LedgerURL is the ledger RPC's base URL.
func (nw *Network) LedgerURL() string { return local(nw.rpc.URL()) }

// Close stops the nodes, the RPC and the ledger. Safe to call twice.
func (nw *Network) Close() error {
	nw.mu.Lock()
	if nw.done {
		nw.mu.Unlock()
		return nil
	}
	nw.done = true
	nodes, procs, workers := nw.nodes, nw.procs, nw.workers
	nw.nodes, nw.procs, nw.hosted, nw.workers = nil, nil, nil, nil
	if nw.watching != nil {
		nw.watching()
	}
	nw.mu.Unlock()
	var errs []error
	if nw.Proxy != nil {
		errs = append(errs, nw.Proxy.Close()) // first: its tunnels reach the nodes
	}
	var wg sync.WaitGroup
	var emu sync.Mutex
	for _, p := range procs {
		if p == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.stop(); err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		}()
	}
	for _, w := range workers {
		if w == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.stop(); err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		}()
	}
	for _, n := range nodes {
		if n == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Close(); err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		}()
	}
	wg.Wait()
	if nw.Files != nil {
		errs = append(errs, nw.Files.Close())
	}
	if nw.Community != nil {
		errs = append(errs, nw.Community.Close())
	}
	if nw.rpc != nil {
		errs = append(errs, nw.rpc.Close())
	}
	if nw.Ledger != nil {
		errs = append(errs, nw.Ledger.Close())
	}
	nw.wg.Wait() // the watchers: every node is closed
	close(nw.errc)
	return errors.Join(errs...)
}

// NodeKey returns the key of a devnet's node i (node-(i+1)), from the seed:
// `node run --seed S --index N` runs that node in its own process.
func NodeKey(seed string, i int) ed25519.PrivateKey { return derive(seed, "node", i) }

// nodeClock is in-process node i's clock: Config.NodeNow (or time.Now),
// moved by its skew.
func (nw *Network) nodeClock(i int) func() time.Time {
	base := nw.cfg.NodeNow
	if base == nil {
		base = time.Now
	}
	return func() time.Time { return base().Add(time.Duration(nw.skews[i].Load())) }
}

// SetSkew moves in-process node i's clock by d (0 puts it back), at once:
// a node whose clock is off by more than the signature window (±60 s)
// refuses what clients sign, as a real one would. A node of its own process
// (Config.Exe) is not moved.
func (nw *Network) SetSkew(i int, d time.Duration) error {
	if i < 0 || i >= len(nw.keys) {
		return fmt.Errorf("%w: %d", ErrUnknownNode, i)
	}
	if nw.cfg.Exe != "" {
		return errors.New("devnet: the clock of a node in its own process is its machine's")
	}
	nw.skews[i].Store(int64(d))
	return nil
}

// Skew is how far node i's clock is moved.
func (nw *Network) Skew(i int) time.Duration {
	if i < 0 || i >= len(nw.skews) {
		return 0
	}
	return time.Duration(nw.skews[i].Load())
}

// newTestSlots bounds the peer tests of the nodes of one process at once
// (node.Config.TestSlots): testSlotsPerCPU a CPU.
func newTestSlots() node.TestSlots {
	return node.NewTestSlots(testSlotsPerCPU * runtime.GOMAXPROCS(0))
}

// testSlotsPerCPU: tests at once a CPU, for all the nodes of a process.
// BenchmarkSendDuringRounds at 2,000 nodes (one round, a send every 2 s,
// alternated, busy machine): with no shared bound, send p99 66.8 s and
// 25.4 s (41 and 46 sends); with 4 a CPU, 8.6 s and 6.4 s (96 and 99).
const testSlotsPerCPU = 4
