package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/sessionctl/sessionctl/onion"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// OnionHop is what a node saw of one onion request, for Config.OnionObserver:
// the privacy tests record it to check what each hop learned.
type OnionHop struct {
	Node        string  // this node's Ed25519 key
	From        peer.ID // who handed the request over; "" when it came in at the HTTPS edge
	Hop         int     // this node's place on the path, 1 for the guard
	Next        string  // the node it forwarded to, if it did
	Destination bool    // this node was the destination
	HTTPHost    string  // the server it forwarded to by HTTP, if it did
	Seen        []byte  // what it decrypted: the next layer, or the request

	from clientKey // for the log line
}

// handleOnion peels this node's layer of an onion request and forwards the
// rest, answers it as the destination, or forwards it to a server by HTTP.
func (n *Node) handleOnion(s network.Stream) {
	ctx, cancel := n.streamDeadline(s, forwardMargin)
	defer cancel()
	from := peerClient(s.Conn().RemotePeer())
	ctx, data, release, rerr := n.admitOnion(ctx, from, s)
	defer release()
	if rerr != nil {
		n.onionRefuse(s, rerr.code, rerr.msg)
		return
	}
	status, body, releaseBody := n.onionStep(ctx, int(data[0]), data[1:], from)
	defer releaseBody()
	if err := onion.WriteResponse(s, status, body); err != nil {
		s.Reset()
		return
	}
	s.Close()
}

// admitOnion takes an onion request ([u8 hop][layer]) in from a peer
// (admit). The client's own peer pays for each request at the guard, as
// it does for direct storage requests: onion requests do not bypass the
// rate limit. A request that claims a later hop from a peer that is not a
// service node is counted the same way.
func (n *Node) admitOnion(ctx context.Context, from clientKey, r io.Reader) (context.Context, []byte, func(), *rpcError) {
	node := n.fromNode(from.peer)
	ctx, data, release, rerr := n.admit(ctx, from, !node, r, onion.MaxLayerSize+1, func(data []byte) int {
		if !node || len(data) < 1 {
			return classNew
		}
		return onionClass(int(data[0]))
	})
	if rerr == nil && len(data) < 1 {
		rerr = errf(onion.StatusBadRequest, "empty onion request")
	}
	return ctx, data, release, rerr
}

// onionStep is one node's part of an onion request, whatever carried it
// (a libp2p stream, or the HTTPS edge's /onion_req/v2): peel the layer, then
// forward the rest to the next node, answer as the destination, or forward
// to a server. It returns the status and body to hand back. What is
// forwarded on leaves time to answer its failure in time: ctx ends
// forwardMargin before the request's transport does (streamDeadline's
// margin, forwardContext). Call release (never nil) once body is written:
// it may be in a pooled buffer (onionForward's).
func (n *Node) onionStep(ctx context.Context, hop int, layer []byte, from clientKey) (status int, body []byte, release func()) {
	if hop < 1 || hop > onion.MaxHops {
		return onion.StatusBadRequest, fmt.Appendf(nil, "hop %d: an onion request passes at most %d nodes", hop, onion.MaxHops), noRelease
	}
	p, err := onion.Peel(layer, onion.KeyPair{Private: n.keys.X25519Private, Public: n.keys.X25519Public})
	if err != nil {
		n.log.Debug().Err(err).Int("hop", hop).Msg("onion layer refused")
		return onion.StatusBadRequest, []byte("cannot decrypt the onion layer"), noRelease
	}
	seen := OnionHop{Node: n.pubHex, From: from.peer, Hop: hop, Seen: p.Body, from: from}
	switch {
	case p.Routing.Destination != "":
		seen.Next = p.Routing.Destination
		return n.onionForward(ctx, hop, p, seen)
	case p.Routing.IsDestination():
		seen.Destination = true
		n.observe(seen)
		return n.onionAnswer(ctx, p)
	default: // IsHTTP: Peel accepts nothing else
		seen.HTTPHost = p.Routing.Host
		n.observe(seen)
		status, body = n.onionHTTP(ctx, p)
		return status, body, noRelease
	}
}

