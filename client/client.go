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
//	res, err := c.Send(ctx, bobID, "hello")
//	msgs, err := c.Fetch(ctx)
package client

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/atomicfile"
	"github.com/sessionctl/sessionctl/internal/p2phost"
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
}

// errGuard marks a request the guard did not take.
var errGuard = errors.New("the guard did not answer")

// Errors of the Client.
var (
	ErrNoNodes     = errors.New("no active service nodes with addresses: is the network running?")
	ErrUnreachable = errors.New("the network did not answer")
)

// Client is a Session client. Its methods are safe for concurrent use.
type Client struct {
	cfg  Config
	log  zerolog.Logger
	host host.Host

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
	return &Client{fetching: make(chan struct{}, 1), bad: map[string]strikes{}, cfg: cfg, log: cfg.Logger.With().Str("component", "client").Str("account", cfg.Keys.AccountID().String()[:10]).Logger()}, nil
}

// Start loads the state and starts the client's libp2p host. The host's key
// is fresh and random, never the account's: the guard cannot link the
// connection to the account.
func (c *Client) Start(ctx context.Context) error {
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
	c.host = h
	return nil
}

// Close stops the host. Safe to call twice.
func (c *Client) Close() error {
	c.mu.Lock()
	h := c.host
	c.host = nil
	c.mu.Unlock()
	if h == nil {
		return nil
	}
	return h.Close()
}

// AccountID returns the client's Account ID.
func (c *Client) AccountID() identity.AccountID { return c.cfg.Keys.AccountID() }

// refresh reloads the node list when the ledger says it changed.
func (c *Client) refresh(ctx context.Context, force bool) error {
	info, err := c.cfg.Ledger.Info(ctx)
	if err != nil {
		return fmt.Errorf("%w: ledger: %v", ErrUnreachable, err)
	}
	c.mu.Lock()
	fresh := c.nodes != nil && !force && c.nodesHeight == info.NodesHeight && c.swarmsAt == info.SwarmsHeight
	c.mu.Unlock()
	if fresh {
		return nil
	}
	list, err := c.cfg.Ledger.Nodes(ctx)
	if err != nil {
		return fmt.Errorf("%w: ledger: %v", ErrUnreachable, err)
	}
	nodes := map[string]chain.ServiceNode{}
	members := map[uint64][]string{}
	for _, sn := range list {
		if sn.State != chain.StateActive || sn.SwarmID == chain.UnassignedSwarm {
			continue
		}
		pid, err := peerOf(sn.Key)
		if err != nil || sn.PeerID != pid.String() || len(sn.Addrs) == 0 {
			continue
		}
		var addrs []ma.Multiaddr
		for _, a := range sn.Addrs {
			if m, err := ma.NewMultiaddr(a); err == nil {
				addrs = append(addrs, m)
			}
		}
		c.host.Peerstore().SetAddrs(pid, addrs, peerstore.PermanentAddrTTL)
		nodes[sn.Key] = sn
		members[sn.SwarmID] = append(members[sn.SwarmID], sn.Key)
	}
	var ids []uint64
	for id := range members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	c.mu.Lock()
	c.nodes, c.members, c.swarmIDs = nodes, members, ids
	c.nodesHeight, c.swarmsAt = info.NodesHeight, info.SwarmsHeight
	for _, k := range c.path {
		if _, ok := nodes[k]; !ok {
			c.path = nil // a path node left: build another
		}
	}
	for k := range c.bad {
		if _, ok := nodes[k]; !ok {
			delete(c.bad, k)
		}
	}
	c.mu.Unlock()
	return nil
}

func peerOf(key string) (peer.ID, error) { return storagerpc.PeerIDFromEd25519(key) }

func randInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic("client: crypto/rand failed: " + err.Error())
	}
	return int(v.Int64())
}

// A node on a path that failed gets a strike; one with strikeLimit strikes
// in the last strikeMemory is left out of new paths (while enough others
// remain), as real clients drop failing nodes from their pool: a stopped
// node stays "active" on the ledger until its quorum votes it out.
const (
	strikeLimit  = 2
	strikeMemory = time.Minute
)

type strikes struct {
	n    int
	last time.Time
}

