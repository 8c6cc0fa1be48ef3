package ledger

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/atomicfile"
	"golang.org/x/crypto/blake2b"
)

// Allocation funds a wallet at genesis.
type Allocation struct {
	Wallet string `json:"wallet"` // Ed25519 public key, hex
	Amount uint64 `json:"amount"` // atomic units
}

// Config configures a Ledger.
type Config struct {
	// Path is the SQLite database file. Required.
	Path string
	// Seed makes the chain: its genesis and every random choice derive
	// from it. A database made with another seed is refused.
	Seed string
	// Authority signs the operator's state changes (ChangeState). nil: the
	// ledger makes a random key on a new chain and keeps it in
	// authority.key beside the database (mode 0600). It is never derived
	// from the seed, which may be public.
	Authority ed25519.PrivateKey
	// BlockTime is the time between blocks; 0 makes blocks only on demand (Mine).
	BlockTime time.Duration
	// HoldBlocks makes the timed blocks wait for Release (blocks on demand
	// do not wait): a devnet starting 2,000 nodes, which takes tens of
	// seconds, would otherwise run testing rounds against nodes not
	// started yet and vote them off the network.
	HoldBlocks bool
	// Genesis funds wallets in the genesis block; used on the first start only.
	Genesis []Allocation
	// Params are the chain's rules; nil means DefaultParams. Used on the
	// first start only: a chain keeps the rules it was made with.
	Params *chain.Params
	// Logger receives the ledger's logs; the zero value logs nothing.
	Logger zerolog.Logger
	// Now is the clock for block timestamps; nil means time.Now.
	Now func() time.Time
}

// Errors of the Ledger, for errors.Is.
var (
	ErrSeedMismatch = errors.New("the ledger database was made with another seed")
	ErrClosed       = errors.New("ledger is closed")
	ErrNotStarted   = errors.New("ledger is not started")
	ErrMempoolFull  = errors.New("too many pending transactions; wait for a block")
	ErrNoBlock      = errors.New("no such block")
)

const (
	maxMempool   = 10_000
	maxRejected  = 10_000
	maxMineBlock = 10_000
)

// Block is one block of the chain. Its hash commits to the previous hash, the
// height and the transactions; the timestamp is recorded but not hashed, so
// the same seed and the same transactions make the same chain whatever the
// clock says.
type Block struct {
	Height    uint64      `json:"height"`
	Hash      string      `json:"hash"`
	PrevHash  string      `json:"prev_hash"`
	Timestamp int64       `json:"timestamp"` // unix milliseconds
	Txs       []*chain.Tx `json:"txs"`
}

// Ledger is a running chain: it makes blocks on a timer or on demand, takes
// transactions, and answers queries. Its methods are safe for concurrent use.
type Ledger struct {
	cfg       Config
	log       zerolog.Logger
	authority ed25519.PrivateKey

	released    chan struct{} // closed by Release
	releaseOnce sync.Once

	mu       sync.Mutex
	st       *store
	params   chain.Params
	state    *State            // the tip
	tipTime  int64             // the tip block's timestamp, unix ms
	pending  *State            // the tip with the mempool applied; nil until needed
	staked   map[string]uint64 // wallet -> coins staked, as of the state stakedOf (Account)
	stakedOf *State            //
	mempool  []*chain.Tx       //
	rejected map[string]string // transaction hash -> why a block dropped it
	rejOrder []string          //
	// tip is the tip's Info as of its block and a channel closed at the
	// next block (or at Close): WaitHeight's answer, read without the lock.
	tip        atomic.Pointer[tipState]
	closedFlag atomic.Bool // closed, for WaitHeight
	started    bool
	closed     bool

	cancel context.CancelFunc
	wg     sync.WaitGroup
	errc   chan error // Err: one failure after Start; closed by Close
}

