package devnet

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/node"
)

// The onion requests the dashboard shows. Each node reports what it saw
// of a request (node.OnionHop: its place on the path, who handed it over,
// where it went); the dashboard puts a request's hops together, and at
// its last hop says what kind of request it was from what the destination
// read: a store (for whom), a fetch, a path test (an empty request: "path
// built"), another storage method, or a request an exit forwarded to a
// server. The nodes cannot tell a message sent from its sender's copy for
// its other devices (both are stores): the client can. So a send is
// reported by whoever sent it (the traffic loop, and `send` through the
// control endpoint: POST /v1/sent) with its hashes and the path it
// printed, and the requests that stored those hashes are tagged "send" and
// "sync copy".

// The kinds of onion requests.
const (
	ReqSend     = "send"      // a message, to its recipient's swarm
	ReqSyncCopy = "sync copy" // the sender's copy of it, for its other devices
	ReqStore    = "store"     // any other store
	ReqFetch    = "fetch"     // a retrieve
	ReqPathTest = "path test" // an empty request a client tests a new path with
	ReqServer   = "server"    // forwarded by the exit to a server over HTTP
)

// dashHop is one node of a request's path and its role on it.
type dashHop struct {
	Node string `json:"node"`
	Role string `json:"role"` // guard, middle, exit, destination
}

// dashRequest is one onion request as the dashboard shows it.
type dashRequest struct {
	ID     uint64    `json:"id"`
	At     int64     `json:"at"` // unix ms, its first hop
	Kind   string    `json:"kind"`
	Method string    `json:"method,omitempty"` // the storage method, for a kind it has no name of its own
	Hops   []dashHop `json:"hops"`
	Owner  string    `json:"owner,omitempty"` // the account stored for or fetched, by name
	Hash   string    `json:"hash,omitempty"`  // what a store stored
	Server string    `json:"server,omitempty"`
	// Replicas are the other members of the swarm that stored it.
	Replicas []string `json:"replicas,omitempty"`

	// the key of the node the last hop forwarded to (a pending request)
	next string
	done bool
}

// dashSend is a message sent, with the path `send` printed.
type dashSend struct {
	At   int64  `json:"at"`
	From string `json:"from"`
	To   string `json:"to"`
	Hash string `json:"hash"`
	// Path is the send's own onion request: guard, middle, exit, destination.
	Path   []dashHop `json:"path"`
	Swarm  string    `json:"swarm_id"`
	Stored int       `json:"stored"`
	// Request and SyncRequest are the IDs of the onion requests that
	// carried it and the sender's copy (0: not seen, as with nodes in
	// their own processes).
	Request     uint64 `json:"request,omitempty"`
	SyncHash    string `json:"sync_hash,omitempty"`
	SyncRequest uint64 `json:"sync_request,omitempty"`
}

// Bounds of the requests kept.
const (
	maxPendingRequests = 256 // requests on their way (one that fails midway is dropped past this, or after pendingFor)
	maxRecentRequests  = 64  // requests done, for a send reported after them to find its own
	pendingFor         = 30 * time.Second
)

// requests puts the nodes' hops together into requests.
type requests struct {
	mu      sync.Mutex
	nextID  uint64
	pending []*dashRequest
	recent  []*dashRequest // done, oldest first
	last    *dashSend      // the last send reported
}

// hop takes what node name saw of a request (from: the name of the node
// that handed it over, "" from a client), and returns the request once its
// last hop is in.
func (rs *requests) hop(name, from string, h node.OnionHop, now time.Time) *dashRequest {
	return rs.hopNamed(name, from, h, now, nil)
}

// hopNamed is hop with the done request's owner and server named by
// rename, under the lock; what it returns is a copy (the pages' JSON is
// made while other hops change the original).
func (rs *requests) hopNamed(name, from string, h node.OnionHop, now time.Time, rename func(*dashRequest)) *dashRequest {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var r *dashRequest
	if h.Hop == 1 {
		rs.nextID++
		r = &dashRequest{ID: rs.nextID, At: now.UnixMilli()}
		rs.pending = append(rs.pending, r)
		if len(rs.pending) > maxPendingRequests {
			rs.pending = slices.Delete(rs.pending, 0, len(rs.pending)-maxPendingRequests)
		}
	} else {
		// the newest request whose last hop handed it to this node
		for i := len(rs.pending) - 1; i >= 0; i-- {
			p := rs.pending[i]
			if len(p.Hops) == h.Hop-1 && p.Hops[len(p.Hops)-1].Node == from && p.next == h.Node {
				r = p
				break
			}
		}
		if r == nil {
			return nil // its first hops were not seen (a node in its own process)
		}
	}
	role := [...]string{"guard", "middle", "exit"}[min(h.Hop, 3)-1]
	r.Hops = append(r.Hops, dashHop{Node: name, Role: role})
	r.next = h.Next
	switch {
	case h.Destination:
		r.Hops[len(r.Hops)-1].Role = "destination" // in a path test, the exit is
		r.Kind, r.Method, r.Owner = classify(h.Seen)
	case h.HTTPHost != "":
		r.Kind, r.Server = ReqServer, h.HTTPHost
	default:
		return nil
	}
	r.done = true
	rs.pending = slices.DeleteFunc(rs.pending, func(p *dashRequest) bool {
		return p == r || now.UnixMilli()-p.At > pendingFor.Milliseconds()
	})
	rs.recent = append(rs.recent, r)
	if len(rs.recent) > maxRecentRequests {
		rs.recent = slices.Delete(rs.recent, 0, len(rs.recent)-maxRecentRequests)
	}
	if rename != nil {
		rename(r)
	}
	return r.clone()
}