// strike counts a failure against nodes (n strikes at once).
func (c *Client) strike(n int, nodes ...string) {
	now := c.cfg.Now()
	for _, k := range nodes {
		s := c.bad[k]
		if now.Sub(s.last) > strikeMemory {
			s.n = 0
		}
		c.bad[k] = strikes{n: s.n + n, last: now}
	}
}

// badNode reports whether k failed too often lately.
func (c *Client) badNode(k string) bool {
	s, ok := c.bad[k]
	return ok && s.n >= strikeLimit && c.cfg.Now().Sub(s.last) <= strikeMemory
}

// pickPath chooses 3 distinct random active nodes, none of them in avoid,
// and none that failed lately if enough others remain.
func (c *Client) pickPath(avoid []string) ([]string, error) {
	var pool, good []string
	for k := range c.nodes {
		if !slices.Contains(avoid, k) {
			pool = append(pool, k)
			if !c.badNode(k) {
				good = append(good, k)
			}
		}
	}
	if len(good) >= 3 {
		pool = good
	}
	slices.Sort(pool)
	if len(pool) < 3 {
		return nil, fmt.Errorf("%w (need 3 for a path, have %d)", ErrNoNodes, len(pool))
	}
	var path []string
	for len(path) < 3 {
		i := randInt(len(pool))
		path = append(path, pool[i])
		pool = append(pool[:i], pool[i+1:]...)
	}
	return path, nil
}

func (c *Client) hop(key string) onion.Hop {
	sn := c.nodes[key]
	x, _ := hex.DecodeString(sn.X25519)
	return onion.Hop{Ed25519: key, X25519: [32]byte(x)}
}

// Path is the route one request took.
type Path struct {
	Guard       string `json:"guard"`
	Middle      string `json:"middle"`
	Exit        string `json:"exit"`
	Destination string `json:"destination"`
}

// ensurePath returns the current path, building and testing one if needed:
// a new path carries an empty request to its exit, which answers "path built".
func (c *Client) ensurePath(ctx context.Context, avoid string) ([]string, error) {
	c.mu.Lock()
	path := slices.Clone(c.path)
	c.mu.Unlock()
	if len(path) == 3 && !slices.Contains(path, avoid) {
		return path, nil
	}
	for attempt := 0; attempt < 8; attempt++ {
		c.mu.Lock()
		p, err := c.pickPath([]string{avoid})
		var hops []onion.Hop
		if err == nil {
			hops = []onion.Hop{c.hop(p[0]), c.hop(p[1]), c.hop(p[2])}
		}
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		reply, err := c.sendOnion(ctx, hops[0].Ed25519, hops[:2], hops[2], nil)
		if err != nil {
			c.log.Debug().Err(err).Msg("path test failed")
			c.mu.Lock()
			if errors.Is(err, errGuard) {
				c.strike(strikeLimit, p[0]) // the guard itself did not answer
			} else {
				c.strike(1, p...)
			}
			c.mu.Unlock()
			continue
		}
		var built struct {
			Status string `json:"status"`
		}
		if json.Unmarshal(reply, &built) != nil || built.Status != "path built" {
			continue
		}
		c.mu.Lock()
		if avoid == "" || !slices.Contains(c.path, avoid) {
			c.path = p
		}
		c.mu.Unlock()
		c.log.Debug().Strs("path", shortKeys(p)).Msg("path built")
		return p, nil
	}
	return nil, fmt.Errorf("%w: no path could be built", ErrUnreachable)
}

func shortKeys(ks []string) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k[:8]
	}
	return out
}

// sendOnion sends payload to dest through path (path[0] is the guard) and
// returns the destination's decrypted reply.
func (c *Client) sendOnion(ctx context.Context, guard string, path []onion.Hop, dest onion.Hop, payload []byte) ([]byte, error) {
	req, key, err := onion.Build(rand.Reader, path, dest, payload, c.cfg.EncType)
	if err != nil {
		return nil, err
	}
	pid, err := peerOf(guard)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	status, body, err := onion.Send(rctx, c.host, pid, 1, req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errGuard, err)
	}
	if status != onion.StatusOK {
		return nil, fmt.Errorf("onion path answered %d: %s", status, truncate(string(body), 100))
	}
	return key.OpenReply(body)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// rpc sends a storage request to dest through the onion path, rebuilding the