// New validates cfg; Start opens the database and begins making blocks.
func New(cfg Config) (*Ledger, error) {
	if cfg.Path == "" {
		return nil, errors.New("ledger: Config.Path is required")
	}
	if cfg.Seed == "" {
		return nil, errors.New("ledger: Config.Seed is required")
	}
	if cfg.BlockTime < 0 {
		return nil, fmt.Errorf("ledger: negative block time %v", cfg.BlockTime)
	}
	if cfg.Params != nil {
		if err := cfg.Params.Validate(); err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
	}
	for _, a := range cfg.Genesis {
		if _, err := chain.ParseKey(a.Wallet); err != nil {
			return nil, fmt.Errorf("ledger: genesis wallet: %w", err)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Ledger{
		released:  make(chan struct{}),
		cfg:       cfg,
		log:       cfg.Logger.With().Str("module", "ledger").Logger(),
		authority: cfg.Authority,
		rejected:  map[string]string{},
		errc:      make(chan error, 1),
	}, nil
}

// LegacyAuthorityKey is the authority of chains made before the key was
// kept in a file: it derives from the seed, which may be public. Only such
// chains use it.
func LegacyAuthorityKey(seed string) ed25519.PrivateKey {
	s := blake2b.Sum256([]byte("sessionctl-authority\x00" + seed))
	return ed25519.NewKeyFromSeed(s[:])
}

// loadAuthority reads the authority key beside the database, making one for
// a new chain (fresh is true when the database has no chain yet).
func (l *Ledger) loadAuthority(fresh bool) error {
	if l.authority != nil {
		return nil
	}
	path := filepath.Join(filepath.Dir(l.cfg.Path), "authority.key")
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		seed, derr := hex.DecodeString(strings.TrimSpace(string(data)))
		if derr != nil || len(seed) != ed25519.SeedSize {
			return fmt.Errorf("ledger: %s is damaged", path)
		}
		l.authority = ed25519.NewKeyFromSeed(seed)
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("ledger: read authority key: %w", err)
	case !fresh:
		l.log.Warn().Msg("this chain was made before authority keys were kept apart from the seed: its authority derives from the seed")
		l.authority = LegacyAuthorityKey(l.cfg.Seed)
		return nil
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, []byte(hex.EncodeToString(key.Seed())+"\n"), 0o600); err != nil {
		return fmt.Errorf("ledger: write authority key: %w", err)
	}
	l.authority = key
	return nil
}

// swarmSeed is the randomness of the swarm draw at height: it derives from
// the chain's seed, not from the block hash, so the same seed gives the same
// swarms although every devnet's operator wallets (and so its transactions
// and hashes) are its own.
func swarmSeed(seed string, height uint64) [32]byte {
	return blake2b.Sum256([]byte(fmt.Sprintf("sessionctl-swarms\x00%s\x00%d", seed, height)))
}

// Start opens the database, creates the genesis block on the first start or
// loads the chain and replays it from its last snapshot, and starts the block
// timer. On error everything it opened is closed again.
func (l *Ledger) Start(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.started {
		return errors.New("ledger: already started")
	}
	// A new chain's authority key is made and written (synced) while its
	// database is made (synced too): neither waits for the other's sync.
	var authority chan error
	if _, err := os.Lstat(l.cfg.Path); errors.Is(err, fs.ErrNotExist) && l.authority == nil {
		authority = make(chan error, 1)
		go func() { authority <- l.loadAuthority(true) }()
	}
	st, err := openStore(ctx, l.cfg.Path)
	if authority != nil {
		err = errors.Join(err, <-authority)
	}
	if err != nil {
		if st != nil {
			st.close()
		}
		return err
	}
	if err := l.load(ctx, st); err != nil {
		st.close()
		return err
	}
	l.st, l.started = st, true
	l.tip.Store(&tipState{info: l.infoLocked(), next: make(chan struct{})})
	runCtx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	if l.cfg.BlockTime > 0 {
		l.wg.Add(1)
		go l.run(runCtx)
	}
	if !l.cfg.HoldBlocks {
		l.Release()
	}
	l.log.Info().Uint64("height", l.state.Height).Str("hash", short(l.state.Hash)).
		Int("nodes", len(l.state.Nodes)).Dur("block_time", l.cfg.BlockTime).Msg("ledger started")
	return nil
}

func (l *Ledger) load(ctx context.Context, st *store) error {
	meta, err := st.loadMeta(ctx)
	if err != nil {
		return err
	}
	if err := l.loadAuthority(meta == nil); err != nil {
		return err
	}
	if meta == nil {
		return l.genesis(ctx, st)
	}
	if meta.Seed != l.cfg.Seed {
		return fmt.Errorf("%w (%q, not %q)", ErrSeedMismatch, meta.Seed, l.cfg.Seed)
	}
	l.params = meta.Params
	state, err := st.latestSnapshot(ctx)
	if err != nil {
		return err
	}
	if state == nil {
		state = genesisState(meta)
	}
	replayed := 0
	err = st.blocksAfter(ctx, state.Height, func(b *Block) error {
		if b.Height != state.Height+1 || b.PrevHash != state.Hash {
			return fmt.Errorf("%w: block %d does not follow %d (%s)", ErrFormat, b.Height, state.Height, short(state.Hash))
		}
		next, included, rejected, err := applyBlock(state, l.params, b.Height, b.Txs, l.authorityHex(), swarmSeed(l.cfg.Seed, b.Height))
		if err != nil {
			return err
		}
		if len(rejected) > 0 || len(included) != len(b.Txs) || next.Hash != b.Hash {
			return fmt.Errorf("%w: replaying block %d gives another result (hash %s, stored %s)", ErrFormat, b.Height, short(next.Hash), short(b.Hash))
		}
		state = next
		replayed++
		return nil
	})
	if err != nil {
		return err
	}
	tip, err := st.block(ctx, state.Height)
	if err != nil {
		return fmt.Errorf("ledger: the tip's block: %w", err)
	}
	l.state, l.tipTime = state, tip.Timestamp
	l.log.Debug().Int("replayed", replayed).Msg("chain loaded")
	return nil
}

func (l *Ledger) authorityHex() string {
	return hex.EncodeToString(l.authority.Public().(ed25519.PublicKey))
}

func genesisState(m *genesisMeta) *State {
	s := newState()
	for _, a := range m.Genesis {
		s.Balances[a.Wallet] += a.Amount
		s.Minted += a.Amount
	}
	s.Hash = genesisHash(m)
	return s
}

func genesisHash(m *genesisMeta) string {
	h, _ := blake2b.New256(nil)
	b, _ := json.Marshal(m)
	h.Write([]byte("sessionctl-genesis\x00"))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func (l *Ledger) genesis(ctx context.Context, st *store) error {
	p := chain.DefaultParams()
	if l.cfg.Params != nil {
		p = *l.cfg.Params
	}
	meta := &genesisMeta{Format: formatVersion, Seed: l.cfg.Seed, Params: p, Genesis: slices.Clone(l.cfg.Genesis)}
	if meta.Genesis == nil {
		meta.Genesis = []Allocation{}
	}
	state := genesisState(meta)
	b := &Block{Height: 0, Hash: state.Hash, PrevHash: "", Timestamp: l.cfg.Now().UnixMilli(), Txs: []*chain.Tx{}}
	if err := st.saveGenesis(ctx, meta, b); err != nil {
		return err
	}
	l.params, l.state, l.tipTime = p, state, b.Timestamp
	return nil
}

// blockHash is BLAKE2b-32(prev hash || height || the transaction hashes).
func blockHash(prev string, height uint64, txs []*chain.Tx) [32]byte {
	h, _ := blake2b.New256(nil)
	h.Write([]byte(prev))
	var hb [8]byte
	binary.BigEndian.PutUint64(hb[:], height)
	h.Write(hb[:])
	for _, t := range txs {
		h.Write([]byte(t.Hash()))
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// applyBlock returns the state after block height with txs, leaving prev as
// it was: the chain's own work first (rewards, credit, unlocks), then each
// transaction that passes the rules, then swarms if the active set changed.
func applyBlock(prev *State, p chain.Params, height uint64, txs []*chain.Tx, authority string, swarms [32]byte) (next *State, included []*chain.Tx, rejected map[string]error, err error) {
	if height != prev.Height+1 {
		return nil, nil, nil, fmt.Errorf("block %d after height %d", height, prev.Height)
	}
	next = prev.clone()
	activeBefore := prev.activeKeys()
	next.beginBlock(p, height)
	for _, tx := range txs {
		if err := next.applyTx(p, tx, height, authority); err != nil {
			if rejected == nil {
				rejected = map[string]error{}
			}
			rejected[tx.Hash()] = err
			continue
		}
		included = append(included, tx)
	}
	hash := blockHash(prev.Hash, height, included)
	next.Height, next.Hash = height, hex.EncodeToString(hash[:])
	next.endBlock(height, swarms, activeBefore)
	return next, included, rejected, nil
}

// Release lets the timed blocks begin (see Config.HoldBlocks). Safe to
// call more than once.
func (l *Ledger) Release() { l.releaseOnce.Do(func() { close(l.released) }) }

// run makes a block every BlockTime, once released, until ctx ends.
func (l *Ledger) run(ctx context.Context) {
	defer l.wg.Done()
	select {
	case <-ctx.Done():
		return
	case <-l.released:
	}
	t := time.NewTicker(l.cfg.BlockTime)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := l.Mine(ctx, 1); err != nil && ctx.Err() == nil {
				// The chain cannot advance (its database failed): the
				// timed blocks stop, and the owner hears of it.
				l.log.Error().Err(err).Msg("make block")
				l.errc <- fmt.Errorf("ledger: make block %d: %w", l.Info().Height+1, err)
				return
			}
		}
	}
}

// Err delivers a failure after Start: the timed blocks stopped, as a block
// could not be made (its database failed). It is closed by Close.
func (l *Ledger) Err() <-chan error { return l.errc }

// Mine makes n blocks now, with the pending transactions in the first.
func (l *Ledger) Mine(ctx context.Context, n int) ([]*Block, error) {
	if n < 1 || n > maxMineBlock {
		return nil, fmt.Errorf("mine %d blocks: want 1 to %d", n, maxMineBlock)
	}
	var out []*Block
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		b, err := l.mineOne(ctx)
		if err != nil {
			return out, err
		}
		out = append(out, b)
	}
	return out, nil
}

func (l *Ledger) mineOne(ctx context.Context) (*Block, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return nil, err
	}
	height := l.state.Height + 1
	next, included, rejected, err := applyBlock(l.state, l.params, height, l.mempool, l.authorityHex(), swarmSeed(l.cfg.Seed, height))
	if err != nil {
		return nil, err
	}
	b := &Block{Height: height, Hash: next.Hash, PrevHash: l.state.Hash, Timestamp: l.cfg.Now().UnixMilli(), Txs: included}
	if b.Txs == nil {
		b.Txs = []*chain.Tx{}
	}
	var snap *State
	if height%l.params.SnapshotEvery == 0 {
		snap = next
	}
	if err := l.st.saveBlock(ctx, b, snap); err != nil {
		return nil, err // the tip and the mempool stay as they were
	}
	for hash, why := range rejected {
		l.reject(hash, why)
	}
	swarmsChanged := next.SwarmsHeight == height
	l.state, l.mempool, l.pending, l.tipTime = next, nil, nil, b.Timestamp
	l.advanceTip()
	ev := l.log.Debug()
	if swarmsChanged || len(included) > 0 {
		ev = l.log.Info()
	}
	ev.Uint64("height", height).Str("hash", short(b.Hash)).Int("txs", len(included)).
		Int("rejected", len(rejected)).Bool("swarms_changed", swarmsChanged).Msg("block")
	return b, nil
}

