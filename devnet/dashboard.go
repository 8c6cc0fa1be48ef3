package devnet

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/group"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/httpserve"
	"github.com/sessionctl/sessionctl/node"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// The dashboard: a live page of the devnet, for a projector in a workshop
// and for a developer debugging. It is served by the control endpoint's
// server (127.0.0.1) under a path holding a secret derived from the control
// token (so the URL is in the 0600 manifest, and another local user cannot
// open or drive it):
//
//	GET  /dash/{secret}/                      the page (embedded; no CDN, no build step)
//	GET  /dash/{secret}/state                 a snapshot: nodes, swarms, accounts, groups, rooms, the round, blocks
//	GET  /dash/{secret}/events                server-sent events: onion hops, stores, blocks, node changes, log lines
//	POST /dash/{secret}/nodes/{name}/kill     as the control endpoint's
//	POST /dash/{secret}/nodes/{name}/restart  as the control endpoint's
//	POST /dash/{secret}/mine                  make a block
//
// The page draws the ring of swarm space on a canvas (2,000 dots stay
// smooth), refetches the snapshot at most once a second, and animates each
// onion request from hop to hop as the nodes report them.

//go:embed dashboard/index.html
var dashboardPage []byte

// dashboardSecret is the dashboard's path secret for a control token.
func dashboardSecret(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("sessionctl dashboard"))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// Bounds of the event hub.
const (
	maxWatchers   = 16   // pages open at once
	watcherBuffer = 1024 // events queued for a page before it misses some
	logLinesPerS  = 200  // log lines a second sent to pages (the rest are counted as missed)
)

// Events fans the devnet's events out to the open dashboard pages, and is
// a log writer (give it to the loggers with zerolog.MultiLevelWriter, so
// that the page's log pane has the lines). Publishing never blocks: a page
// that falls behind misses events (counted), and with no page open an event
// costs nothing but a check.
type Events struct {
	mu       sync.Mutex
	watchers map[chan []byte]struct{}
	closed   chan struct{}
	once     sync.Once
	missed   atomic.Uint64
	// changes counts the events that change what the state shows (a
	// node killed, restarted or exited; a block), watched or not.
	changes atomic.Uint64
	// the log lines' budget: logLinesPerS a second
	logMu     sync.Mutex
	logSecond int64
	logCount  int
}

// NewEvents returns the hub of a devnet's events (UpConfig.Events).
func NewEvents() *Events {
	return &Events{watchers: map[chan []byte]struct{}{}, closed: make(chan struct{})}
}

func (h *Events) watched() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.watchers) > 0
}

func (h *Events) publish(ev any) {
	if m, ok := ev.(map[string]any); ok && (m["t"] == "node" || m["t"] == "block") {
		h.changes.Add(1)
	}
	if !h.watched() {
		return
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	h.send(b)
}

func (h *Events) send(b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.watchers {
		select {
		case ch <- b:
		default:
			h.missed.Add(1)
		}
	}
}

func (h *Events) watch() (chan []byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.watchers) >= maxWatchers {
		return nil, fmt.Errorf("%d dashboard pages are open already", maxWatchers)
	}
	ch := make(chan []byte, watcherBuffer)
	h.watchers[ch] = struct{}{}
	return ch, nil
}

func (h *Events) unwatch(ch chan []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.watchers, ch)
}

func (h *Events) close() { h.once.Do(func() { close(h.closed) }) }

// Write takes one log line (zerolog writes one JSON object a call) and
// sends it to the pages, within the lines' budget. It is a log writer: it
// never fails.
func (h *Events) Write(p []byte) (int, error) {
	if !h.watched() || !json.Valid(p) {
		return len(p), nil
	}
	now := time.Now().Unix()
	h.logMu.Lock()
	if now != h.logSecond {
		h.logSecond, h.logCount = now, 0
	}
	h.logCount++
	over := h.logCount > logLinesPerS
	h.logMu.Unlock()
	if over {
		h.missed.Add(1)
		return len(p), nil
	}
	b := make([]byte, 0, len(p)+16)
	b = append(b, `{"t":"log","line":`...)
	b = append(b, strings.TrimSpace(string(p))...)
	b = append(b, '}')
	h.send(b)
	return len(p), nil
}

// dashboard is the devnet's dashboard: names for keys and peer IDs, and the hub.
type dashboard struct {
	d      *Devnet
	hub    *Events
	secret string
	byKey  map[string]string // Ed25519 key -> node name
	byPeer map[peer.ID]string
	// the last snapshot (JSON), when it was begun, and the hub's count of
	// state changes then
	snapMu  sync.Mutex
	snap    []byte
	snapAt  time.Time
	snapGen uint64
}