// path when it fails.
func (c *Client) rpc(ctx context.Context, dest, method string, params any) (*storagerpc.Response, Path, error) {
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, Path{}, err
	}
	body, err := json.Marshal(storagerpc.Request{Method: method, Params: raw})
	if err != nil {
		return nil, Path{}, err
	}
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		path, err := c.ensurePath(ctx, dest)
		if err != nil {
			return nil, Path{}, err
		}
		c.mu.Lock()
		hops := []onion.Hop{c.hop(path[0]), c.hop(path[1]), c.hop(path[2])}
		d := c.hop(dest)
		c.mu.Unlock()
		reply, err := c.sendOnion(ctx, path[0], hops, d, body)
		if err != nil {
			lastErr = err
			c.log.Debug().Err(err).Msg("onion request failed; rebuilding the path")
			c.mu.Lock()
			c.path = nil
			c.mu.Unlock()
			continue
		}
		var resp storagerpc.Response
		if err := json.Unmarshal(reply, &resp); err != nil || resp.Code == 0 {
			return nil, Path{}, fmt.Errorf("destination %s answered something unreadable", dest[:8])
		}
		return &resp, Path{Guard: path[0], Middle: path[1], Exit: path[2], Destination: dest}, nil
	}
	return nil, Path{}, fmt.Errorf("%w: %v", ErrUnreachable, lastErr)
}

// RPC sends one storage request to node dest (Ed25519 key) through the
// onion path and returns its answer and the path it took.
func (c *Client) RPC(ctx context.Context, dest, method string, params any) (*storagerpc.Response, Path, error) {
	if err := c.refresh(ctx, false); err != nil {
		return nil, Path{}, err
	}
	c.mu.Lock()
	_, ok := c.nodes[dest]
	c.mu.Unlock()
	if !ok {
		return nil, Path{}, fmt.Errorf("%s is not an active node with an address", dest)
	}
	return c.rpc(ctx, dest, method, params)
}

// Direct sends one storage request straight to node dest, without onion
// routing: the node learns who asks. Benchmarks use it as the floor.
func (c *Client) Direct(ctx context.Context, dest, method string, params any) (*storagerpc.Response, error) {
	if err := c.refresh(ctx, false); err != nil {
		return nil, err
	}
	pid, err := peerOf(dest)
	if err != nil {
		return nil, err
	}
	return storagerpc.Call(ctx, c.host, pid, storagerpc.ProtocolStorage, method, params)
}

// swarmFor returns the members of the swarm that owns id.
func (c *Client) swarmFor(id identity.AccountID) (uint64, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sid := chain.SwarmFor(c.swarmIDs, id.SwarmSpace())
	return sid, slices.Clone(c.members[sid])
}

// toSwarm calls method on a member of id's swarm, trying members in random
// order when one does not answer (a stopped node stays in its swarm until
// the network notices), and following 421s to the swarm a node names.
func (c *Client) toSwarm(ctx context.Context, id identity.AccountID, method string, params func() any) (*storagerpc.Response, Path, error) {
	return c.toSwarmAt(ctx, id, method, func(string) any { return params() })
}

// toSwarmAt is toSwarm with parameters made for the member asked (dest,
// its Ed25519 key): a retrieve names the last hash that member gave.
func (c *Client) toSwarmAt(ctx context.Context, id identity.AccountID, method string, params func(dest string) any) (*storagerpc.Response, Path, error) {
	if err := c.refresh(ctx, false); err != nil {
		return nil, Path{}, err
	}
	_, members := c.swarmFor(id)
	var lastErr error
	redirects := 0
	for tries := 0; tries < 6 && len(members) > 0; tries++ {
		i := randInt(len(members))
		dest := members[i]
		members = append(members[:i], members[i+1:]...)
		resp, path, err := c.rpc(ctx, dest, method, params(dest))
		if err != nil {
			lastErr = err
			continue
		}
		if resp.Code != storagerpc.StatusMisdirected {
			return resp, path, nil
		}
		if redirects++; redirects > 2 {
			break
		}
		// The node knows better: retry in the swarm it names.
		var sw storagerpc.SwarmResult
		if err := json.Unmarshal(resp.Body, &sw); err != nil {
			lastErr = fmt.Errorf("%w: a 421 without a swarm", ErrUnreachable)
			break
		}
		if err := c.refresh(ctx, true); err != nil {
			lastErr = err
			break
		}
		members = nil
		c.mu.Lock()
		for _, sn := range sw.SNodes {
			if _, ok := c.nodes[sn.PubkeyEd25519]; ok {
				members = append(members, sn.PubkeyEd25519)
			}
		}
		c.mu.Unlock()
	}
	if lastErr != nil {
		return nil, Path{}, lastErr
	}
	if len(members) == 0 {
		return nil, Path{}, ErrNoNodes
	}
	return nil, Path{}, fmt.Errorf("%w: no swarm took the request for %s", ErrUnreachable, id)
}

