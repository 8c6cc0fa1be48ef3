package node

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionctl/sessionctl/internal/httpserve"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/edgelog"
	"github.com/sessionctl/sessionctl/internal/loop"
	"github.com/sessionctl/sessionctl/internal/memtransport"
	"github.com/sessionctl/sessionctl/internal/p2phost"
	"github.com/sessionctl/sessionctl/internal/sqlitedb"
	"github.com/sessionctl/sessionctl/internal/streampool"
	"github.com/sessionctl/sessionctl/onion"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// Ledger is what a node needs of the ledger; *ledgerrpc.Client is one.
type Ledger interface {
	Info(ctx context.Context) (chain.Info, error)
	WaitHeight(ctx context.Context, height uint64) (chain.Info, error)
	Nodes(ctx context.Context) ([]chain.ServiceNode, error)
	Node(ctx context.Context, key string) (chain.ServiceNode, error)
	RoundAt(ctx context.Context, height uint64) (chain.Round, error)
	Account(ctx context.Context, wallet string) (chain.Account, error)
	Submit(ctx context.Context, tx *chain.Tx) (string, error)
}

// QuorumSource is a Ledger that answers a round without its commits,
// reveals and votes (ledgerrpc.Local), whose quorums the node only reads:
// a node asks it rather than RoundAt for its quorums.
type QuorumSource interface {
	QuorumsAt(ctx context.Context, height uint64) (chain.Round, error)
}

// Config configures a Node.
type Config struct {
	// Key is the node's Ed25519 key: its identity on the ledger, its libp2p
	// peer ID, and (converted) its X25519 key for onion requests. Required.
	Key ed25519.PrivateKey
	// DataDir holds the node's database (storage.db). Required.
	DataDir string
	// Ledger is where the node learns the swarms and publishes its address. Required.
	Ledger Ledger
	// ListenAddrs are libp2p multiaddrs; default /ip4/127.0.0.1/tcp/0 (loopback, a free port).
	ListenAddrs []string
	// Host, if set, is the node's libp2p host, made ahead by p2phost.New
	// with Key and ListenAddrs (a devnet makes its nodes' hosts while its
	// ledger starts: the work of their construction is then done where
	// the CPUs wait on the disk). The node takes it: Start serves on it,
	// Close (or a Start that fails) closes it. Nil: Start makes it.
	Host host.Host
	// HTTPSAddr is where the HTTPS client edge listens (https.go); default
	// 127.0.0.1:0. Its IP is what the node publishes as public_ip.
	HTTPSAddr string
	// Logger receives the node's logs; the zero value logs nothing.
	Logger zerolog.Logger
	// Name is the node's name in its logs (a devnet's "node-3"); default
	// the first 8 hex digits of its key.
	Name string
	// NameOf names another node in the logs (a vote's target, a push's
	// receiver) by its Ed25519 key (hex), "" for one it does not know;
	// nil or "" names it by the first 8 hex digits of its key.
	NameOf func(key string) string
	// Now is the node's clock; nil means time.Now.
	Now func() time.Time
	// ExpiryInterval is how often expired messages are removed; default 10 s (mainnet's).
	ExpiryInterval time.Duration
	// RateBurst and RatePerSecond limit each client's storage requests
	// (mainnet: 600 and 300); a client over them is answered 429.
	RateBurst     int
	RatePerSecond float64
	// ForwardTimeout bounds a request forwarded to another swarm member; default 5 s.
	ForwardTimeout time.Duration
	// Workers is how many requests may work on the node at once; the
	// others wait their turn, each client's apart, served in rounds
	// (fair.go); default GOMAXPROCS.
	Workers int
	// Turns, if set, are turns to work that the node's requests share with
	// other nodes of the process (a devnet's, NewTurns); Workers is then
	// not used. nil gives the node its own.
	Turns *Turns
	// Servers are the servers (host:port, as in an onion request's routing)
	// that the node, as an exit, forwards requests to: the devnet's file
	// and community servers. Requests for any other address are refused.
	Servers []string
	// RepairInterval is how often the node compares its replica with
	// another member of its swarm and pulls what it lacks (see Repair);
	// default 10 s, negative turns it off.
	RepairInterval time.Duration
	// Budget bounds the request bytes held in memory at once; nodes of one
	// process should share one. nil gives the node its own (64 MiB, 16 MiB
	// a client).
	Budget *Budget
	// Views is the view of the network that the node builds from the
	// ledger's node list; nodes of one process following one ledger should
	// share one (a 2,000-node devnet then parses the list once a change,
	// not 2,000 times). nil gives the node its own.
	Views *Views
	// TestSlots, if set, bounds the peer tests that the nodes sharing it
	// run at once, all together (NewTestSlots), beside each node's own
	// bound: nodes of one process on a machine they saturate then leave
	// CPU to clients' requests between tests, rather than a test's
	// handshakes and checks filling every core's run queue.
	TestSlots TestSlots
	// OnStore, if set, is told of each message the node stored for the
	// first time (the devnet's dashboard draws replication with it). It
	// runs on the request's goroutine: it must not block.
	OnStore func(StoreEvent)
	// OnionObserver, if set, is told what the node saw of each onion request
	// it handled (tests use it to check what each hop learned).
	OnionObserver func(OnionHop)
	// Edge gets one entry for each request at the HTTPS edge (endpoint,
	// storage namespace, status, duration): the devnet's "edge" log and
	// the dashboard's counts. The zero Sink records nothing.
	Edge edgelog.Sink
	// Faults, if set, break the node on purpose, for the tests of a
	// checker that must notice (package chaos); a test may switch them on
	// and off while the node runs. Nothing outside tests sets it.
	Faults *Faults
}

