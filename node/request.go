package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// The request path. Both transports, libp2p streams (storage, swarm and
// onion) and the HTTPS edge (storage_rpc and onion_req, https.go), take a
// request through the same steps:
//
//  1. serve: the handler is counted in, so Close waits for it; it is
//     refused once the node is closing; a panic ends that request only;
//  2. one deadline, requestTimeout from the request's arrival, on the
//     connection (the body's read, the answer's write) and on the context
//     the request runs on (deadline);
//  3. admit: the sender, a clientKey, pays a token of its rate (a client's
//     request; service nodes' are not counted), then the body is read
//     within the memory budget, charged to the same clientKey, then the
//     request waits for its turn to work, in its sender's line of its
//     class (fair.go: work already under way in the network first);
//     it gives the turn up when it first waits for another node
//     (yieldTurn);
//  4. a storage request's envelope is read by decodeRequest;
//  5. the same handlers: dispatch, onionStep.
//
// What differs is how each transport frames a refusal and an answer.

// requestTimeout bounds every request a node serves, from its arrival to
// its answer, on either transport: the storage server gives an onion
// request 30 s.
const requestTimeout = 30 * time.Second

// forwardMargin is what a request forwarded on (an onion layer to the next
// hop or to a server) leaves of its deadline, so that a failure of the
// next hop is still answered to the sender in time.
const forwardMargin = time.Second

// clientKey names who pays for a request in the rate limit and the memory
// budget: a libp2p peer, or, at the HTTPS edge, an IP address (as the
// storage server limits clients by IP: every connection from one address
// shares one bucket, so opening a connection per request gains nothing).
type clientKey struct {
	peer peer.ID // a libp2p peer; "" at the HTTPS edge
	addr string  // an HTTPS client's IP address; "" on libp2p
}

// peerClient is the key of a libp2p peer.
func peerClient(p peer.ID) clientKey { return clientKey{peer: p} }

// edgeClient is the key of an HTTPS request's sender: its IP address
// (an IPv4 address mapped into IPv6 is the IPv4 one). A workshop behind
// one address (or every app on the machine, on loopback) shares the
// mainnet's allowance, a burst of 600 requests and 300 a second, which a
// few dozen apps polling every few seconds stay far below.
func edgeClient(r *http.Request) clientKey {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return clientKey{addr: ap.Addr().Unmap().String()}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return clientKey{addr: host}
	}
	return clientKey{addr: r.RemoteAddr}
}

// String names the client in logs.
func (c clientKey) String() string {
	if c.peer != "" {
		return c.peer.ShortString()
	}
	return "https " + c.addr
}

// serve runs a request's handler h: counted in, so Close waits for it
// before it closes what handlers use; not run (false) once the node is
// closing; a panic in h is logged, answered by failed (a stream reset, a
// 500) and ends that request only (neither libp2p nor the handlers' callers
// recover panics for us).
func (n *Node) serve(name string, failed func(), h func()) bool {
	if !n.enter() {
		return false
	}
	defer n.hwg.Done()
	defer func() {
		if r := recover(); r != nil {
			n.log.Error().Str("handler", name).Str("panic", fmt.Sprint(r)).Str("stack", string(debug.Stack())).Msg("request handler panicked")
			failed()
		}
	}()
	h()
	return true
}

// serveStream makes h a libp2p stream handler through serve: a stream that
// arrives after Close, or whose handler panics, is reset.
func (n *Node) serveStream(name string, h network.StreamHandler) network.StreamHandler {
	return func(s network.Stream) {
		if !n.serve(name, func() { s.Reset() }, func() { h(s) }) {
			s.Reset()
		}
	}
}

// deadline starts a request's one deadline: requestTimeout from now. It
// returns the context the request runs on (Close cancels it too), which
// ends margin sooner, the function to call once the request is done, and
// the deadline, which the transport sets on the connection. A request that
// is forwarded on (an onion layer) runs with forwardMargin from the start,
// rather than a second context and timer for the forward. Requests that
// arrive within deadlineGrain of each other share one context
// (sharedDeadlines), whose deadline is the first one's: up to
// deadlineGrain sooner than their own.
func (n *Node) deadline(margin time.Duration) (context.Context, func(), time.Time) {
	now := time.Now()
	d := n.hdl.take(n.hctx, now, margin)
	return d.ctx, d.doneFunc, now.Add(requestTimeout)
}

// deadlineGrain is how close together requests must arrive to share a
// context (sharedDeadlines): a third of a percent of requestTimeout. At
// 20 ms a devnet's node under bench's Send made a context for every four
// or five requests.
const deadlineGrain = 100 * time.Millisecond