func (l *Ledger) reject(hash string, why error) {
	if len(l.rejOrder) >= maxRejected {
		delete(l.rejected, l.rejOrder[0])
		l.rejOrder = l.rejOrder[1:]
	}
	l.rejected[hash] = why.Error()
	l.rejOrder = append(l.rejOrder, hash)
	l.log.Warn().Str("tx", short(hash)).Str("reason", why.Error()).Msg("transaction dropped from block")
}

func (l *Ledger) usable() error {
	switch {
	case l.closed:
		return ErrClosed
	case !l.started:
		return ErrNotStarted
	}
	return nil
}

// Submit checks tx against the tip and the pending transactions and queues
// it for the next block. A rejected transaction changes nothing; its error
// says why. It returns the transaction's hash.
func (l *Ledger) Submit(tx *chain.Tx) (string, error) {
	if err := tx.Check(); err != nil {
		return "", err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.queueLocked(tx)
}

// SubmitAll queues txs in their order, as Submit would one after the
// other, their form and signatures checked side by side first (on as
// many goroutines as the process has CPUs). It stops at the first one
// refused and returns how many were queued, with that one's error.
func (l *Ledger) SubmitAll(txs []*chain.Tx) (int, error) {
	checked := make([]error, len(txs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(txs)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(txs); i = int(next.Add(1) - 1) {
				checked[i] = txs[i].Check()
			}
		})
	}
	wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, tx := range txs {
		if checked[i] != nil {
			return i, checked[i]
		}
		if _, err := l.queueLocked(tx); err != nil {
			return i, err
		}
	}
	return len(txs), nil
}

