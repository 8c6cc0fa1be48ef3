package devnet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"

	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/atomicfile"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/internal/flock"
	"github.com/sessionctl/sessionctl/ledger"
	"github.com/sessionctl/sessionctl/logs"
	"github.com/sessionctl/sessionctl/node"
	"golang.org/x/crypto/blake2b"
)

// FormatVersion is the version of what a devnet writes under its directory
// (state.json, devnet.json, the databases' meaning). A directory written by
// another version is refused, never misread.
const FormatVersion = 1

// Errors of Up and the devnet commands, for errors.Is.
var (
	ErrConflict    = errors.New("the flags contradict the saved devnet")
	ErrFormat      = errors.New("the devnet directory has an unknown format")
	ErrRunning     = errors.New("a devnet is already running in this directory")
	ErrNotRunning  = errors.New("no devnet is running in this directory")
	ErrUnknownNode = errors.New("no such node")
	ErrNodeRunning = errors.New("node running")
	ErrNodeStopped = errors.New("node stopped")
)

// The sizes a devnet may have.
const (
	MinNodes = 4
	MaxNodes = 2000
	// MaxWorkerNodes is the most nodes a devnet runs over worker
	// processes (UpConfig.Workers).
	MaxWorkerNodes = 10000
	// MinNodesReason says why fewer nodes would not do.
	MinNodesReason = "an onion path needs three distinct nodes and a destination apart from them"
)

// BlockTimeManual as UpConfig.BlockTime makes blocks only on demand
// ('sessionctl ledger mine').
const BlockTimeManual time.Duration = -1

// blockTimeText is how a state file writes a block time.
func blockTimeText(d time.Duration) string {
	if d == BlockTimeManual {
		return "manual"
	}
	return d.String()
}

// filesPerNode is about how many files a node keeps open at its plateau
// (its database and listeners: 5, see the node package's budgets, and room
// for clients' connections; measured: 5.0 at 2,000 nodes), and filesBase
// what the rest of a devnet keeps.
const (
	filesPerNode = 8
	filesBase    = 200
)

// ErrFileLimit is a devnet too large for the open files this process may have.
var ErrFileLimit = errors.New("not enough open files for this many nodes")

// checkFileLimit refuses, in one line, a devnet that would run out of
// open files, before any node starts (rather than one error per node).
func checkFileLimit(nodes int) error {
	limit, err := fileLimit()
	if err != nil {
		return nil // unknown: let the nodes try
	}
	need := uint64(filesBase + filesPerNode*nodes)
	if need <= limit {
		return nil
	}
	fit := 0
	if limit > filesBase {
		fit = int((limit - filesBase) / filesPerNode)
	}
	return fmt.Errorf("%w: %d nodes need about %d open files and this process may open %d: raise 'ulimit -n' or use at most %d nodes", ErrFileLimit, nodes, need, limit, fit)
}

// UpConfig configures a devnet started by Up. Zero values mean: what the
// directory saved, or the defaults for a new devnet.
type UpConfig struct {
	Dir       string
	Nodes     int           // default 12; NoNodes: none of its own, every node joins (node join)
	Seed      string        // default "sessionctl"
	BlockTime time.Duration // default 1 s, or the saved one on resume; a given one is saved; BlockTimeManual: blocks only when mined
	// Clients are the client identities to create; default alice, bob, carol.
	Clients []string
	// Reset discards the saved network and starts afresh.
	Reset bool
	// Traffic makes the clients exchange messages in the background.
	Traffic bool
	// FileExpiry is how long the file server keeps a file; default 1 hour.
	FileExpiry time.Duration
	// Logs gives each component its logger; nil logs nothing, unless
	// WriteLogs.
	Logs func(component string) zerolog.Logger
	// WriteLogs writes the logs under the directory (Dir.LogsDir, package
	// logs) at LogLevel, in LogFormat (console or json; "": the format
	// the directory's logs were written in, console for new ones), and
	// to Events for the dashboard's log pane.
	WriteLogs bool
	LogFormat string
	LogLevel  zerolog.Level
	// Progress is told how far the start has gone (Config.Progress).
	Progress func(StartProgress)
	// Fund are payments from the faucet made before the devnet is ready.
	Fund []Payment
	// Events is the hub of the dashboard's events; give it to the loggers
	// too for the page's log pane. nil makes one (without log lines).
	Events *Events
	// Listen is the IP address that every server and node listens on;
	// default 127.0.0.1; ListenAuto: this machine's one address that is
	// not loopback (a pod's). Another than loopback lets machines join
	// (JoinURL in the manifest): it needs timed blocks, as joiners cannot
	// mine.
	Listen string
	// BasePort fixes the ports of the seed, the control endpoint, the
	// proxy and the servers (PortSeed, PortControl, ... from it); 0 takes
	// free ports.
	BasePort int
	// Advertise is the name others reach the devnet by (a Kubernetes
	// Service's), published instead of Listen in the join URL, to joiners
	// and as the servers' address; "": Listen.
	Advertise string
	// JoinSecret is the join URL's secret (16 to 128 letters, digits, '-'
	// and '_'), the same at each start; "": one derived from each start's
	// control token.
	JoinSecret string
	// Exe, if set, runs every node as its own process: the sessionctl
	// binary at Exe (`devnet up --procs`).
	Exe string
	// Workers, with Exe, runs the nodes over that many worker processes,
	// each hosting a range of them (`devnet up --workers K`); then the
	// devnet may have up to MaxWorkerNodes nodes.
	Workers int

	rewind rewindCfg // a devnet rewound in place (Serve)
}