// sharedDeadlines hands out the contexts requests run on: those that a node
// takes in within deadlineGrain of the first share one, a context and a
// timer for every few dozen requests of a busy node rather than one each
// (with its timer, its callback and its place among hctx's children: 90
// allocations a send, and 2% of its CPU). A context is cancelled once its
// grain has passed and the last request sharing it is done, as each
// request's own was when it was done; so at most one a margin outlives its
// requests (until the next request, or its deadline).
type sharedDeadlines struct {
	mu  sync.Mutex
	cur []*sharedDeadline // the ones new requests share, one a margin
}

// sharedDeadline is a context that requests share.
type sharedDeadline struct {
	ctx      context.Context
	cancel   context.CancelFunc
	doneFunc func() // done, made once for every request sharing d
	margin   time.Duration
	until    time.Time // requests that arrive before it share ctx
	users    int       // the requests running on ctx; under sharedDeadlines.mu
	owner    *sharedDeadlines
}

// take returns the context for a request that arrived at now, whose
// context ends margin before requestTimeout: the one shared, or, when its
// grain has passed, a new one on parent. Call its done once the request is done.
func (ds *sharedDeadlines) take(parent context.Context, now time.Time, margin time.Duration) *sharedDeadline {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	i := 0
	for i < len(ds.cur) && ds.cur[i].margin != margin {
		i++
	}
	if i == len(ds.cur) {
		ds.cur = append(ds.cur, nil)
	}
	d := ds.cur[i]
	if d == nil || !now.Before(d.until) {
		if d != nil && d.users == 0 {
			d.cancel()
		}
		ctx, cancel := context.WithDeadline(parent, now.Add(requestTimeout-margin))
		d = &sharedDeadline{ctx: ctx, cancel: cancel, margin: margin, until: now.Add(deadlineGrain), owner: ds}
		d.doneFunc = d.done
		ds.cur[i] = d
	}
	d.users++
	return d
}

// done counts a request sharing d out (call it once): the last one out of a context new
// requests no longer share cancels it.
func (d *sharedDeadline) done() {
	ds := d.owner
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if d.users--; d.users == 0 && !slices.Contains(ds.cur, d) {
		d.cancel()
	}
}

// streamDeadline is deadline on a libp2p stream.
func (n *Node) streamDeadline(s network.Stream, margin time.Duration) (context.Context, func()) {
	ctx, cancel, at := n.deadline(margin)
	s.SetDeadline(at)
	return ctx, cancel
}

// forwardContext is ctx with forwardMargin taken off its deadline: for a
// request forwarded on.
func forwardContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, dl.Add(-forwardMargin))
	}
	return context.WithTimeout(ctx, requestTimeout-forwardMargin)
}

// admit takes a request in: a client's request (counted) pays a token of
// from's rate first, so a client over its rate is refused before its body
// is held (charge); then the body is read, at most limit bytes, within the
// memory budget charged to from (readBody); then the request waits for its
// turn (takeTurn) in the class class gives its body (nil: classNew). It
// returns the context the request works on (holding its turn), the body,
// and the function that gives both back (never nil).
func (n *Node) admit(ctx context.Context, from clientKey, counted bool, r io.Reader, limit int, class func(body []byte) int) (context.Context, []byte, func(), *rpcError) {
	if counted {
		if e := n.charge(from); e != nil {
			return ctx, nil, func() {}, e
		}
	}
	a := new(admission)
	body, e := n.readBodyInto(&a.hold, from, r, limit)
	if e != nil {
		return ctx, nil, func() {}, e
	}
	c := classNew
	if class != nil {
		c = class(body)
	}
	ctx, e = n.takeTurnIn(ctx, &a.turn, from, c)
	a.turned = e == nil
	return ctx, body, a.release, e
}

// admission is what admit holds for a request, in one allocation, and
// gives back at once (release): its body's bytes and its turn.
type admission struct {
	hold   bodyHold
	turn   fairTurn
	turned bool // the turn was given (to give back)
}

func (a *admission) release() {
	if a.turned {
		a.turn.done()
	}
	a.hold.release()
}

// takeTurn waits for the request's turn to work, in from's line of class: 503 when
// the line is full, or when the request's time runs out first. It returns
// the context carrying the turn and the turn, to give back with its done
// (once given back, by it or by yieldTurn, done does nothing); nil with
// the refusal.
func (n *Node) takeTurn(ctx context.Context, from clientKey, class int) (context.Context, *fairTurn, *rpcError) {
	t := new(fairTurn)
	ctx, e := n.takeTurnIn(ctx, t, from, class)
	if e != nil {
		return ctx, nil, e
	}
	return ctx, t, nil
}

// takeTurnIn is takeTurn with the turn t (new) that the caller holds.
func (n *Node) takeTurnIn(ctx context.Context, t *fairTurn, from clientKey, class int) (context.Context, *rpcError) {
	if err := n.turns.enterTurn(t, n.pubHex, from, class); err != nil {
		return ctx, errf(storagerpc.StatusUnavailable, "the node is busy; try again")
	}
	if err := t.wait(ctx); err != nil {
		return ctx, errf(storagerpc.StatusUnavailable, "the node is busy; try again")
	}
	return withTurn(ctx, t), nil
}