// clone copies r, its slices too.
func (r *dashRequest) clone() *dashRequest {
	c := *r
	c.Hops, c.Replicas = slices.Clone(r.Hops), slices.Clone(r.Replicas)
	return &c
}

// classify says what a destination read: the kind of request, the
// storage method, and the account (Account ID) it is for.
func classify(body []byte) (kind, method, owner string) {
	if len(body) == 0 {
		return ReqPathTest, "", ""
	}
	var req struct {
		Method string `json:"method"`
		Params struct {
			Pubkey string `json:"pubkey"`
		} `json:"params"`
	}
	if json.Unmarshal(body, &req) != nil {
		return "unreadable", "", ""
	}
	switch req.Method {
	case "store":
		return ReqStore, "", req.Params.Pubkey
	case "retrieve":
		return ReqFetch, "", req.Params.Pubkey
	}
	return display.Escape(short(req.Method, 40)), req.Method, req.Params.Pubkey
}

// stored notes that node name stored hash for owner as a request's
// destination (not as a replica) or as a replica: the request is the
// newest done one that stored for owner at that node, or whose
// destination stored hash. It returns the request changed.
func (rs *requests) stored(name, owner, hash string, replica bool) *dashRequest {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for i := len(rs.recent) - 1; i >= 0; i-- {
		r := rs.recent[i]
		switch {
		case !replica && r.Hash == "" && r.Kind == ReqStore && r.Owner == owner && r.Hops[len(r.Hops)-1].Node == name:
			r.Hash = hash
			return r.clone()
		case replica && r.Hash == hash:
			if !slices.Contains(r.Replicas, name) && len(r.Replicas) < 16 {
				r.Replicas = append(r.Replicas, name)
			}
			return r.clone()
		}
	}
	return nil
}

// sent tags the requests that carried a send and its sender's copy, and
// keeps the send as the last one.
func (rs *requests) sent(s *dashSend) (tagged []*dashRequest) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, r := range slices.Backward(rs.recent) {
		switch {
		case s.Hash != "" && r.Hash == s.Hash && s.Request == 0:
			r.Kind, s.Request = ReqSend, r.ID
			tagged = append(tagged, r.clone())
		case s.SyncHash != "" && r.Hash == s.SyncHash && s.SyncRequest == 0:
			r.Kind, s.SyncRequest = ReqSyncCopy, r.ID
			tagged = append(tagged, r.clone())
		}
	}
	rs.last = s
	return tagged
}

// list is the newest requests done (up to n), newest last, and the last send.
func (rs *requests) list(n int) ([]dashRequest, *dashSend) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := make([]dashRequest, 0, n)
	for _, r := range rs.recent[max(0, len(rs.recent)-n):] {
		c := *r
		c.Hops, c.Replicas = slices.Clone(r.Hops), slices.Clone(r.Replicas)
		out = append(out, c)
	}
	var last *dashSend
	if rs.last != nil {
		c := *rs.last
		last = &c
	}
	return out, last
}

// hop and store are the node hooks (see Network's OnHop and OnStore).
func (db *dashboard) hop(i int, h node.OnionHop) {
	from := ""
	if h.From != "" {
		from = db.byPeer[h.From] // "" for a client's peer
	}
	if from == "" && h.Hop > 1 {
		return // not from a node of this devnet: nothing to put it with
	}
	r := db.reqs.hopNamed(NodeName(i), from, h, db.hub.now(), func(r *dashRequest) {
		if r.Owner != "" {
			r.Owner = db.accountName(r.Owner)
		}
		r.Server = db.serverName(r.Server)
	})
	if r != nil {
		db.hub.publish(map[string]any{"t": "request", "request": r})
	}
}