// state is what a devnet saves to resume: <dir>/devnet/state.json.
type state struct {
	Format    int       `json:"format"`
	Seed      string    `json:"seed"`
	Nodes     int       `json:"nodes"`
	BlockTime string    `json:"block_time"`
	Clients   []string  `json:"clients"`
	Created   time.Time `json:"created"`
}

func statePath(dir string) string { return Dir(dir).StateFile() }

// ClientKeys derives a client identity from the seed: the same seed gives
// the same Account IDs (and recovery phrases) on every machine.
func ClientKeys(seed, name string) *identity.Keys {
	h := blake2b.Sum256([]byte("sessionctl-client\x00" + seed + "\x00" + name))
	return identity.AccountFromSeed([identity.SeedSize]byte(h[:identity.SeedSize]))
}

// Devnet is a running devnet: the network, its control endpoint and manifest.
type Devnet struct {
	cfg     UpConfig
	st      state
	log     zerolog.Logger
	Network *Network
	control *controlServer
	dash    *dashboard
	follow  context.CancelFunc // the dashboard's block follower
	token   string
	ks      *identity.Keystore
	edges   edgeCounts                          // the client edge's requests by endpoint (the dashboard)
	chaos   *ChaosStatus                        // what a chaos run last told (the dashboard); d.mu
	disks   map[int]func(context.Context) error // disk faults in force, their heals; d.mu
	viewer  viewer                              // when the dashboard was first opened (WaitViewer)
	joined  *joined                             // the nodes that joined from processes of their own (joined.go)
	given   UpConfig                            // the config Open was given (a rewind opens it again)
	// served: Serve runs it (a snapshot load can rewind it); rewindTo
	// and rewindID: the load asked for
	served             bool
	rewindTo, rewindID string

	down     chan struct{}
	downOnce sync.Once
	errc     chan error  // Err; closed by Close
	logFiles *logs.Files // WriteLogs: closed last
	traffic  context.CancelFunc
	wg       sync.WaitGroup
	closed   bool
	started  bool
	ready    bool // the manifest was written once: changes rewrite it
	resumed  bool
	mu       sync.Mutex
	lock     *os.File
}

// lockDir takes <dir>/devnet/lock exclusively, or fails with ErrRunning.
func lockDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Join(dir, "devnet"), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(Dir(dir).LockFile(), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := flock.TryLock(f, true); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: another sessionctl holds %s", ErrRunning, f.Name())
	}
	return f, nil
}