func newDashboard(d *Devnet, h *Events) *dashboard {
	db := &dashboard{d: d, hub: h, secret: dashboardSecret(d.token), byKey: map[string]string{}, byPeer: map[peer.ID]string{}}
	for i := 0; i < d.st.Nodes; i++ {
		k := d.Network.NodeKey(i)
		db.byKey[k] = NodeName(i)
		if pid, err := storagerpc.PeerIDFromEd25519(k); err == nil {
			db.byPeer[pid] = NodeName(i)
		}
	}
	return db
}

// url is the page's address on the control server.
func (db *dashboard) url(base string) string { return base + "/dash/" + db.secret + "/" }

func (db *dashboard) name(key string) string {
	if n, ok := db.byKey[key]; ok {
		return n
	}
	if len(key) > 8 {
		return key[:8]
	}
	return key
}

// hop and store are the node hooks (see Network's OnHop and OnStore).
func (db *dashboard) hop(i int, h node.OnionHop) {
	from, ok := db.byPeer[h.From]
	if !ok {
		from = "client"
	}
	db.hub.publish(map[string]any{"t": "hop", "node": NodeName(i), "hop": h.Hop, "from": from, "next": db.name(h.Next),
		"dest": h.Destination, "server": h.HTTPHost, "at": time.Now().UnixMilli()})
}

func (db *dashboard) store(i int, e node.StoreEvent) {
	db.hub.publish(map[string]any{"t": "store", "node": NodeName(i), "hash": e.Hash, "owner": e.Owner, "ns": e.Namespace, "replica": e.Replica})
}

// follow publishes each new block until ctx ends.
func (db *dashboard) follow(ctx context.Context) {
	h := db.d.Network.Ledger.Info().Height
	for {
		info, err := db.d.Network.Ledger.WaitHeight(ctx, h+1)
		if err != nil {
			return
		}
		h = info.Height
		db.hub.publish(map[string]any{"t": "block", "height": h, "hash": info.Hash, "active": info.ActiveNodes, "swarms": info.Swarms})
	}
}

func (db *dashboard) routes(mux *http.ServeMux, c *controlServer) {
	p := "/dash/{secret}/"
	mux.HandleFunc("GET "+p+"{$}", db.guard(db.page))
	mux.HandleFunc("GET "+p+"state", db.guard(db.state))
	mux.HandleFunc("GET "+p+"events", db.guard(db.events))
	mux.HandleFunc("POST "+p+"nodes/{name}/kill", db.guard(c.kill))
	mux.HandleFunc("POST "+p+"nodes/{name}/restart", db.guard(c.restart))
	mux.HandleFunc("POST "+p+"mine", db.guard(db.mine))
}

// guard checks the path's secret, and for a state change that the request
// comes from the page itself (same origin), not from another site the
// browser has open.
func (db *dashboard) guard(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.PathValue("secret")), []byte(db.secret)) != 1 {
			httpserve.WriteError(w, http.StatusNotFound, "no such page; the dashboard's address is in devnet.json")
			return
		}
		if r.Method != http.MethodGet {
			if o := r.Header.Get("Origin"); o != "" {
				if u, err := url.Parse(o); err != nil || u.Host != r.Host {
					httpserve.WriteError(w, http.StatusForbidden, "the dashboard takes changes from its own page only")
					return
				}
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h(w, r)
	}
}

func (db *dashboard) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:")
	w.Write(dashboardPage)
}

func (db *dashboard) mine(w http.ResponseWriter, r *http.Request) {
	blocks, err := db.d.Network.Ledger.Mine(r.Context(), 1)
	if err != nil {
		httpserve.WriteError(w, http.StatusInternalServerError, err.Error())
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, map[string]uint64{"height": blocks[len(blocks)-1].Height})
}

// events streams the hub's events to one page until it goes or the devnet stops.
func (db *dashboard) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		httpserve.WriteError(w, http.StatusInternalServerError, "streaming is not supported here")
		return
	}
	told := db.hub.missed.Load() // events missed before this page watched are none of its business
	ch, err := db.hub.watch()
	if err != nil {
		httpserve.WriteError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	defer db.hub.unwatch(ch)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": sessionctl devnet events\n\n")
	fl.Flush()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-db.hub.closed:
			return
		case b := <-ch:
			fmt.Fprintf(w, "data: %s\n\n", b)
			// Whatever else is queued goes in the same write.
			for more := true; more; {
				select {
				case b := <-ch:
					fmt.Fprintf(w, "data: %s\n\n", b)
				default:
					more = false
				}
			}
			// Events were dropped since the page was last told (a page
			// that fell behind, on a loaded machine): it reloads the
			// state rather than wait for the next event that would.
			if m := db.hub.missed.Load(); m != told {
				told = m
				fmt.Fprintf(w, "data: {\"t\":\"missed\",\"missed\":%d}\n\n", m)
			}
			fl.Flush()
		case <-ping.C:
			fmt.Fprintf(w, "data: {\"t\":\"ping\",\"missed\":%d}\n\n", db.hub.missed.Load())
			fl.Flush()
		}
	}
}