func (db *dashboard) store(i int, e node.StoreEvent) {
	if r := db.reqs.stored(NodeName(i), db.accountName(e.Owner), e.Hash, e.Replica); r != nil && e.Replica {
		db.hub.publish(map[string]any{"t": "replica", "request": r.ID, "node": NodeName(i)})
	}
	if e.Replica {
		return
	}
	owner := db.accountName(e.Owner)
	what := "a message for " + owner
	if e.Namespace != 0 {
		what = fmt.Sprintf("%s's namespace %d data", owner, e.Namespace)
	}
	db.hub.Record(TimelineEvent{Kind: TimelineStore, Nodes: []string{NodeName(i)}, Accounts: []string{owner},
		Text:  fmt.Sprintf("%s stored %s (%s…), then its swarm's other members", NodeName(i), what, short(e.Hash, 8)),
		Short: fmt.Sprintf("%s stored %s", NodeName(i), what)})
}

// serverName names the server an exit forwarded to: the devnet's file or
// community server, or the host.
func (db *dashboard) serverName(host string) string {
	if host == "" {
		return ""
	}
	for _, s := range db.d.servers() {
		if u, err := url.Parse(s.URL); err == nil && u.Host == host {
			return s.Kind + " server"
		}
	}
	return host
}

// SentReport is a message a client sent, as the client saw it: who sent
// it to whom (names of the keystore, or Account IDs), its hash and its
// sync copy's, and the path it took (Ed25519 keys). POST /v1/sent takes it.
type SentReport struct {
	From     string      `json:"from"`
	To       string      `json:"to"`
	Hash     string      `json:"hash"`
	SyncHash string      `json:"sync_hash,omitempty"`
	Swarm    string      `json:"swarm_id"`
	Stored   int         `json:"stored"`
	Path     client.Path `json:"path"`
}

// SentReportOf is res's report, sent by from.
func SentReportOf(from string, res *client.SendResult) SentReport {
	return SentReport{From: from, To: res.To, Hash: res.Hash, SyncHash: res.SyncHash, Swarm: res.Swarm, Stored: res.Stored, Path: res.Path}
}

// check refuses a report a page could not show, or that would grow what
// the dashboard keeps: names, hashes and keys are short and printable.
func (s SentReport) check() error {
	for what, v := range map[string]string{"from": s.From, "to": s.To, "hash": s.Hash, "sync_hash": s.SyncHash, "swarm_id": s.Swarm,
		"guard": s.Path.Guard, "middle": s.Path.Middle, "exit": s.Path.Exit, "destination": s.Path.Destination} {
		if len(v) > 100 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return fmt.Errorf("the report's %s is not a name, a hash or a key", what)
		}
	}
	switch {
	case s.From == "" || s.To == "" || s.Hash == "":
		return fmt.Errorf("a report names its sender, its recipient and its hash")
	case s.Stored < 0 || s.Stored > 1000:
		return fmt.Errorf("a report's stored count is 0 to 1000")
	}
	return nil
}

// sent records a send on the timeline, tags its requests, and tells the
// pages.
func (db *dashboard) sent(rep SentReport) {
	name := func(id string) string {
		if len(id) == 66 {
			return db.accountName(id)
		}
		return id
	}
	s := &dashSend{At: db.hub.now().UnixMilli(), From: name(rep.From), To: name(rep.To), Hash: rep.Hash, SyncHash: rep.SyncHash, Swarm: rep.Swarm, Stored: rep.Stored,
		Path: []dashHop{{db.name(rep.Path.Guard), "guard"}, {db.name(rep.Path.Middle), "middle"}, {db.name(rep.Path.Exit), "exit"}, {db.name(rep.Path.Destination), "destination"}}}
	tagged := db.reqs.sent(s)
	for _, r := range tagged {
		db.hub.publish(map[string]any{"t": "request", "request": r})
	}
	c := *s
	db.hub.publish(map[string]any{"t": "send", "send": &c})
	nodes := make([]string, len(s.Path))
	for i, h := range s.Path {
		nodes[i] = h.Node
	}
	db.hub.Record(TimelineEvent{Kind: TimelineSend, Nodes: nodes, Accounts: []string{s.From, s.To},
		Text: fmt.Sprintf("%s sent %s a message (%s…): you -> %s (guard) -> %s (middle) -> %s (exit) -> %s (swarm %s); stored by %s",
			s.From, s.To, short(s.Hash, 8), nodes[0], nodes[1], nodes[2], nodes[3], short(s.Swarm, 8), display.Plural(s.Stored, "node")),
		Short: fmt.Sprintf("%s to %s via %s", s.From, s.To, strings.Join(nodes, ", "))})
}
