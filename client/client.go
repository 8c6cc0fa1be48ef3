// Package client is a Session client: it speaks only the wire protocols
// (storagerpc, onion, the ledger RPC) and never imports package node.
//
// Every request goes through a 3-hop onion path of random active nodes
// (guard, middle, exit) to a destination node, so no node learns both who
// asks and what is asked. Messages are end-to-end encrypted and signed as
// SPEC 6 says (see Encrypt), stored in the recipient's swarm in namespace 0,
// and fetched with a signed retrieve that remembers the last hash.
//
//	c, err := client.New(client.Config{Keys: alice, Ledger: ledgerrpc.NewClient(url, "")})
//	err = c.Start(ctx)
//	defer c.Close()
//	res, err := c.Send(ctx, bobID, "hello")   // res.Hash, res.Path
//	msgs, rejected, err := c.Fetch(ctx)       // rejected: what did not decrypt or verify
//
// The package's Example runs this against a devnet.
package client

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/p2phost"
	"github.com/sessionctl/sessionctl/internal/streampool"
	"github.com/sessionctl/sessionctl/onion"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// Ledger is what a client needs of the ledger; *ledgerrpc.Client is one.
type Ledger interface {
	Info(ctx context.Context) (chain.Info, error)
	Nodes(ctx context.Context) ([]chain.ServiceNode, error)
}

// Config configures a Client.
type Config struct {
	// Keys is the account. Required.
	Keys *identity.Keys
	// Ledger gives the node list. Required.
	Ledger Ledger
	// StatePath is a file (mode 0600) that keeps the last hash and the hashes
	// already seen, so a later Fetch, in another process too, returns only
	// new messages; "" keeps them in memory.
	StatePath string
	// EncType is the onion layers' encryption; default xchacha20.
	EncType onion.EncType
	// TTL of sent messages; default 14 days (the storage maximum).
	TTL time.Duration
	// Logger receives the client's logs; the zero value logs nothing.
	Logger zerolog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NodesMaxAge is how long the node list is used before the ledger is
	// asked again whether it changed; 0 means DefaultNodesMaxAge, a
	// negative value asks before every request. A node that answers 421
	// or does not answer makes the next request ask sooner.
	NodesMaxAge time.Duration
	// KeepConfigs makes every fetch look after the account's configs, as
	// a Session app does on each poll (config.go): push a merge, extend a
	// config past half its life. A user's device sets it; load generators
	// and tools that only move messages leave it off.
	KeepConfigs bool
	// Faults, if set, break the client on purpose, for the tests of a
	// checker that must notice (package chaos); a test may switch them on
	// and off while the client runs. Nothing outside tests sets it.
	Faults *Faults
}

// Faults are the ways a test may make a client misbehave (Config.Faults).
type Faults struct {
	// ShowTwice returns every message a fetch finds twice.
	ShowTwice atomic.Bool
	// ShowUnsent shows a message its author took back in the fetch that
	// carries the UnsendRequest.
	ShowUnsent atomic.Bool
	// IgnoreConfigs reads every config as if the swarm held none.
	IgnoreConfigs atomic.Bool
}

// fault reports whether a test switched a fault on (Config.Faults).
func (c *Client) fault(f func(*Faults) *atomic.Bool) bool {
	return c.cfg.Faults != nil && f(c.cfg.Faults).Load()
}

// errGuard marks a request the guard did not take.
var errGuard = errors.New("the guard did not answer")

// Errors of the Client.
var (
	ErrNoNodes     = errors.New("no active service nodes with addresses: is the network running?")
	ErrUnreachable = errors.New("the network did not answer")
	ErrClosed      = errors.New("the client is not started, or closed")
)

// Client is a Session client. Its methods are safe for concurrent use.
type Client struct {
	cfg  Config
	log  zerolog.Logger
	host host.Host
	pool *streampool.Pool // streams to guards kept open (onionHost)

	mu          sync.Mutex
	nodes       map[string]chain.ServiceNode // active nodes with addresses
	swarmIDs    []uint64
	members     map[uint64][]string
	nodesHeight uint64
	swarmsAt    uint64
	path        []string // Ed25519 keys: guard, middle, exit
	state       *state
	fetching    chan struct{}      // one fetch at a time
	bad         map[string]strikes // nodes that failed lately: bounded by the node list
	lastSig     atomic.Int64       // the last signature timestamp used (sigNow)

	// nodesChecked is when the ledger last said the node list was
	// current; nodesStale, that a request failed since (refresh).
	nodesChecked time.Time
	nodesStale   bool
}