// onionAnswer answers an onion request this node is the destination of, as
// the storage server does: {"status": code, "body": ...} sealed with the
// layer's key, the body embedded as JSON when the layer says "json": true
// (else as a JSON string), the sealed bytes in base64 unless it says
// "base64": false. An empty request tests the path: the answer says so.
// The answer, sealed, and its base64 are made in buffers of answerBufs:
// release gives back the last once the body is written.
func (n *Node) onionAnswer(ctx context.Context, p *onion.Peeled) (status int, body []byte, release func()) {
	var resp storagerpc.Response
	if len(p.Body) == 0 {
		resp.Code = storagerpc.StatusOK
		resp.Body, _ = json.Marshal(map[string]string{"status": "path built", "node": n.pubHex})
	} else {
		resp = n.handle(ctx, p.Body)
	}
	// {"status": code, "body": ...}, written in one pass (resp.Body is
	// what json.Marshal made): the body as it is, or as a JSON string.
	plainBox := getAnswerBuf()
	defer putAnswerBuf(plainBox)
	answer := slices.Grow((*plainBox)[:0], len(resp.Body)+32)
	answer = append(answer, `{"status":`...)
	answer = strconv.AppendInt(answer, int64(resp.Code), 10)
	answer = append(answer, `,"body":`...)
	var text string
	switch {
	case len(resp.Body) > 0 && resp.Body[0] == '"' && json.Unmarshal(resp.Body, &text) == nil:
		answer = append(answer, resp.Body...) // an error's message is its text, whatever "json" says
	case p.Routing.JSON == nil || !*p.Routing.JSON:
		q, err := json.Marshal(string(resp.Body))
		if err != nil {
			return 500, []byte("cannot encode the reply"), noRelease
		}
		answer = append(answer, q...)
	case len(resp.Body) == 0:
		answer = append(answer, "null"...)
	default:
		answer = append(answer, resp.Body...)
	}
	answer = append(answer, '}')
	*plainBox = answer
	ctBox := getAnswerBuf()
	ct, err := p.SealReplyAppend((*ctBox)[:0], rand.Reader, answer)
	if err != nil {
		putAnswerBuf(ctBox)
		return 500, []byte("cannot seal the reply"), noRelease
	}
	*ctBox = ct
	if p.Routing.Base64 == nil || *p.Routing.Base64 {
		outBox := getAnswerBuf()
		*outBox = base64.StdEncoding.AppendEncode((*outBox)[:0], ct)
		putAnswerBuf(ctBox)
		ctBox = outBox
	}
	return onion.StatusOK, *ctBox, func() { putAnswerBuf(ctBox) }
}

// answerBufs are onionAnswer's buffers; one over maxKeptAnswer is left to
// the collector. Made for each answer, the three were a tenth of a
// send's bytes allocated.
var answerBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

const maxKeptAnswer = 256 << 10

func getAnswerBuf() *[]byte { return answerBufs.Get().(*[]byte) }

func putAnswerBuf(b *[]byte) {
	if cap(*b) <= maxKeptAnswer {
		*b = (*b)[:0]
		answerBufs.Put(b)
	}
}