// charge takes a token of from's rate: 429 when there is none.
func (n *Node) charge(from clientKey) *rpcError {
	if !n.limiter.allow(from, n.cfg.Now()) {
		return errf(storagerpc.StatusTooManyRequests, "too many requests; slow down")
	}
	return nil
}

// readBody reads a request's body, at most limit bytes, holding them
// against the memory budget for from. It returns the body and the function
// that gives its bytes back (call it once the body is no longer used; it
// is never nil), or the refusal: 413 over the limit, 503 over the budget,
// 400 unreadable.
func (n *Node) readBody(from clientKey, r io.Reader, limit int) ([]byte, func(), *rpcError) {
	h := new(bodyHold)
	body, e := n.readBodyInto(h, from, r, limit)
	if e != nil {
		return nil, func() {}, e
	}
	return body, h.release, nil
}

// readBodyInto is readBody holding the body's bytes in h (give them back
// with h.release; on a refusal h holds nothing).
func (n *Node) readBodyInto(h *bodyHold, from clientKey, r io.Reader, limit int) ([]byte, *rpcError) {
	body, err := n.budget.readInto(h, r, from, limit)
	switch {
	case err == nil:
		return body, nil
	case errors.Is(err, errTooLarge), isMaxBytes(err):
		return nil, errf(storagerpc.StatusTooLarge, "request over the size limit (%d bytes)", limit)
	case errors.Is(err, errBusy):
		return nil, errf(storagerpc.StatusUnavailable, "the node is busy with other large requests; try again")
	}
	return nil, errf(storagerpc.StatusBadRequest, "request unreadable")
}

// isMaxBytes reports whether err is http.MaxBytesReader's (its target on
// the heap only when asked).
func isMaxBytes(err error) bool {
	var maxErr *http.MaxBytesError
	return errors.As(err, &maxErr)
}

// decodeRequest reads a storage request's envelope, the one decoder of
// both transports (and of onion requests' last layer), as the storage
// server reads its HTTPS and onion requests: a JSON object with a string
// "method" and an object "params"; other keys (a JSON-RPC 2.0 envelope's
// "jsonrpc" and "id") are passed over. Keys match exactly, not in any case
// as encoding/json would.
func decodeRequest(body []byte) (*storagerpc.Request, *rpcError) {
	if req, ok := plainRequest(body); ok {
		return req, nil
	}
	var env map[string]json.RawMessage
	var req storagerpc.Request
	// Unmarshal checks the whole body first: json.Valid is asked only to
	// tell why it failed.
	if err := json.Unmarshal(body, &env); err != nil && !json.Valid(body) {
		return nil, errf(storagerpc.StatusBadRequest, "invalid json")
	}
	if env == nil || json.Unmarshal(env["method"], &req.Method) != nil || env["method"][0] != '"' {
		return nil, errf(storagerpc.StatusBadRequest, "invalid json: no `method` field")
	}
	if p := env["params"]; len(p) == 0 || p[0] != '{' {
		return nil, errf(storagerpc.StatusBadRequest, "invalid json: no `params` field")
	}
	req.Params = env["params"]
	return &req, nil
}

// plainRequest reads an envelope written as storagerpc.EncodeRequest
// writes it, {"method":"name","params":{...}} (a name of letters, digits
// and _, nothing around), without encoding/json's map, copies and second
// scan: every storage request and forwarded store is one. ok is false for
// anything else, which decodeRequest reads as before; FuzzPlainRequest
// holds it to the same result. The params are a copy (the body's memory
// is reused once the request is done).
func plainRequest(body []byte) (*storagerpc.Request, bool) {
	rest, ok := bytes.CutPrefix(body, []byte(`{"method":"`))
	if !ok {
		return nil, false
	}
	i := bytes.IndexByte(rest, '"')
	if i < 0 {
		return nil, false
	}
	for _, c := range rest[:i] {
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return nil, false
		}
	}
	params, ok := bytes.CutPrefix(rest[i+1:], []byte(`,"params":`))
	// The params run to the envelope's closing brace: one object, which
	// storagerpc.ValidJSON of it alone makes sure of (not `{},"method":"x"`).
	if !ok || len(params) < 3 || params[0] != '{' || params[len(params)-1] != '}' || params[len(params)-2] != '}' {
		return nil, false
	}
	params = params[:len(params)-1]
	if !storagerpc.ValidJSON(params) {
		return nil, false
	}
	return &storagerpc.Request{Method: methodName(rest[:i]), Params: bytes.Clone(params)}, true
}

// methodName is the method named b: a send's and a fetch's without a copy.
func methodName(b []byte) string {
	switch string(b) {
	case "store":
		return "store"
	case "retrieve":
		return "retrieve"
	}
	return string(b)
}