// Faults are the ways a test may make a node misbehave (Config.Faults).
type Faults struct {
	// DropMessages answers every store of a one-to-one message (namespace
	// 0), a replica's too, as kept, and keeps nothing: a node that loses
	// what it acknowledged.
	DropMessages atomic.Bool
	// FailMessages stores one-to-one messages (and has its swarm store
	// them) but answers the client a failure: what it denied is there.
	FailMessages atomic.Bool
	// IgnoreRevocations serves a subaccount token whatever its
	// revocations: a node that lets a kicked member in.
	IgnoreRevocations atomic.Bool
	// FreezeView stops following the ledger (at the next block): a node
	// whose ledger head stays behind.
	FreezeView atomic.Bool
}

// fault reports whether a test switched a fault on (Config.Faults).
func (n *Node) fault(f func(*Faults) *atomic.Bool) bool {
	return n.cfg.Faults != nil && f(n.cfg.Faults).Load()
}

// StoreEvent is a message a node stored: from a client (or the last hop of
// an onion path), or as a replica a swarm member forwarded.
type StoreEvent struct {
	Node      string // the node's Ed25519 key
	Hash      string
	Owner     string // the account (Account ID)
	Namespace int
	Replica   bool
}

// Errors of the Node.
var (
	ErrClosed = errors.New("node is closed")
)

// Node is one service node: a libp2p host serving the storage RPC from its
// own SQLite store, replicating to its swarm and following the ledger.
type Node struct {
	cfg    Config
	log    zerolog.Logger
	keys   *identity.Keys
	pubHex string

	host    host.Host
	outh    host.Host        // host as outgoing calls use it (outHost), made once: out
	pool    *streampool.Pool // the node's requests to others: streams kept open (framed.go)
	https   *httpserve.Server
	certMu  sync.Mutex
	cert    *tls.Certificate // the HTTPS edge's, once made (edgeCert)
	store   *store
	limiter *limiter
	turns   *fairQueue // the requests' turns to work (fair.go)
	replay  *replayCache
	view    atomic.Pointer[view] // set by setView
	// viewed is closed when the view changes, then replaced (WaitView).
	viewMu sync.Mutex
	viewed chan struct{}
	moves  moves
	rounds rounds // the testing rounds (rounds.go)
	// revs is where the node stands in learning its swarm's subaccount
	// revocations (revsync.go); revRun runs the sync that learns them.
	revs   atomic.Pointer[revSync]
	revRun runner
	// behind is set while a node that restarted with messages catches up
	// with its swarm (repair.go): it answers no retrieve meanwhile.
	behind  atomic.Bool
	digests digestCache // the last repair digest (repair.go)

	// published is the node's last node_info transaction and the height
	// of the view it was sent at (publishAddrs: in Start, then on follow's
	// goroutine only).
	published *publication

	ready     chan struct{}
	errc      chan error  // Err: a failure after Start; closed by Close
	onErr     func(error) // OnErr
	readyOnce sync.Once
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	mu        sync.Mutex
	started   bool
	closed    bool

	// Request handlers run on hctx, which Close cancels; Close waits for
	// handlers (hwg) before it closes the store they use.
	hctx    context.Context
	hcancel context.CancelFunc
	hdl     sharedDeadlines // the requests' contexts, on hctx (request.go)
	hmu     sync.Mutex
	hclosed bool
	hwg     sync.WaitGroup
	budget  *Budget // Config.Budget
}