// serverClient is the exit's HTTP client: no redirects, no cookies, and
// a bound on the whole exchange.
var serverClient = &http.Client{
	Timeout:       requestTimeout,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func (n *Node) observe(h OnionHop) {
	// The next hop's name is looked up only for a log that is written.
	if ev := n.log.Debug(); ev != nil {
		ev = ev.Int("hop", h.Hop).Stringer("from", h.from)
		switch {
		case h.Destination:
			ev.Msg("onion: answered as the destination")
		case h.HTTPHost != "":
			ev.Str("server", h.HTTPHost).Msg("onion: forwarded to a server as the exit")
		default:
			ev.Str("next", n.nameOf(h.Next)).Msg("onion: peeled a layer and forwarded")
		}
	}
	if n.cfg.OnionObserver != nil {
		n.cfg.OnionObserver(h)
	}
}

// noRelease is the release of a body in no pooled buffer.
func noRelease() {}

func shortKey(k string) string {
	if len(k) > 8 {
		return k[:8]
	}
	return k
}

// nameOf is how the node's logs name the node of key (Config.NameOf).
func (n *Node) nameOf(key string) string {
	if n.cfg.NameOf != nil {
		if name := n.cfg.NameOf(key); name != "" {
			return name
		}
	}
	return shortKey(key)
}

// fromNode reports whether p is a registered service node.
func (n *Node) fromNode(p peer.ID) bool {
	v := n.view.Load()
	if v == nil {
		return false
	}
	_, ok := v.byPeer[p]
	return ok
}

// onionRefuse answers an onion request the node will not read, then
// discards the rest of it, holding none of it.
func (n *Node) onionRefuse(s network.Stream, status int, msg string) {
	if err := onion.WriteResponse(s, status, []byte(msg)); err != nil {
		s.Reset()
		return
	}
	s.CloseWrite()
	drain(s, onion.MaxLayerSize+2)
	s.Close()
}

// onionForward sends the next layer on and relays the answer unchanged.
func (n *Node) onionForward(ctx context.Context, hop int, p *onion.Peeled, seen OnionHop) (status int, body []byte, release func()) {
	if hop >= onion.MaxHops {
		return onion.StatusBadRequest, fmt.Appendf(nil, "an onion request passes at most %d nodes", onion.MaxHops), noRelease
	}
	if p.Routing.Destination == n.pubHex {
		return onion.StatusBadRequest, []byte("onion loop: the next hop is this node"), noRelease
	}
	v := n.view.Load()
	if v == nil {
		return storagerpc.StatusUnavailable, []byte("the node has not loaded the network yet"), noRelease
	}
	pid, ok := v.peers[p.Routing.Destination]
	if !ok {
		return onion.StatusBadGateway, []byte("the next hop is not a registered service node"), noRelease
	}
	next, err := p.Next()
	if err != nil {
		return onion.StatusBadRequest, []byte("cannot encode the next layer"), noRelease
	}
	n.observe(seen)
	yieldTurn(ctx)
	// The answer is written on as soon as it is read: its buffer,
	// pooled, goes back then (release).
	status, body, release, err = onion.SendPooled(ctx, n.out(), pid, hop+1, next)
	if err != nil {
		n.log.Debug().Err(err).Str("next", n.nameOf(p.Routing.Destination)).Msg("onion forward")
		return onion.StatusBadGateway, []byte("the next hop did not answer"), noRelease
	}
	return status, body, release
}

// onionHTTP forwards the layer by HTTP to a server the network knows
// (Config.Servers) and relays its answer (sealed by the server for the
// client) unchanged. Any other address is refused, so a request cannot make
// the exit reach another port of this machine; redirects are not followed.
func (n *Node) onionHTTP(ctx context.Context, p *onion.Peeled) (int, []byte) {
	r := p.Routing
	// As the storage server reads a host layer: no protocol means https, no
	// port the protocol's own.
	scheme, port := r.Protocol, r.Port
	if scheme == "" {
		scheme = "https"
	}
	if port == 0 {
		port = 443
		if scheme == "http" {
			port = 80
		}
	}
	if scheme != "http" && scheme != "https" || port < 0 || port > 65535 || len(r.Target) == 0 || r.Target[0] != '/' {
		return onion.StatusBadRequest, []byte("bad server address: want protocol http(s), a port and a /target")
	}
	hostport := net.JoinHostPort(r.Host, strconv.Itoa(port))
	if !slices.Contains(n.cfg.Servers, hostport) {
		return onion.StatusForbidden, []byte("the exit forwards only to the network's servers")
	}
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	url := scheme + "://" + hostport + r.Target
	// The server gets the whole layer: its JSON names the key to decrypt
	// the ciphertext with.
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(p.Layer))
	if err != nil {
		return onion.StatusBadRequest, []byte("bad server request")
	}
	yieldTurn(ctx)
	resp, err := serverClient.Do(req)
	if err != nil {
		return onion.StatusBadGateway, []byte("the server did not answer")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, onion.MaxLayerSize))
	if err != nil {
		return onion.StatusBadGateway, []byte("the server's answer was cut short")
	}
	return resp.StatusCode, body
}