// Now is the client's clock (Config.Now).
func (c *Client) Now() time.Time { return c.cfg.Now() }

// sigNow is the timestamp to sign a request with: the clock, but always
// after the last one this client signed. Nodes refuse a signature they
// have seen (a replay), and two requests signed in one millisecond (the
// pages of a fetch) would otherwise carry the same one.
func (c *Client) sigNow() int64 { return c.SigNow() }

// SigNow is the timestamp (unix ms) to sign a request with, for callers
// that sign their own (a closed group's admin or member): the clock, but
// after every timestamp this client signed before.
func (c *Client) SigNow() int64 {
	for {
		last := c.lastSig.Load()
		ts := max(c.cfg.Now().UnixMilli(), last+1)
		if c.lastSig.CompareAndSwap(last, ts) {
			return ts
		}
	}
}

// New validates cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Keys == nil {
		return nil, errors.New("client: Config.Keys is required")
	}
	if cfg.Ledger == nil {
		return nil, errors.New("client: Config.Ledger is required")
	}
	if cfg.EncType == "" {
		cfg.EncType = onion.XChaCha20
	}
	if cfg.EncType != onion.XChaCha20 && cfg.EncType != onion.AESGCM {
		return nil, fmt.Errorf("client: enc type %q: want xchacha20 or aes-gcm", cfg.EncType)
	}
	if cfg.TTL == 0 {
		cfg.TTL = storagerpc.MaxTTL
	}
	if cfg.TTL < storagerpc.MinTTL || cfg.TTL > storagerpc.MaxTTL {
		return nil, fmt.Errorf("client: ttl %v: want %v to %v", cfg.TTL, storagerpc.MinTTL, storagerpc.MaxTTL)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NodesMaxAge == 0 {
		cfg.NodesMaxAge = DefaultNodesMaxAge
	}
	return &Client{fetching: make(chan struct{}, 1), bad: map[string]strikes{}, cfg: cfg, log: cfg.Logger.With().Str("module", "client").Str("account", cfg.Keys.AccountID().String()[:10]).Logger()}, nil
}

// Start loads the state and starts the client's libp2p host. The host's key
// is fresh and random, never the account's: the guard cannot link the
// connection to the account.
func (c *Client) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := loadState(c.cfg.StatePath)
	if err != nil {
		return err
	}
	c.state = st
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return err
	}
	h, err := p2phost.New(ed25519.NewKeyFromSeed(seed[:]), nil)
	if err != nil {
		return fmt.Errorf("client host: %w", err)
	}
	c.mu.Lock()
	c.host, c.pool = h, streampool.New(h)
	c.mu.Unlock()
	return nil
}

// p2p returns the client's libp2p host: ErrClosed before Start and after
// Close (a call still running when Close ran fails, it does not panic).
func (c *Client) p2p() (host.Host, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.host == nil {
		return nil, ErrClosed
	}
	return c.host, nil
}

// onionHost is the host onion requests go out on: the client's host with
// its stream pool, so that requests to a guard go one after another on
// streams kept open (the framed onion protocol, as keep-alive does for
// HTTP) where the guard speaks it.
func (c *Client) onionHost() (host.Host, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.host == nil {
		return nil, ErrClosed
	}
	return pooledHost{c.host, c.pool}, nil
}

// pooledHost is a host with a stream pool (streampool.Host).
type pooledHost struct {
	host.Host
	pool *streampool.Pool
}

func (h pooledHost) StreamPool() *streampool.Pool { return h.pool }

// Close stops the host. Safe to call twice.
func (c *Client) Close() error {
	c.mu.Lock()
	h, pool := c.host, c.pool
	c.host, c.pool = nil, nil
	c.mu.Unlock()
	if h == nil {
		return nil
	}
	pool.Close()
	return h.Close()
}

// AccountID returns the client's Account ID.
func (c *Client) AccountID() identity.AccountID { return c.cfg.Keys.AccountID() }