// dashState is the snapshot the page draws from.
type dashState struct {
	Seed     string           `json:"seed"`
	Height   uint64           `json:"height"`
	Hash     string           `json:"hash"`
	BlockMS  int64            `json:"block_time_ms"`
	Nodes    []dashNode       `json:"nodes"`
	Swarms   []dashSwarm      `json:"swarms"`
	Accounts []dashAccount    `json:"accounts"`
	Groups   []dashGroup      `json:"groups"`
	Rooms    any              `json:"rooms"`
	Round    *dashRound       `json:"round,omitempty"`
	Blocks   []dashBlock      `json:"blocks"`
	Params   chain.Params     `json:"params"`
	Servers  []ManifestServer `json:"servers"`
	Edge     []EdgeCount      `json:"edge"` // the client edge's requests by endpoint
}

type dashNode struct {
	Name    string `json:"name"`
	Key     string `json:"key"`
	Swarm   string `json:"swarm"` // hex, "" when none
	State   string `json:"state"`
	Running bool   `json:"running"`
	Credit  uint64 `json:"credit"`
	Stake   uint64 `json:"stake"`
	Rewards uint64 `json:"rewards"`
}

type dashSwarm struct {
	ID      string   `json:"id"` // 16 hex digits: its place on the ring
	Members []string `json:"members"`
}

type dashAccount struct {
	Name  string `json:"name"`
	ID    string `json:"id"`
	Space string `json:"space"` // the swarm space value, 16 hex digits
	Swarm string `json:"swarm"`
}

type dashGroup struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Space      string         `json:"space"`
	Generation int64          `json:"generation"`
	Members    []group.Member `json:"members"`
	Revoked    int            `json:"revoked"`
}

type dashRound struct {
	Round   uint64         `json:"round"`
	Phase   string         `json:"phase"`
	Commits int            `json:"commits"`
	Reveals int            `json:"reveals"`
	Quorums [][2]int       `json:"quorums"` // members, targets
	Votes   int            `json:"votes"`
	Shown   []chain.Vote   `json:"votes_shown"` // every vote, newest first, or the failing ones past maxShownVotes
	Changes []chain.Change `json:"changes"`
}

// maxShownVotes bounds the votes a snapshot lists.
const maxShownVotes = 200

type dashBlock struct {
	Height uint64 `json:"height"`
	Hash   string `json:"hash"`
	Txs    int    `json:"txs"`
	Time   int64  `json:"time"`
}

