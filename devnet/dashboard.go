package devnet

import (
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
	"github.com/sessionctl/sessionctl/internal/httpserve"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// The dashboard: a live page of the devnet, for a projector in a workshop
// and for a developer debugging. It is served by the control endpoint's
// server under a path holding a secret derived from the control token (so
// the URL is in the 0600 manifest, and another local user cannot open it).
// That address is the viewer link: it shows everything and changes
// nothing, so it can go on the wall and on the room's phones. The operator
// link is the same address with the operator token in its fragment
// (#operator=TOKEN); the page sends it with its changes (Authorization:
// Bearer), which are refused without it:
//
//	GET  /dash/{secret}/                      the page (embedded; no CDN, no build step); ?present: presenter mode
//	GET  /dash/{secret}/state                 a snapshot: nodes, swarms, accounts, groups, rooms, the round, blocks, the last send
//	GET  /dash/{secret}/events                server-sent events: onion requests, sends, blocks, node changes, timeline entries, log lines
//	GET  /dash/{secret}/timeline              what happened, oldest first (a bounded ring: dashboard_timeline.go)
//	GET  /dash/{secret}/role                  "operator" with the operator token, else "viewer"
//	POST /dash/{secret}/nodes/{name}/kill     as the control endpoint's (operator)
//	POST /dash/{secret}/nodes/{name}/restart  as the control endpoint's (operator)
//	POST /dash/{secret}/mine                  make a block (operator)
//
// The page draws the ring of swarm space on a canvas (2,000 dots stay
// smooth), refetches the snapshot at most once a second, and animates the
// last send from hop to hop.

//go:embed dashboard/index.html
var dashboardPage []byte

// dashboardSecret is the dashboard's path secret for a control token.
func dashboardSecret(token string) string { return tokenHMAC(token, "sessionctl dashboard") }

// operatorToken is the token of the dashboard's operator link: it lets a
// page kill, restart and mine, and nothing else the control token can.
func operatorToken(token string) string { return tokenHMAC(token, "sessionctl dashboard operator") }

func tokenHMAC(token, label string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(label))
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
	// node killed, restarted or exited; a block; a send), watched or not.
	changes atomic.Uint64
	// the log lines' budget: logLinesPerS a second
	logMu     sync.Mutex
	logSecond int64
	logCount  int
	// what happened, kept for pages opened later
	timeline timeline
	now      func() time.Time
}

// NewEvents returns the hub of a devnet's events (UpConfig.Events).
func NewEvents() *Events {
	return &Events{watchers: map[chan []byte]struct{}{}, closed: make(chan struct{}), now: time.Now}
}

func (h *Events) watched() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.watchers) > 0
}

func (h *Events) publish(ev any) {
	if m, ok := ev.(map[string]any); ok && (m["t"] == "node" || m["t"] == "block" || m["t"] == "send") {
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
	d       *Devnet
	hub     *Events
	secret  string            // the page's path: the viewer link
	opToken string            // the operator link's: kill, restart, mine
	byKey   map[string]string // Ed25519 key -> node name
	byPeer  map[peer.ID]string
	// the last snapshot (JSON), when it was begun, and the hub's count of
	// state changes then
	snapMu  sync.Mutex
	snap    []byte
	snapGz  []byte // snap compressed, nil when small
	snapAt  time.Time
	snapGen uint64
	// the accounts' blinded IDs on the community server, by Account ID
	blindMu sync.Mutex
	blind   map[string]string
	// the accounts' and groups' names, as last read (for the nodes' hooks)
	known atomic.Pointer[map[string]string]
	// the onion requests, put together from the nodes' hops
	reqs requests
	// the chaos faults the timeline has told
	faults faultsSeen
	// the newest blocks, by height (recentBlocks)
	blocksMu sync.Mutex
	blocks   map[uint64]dashBlock
	// how much of the testing rounds the timeline has told (watch's)
	rw        roundWatch
	rwStarted bool
}

func newDashboard(d *Devnet, h *Events) *dashboard {
	db := &dashboard{d: d, hub: h, secret: dashboardSecret(d.token), opToken: operatorToken(d.token), byKey: map[string]string{}, byPeer: map[peer.ID]string{},
		blind: map[string]string{}}
	for i := 0; i < d.st.Nodes; i++ {
		k := d.Network.NodeKey(i)
		db.byKey[k] = NodeName(i)
		if pid, err := storagerpc.PeerIDFromEd25519(k); err == nil {
			db.byPeer[pid] = NodeName(i)
		}
	}
	return db
}

// url is the page's address on the control server: the viewer link.
func (db *dashboard) url(base string) string { return base + "/dash/" + db.secret + "/" }

// operatorURL is the operator link: the viewer link with the operator
// token in its fragment (which a browser sends to no server; the page
// keeps it for its requests and takes it out of the address bar).
func (db *dashboard) operatorURL(base string) string { return db.url(base) + "#operator=" + db.opToken }

func (db *dashboard) name(key string) string {
	if n, ok := db.byKey[key]; ok {
		return n
	}
	if len(key) > 8 {
		return key[:8]
	}
	return key
}

// accountName is an account's (or a group's) name, as last read, or the
// start of its ID.
func (db *dashboard) accountName(id string) string {
	if m := db.known.Load(); m != nil {
		if n, ok := (*m)[id]; ok {
			return n
		}
	}
	return short(id, 10) + "…"
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (db *dashboard) routes(mux *http.ServeMux, c *controlServer) {
	p := "/dash/{secret}/"
	mux.HandleFunc("GET "+p+"{$}", db.guard(db.page))
	mux.HandleFunc("GET "+p+"state", db.guard(db.state))
	mux.HandleFunc("GET "+p+"events", db.guard(db.events))
	mux.HandleFunc("GET "+p+"timeline", db.guard(db.timeline))
	mux.HandleFunc("GET "+p+"role", db.guard(db.role))
	mux.HandleFunc("POST "+p+"nodes/{name}/kill", db.guard(db.operator(c.kill)))
	mux.HandleFunc("POST "+p+"nodes/{name}/restart", db.guard(db.operator(c.restart)))
	mux.HandleFunc("POST "+p+"mine", db.guard(db.operator(db.mine)))
}

// isOperator reports whether r carries the operator token.
func (db *dashboard) isOperator(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(db.opToken)) == 1
}

// operator lets through only a request with the operator token: the viewer
// link (the page's address alone) shows everything and changes nothing.
func (db *dashboard) operator(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !db.isOperator(r) {
			httpserve.WriteError(w, http.StatusForbidden, "this is the dashboard's viewer link: it shows the devnet and changes nothing; the operator link is dashboard_operator in devnet.json")
			return
		}
		h(w, r)
	}
}

// role tells the page whether it holds the operator token (its buttons
// are shown, and it says it is the operator view) or is a viewer.
func (db *dashboard) role(w http.ResponseWriter, r *http.Request) {
	role := "viewer"
	if db.isOperator(r) {
		role = "operator"
	}
	httpserve.WriteJSON(w, http.StatusOK, map[string]string{"role": role})
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

// timeline answers the timeline's entries, oldest first.
func (db *dashboard) timeline(w http.ResponseWriter, r *http.Request) {
	httpserve.WriteJSON(w, http.StatusOK, db.hub.Timeline())
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