// Content is the plaintext of a message between accounts.
type Content struct {
	Text   string `json:"text"`
	SentAt int64  `json:"sent_at"` // unix ms
	// Kind marks messages that are not text ("group_invite"); Data is theirs.
	Kind string          `json:"kind,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
	// Attachments are files on a file server, with their keys.
	Attachments []Attachment `json:"attachments,omitempty"`
}

// SendResult is what Send did.
type SendResult struct {
	Hash  string `json:"hash"`
	To    string `json:"to"`
	Swarm string `json:"swarm"`
	Path  Path   `json:"path"`
	// Stored counts the swarm members that stored the message.
	Stored int `json:"stored"`
}

// Send encrypts text for to and stores it in to's swarm, namespace 0.
func (c *Client) Send(ctx context.Context, to identity.AccountID, text string) (*SendResult, error) {
	return c.SendContent(ctx, to, Content{Text: text})
}

// Call sends one storage request to the swarm that owns account, through
// the onion path; params is called for each attempt (signatures must be
// fresh). Closed groups use it.
func (c *Client) Call(ctx context.Context, account identity.AccountID, method string, params func() any) (*storagerpc.Response, error) {
	resp, _, err := c.toSwarm(ctx, account, method, params)
	return resp, err
}

// CallAt is Call with parameters made for the swarm member asked (its
// Ed25519 key), which it also returns: a retrieve names the last hash that
// member gave, since every member orders and holds messages its own way.
func (c *Client) CallAt(ctx context.Context, account identity.AccountID, method string, params func(dest string) any) (*storagerpc.Response, string, error) {
	resp, path, err := c.toSwarmAt(ctx, account, method, params)
	return resp, path.Destination, err
}

// Keys returns the client's account keys.
func (c *Client) Keys() *identity.Keys { return c.cfg.Keys }

// SendContent encrypts content for to and stores it in to's swarm.
func (c *Client) SendContent(ctx context.Context, to identity.AccountID, content Content) (*SendResult, error) {
	if to.Prefix != identity.PrefixSession {
		return nil, fmt.Errorf("send: %s is not a Session account (05)", to)
	}
	content.SentAt = c.cfg.Now().UnixMilli()
	plain, err := json.Marshal(content)
	if err != nil {
		return nil, err
	}
	data, err := Encrypt(c.cfg.Keys, to.Key, plain, rand.Reader)
	if err != nil {
		return nil, err
	}
	if len(data) > storagerpc.MaxDataSize {
		return nil, fmt.Errorf("send: the message is %d bytes encrypted, the limit is %d", len(data), storagerpc.MaxDataSize)
	}
	params := func() any {
		return storagerpc.StoreParams{Pubkey: to.String(), Timestamp: c.cfg.Now().UnixMilli(), TTL: c.cfg.TTL.Milliseconds(),
			Data: base64.StdEncoding.EncodeToString(data)}
	}
	resp, path, err := c.toSwarm(ctx, to, "store", params)
	if err != nil {
		return nil, err
	}
	var res storagerpc.SwarmResults
	if err := resp.Decode(&res); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	out := &SendResult{Hash: res.Hash, To: to.String(), Path: path}
	sid, _ := c.swarmFor(to)
	out.Swarm = fmt.Sprintf("%016x", sid)
	for _, r := range res.Swarm {
		if !r.Failed {
			out.Stored++
		}
	}
	c.log.Info().Str("hash", res.Hash).Str("to", to.String()[:10]).Int("stored", out.Stored).Msg("message sent")
	return out, nil
}

// Message is a received message.
type Message struct {
	Hash        string          `json:"hash"`
	From        string          `json:"from"` // the sender's Account ID
	Text        string          `json:"text"`
	Timestamp   int64           `json:"timestamp"`  // when the swarm stored it, unix ms
	Expiration  int64           `json:"expiration"` // unix ms
	SentAt      int64           `json:"sent_at,omitempty"`
	Kind        string          `json:"kind,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"`
	Attachments []Attachment    `json:"attachments,omitempty"`
}

// Rejected is a stored message that failed decryption or its signature.
type Rejected struct {
	Hash   string `json:"hash"`
	Reason string `json:"reason"`
}

// Fetch retrieves the messages that arrived since the last Fetch, checks
// each one's encryption and signature, drops the ones already seen, and
// marks them read. A caller that must deliver them first (print, save)
// uses FetchPending and commits after.
func (c *Client) Fetch(ctx context.Context) ([]Message, []Rejected, error) {
	f, err := c.FetchPending(ctx)
	if err != nil {
		return nil, nil, err
	}
	return f.Messages, f.Rejected, f.Commit()
}

// Fetched is what FetchPending found: messages not yet marked read. Until
// Commit or Abort, the client's state is locked (in this process and, with
// a StatePath, in every other), so two fetches never return one message
// twice.
type Fetched struct {
	Messages []Message
	Rejected []Rejected

	c       *Client
	st      *state // the state as it will be once committed
	release func()
	done    bool
}

// Commit marks the messages read: a later fetch does not return them.
func (f *Fetched) Commit() error {
	if f.done {
		return nil
	}
	f.done = true
	defer f.release()
	if err := f.st.save(f.c.cfg.StatePath); err != nil {
		return fmt.Errorf("save client state: %w", err)
	}
	f.c.mu.Lock()
	f.c.state = f.st
	f.c.mu.Unlock()
	return nil
}

// Abort leaves the messages unread: the next fetch returns them again.
func (f *Fetched) Abort() {
	if !f.done {
		f.done = true
		f.release()
	}
}

// FetchPending retrieves new messages from one member of the account's
// swarm, after the last hash that member gave (each member orders and
// holds messages its own way, so the last hash is kept per member and per
// namespace), checks them and drops those already seen. Nothing is marked
// read until Commit.
func (c *Client) FetchPending(ctx context.Context) (*Fetched, error) {
	release, err := c.lockState(ctx)
	if err != nil {
		return nil, err
	}
	st, err := loadState(c.cfg.StatePath)
	if err != nil {
		release()
		return nil, err
	}
	if c.cfg.StatePath == "" {
		c.mu.Lock()
		st = c.state.clone()
		c.mu.Unlock()
	}
	f := &Fetched{c: c, st: st, release: release}
	me := c.AccountID()
	dest := ""
	for page := 0; page < 100; page++ {
		params := func(d string) any {
			ts := c.cfg.Now().UnixMilli()
			return storagerpc.RetrieveParams{Pubkey: me.String(), LastHash: st.lastHash(d, 0), Timestamp: ts,
				Auth: storagerpc.SignAuth(c.cfg.Keys.Ed25519, me, storagerpc.RetrieveSigMsg(0, ts))}
		}
		if dest != "" {
			// Later pages go on at the member that gave the first.
			params0 := params
			params = func(string) any { return params0(dest) }
		}
		var resp *storagerpc.Response
		var at string
		if dest == "" {
			resp, at, err = c.CallAt(ctx, me, "retrieve", params)
		} else {
			resp, _, err = c.RPC(ctx, dest, "retrieve", params(dest))
			at = dest
		}
		if err != nil {
			f.Abort()
			return nil, err
		}
		dest = at
		var res storagerpc.RetrieveResult
		if err := resp.Decode(&res); err != nil {
			f.Abort()
			return nil, fmt.Errorf("retrieve: %w", err)
		}
		for _, m := range res.Messages {
			st.setLastHash(dest, 0, m.Hash)
			if st.seen(m.Hash) {
				continue
			}
			st.remember(m.Hash)
			got, why := c.open(m)
			if why != "" {
				f.Rejected = append(f.Rejected, Rejected{Hash: m.Hash, Reason: why})
				continue
			}
			f.Messages = append(f.Messages, got)
		}
		if !res.More || len(res.Messages) == 0 {
			break
		}
	}
	for _, r := range f.Rejected {
		c.log.Warn().Str("hash", r.Hash).Str("reason", r.Reason).Msg("message rejected")
	}
	return f, nil
}

// lockState locks the client's state against other fetches: in this
// process, and with a StatePath, in other processes (flock on a .lock file
// beside it). It waits until ctx ends.
func (c *Client) lockState(ctx context.Context) (func(), error) {
	select {
	case c.fetching <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	unlock := func() { <-c.fetching }
	if c.cfg.StatePath == "" {
		return unlock, nil
	}
	fl, err := lockFile(ctx, c.cfg.StatePath+".lock")
	if err != nil {
		unlock()
		return nil, fmt.Errorf("lock client state: %w", err)
	}
	return func() { fl(); unlock() }, nil
}

func (c *Client) open(m storagerpc.Message) (Message, string) {
	data, err := base64.StdEncoding.DecodeString(m.Data)
	if err != nil {
		return Message{}, "data is not base64"
	}
	plain, senderEd, err := Decrypt(c.cfg.Keys, data)
	if err != nil {
		return Message{}, err.Error()
	}
	from, err := SenderID(senderEd)
	if err != nil {
		return Message{}, "the sender's key is not valid"
	}
	var content Content
	if err := json.Unmarshal(plain, &content); err != nil {
		return Message{}, "the content is not a message"
	}
	return Message{Hash: m.Hash, From: from.String(), Text: content.Text, Timestamp: m.Timestamp, Expiration: m.Expiration,
		SentAt: content.SentAt, Kind: content.Kind, Data: content.Data, Attachments: content.Attachments}, ""
}

// state is what a client remembers between fetches.
type state struct {
	// LastHashes: member's Ed25519 key -> namespace -> the last hash that
	// member gave. (Older clients kept one "last_hash" for the whole swarm,
	// which loses messages: it is ignored, and Seen keeps what was read.)
	LastHashes map[string]map[string]string `json:"last_hashes"`
	Seen       []string                     `json:"seen"` // recent hashes, oldest first
	seenSet    map[string]bool
}

const maxSeen = 10_000

func loadState(path string) (*state, error) {
	st := &state{}
	if path != "" {
		data, err := os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("read client state: %w", err)
		default:
			if err := json.Unmarshal(data, st); err != nil {
				return nil, fmt.Errorf("client state %s is damaged: %w", path, err)
			}
		}
	}
	if st.LastHashes == nil {
		st.LastHashes = map[string]map[string]string{}
	}
	if len(st.Seen) > maxSeen {
		st.Seen = st.Seen[len(st.Seen)-maxSeen:]
	}
	st.seenSet = map[string]bool{}
	for _, h := range st.Seen {
		st.seenSet[h] = true
	}
	return st, nil
}

func (s *state) clone() *state {
	out := &state{LastHashes: map[string]map[string]string{}, Seen: slices.Clone(s.Seen), seenSet: maps.Clone(s.seenSet)}
	for k, m := range s.LastHashes {
		out.LastHashes[k] = maps.Clone(m)
	}
	return out
}

func (s *state) lastHash(node string, ns storagerpc.Namespace) string {
	return s.LastHashes[node][strconv.Itoa(int(ns))]
}

func (s *state) setLastHash(node string, ns storagerpc.Namespace, h string) {
	m := s.LastHashes[node]
	if m == nil {
		m = map[string]string{}
		s.LastHashes[node] = m
	}
	m[strconv.Itoa(int(ns))] = h
}

func (s *state) seen(h string) bool { return s.seenSet[h] }

func (s *state) remember(h string) {
	s.seenSet[h] = true
	s.Seen = append(s.Seen, h)
	if len(s.Seen) > maxSeen {
		delete(s.seenSet, s.Seen[0])
		s.Seen = s.Seen[1:]
	}
}

func (s *state) save(path string) error {
	if path == "" {
		return nil
	}
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}