// queueLocked checks tx, whose form and signatures are checked, against
// the tip and the pending transactions and queues it; it returns its
// hash. Callers hold mu.
func (l *Ledger) queueLocked(tx *chain.Tx) (string, error) {
	if err := l.usable(); err != nil {
		return "", err
	}
	if len(l.mempool) >= maxMempool {
		return "", ErrMempoolFull
	}
	if err := l.pendingState().applyTx(l.params, tx, l.state.Height+1, l.authorityHex()); err != nil {
		return "", err
	}
	l.mempool = append(l.mempool, tx)
	hash := tx.Hash()
	l.log.Debug().Str("tx", short(hash)).Str("type", string(tx.Type)).Str("signer", short(tx.Signer)).Msg("transaction queued")
	return hash, nil
}

// pendingState is the tip with the mempool applied. Callers hold mu.
func (l *Ledger) pendingState() *State {
	if l.pending == nil {
		l.pending = l.state.clone()
		for _, tx := range l.mempool {
			l.pending.applyTx(l.params, tx, l.state.Height+1, l.authorityHex())
		}
	}
	return l.pending
}

// ChangeState queues a state change of a node signed by the authority key.
func (l *Ledger) ChangeState(nodeKey string, state chain.NodeState, reason string) (string, error) {
	l.mu.Lock()
	if err := l.usable(); err != nil {
		l.mu.Unlock()
		return "", err
	}
	nonce := l.pendingState().Nonces[l.authorityHex()]
	l.mu.Unlock()
	tx, err := chain.NewTx(chain.TxStateChange, l.authority, nonce, chain.StateChangeBody{NodeKey: nodeKey, State: state, Reason: reason})
	if err != nil {
		return "", err
	}
	return l.Submit(tx)
}