// resolveState merges cfg with the saved state: a given flag that
// contradicts it is refused; --reset forgets it.
func resolveState(cfg *UpConfig) (state, bool, error) {
	path := statePath(cfg.Dir)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || cfg.Reset {
		st := state{Format: FormatVersion, Seed: cfg.Seed, Nodes: max(cfg.Nodes, 0), Clients: cfg.Clients, Created: time.Now().UTC()}
		if st.Seed == "" {
			st.Seed = "sessionctl"
		}
		if cfg.Nodes == 0 {
			st.Nodes = 12
		}
		if st.Clients == nil {
			st.Clients = []string{"alice", "bob", "carol"}
		}
		st.BlockTime = blockTimeText(cfg.BlockTime)
		return st, false, nil
	}
	if err != nil {
		return state{}, false, err
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return state{}, false, fmt.Errorf("%w: %s: %v", ErrFormat, path, err)
	}
	if st.Format != FormatVersion {
		return state{}, false, fmt.Errorf("%w: %s has version %d, this sessionctl reads %d; use --reset or another --dir", ErrFormat, path, st.Format, FormatVersion)
	}
	if cfg.Seed != "" && cfg.Seed != st.Seed {
		return state{}, false, fmt.Errorf("%w: it was made with --seed %q, not %q; drop the flag to resume, or --reset", ErrConflict, st.Seed, cfg.Seed)
	}
	if cfg.Nodes != 0 && max(cfg.Nodes, 0) != st.Nodes {
		return state{}, false, fmt.Errorf("%w: it has %d nodes, not %d; drop the flag to resume, or --reset", ErrConflict, st.Nodes, max(cfg.Nodes, 0))
	}
	if cfg.Clients != nil && !slices.Equal(cfg.Clients, st.Clients) {
		return state{}, false, fmt.Errorf("%w: its clients are %v, not %v; drop the flag to resume, or --reset", ErrConflict, st.Clients, cfg.Clients)
	}
	// The block time is how the devnet runs, not what it is: a given one
	// applies from now on (and is saved), else the saved one.
	if cfg.BlockTime != 0 {
		st.BlockTime = blockTimeText(cfg.BlockTime)
	} else if st.BlockTime == "manual" {
		cfg.BlockTime = BlockTimeManual
	} else if st.BlockTime != "" {
		bt, err := time.ParseDuration(st.BlockTime)
		if err != nil || bt < 0 {
			return state{}, false, fmt.Errorf("%w: %s: block time %q", ErrFormat, path, st.BlockTime)
		}
		cfg.BlockTime = bt
	}
	return st, true, nil
}

// reset removes what a devnet made under dir, keeping identities that the
// user made (only the devnet's client identities go).
func reset(dir string, old []string) error {
	for _, p := range []string{"ledger", "nodes", "clients", "devnet.json", filepath.Join("devnet", "state.json"), filepath.Join("devnet", "joined.json")} {
		if err := os.RemoveAll(filepath.Join(dir, p)); err != nil {
			return fmt.Errorf("reset: %w", err)
		}
	}
	for _, name := range old {
		os.Remove(filepath.Join(Dir(dir).KeysDir(), name+".json"))
	}
	return nil
}