// state answers the snapshot, made at most once a second whatever the
// number of pages asking (a 2,000-node devnet keeps both cores busy, and
// each snapshot copies every node).
func (db *dashboard) state(w http.ResponseWriter, r *http.Request) {
	db.d.viewer.seen() // a page is open (WaitViewer)
	db.snapMu.Lock()
	defer db.snapMu.Unlock()
	// A snapshot serves for a second, unless the state changed since it
	// was begun: a page that reloads on a node's event must see it (it
	// is told once; with blocks on demand nothing tells it again).
	gen := db.hub.changes.Load()
	if db.snap == nil || gen != db.snapGen || time.Since(db.snapAt) > time.Second {
		began := time.Now()
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		st := db.snapshot(ctx)
		cancel()
		b, err := json.Marshal(st)
		if err != nil {
			httpserve.WriteError(w, http.StatusInternalServerError, err.Error())
			return
		}
		db.snap, db.snapAt, db.snapGen = b, began, gen
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(db.snap)
}

func (db *dashboard) snapshot(ctx context.Context) dashState {
	l := db.d.Network.Ledger
	info := l.Info()
	st := dashState{Seed: db.d.st.Seed, Height: info.Height, Hash: info.Hash, BlockMS: info.BlockTimeMS, Params: info.Params,
		Nodes: []dashNode{}, Swarms: []dashSwarm{}, Accounts: []dashAccount{}, Groups: []dashGroup{}, Blocks: []dashBlock{}}
	// One copy of the node list (one lock of the ledger), not one a node:
	// at 2,000 nodes under load, 2,000 lookups took half a minute.
	byKey := map[string]chain.ServiceNode{}
	for _, sn := range l.Nodes() {
		byKey[sn.Key] = sn
	}
	for i := 0; i < db.d.st.Nodes; i++ {
		dn := dashNode{Name: NodeName(i), Key: db.d.Network.NodeKey(i), State: "unregistered"}
		dn.Running = db.d.Network.Running(i)
		if sn, ok := byKey[dn.Key]; ok {
			dn.State, dn.Credit, dn.Rewards, dn.Stake = string(sn.State), sn.Credit, sn.Rewards, sn.Staked()
			if sn.SwarmID != chain.UnassignedSwarm {
				dn.Swarm = fmt.Sprintf("%016x", sn.SwarmID)
			}
		}
		st.Nodes = append(st.Nodes, dn)
	}
	for _, s := range l.Swarms() {
		ds := dashSwarm{ID: fmt.Sprintf("%016x", s.ID), Members: []string{}}
		for _, k := range s.Members {
			ds.Members = append(ds.Members, db.name(k))
		}
		st.Swarms = append(st.Swarms, ds)
	}
	for _, name := range db.d.st.Clients {
		id := ClientKeys(db.d.st.Seed, name).AccountID()
		st.Accounts = append(st.Accounts, db.account(name, id))
	}
	st.Groups = db.groups()
	if db.d.Network.Community != nil {
		if rooms, err := db.d.Network.Community.Rooms(ctx); err == nil {
			st.Rooms = rooms
		}
	}
	if rd, ok := l.RoundAt(info.Height); ok {
		dr := &dashRound{Round: rd.Round, Phase: info.Params.RoundPhase(info.Height), Commits: len(rd.Commits), Reveals: len(rd.Reveals),
			Votes: len(rd.Votes), Quorums: [][2]int{}, Shown: []chain.Vote{}, Changes: rd.Changes}
		for _, q := range rd.Quorums {
			dr.Quorums = append(dr.Quorums, [2]int{len(q.Members), len(q.Targets)})
		}
		// Every vote while there are few (a small devnet: each one is
		// shown); the newest failing ones when there are thousands.
		all := len(rd.Votes) <= maxShownVotes
		for i := len(rd.Votes) - 1; i >= 0 && len(dr.Shown) < maxShownVotes; i-- {
			if v := rd.Votes[i]; all || !v.Pass {
				v.Voter, v.Target = db.name(v.Voter), db.name(v.Target)
				dr.Shown = append(dr.Shown, v)
			}
		}
		for i := range dr.Changes {
			dr.Changes[i].Target = db.name(dr.Changes[i].Target)
		}
		if dr.Changes == nil {
			dr.Changes = []chain.Change{}
		}
		st.Round = dr
	}
	for h := info.Height; h > 0 && info.Height-h < 8; h-- {
		b, err := l.Block(ctx, h)
		if err != nil {
			break
		}
		st.Blocks = append(st.Blocks, dashBlock{Height: b.Height, Hash: b.Hash, Txs: len(b.Txs), Time: b.Timestamp})
	}
	st.Servers = db.d.servers()
	st.Edge = db.d.edges.list()
	return st
}

func (db *dashboard) account(name string, id identity.AccountID) dashAccount {
	return dashAccount{Name: name, ID: id.String(), Space: fmt.Sprintf("%016x", id.SwarmSpace()),
		Swarm: fmt.Sprintf("%016x", db.d.Network.Ledger.SwarmOf(id).ID)}
}

// groups are the groups the devnet's identities are in, as the group
// commands keep them under --dir; an admin's view wins (it knows the
// revoked tokens).
func (db *dashboard) groups() []dashGroup {
	st := &group.Store{Dir: db.d.cfg.Dir + "/groups"}
	seen := map[string]int{}
	out := []dashGroup{}
	for _, name := range db.d.st.Clients {
		me := ClientKeys(db.d.st.Seed, name).AccountID().String()
		gs, err := st.List(name, me)
		if err != nil {
			continue
		}
		for _, e := range gs {
			g := e.Group
			id, err := identity.ParseAccountID(g.ID)
			if err != nil || e.Old {
				continue
			}
			dg := dashGroup{ID: g.ID, Name: g.Name, Space: fmt.Sprintf("%016x", id.SwarmSpace()), Generation: g.Generation,
				Members: g.MemberList(), Revoked: len(g.Revoked)}
			if j, ok := seen[g.ID]; ok {
				if g.Seed != "" && dg.Revoked >= out[j].Revoked {
					out[j] = dg
				}
				continue
			}
			seen[g.ID] = len(out)
			out = append(out, dg)
			if len(out) >= 50 {
				return out
			}
		}
	}
	return out
}