// Close stops the timer, waits for it, writes a snapshot of the tip and
// closes the database. It is safe to call twice.
func (l *Ledger) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.closedFlag.Store(true)
	cancel := l.cancel
	l.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	l.wg.Wait()
	close(l.errc) // (its only sender, the timer, is over)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st == nil {
		return nil
	}
	var errs []error
	if l.state.Height > 0 {
		errs = append(errs, l.st.saveSnapshot(context.Background(), l.state))
	}
	errs = append(errs, l.st.close())
	if t := l.tip.Load(); t != nil {
		close(t.next) // waiters wake, and find the ledger closed
	}
	l.log.Info().Uint64("height", l.state.Height).Msg("ledger stopped")
	return errors.Join(errs...)
}

// Info returns a summary of the tip.
func (l *Ledger) Info() chain.Info {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.infoLocked()
}

func (l *Ledger) infoLocked() chain.Info {
	s := l.state
	return chain.Info{
		Height: s.Height, Hash: s.Hash, Timestamp: l.tipTime, SwarmsHeight: s.SwarmsHeight, NodesHeight: s.NodesHeight,
		Nodes: len(s.Nodes), ActiveNodes: s.activeCount(), Swarms: len(s.Swarms),
		Pending: len(l.mempool), BlockTimeMS: l.cfg.BlockTime.Milliseconds(),
		Authority: l.authorityHex(), Params: l.params,
	}
}

// WaitHeight waits until the tip is at least height, and returns its Info.
//
// Every node of a devnet waits on the next block: when it comes, 2,000
// waiters take the tip's Info as of its block (Pending as it was then)
// without the ledger's lock, instead of queueing on it one by one.
func (l *Ledger) WaitHeight(ctx context.Context, height uint64) (chain.Info, error) {
	for {
		t := l.tip.Load()
		if t == nil {
			l.mu.Lock()
			err := l.usable()
			l.mu.Unlock()
			if err == nil {
				err = ErrNotStarted
			}
			return chain.Info{}, err
		}
		if t.info.Height >= height {
			return t.info, nil
		}
		if l.closedFlag.Load() {
			return chain.Info{}, ErrClosed
		}
		select {
		case <-ctx.Done():
			return chain.Info{}, ctx.Err()
		case <-t.next:
		}
	}
}

// tipState is a tip as WaitHeight sees it.
type tipState struct {
	info chain.Info
	next chan struct{}
}

// advanceTip publishes the new tip (l.mu held) and wakes the waiters.
func (l *Ledger) advanceTip() {
	old := l.tip.Load()
	l.tip.Store(&tipState{info: l.infoLocked(), next: make(chan struct{})})
	if old != nil {
		close(old.next)
	}
}

// Nodes returns every registered node, sorted by key.
func (l *Ledger) Nodes() []chain.ServiceNode {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]chain.ServiceNode, 0, len(l.state.Nodes))
	for _, k := range l.state.nodeKeys() {
		out = append(out, *cloneNode(l.state.Nodes[k]))
	}
	return out
}

// Node returns one node.
func (l *Ledger) Node(key string) (chain.ServiceNode, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.state.Nodes[key]
	if !ok {
		return chain.ServiceNode{}, false
	}
	return *cloneNode(n), true
}

// SwarmInfo is one swarm and its members' keys.
type SwarmInfo struct {
	ID      uint64   `json:"swarm_id"`
	Members []string `json:"members"`
}