// Up starts a devnet in cfg.Dir, or resumes the one saved there, and
// returns once it is ready and its manifest is written: Open then Start.
func Up(ctx context.Context, cfg UpConfig) (*Devnet, error) {
	d, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	if err := d.Start(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Open validates cfg, takes the directory's lock, settles what to resume and
// builds the network; nothing listens until Start. Close releases the lock.
func Open(cfg UpConfig) (d *Devnet, err error) {
	if cfg.Dir == "" {
		return nil, errors.New("devnet: UpConfig.Dir is required")
	}
	given := cfg
	if cfg.Nodes > MaxNodes && cfg.Workers == 0 && cfg.Nodes <= MaxWorkerNodes {
		return nil, errkind.Invalidf("--nodes %d: one process runs at most %d; more (up to %d) run over worker processes: add --workers K", cfg.Nodes, MaxNodes, MaxWorkerNodes)
	}
	if limit := nodesLimit(cfg.Workers); cfg.Nodes != 0 && cfg.Nodes != NoNodes && (cfg.Nodes < MinNodes || cfg.Nodes > limit) {
		return nil, errkind.Invalidf("--nodes %d: want %d to %d (%s), or 0: none of its own, every node joins", cfg.Nodes, MinNodes, limit, MinNodesReason)
	}
	if cfg.Workers != 0 && cfg.Nodes != 0 { // (else once the saved devnet's nodes are known)
		if err := checkWorkers(cfg.Workers, cfg.Nodes, cfg.Exe); err != nil {
			return nil, err
		}
	}
	if cfg.Listen, err = resolveListen(cfg.Listen); err != nil {
		return nil, err
	}
	if err := checkPlacement(cfg.BasePort, cfg.Advertise); err != nil {
		return nil, err
	}
	if cfg.Listen != "" {
		own := cfg.Nodes // 0.0.0.0 needs NoNodes said, even to resume
		if own == NoNodes {
			own = 0
		} else if own == 0 {
			own = 12
		}
		if err := checkHost(cfg.Listen, own, cfg.Advertise); err != nil {
			return nil, err
		}
	}
	if cfg.JoinSecret != "" {
		if err := checkJoinSecret(cfg.JoinSecret); err != nil {
			return nil, fmt.Errorf("--join-secret (%s): %w", JoinSecretEnv, err)
		}
	}
	if cfg.FileExpiry != 0 && cfg.FileExpiry < time.Second {
		return nil, errkind.Invalidf("--file-expiry must be at least 1s")
	}
	if cfg.LogFormat != "" {
		if err := logs.CheckFormat(cfg.LogFormat); err != nil {
			return nil, errkind.Invalidf("--log-format %v", err)
		}
	}
	// One devnet per directory: an exclusive lock held until Close (the
	// lock, not a pid that may be reused, says whether one runs).
	lock, err := lockDir(cfg.Dir)
	if err != nil {
		if m, merr := ReadManifest(cfg.Dir); errors.Is(err, ErrRunning) && merr == nil && m.PID > 0 {
			return nil, fmt.Errorf("%w (pid %d); stop it with 'sessionctl devnet down'", ErrRunning, m.PID)
		}
		return nil, err
	}
	defer func() {
		if d == nil {
			lock.Close()
		}
	}()
	if cfg.Reset {
		var old []string
		if data, err := os.ReadFile(statePath(cfg.Dir)); err == nil {
			var st state
			if json.Unmarshal(data, &st) == nil {
				old = st.Clients
			}
		}
		if err := reset(cfg.Dir, old); err != nil {
			return nil, err
		}
	}
	os.Remove(ManifestPath(cfg.Dir)) // a stale manifest of a devnet that died
	st, resumed, err := resolveState(&cfg)
	if err != nil {
		return nil, err
	}
	for _, c := range st.Clients {
		if err := identity.ValidName(c); err != nil {
			return nil, fmt.Errorf("client %w", err)
		}
	}
	if err := checkWorkers(cfg.Workers, st.Nodes, cfg.Exe); err != nil {
		return nil, err
	}
	if cfg.Workers > 0 { // each worker has a limit of its own; the devnet holds few
		if err := checkFileLimit((st.Nodes + cfg.Workers - 1) / cfg.Workers); err != nil {
			return nil, fmt.Errorf("%w (in each of %d workers)", err, cfg.Workers)
		}
	} else if err := checkFileLimit(st.Nodes); err != nil {
		return nil, err
	}
	if cfg.Events == nil {
		cfg.Events = NewEvents()
	}
	var logFiles *logs.Files
	if cfg.WriteLogs {
		dir := Dir(cfg.Dir).LogsDir()
		if cfg.LogFormat == "" {
			cfg.LogFormat = logs.SavedFormat(dir, logs.Console) // a resumed devnet keeps its format
		}
		if logFiles, err = logs.Open(dir, logs.Options{Format: cfg.LogFormat, Level: cfg.LogLevel, Tee: cfg.Events}); err != nil {
			return nil, err
		}
		cfg.Logs = logFiles.Logger
		defer func() {
			if d == nil {
				logFiles.Close()
			}
		}()
	}
	if cfg.Logs == nil {
		cfg.Logs = func(string) zerolog.Logger { return zerolog.Nop() }
	}
	token := cfg.rewind.token
	if token == "" {
		tokenB := make([]byte, 32)
		if _, err := rand.Read(tokenB); err != nil {
			return nil, err
		}
		token = hex.EncodeToString(tokenB)
	}
	dv := &Devnet{cfg: cfg, given: given, st: st, log: cfg.Logs("devnet"), token: token, lock: lock,
		ks: Dir(cfg.Dir).Keystore(), down: make(chan struct{}), disks: map[int]func(context.Context) error{}, errc: make(chan error, 1), logFiles: logFiles}
	defer func() {
		if err != nil {
			dv.Close() // stops what started and releases the lock
		}
	}()
	d = dv
	// The secret (made and synced the first time) beside the clients' keys
	// and the state (synced too): none waits for another's sync.
	type loaded struct {
		secret [32]byte
		err    error
	}
	secretc := make(chan loaded, 1)
	go func() {
		s, err := LoadSecret(cfg.Dir)
		secretc <- loaded{s, err}
	}()
	err = d.ensureClients()
	if err == nil {
		err = writeJSONFile(statePath(cfg.Dir), st)
	}
	ls := <-secretc
	if err != nil {
		return nil, err
	}
	if ls.err != nil {
		return nil, ls.err
	}
	secret := ls.secret
	var genesis []ledger.Allocation
	for _, c := range st.Clients {
		genesis = append(genesis, ledger.Allocation{Wallet: hex.EncodeToString(ClientKeys(st.Seed, c).Ed25519Public()), Amount: 1_000 * chain.Coin})
	}
	bt := time.Second
	switch {
	case cfg.BlockTime == BlockTimeManual:
		bt = 0 // the ledger makes blocks on demand only
	case cfg.BlockTime > 0:
		bt = cfg.BlockTime
	}
	// The first client is the community server's admin (as its operator would be).
	var admins []string
	if len(st.Clients) > 0 {
		ck := CommunityKey(SecretLabel(secret))
		if b, err := identity.Blind15(ClientKeys(st.Seed, st.Clients[0]), ck.Public[:]); err == nil {
			admins = append(admins, b.ID())
		}
	}
	if cfg.Listen != "" && !isLoopback(cfg.Listen) && bt == 0 {
		return nil, errors.New("devnet: a devnet others join makes its own blocks (they cannot mine): give --block-time a duration")
	}
	nodes := st.Nodes
	if nodes == 0 {
		nodes = NoNodes
	}
	nw, err := New(Config{Dir: cfg.Dir, Nodes: nodes, Seed: st.Seed, Secret: secret, BlockTime: bt, Genesis: genesis, Host: cfg.Listen, Exe: cfg.Exe, Workers: cfg.Workers,
		BasePort: cfg.BasePort, Advertise: cfg.Advertise,
		OnExit: func(i int, report string) {
			d.cfg.Events.publish(map[string]any{"t": "node", "name": NodeName(i), "running": false, "exited": report})
			d.cfg.Events.Record(TimelineEvent{Kind: TimelineExit, Nodes: []string{NodeName(i)}, Text: fmt.Sprintf("%s's process ended by itself: %s", NodeName(i), report)})
			d.writeManifestLogged()
		},
		LedgerToken: d.token, Logs: cfg.Logs, Progress: cfg.Progress, CommunityAdmins: admins, FileExpiry: cfg.FileExpiry,
		OnHop: func(i int, h node.OnionHop) {
			if dash := d.dashboard(); dash != nil {
				dash.hop(i, h)
			}
		},
		OnStore: func(i int, e node.StoreEvent) {
			if dash := d.dashboard(); dash != nil {
				dash.store(i, e)
			}
		},
		OnEdge: d.edges.add})
	if err != nil {
		return nil, err
	}
	if d.joined, err = loadJoined(Dir(cfg.Dir), st.Nodes); err != nil {
		return nil, err
	}
	for _, n := range d.joined.list() {
		nw.names.add(n.Key, n.Name)
	}
	d.Network = nw
	d.resumed = resumed
	return d, nil
}

// Start starts the ledger, the servers and the nodes, then the control
// endpoint and the traffic, and writes the manifest once all are ready. On
// error the caller closes the devnet, which stops what started.
func (d *Devnet) Start(ctx context.Context) (err error) {
	d.mu.Lock()
	if d.closed || d.started {
		d.mu.Unlock()
		return errors.New("devnet: Start after Start or Close")
	}
	d.started = true
	d.mu.Unlock()
	if err := d.Network.Start(ctx); err != nil {
		return err
	}
	dash := newDashboard(d, d.cfg.Events)
	d.mu.Lock()
	d.dash = dash
	d.mu.Unlock()
	if d.control, err = startControl(ctx, d); err != nil {
		return err
	}
	fctx, cancel := context.WithCancel(context.Background())
	d.follow = cancel
	d.wg.Add(3)
	go func() {
		defer d.wg.Done()
		d.dash.watch(fctx, groupPoll)
	}()
	go func() {
		defer d.wg.Done()
		d.followJoined(fctx)
	}()
	go func() {
		defer d.wg.Done()
		watchParts(fctx, d.errc, map[string]<-chan error{"the network": d.Network.Err(), "the control endpoint": d.control.http.Err()})
	}()
	for _, p := range d.cfg.Fund {
		wallet := p.To
		if _, err := walletOf(p.To); err != nil {
			e, err := d.ks.Resolve(p.To)
			if err != nil {
				return fmt.Errorf("fund %s: %w", p.To, err)
			}
			wallet = hex.EncodeToString(e.Keys.Ed25519Public())
		}
		if _, _, err := d.Network.Fund(ctx, wallet, p.Amount); err != nil {
			return fmt.Errorf("fund %s: %w", p.To, err)
		}
	}
	switch {
	case d.resumed:
	case d.st.Nodes == 0:
		d.introduceWhenNodes(fctx)
	default:
		if err := d.introduceClients(ctx); err != nil {
			d.log.Warn().Err(err).Msg("the clients were not introduced: their first messages to each other are message requests")
		}
	}
	if d.cfg.Traffic {
		d.startTraffic()
	}
	if _, err := d.nameJoined(); err != nil {
		return err
	}
	if err := d.WriteManifest(); err != nil {
		return err
	}
	d.mu.Lock()
	d.ready = true
	d.mu.Unlock()
	d.log.Info().Bool("resumed", d.resumed).Int("nodes", d.st.Nodes).Str("seed", d.st.Seed).Msg("devnet ready")
	return nil
}

// ensureClients puts the devnet's client identities in the keystore. A name
// already there with another key is refused: never overwrite a key.
func (d *Devnet) ensureClients() error {
	for _, name := range d.st.Clients {
		k := ClientKeys(d.st.Seed, name)
		e, err := d.ks.Get(name)
		switch {
		case err == nil && e.Keys.AccountID() != k.AccountID():
			return fmt.Errorf("%w: the keystore has another identity named %q; remove it or choose other --clients", ErrConflict, name)
		case err == nil:
		case errors.Is(err, identity.ErrNotFound):
			if _, err := d.ks.Create(name, k); err != nil && !errors.Is(err, identity.ErrAccountExists) {
				return err
			}
		default:
			return err
		}
	}
	return nil
}

// Manifest returns the devnet's current description.
func (d *Devnet) Manifest() Manifest {
	m := Manifest{Format: FormatVersion, Seed: d.st.Seed, PID: os.Getpid(), Started: time.Now().UTC(),
		Control: Endpoint{URL: d.control.url(), Token: d.token}, Ledger: Endpoint{URL: d.Network.LedgerURL()},
		Dashboard: Endpoint{URL: d.dash.url(d.control.url())}, DashboardOperator: Endpoint{URL: d.dash.operatorURL(d.control.url())},
		Join:     Endpoint{URL: d.control.join.url(d.Network.advertised(d.control.url()))},
		SeedNode: Endpoint{URL: d.Network.LedgerURL()}, Proxy: Endpoint{URL: d.Network.ProxyURL()},
		Servers: d.servers(), Rewound: d.cfg.rewind.id}
	m.Nodes = d.nodes()
	for _, c := range d.st.Clients {
		m.Clients = append(m.Clients, ManifestClient{Name: c, AccountID: ClientKeys(d.st.Seed, c).AccountID().String()})
	}
	return m
}

// servers describes the file and community servers.
func (d *Devnet) servers() []ManifestServer {
	out := []ManifestServer{}
	if d.Network.Files != nil {
		k := d.Network.FileServerKey()
		out = append(out, ManifestServer{Kind: "file", URL: d.Network.advertised(local(d.Network.Files.URL())), X25519Pubkey: hex.EncodeToString(k.Public[:])})
	}
	if d.Network.Community != nil {
		k := d.Network.CommunityKey()
		ms := ManifestServer{Kind: "community", URL: d.Network.advertised(local(d.Network.Community.URL())), X25519Pubkey: hex.EncodeToString(k.Public[:])}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		rooms, err := d.Network.Community.Rooms(ctx)
		cancel()
		if err != nil {
			d.log.Warn().Err(err).Msg("list the community's rooms for the manifest")
		}
		for _, r := range rooms {
			ms.Rooms = append(ms.Rooms, ManifestRoom{Token: r.Token, Name: r.Name, JoinURL: d.Network.advertised(local(r.Join))})
		}
		out = append(out, ms)
	}
	return out
}

func (d *Devnet) nodes() []ManifestNode {
	var out []ManifestNode
	byKey := map[string]chain.ServiceNode{} // one copy of the list: one lock of a busy ledger, not 2,000
	for _, sn := range d.Network.Ledger.Nodes() {
		byKey[sn.Key] = sn
	}
	for i := 0; i < d.st.Nodes; i++ {
		mn := ManifestNode{Name: NodeName(i), Ed25519Pubkey: d.Network.NodeKey(i), State: "unregistered"}
		if sn, ok := byKey[mn.Ed25519Pubkey]; ok {
			mn.X25519Pubkey, mn.PeerID, mn.Addrs, mn.State = sn.X25519, sn.PeerID, sn.Addrs, string(sn.State)
			mn.Credit, mn.LastProof = sn.Credit, sn.LastProof
			if sn.SwarmID != chain.UnassignedSwarm {
				mn.SwarmID = fmt.Sprintf("%016x", sn.SwarmID)
			}
		}
		if info, ok := d.Network.NodeInfo(i); ok {
			mn.Running = true
			mn.PeerID, mn.Addrs, mn.HTTPS, mn.PID = info.PeerID, info.Addrs, info.HTTPS, info.PID
		} else {
			mn.Exited = d.Network.Exited(i)
		}
		if mn.Addrs == nil {
			mn.Addrs = []string{}
		}
		out = append(out, mn)
	}
	for _, jn := range d.joined.list() {
		sn, ok := byKey[jn.Key]
		if !ok {
			continue // no longer registered
		}
		mn := ManifestNode{Name: jn.Name, Ed25519Pubkey: jn.Key, X25519Pubkey: sn.X25519, PeerID: sn.PeerID, Addrs: sn.Addrs,
			State: string(sn.State), Credit: sn.Credit, LastProof: sn.LastProof, Joined: true}
		if sn.SwarmID != chain.UnassignedSwarm {
			mn.SwarmID = fmt.Sprintf("%016x", sn.SwarmID)
		}
		if mn.Addrs == nil {
			mn.Addrs = []string{}
		}
		out = append(out, mn)
	}
	return out
}

// writeManifestLogged rewrites the manifest after a change, logging a
// failure (the change itself stands; scripts read a manifest one step old).
func (d *Devnet) writeManifestLogged() {
	d.mu.Lock()
	ready := d.ready && !d.closed
	d.mu.Unlock()
	if !ready {
		return // (a node's process crashed while the devnet starts or stops)
	}
	if err := d.WriteManifest(); err != nil {
		d.log.Error().Err(err).Msg("write the manifest")
	}
}

// WriteManifest writes devnet.json atomically, mode 0600. It is not
// synced: it describes the running devnet, and the next start removes it
// (a sync made every start wait 0.5-3 ms on the disk before ready).
func (d *Devnet) WriteManifest() error {
	data, err := jsonFile(d.Manifest())
	if err != nil {
		return err
	}
	return atomicfile.WriteUnsynced(ManifestPath(d.cfg.Dir), data, 0o600)
}

func writeJSONFile(path string, v any) error {
	data, err := jsonFile(v)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}

// jsonFile is v as a JSON file's content: indented, a newline at the end.
func jsonFile(v any) ([]byte, error) {
	data, err := json.MarshalIndent(v, "", "  ")
	return append(data, '\n'), err
}

// Err delivers the failure of a part the devnet cannot do without (a
// *PartError naming it: the ledger, its RPC, a server, the proxy, the
// control endpoint), and is closed by Close. A node that fails is not
// one: it is reported as exited (Manifest, 'devnet status').
func (d *Devnet) Err() <-chan error { return d.errc }

// LogFile is the log NAME.log of the devnet's logs (WriteLogs), for
// another writer of logs (libp2p's own, say).
func (d *Devnet) LogFile(name string) (io.Writer, error) {
	if d.logFiles == nil {
		return nil, errors.New("devnet: no log files (UpConfig.WriteLogs)")
	}
	return d.logFiles.Writer(name)
}

// Done is closed when the control endpoint is asked to stop the devnet.
func (d *Devnet) Done() <-chan struct{} { return d.down }

func (d *Devnet) requestDown() { d.downOnce.Do(func() { close(d.down) }) }

// Seed returns the devnet's seed.
func (d *Devnet) Seed() string { return d.st.Seed }

// Clients returns the devnet's client names.
func (d *Devnet) Clients() []string { return slices.Clone(d.st.Clients) }

// Close stops the traffic, the control endpoint and the network, and removes
// the manifest. Safe to call twice.
func (d *Devnet) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	if d.traffic != nil {
		d.traffic()
	}
	if d.follow != nil {
		d.follow()
	}
	d.cfg.Events.close() // the pages' streams end, so the server can stop
	d.wg.Wait()
	var errs []error
	if d.control != nil {
		errs = append(errs, d.control.close())
	}
	d.mu.Lock()
	disks := d.disks
	d.disks = map[int]func(context.Context) error{}
	d.mu.Unlock()
	for _, heal := range disks {
		errs = append(errs, heal(context.Background())) // no mount outlives the devnet
	}
	if d.Network != nil {
		errs = append(errs, d.Network.Close())
	}
	if err := os.Remove(ManifestPath(d.cfg.Dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	if d.lock != nil {
		d.lock.Close()
	}
	close(d.errc) // (its sender, the watcher, is over: d.wg)
	d.log.Info().Msg("devnet stopped")
	if d.logFiles != nil {
		errs = append(errs, d.logFiles.Close())
	}
	return errors.Join(errs...)
}

// dashboard returns the dashboard once it exists (the nodes start before it).
func (d *Devnet) dashboard() *dashboard {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dash
}

// nodeIndex finds a node by name (node-3) or Ed25519 key.
func (d *Devnet) nodeIndex(name string) (int, error) {
	for i := 0; i < d.st.Nodes; i++ {
		if NodeName(i) == name || d.Network.NodeKey(i) == name {
			return i, nil
		}
	}
	for _, n := range d.joined.list() {
		if n.Name == name || n.Key == name {
			return 0, fmt.Errorf("%w %q: it joined from a process of its own ('node run', 'node join'): stop or start it there", ErrUnknownNode, name)
		}
	}
	if d.st.Nodes == 0 {
		return 0, fmt.Errorf("%w %q: this devnet runs no nodes of its own (those that joined it stop where they run)", ErrUnknownNode, name)
	}
	return 0, fmt.Errorf("%w %q: the nodes are node-1 to node-%d", ErrUnknownNode, name, d.st.Nodes)
}

// isLoopback reports whether ip is a loopback address (127.0.0.0/8).
func isLoopback(ip string) bool {
	p := net.ParseIP(ip)
	return p != nil && p.IsLoopback()
}

// Memory limits of a process hosting nodes (runtime/debug.SetMemoryLimit,
// a soft limit: past it the Go runtime collects garbage harder and returns
// freed pages sooner). A node in a process holds about 0.33 MiB of live
// heap and 0.15 MiB of goroutine stacks (2,000 nodes with --traffic after
// 10 minutes: 665 MB live, 307 MB of stacks), and its SQLite connection up
// to 0.4 MiB outside Go's heap; with Go's default GOGC the heap grows to
// twice what is live before each collection, 2.15-2.19 GB of RSS at 2,000
// nodes. The limit gives each node 700 KiB (about 1.5 times its live heap
// and stacks), and a process at least MinMemoryLimit.
const (
	MemoryPerNode  = 700 << 10 // 700 KiB
	MinMemoryLimit = 1 << 30
)

// MemoryLimit is the soft memory limit for the process hosting d: for the
// nodes it hosts itself (none when they run as processes or in workers),
// at least MinMemoryLimit.
func (d *Devnet) MemoryLimit() int64 {
	if d.cfg.Exe != "" {
		return MemoryLimitFor(0)
	}
	return MemoryLimitFor(d.st.Nodes)
}

// MemoryLimitFor is the soft memory limit for a process hosting that many
// nodes: MemoryPerNode each, at least MinMemoryLimit.
func MemoryLimitFor(nodes int) int64 {
	return max(MinMemoryLimit, int64(max(nodes, 0))*MemoryPerNode)
}