// New validates cfg and allocates; Start binds and runs.
func New(cfg Config) (*Node, error) {
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("node: Config.Key must be an Ed25519 private key")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("node: Config.DataDir is required")
	}
	if cfg.Ledger == nil {
		return nil, errors.New("node: Config.Ledger is required")
	}
	if len(cfg.ListenAddrs) == 0 {
		cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	}
	for _, a := range cfg.ListenAddrs {
		if _, err := ma.NewMultiaddr(a); err != nil {
			return nil, fmt.Errorf("node: listen address %q: %w", a, err)
		}
	}
	if cfg.Host != nil {
		if id, err := p2phost.PeerID(cfg.Key); err != nil || id != cfg.Host.ID() {
			return nil, errors.New("node: Config.Host is not the host of Config.Key")
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ExpiryInterval <= 0 {
		cfg.ExpiryInterval = 10 * time.Second
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = 600
	}
	if cfg.RatePerSecond <= 0 {
		cfg.RatePerSecond = 300
	}
	if cfg.ForwardTimeout <= 0 {
		cfg.ForwardTimeout = 5 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.RepairInterval == 0 {
		cfg.RepairInterval = 10 * time.Second
	}
	if cfg.Budget == nil {
		cfg.Budget = NewBudget(defaultBudget, defaultBudgetPerPeer)
	}
	if cfg.Views == nil {
		cfg.Views = NewViews()
	}
	turns := newFairQueue(cfg.Workers, fairPerClient, fairTotal)
	if cfg.Turns != nil {
		turns = cfg.Turns.q
		cfg.Turns.join()
	}
	keys := identity.KeysFromEd25519Seed([32]byte(cfg.Key.Seed()))
	pubHex := hex.EncodeToString(keys.Ed25519Public())
	hctx, hcancel := context.WithCancel(context.Background())
	return &Node{
		hctx: hctx, hcancel: hcancel, budget: cfg.Budget,
		cfg:     cfg,
		log:     cfg.Logger.With().Str("node", cmp.Or(cfg.Name, pubHex[:8])).Logger(),
		keys:    keys,
		pubHex:  pubHex,
		limiter: newLimiter(cfg.RateBurst, cfg.RatePerSecond),
		turns:   turns,
		replay:  newReplayCache(),
		moves:   moves{newMembers: map[string]bool{}},
		rounds:  newRounds(),
		ready:   make(chan struct{}),
		errc:    make(chan error, 1),
	}, nil
}

// CreateStore creates the database of a node whose Config.DataDir is
// dir, when it has none, as Start would; Start then only opens it. A
// devnet creates its nodes' databases while its ledger and servers start:
// a new database waits for the disk (a sync), the open of one does not.
func CreateStore(ctx context.Context, dir string) error {
	return sqlitedb.Create(ctx, filepath.Join(dir, storeFile), storeMigrations)
}

// storeFile is the node's database in its Config.DataDir.
const storeFile = "storage.db"

// Key returns the node's Ed25519 public key in hex.
func (n *Node) Key() string { return n.pubHex }

// X25519 returns the node's X25519 public key.
func (n *Node) X25519() [32]byte { return n.keys.X25519Public }

// PeerID returns the node's libp2p peer ID.
func (n *Node) PeerID() peer.ID { return n.host.ID() }

// Host returns the node's libp2p host (for tests and the onion layer).
func (n *Node) Host() host.Host { return n.host }

// Addrs returns the node's listen addresses as strings: the ones another
// process can dial (not its in-memory one, see package memtransport).
func (n *Node) Addrs() []string {
	var out []string
	for _, a := range n.host.Addrs() {
		if !memtransport.IsMemory(a) {
			out = append(out, a.String())
		}
	}
	slices.Sort(out)
	return out
}

// Ready is closed once the node listens and has its first view of the swarms.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// Start opens the database, starts the libp2p host and the node's loops.
// It returns once the host listens; Ready tells when the node has its first
// view of the swarms. On error, what it started is undone.
func (n *Node) Start(ctx context.Context) (err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if n.started {
		return errors.New("node: already started")
	}
	defer func() {
		if err != nil {
			n.cfg.Host = nil // (closed below; Close has none to close)
		}
	}()
	// The database and the host are independent: open them side by side.
	var (
		h    host.Host
		herr error
		hw   sync.WaitGroup
	)
	if h = n.cfg.Host; h == nil {
		hw.Add(1)
		go func() {
			defer hw.Done()
			h, herr = p2phost.New(n.cfg.Key, n.cfg.ListenAddrs)
		}()
	}
	st, err := openStore(ctx, filepath.Join(n.cfg.DataDir, storeFile))
	hw.Wait()
	if err != nil || herr != nil {
		if st != nil {
			st.close()
		}
		if h != nil {
			h.Close()
		}
		return errors.Join(err, herr)
	}
	edge, err := n.newEdge()
	if err == nil {
		edge.OnErr(n.edgeFailed)
		err = edge.Start(ctx)
	}
	if err != nil {
		st.close()
		h.Close()
		return fmt.Errorf("https edge: %w", err)
	}
	n.store, n.host, n.https, n.started = st, h, edge, true
	n.outh = outHost{h, n}
	n.pool = streampool.New(n.outh)
	h.SetStreamHandler(storagerpc.ProtocolStorage, n.serveStream("storage", n.handleStorage))
	h.SetStreamHandler(storagerpc.ProtocolSwarm, n.serveStream("swarm", n.handleSwarm))
	h.SetStreamHandler(onion.Protocol, n.serveStream("onion", n.handleOnion))
	h.SetStreamHandler(storagerpc.ProtocolStorageFramed, n.framed("storage", framedLimits.storage, 0, n.storageFramed))
	h.SetStreamHandler(storagerpc.ProtocolSwarmFramed, n.framed("swarm", framedLimits.swarm, 0, n.swarmFramed))
	h.SetStreamHandler(onion.ProtocolFramed, n.framed("onion", framedLimits.onion, forwardMargin, n.onionFramed))
	// Publish the address now, so the block that makes the node known to
	// the others need not wait for the node's first view.
	if info, err := n.cfg.Ledger.Info(ctx); err == nil {
		if me, err := n.cfg.Ledger.Node(ctx, n.pubHex); err == nil {
			n.publishAddrs(ctx, &view{netView: &netView{nodes: map[string]chain.ServiceNode{n.pubHex: me}}, height: info.Height})
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	// follow waits on its goroutine; the periodic work (expireLoop,
	// repairLoop), what follow starts (notifyHeight, wakeRevSync) and the
	// edge's failure (edgeFailed) hold none while idle.
	n.wg.Add(2)
	go n.follow(runCtx)
	n.expireLoop(runCtx)
	if n.cfg.RepairInterval > 0 {
		n.wg.Add(1)
		n.repairLoop(runCtx)
		// A node that held messages before it stopped may lack what its
		// swarm stored meanwhile (an UnsendRequest, a deletion): it
		// catches up before it lets a client read.
		if c, err := st.count(ctx); err == nil && c > 0 {
			n.behind.Store(true)
			n.wg.Add(1)
			go n.catchUp(runCtx)
		}
	}
	n.log.Info().Str("peer_id", h.ID().String()).Strs("addrs", n.Addrs()).Msg("node started")
	return nil
}

// WaitReady waits until the node is ready or ctx ends.
func (n *Node) WaitReady(ctx context.Context) error {
	select {
	case <-n.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Err delivers a failure after Start (the HTTPS edge stopped serving); it
// is closed by Close. The node goes on over libp2p: its owner decides.
func (n *Node) Err() <-chan error { return n.errc }

// OnErr has f told of the failure Err delivers, besides its delivery on
// Err, on the goroutine that found it and before Close closes Err: an
// owner of thousands of nodes (a devnet's process) then needs no goroutine
// a node waiting on Err. f must not block nor call Close (it may start a
// goroutine that does). Call it before Start.
func (n *Node) OnErr(f func(error)) { n.onErr = f }

// edgeFailed passes the HTTPS edge's failure on to Err and OnErr's
// function (the edge's OnErr: once at most, and before the edge's Close
// returns, which Close waits for before it closes Err).
func (n *Node) edgeFailed(err error) {
	err = fmt.Errorf("node %.16s: https edge: %w", n.pubHex, err)
	n.errc <- err
	if n.onErr != nil {
		n.onErr(err)
	}
}

// Close stops the loops, waits for them, closes the host and then the
// database, and closes Err. Safe to call twice.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	started, taken := n.started, n.cfg.Host
	n.mu.Unlock()
	n.hmu.Lock()
	n.hclosed = true
	n.hmu.Unlock()
	n.hcancel()
	if n.cfg.Turns != nil {
		n.cfg.Turns.leave()
	}
	if !started {
		close(n.errc)
		if taken != nil {
			return taken.Close() // (never served on)
		}
		return nil
	}
	n.cancel()
	n.pool.Close()
	errs := []error{n.https.Close(), n.host.Close()}
	n.wg.Wait()
	close(n.errc) // (its sender, the edge's edgeFailed, is over: n.https.Close waited)
	n.hwg.Wait()
	errs = append(errs, n.store.close())
	n.log.Info().Msg("node stopped")
	return errors.Join(errs...)
}

func (n *Node) nowMS() int64 { return n.cfg.Now().UnixMilli() }

// enter counts a request handler in, for Close to wait for (the caller
// calls n.hwg.Done when it returns); false once the node is closing.
func (n *Node) enter() bool {
	n.hmu.Lock()
	defer n.hmu.Unlock()
	if n.hclosed {
		return false
	}
	n.hwg.Add(1)
	return true
}

// expireLoop removes expired messages every ExpiryInterval, and sweeps
// the rate buckets and replayed signatures that are done with, on a
// goroutine only while it works (loop.Schedule); the caller counted it in
// n.wg.
func (n *Node) expireLoop(ctx context.Context) {
	loop.Schedule(ctx, n.cfg.ExpiryInterval, func(ctx context.Context) {
		removed, err := n.store.removeExpired(ctx, n.nowMS())
		if err != nil && ctx.Err() == nil {
			n.log.Error().Err(err).Msg("remove expired messages")
		} else if removed > 0 {
			n.log.Debug().Int64("removed", removed).Msg("expired messages removed")
		}
		n.limiter.sweep(n.cfg.Now())
		n.replay.sweep(n.cfg.Now())
		n.pool.Sweep()
	}, n.wg.Done)
}

// peerEntry is a node's peer ID, derived from its key, and its string form.
type peerEntry struct {
	id  peer.ID
	str string
}

// view is what the node knows of the network at one ledger height: the
// network as the ledger describes it (shared by the nodes of a process, see
// Views) and the node's own swarm.
type view struct {
	*netView
	height uint64
	mine   uint64 // this node's swarm, or UnassignedSwarm
}

func (v *view) ownerSwarm(id identity.AccountID) uint64 {
	return chain.SwarmFor(v.swarmIDs, id.SwarmSpace())
}

// swarmResult describes a swarm for get_swarm and 421 answers, each member
// with the fields and types the storage server gives (a member without an
// HTTPS edge shows ip 0.0.0.0, which clients skip).
func (v *view) swarmResult(id uint64) storagerpc.SwarmResult {
	res := storagerpc.SwarmResult{Swarm: strconv.FormatUint(id, 16), SNodes: []storagerpc.SwarmNode{}}
	for _, k := range v.members[id] {
		sn := v.nodes[k]
		ip, port := sn.PublicIP, sn.StoragePort
		if ip == "" || port == 0 {
			ip, port = "0.0.0.0", 0
		}
		key, _ := hex.DecodeString(k)
		res.SNodes = append(res.SNodes, storagerpc.SwarmNode{
			Address: storagerpc.SnodeAddress(key), PubkeyLegacy: k, PubkeyEd25519: k, PubkeyX25519: sn.X25519,
			IP: ip, Port: strconv.Itoa(port), PortHTTPS: port,
			PeerID: v.peers[k].String(), Addrs: slices.Clone(sn.Addrs),
		})
	}
	return res
}

// buildView makes the node's view from the network's at info's height
// (nodes is the ledger's node list, or nil if the shared view has it).
func (n *Node) buildView(info chain.Info, nodes []chain.ServiceNode) *view {
	nv := n.cfg.Views.build(info, nodes)
	v := &view{netView: nv, height: info.Height, mine: chain.UnassignedSwarm}
	if sn, ok := nv.nodes[n.pubHex]; ok {
		v.mine = sn.SwarmID
	}
	return v
}

// follow keeps the node's view of the ledger current: it long-polls for each
// new block, refetches the node list when swarms or nodes changed, publishes
// the node's address when the ledger's record is stale, and moves data when
// swarms change.
func (n *Node) follow(ctx context.Context) {
	defer n.wg.Done()
	var height uint64
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if n.view.Load() != nil && n.fault(func(f *Faults) *atomic.Bool { return &f.FreezeView }) {
			<-ctx.Done() // (a test's broken node: its view stays where it was)
			return
		}
		var info chain.Info
		var err error
		if v := n.view.Load(); v == nil {
			info, err = n.cfg.Ledger.Info(ctx)
		} else {
			info, err = n.cfg.Ledger.WaitHeight(ctx, height+1)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			n.log.Warn().Err(err).Msg("ledger unreachable")
			sleep(ctx, backoff)
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		height = info.Height
		n.rounds.blockMS.Store(info.BlockTimeMS)
		old := n.view.Load()
		if old != nil && old.swarmsHeight == info.SwarmsHeight && old.nodesHeight == info.NodesHeight {
			nv := *old
			nv.height = info.Height
			n.setView(&nv)
			n.notifyHeight(ctx, info.Height)
			n.retryMoves(ctx, &nv)
			continue
		}
		var nodes []chain.ServiceNode
		if !n.cfg.Views.has(info) {
			if nodes, err = n.cfg.Ledger.Nodes(ctx); err != nil {
				if ctx.Err() == nil {
					n.log.Warn().Err(err).Msg("fetch node list")
				}
				continue
			}
		}
		v := n.buildView(info, nodes)
		// A node that joins a swarm (its first, or another) refuses
		// subaccount requests until it has its new swarm's revocations.
		joined := old == nil || old.mine != v.mine
		if joined {
			n.swarmChanging(v.mine)
		}
		n.setView(v)
		if joined {
			n.wakeRevSync(ctx)
		}
		n.readyOnce.Do(func() { close(n.ready) })
		n.notifyHeight(ctx, info.Height)
		n.publishAddrs(ctx, v)
		if old == nil || old.swarmsHeight != v.swarmsHeight {
			n.log.Info().Uint64("height", v.height).Str("swarm", swarmHex(v.mine)).Int("members", len(v.members[v.mine])).Msg("swarms changed")
			n.onSwarmChange(ctx, old, v)
		} else {
			n.retryMoves(ctx, v) // new addresses may unblock a move
		}
	}
}

func swarmHex(id uint64) string {
	if id == chain.UnassignedSwarm {
		return "none"
	}
	return fmt.Sprintf("%016x", id)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// publishAddrs submits a node_info transaction when the ledger's record of
// this node lacks its current peer ID and addresses, unless it submitted
// the same at v's height or later: no block has come since that could
// have taken it (a node's first view, at the height it published at in
// Start, would otherwise publish again: a second transaction in the next
// block, signed, checked and applied for nothing). A view at a later
// height that still lacks it publishes again.
func (n *Node) publishAddrs(ctx context.Context, v *view) {
	me, ok := v.nodes[n.pubHex]
	if !ok || me.State == chain.StateDeregistered {
		return
	}
	addrs := n.Addrs()
	ip, port := n.edgeAddr()
	if me.PeerID == n.host.ID().String() && slices.Equal(me.Addrs, addrs) && me.PublicIP == ip && me.StoragePort == port {
		return
	}
	body := chain.NodeInfoBody{PeerID: n.host.ID().String(), Addrs: addrs, PublicIP: ip, StoragePort: port}
	if p := n.published; p != nil && v.height <= p.height && p.body.PeerID == body.PeerID &&
		slices.Equal(p.body.Addrs, body.Addrs) && p.body.PublicIP == body.PublicIP && p.body.StoragePort == body.StoragePort {
		return // submitted with no block since: it waits in the pool
	}
	if err := n.submitTx(ctx, chain.TxNodeInfo, body); err != nil {
		n.log.Debug().Err(err).Msg("publish address")
		return
	}
	n.published = &publication{body: body, height: v.height}
	n.log.Info().Strs("addrs", addrs).Msg("address published to the ledger")
}

// edgeAddr is the HTTPS edge's IPv4 address and port. An edge that
// listens on every address (0.0.0.0: a pod's, so that a port-forward
// reaches it at 127.0.0.1) is published at the node's libp2p address.
func (n *Node) edgeAddr() (string, int) {
	if n.https == nil {
		return "", 0
	}
	a, ok := n.https.Addr().(*net.TCPAddr)
	switch {
	case !ok:
		return "", 0
	case !a.IP.IsUnspecified() && a.IP.To4() == nil:
		return "", 0
	case !a.IP.IsUnspecified():
		return a.IP.String(), a.Port
	}
	for _, m := range n.host.Addrs() {
		if ip, err := manet.ToIP(m); err == nil && ip.To4() != nil && !ip.IsUnspecified() && !memtransport.IsMemory(m) {
			return ip.String(), a.Port
		}
	}
	return "", 0
}

// publication is a node_info transaction submitted at a view's height.
type publication struct {
	body   chain.NodeInfoBody
	height uint64
}

// setView makes v the node's view and wakes WaitView's callers.
func (n *Node) setView(v *view) {
	n.viewMu.Lock()
	defer n.viewMu.Unlock()
	n.view.Store(v)
	if n.viewed != nil {
		close(n.viewed)
		n.viewed = nil
	}
}

// viewChange returns a channel closed at the view's next change.
func (n *Node) viewChange() <-chan struct{} {
	n.viewMu.Lock()
	defer n.viewMu.Unlock()
	if n.viewed == nil {
		n.viewed = make(chan struct{})
	}
	return n.viewed
}

// WaitView waits until the node's view has reached ledger height h. It
// wakes when the view changes (a devnet's start waits here for every node:
// a poll's interval would be added to its time to ready).
func (n *Node) WaitView(ctx context.Context, h uint64) error {
	for {
		changed := n.viewChange() // (before the load: a change after it closes this)
		if v := n.view.Load(); v != nil && v.height >= h {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// WaitCaughtUp waits until the node lets clients read: at once for a node
// that started empty, else once it caught up with its swarm (catchUp).
func (n *Node) WaitCaughtUp(ctx context.Context) error {
	for n.behind.Load() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// Swarm returns the node's swarm id as it sees it (UnassignedSwarm if none).
func (n *Node) Swarm() uint64 {
	if v := n.view.Load(); v != nil {
		return v.mine
	}
	return chain.UnassignedSwarm
}

// MessageCount returns how many messages the node stores.
func (n *Node) MessageCount(ctx context.Context) (int, error) { return n.store.count(ctx) }