// Swarms returns the swarms sorted by id.
func (l *Ledger) Swarms() []SwarmInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []SwarmInfo{}
	for _, id := range l.state.Swarms.IDs() {
		out = append(out, SwarmInfo{ID: id, Members: slices.Clone(l.state.Swarms[id])})
	}
	return out
}

// SwarmOf returns the swarm that owns an account.
func (l *Ledger) SwarmOf(id identity.AccountID) SwarmInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	sid := chain.SwarmFor(l.state.Swarms.IDs(), id.SwarmSpace())
	return SwarmInfo{ID: sid, Members: slices.Clone(l.state.Swarms[sid])}
}

// Account returns a wallet's balance, stakes and next nonce.
func (l *Ledger) Account(wallet string) (chain.Account, error) {
	if _, err := chain.ParseKey(wallet); err != nil {
		return chain.Account{}, fmt.Errorf("wallet: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stakedOf != l.state { // (a tip is never changed in place: a block makes a new one)
		l.staked = map[string]uint64{}
		for _, n := range l.state.Nodes {
			for _, c := range n.Contributors {
				l.staked[c.Wallet] += c.Amount
			}
		}
		l.stakedOf = l.state
	}
	a := chain.Account{Wallet: wallet, Balance: l.state.Balances[wallet], Staked: l.staked[wallet]}
	if l.started && !l.closed {
		a.NextNonce = l.pendingState().Nonces[wallet]
	}
	return a, nil
}

// Name returns the record of a name hash (see NameHash).
func (l *Ledger) Name(nameHash string) (NameRecord, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.state.Names[nameHash]
	if !ok {
		return NameRecord{}, false
	}
	return *r, true
}

// Block returns the block at height.
func (l *Ledger) Block(ctx context.Context, height uint64) (*Block, error) {
	l.mu.Lock()
	st, err := l.st, l.usable()
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return st.block(ctx, height)
}

// Rounds returns the remembered testing rounds, newest first.
func (l *Ledger) Rounds() []chain.Round {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []chain.Round
	for _, r := range l.state.Rounds {
		out = append(out, r.export())
	}
	slices.SortFunc(out, func(a, b chain.Round) int { return cmpU64(b.Round, a.Round) })
	return out
}

// RoundAt returns the testing round that height belongs to.
func (l *Ledger) RoundAt(height uint64) (chain.Round, bool) {
	return l.roundAt(height, (*round).export)
}

// QuorumsAt returns the testing round that height belongs to without its
// commits, reveals and votes: what a node reads of it. Its quorums are the
// ledger's own (they never change once drawn): callers only read them.
// (Each node of a 2,000-node devnet asks for its round's quorums; RoundAt
// would copy 2,000 commits and reveals, and later 20,000 votes, for each.)
func (l *Ledger) QuorumsAt(height uint64) (chain.Round, bool) {
	return l.roundAt(height, (*round).quorumsOnly)
}

// roundAt returns as(the round that height belongs to).
func (l *Ledger) roundAt(height uint64, as func(*round) chain.Round) (chain.Round, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.params.RoundBlocks == 0 {
		return chain.Round{}, false
	}
	r, ok := l.state.Rounds[l.params.RoundOf(height)]
	if !ok {
		return chain.Round{}, false
	}
	return as(r), true
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TxStatus says where a transaction stands.
type TxStatus struct {
	Hash   string `json:"hash"`
	Status string `json:"status"` // pending, included, rejected or unknown
	Height uint64 `json:"height,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// TxStatus looks a transaction up by hash.
func (l *Ledger) TxStatus(ctx context.Context, hash string) (TxStatus, error) {
	l.mu.Lock()
	if err := l.usable(); err != nil {
		l.mu.Unlock()
		return TxStatus{}, err
	}
	for _, t := range l.mempool {
		if t.Hash() == hash {
			l.mu.Unlock()
			return TxStatus{Hash: hash, Status: "pending"}, nil
		}
	}
	reason, wasRejected := l.rejected[hash]
	st := l.st
	l.mu.Unlock()
	h, ok, err := st.txHeight(ctx, hash)
	switch {
	case err != nil:
		return TxStatus{}, err
	case ok:
		return TxStatus{Hash: hash, Status: "included", Height: h}, nil
	case wasRejected:
		return TxStatus{Hash: hash, Status: "rejected", Reason: reason}, nil
	}
	return TxStatus{Hash: hash, Status: "unknown"}, nil
}
