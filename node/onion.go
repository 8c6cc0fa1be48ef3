package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/sessionctl/sessionctl/onion"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// OnionHop is what a node saw of one onion request, for Config.OnionObserver:
// the privacy tests record it to check what each hop learned.
type OnionHop struct {
	Node        string  // this node's Ed25519 key
	From        peer.ID // who handed the request over
	Hop         int     // this node's place on the path, 1 for the guard
	Next        string  // the node it forwarded to, if it did
	Destination bool    // this node was the destination
	HTTPHost    string  // the server it forwarded to by HTTP, if it did
	Seen        []byte  // what it decrypted: the next layer, or the request
}

// onionTimeout bounds an onion request at one hop, the rest of the path included.
const onionTimeout = 60 * time.Second

// handleOnion peels this node's layer of an onion request and forwards the
// rest, answers it as the destination, or forwards it to a server by HTTP.
func (n *Node) handleOnion(s network.Stream) {
	s.SetDeadline(time.Now().Add(onionTimeout))
	remote := s.Conn().RemotePeer()
	// The client's own peer pays for each request at the guard, as it does
	// for direct storage requests: onion requests do not bypass the rate
	// limit. A request that claims a later hop from a peer that is not a
	// service node is counted the same way.
	if !n.fromNode(remote) && !n.limiter.allow(remote.String(), n.cfg.Now()) {
		n.onionRefuse(s, storagerpc.StatusTooManyRequests, "too many requests; slow down")
		return
	}
	data, release, err := n.inflight.read(s, remote, onion.MaxLayerSize+1)
	defer release()
	switch {
	case errors.Is(err, errBusy):
		n.onionRefuse(s, storagerpc.StatusUnavailable, "the node is busy with other large requests; try again")
		return
	case err != nil || len(data) < 1:
		n.onionRefuse(s, onion.StatusTooLarge, "onion request over the size limit or unreadable")
		return
	}
	hop, layer := int(data[0]), data[1:]
	if hop < 1 || hop > onion.MaxHops {
		n.onionReply(s, onion.StatusBadRequest, fmt.Sprintf("hop %d: an onion request passes at most %d nodes", hop, onion.MaxHops))
		return
	}
	p, err := onion.Peel(layer, onion.KeyPair{Private: n.keys.X25519Private, Public: n.keys.X25519Public})
	if err != nil {
		n.log.Debug().Err(err).Int("hop", hop).Msg("onion layer refused")
		n.onionReply(s, onion.StatusBadRequest, "cannot decrypt the onion layer")
		return
	}
	seen := OnionHop{Node: n.pubHex, From: s.Conn().RemotePeer(), Hop: hop, Seen: p.Body}
	ctx, cancel := context.WithTimeout(n.hctx, onionTimeout-time.Second)
	defer cancel()
	switch {
	case p.Routing.Destination != "":
		seen.Next = p.Routing.Destination
		n.onionForward(ctx, s, hop, p, seen)
	case p.Routing.IsDestination():
		seen.Destination = true
		n.observe(seen)
		var answer []byte
		if len(p.Body) == 0 {
			// An empty request builds the path: the destination says so.
			answer, _ = json.Marshal(map[string]string{"status": "path built", "node": n.pubHex})
		} else {
			answer, _ = json.Marshal(n.handle(ctx, p.Body))
		}
		ct, err := p.SealReply(rand.Reader, answer)
		if err != nil {
			n.onionReply(s, 500, "cannot seal the reply")
			return
		}
		if err := onion.WriteResponse(s, onion.StatusOK, ct); err != nil {
			s.Reset()
			return
		}
		s.Close()
	case p.Routing.IsHTTP():
		seen.HTTPHost = p.Routing.Host
		n.observe(seen)
		n.onionHTTP(ctx, s, p)
	}
}

// serverClient is the exit's HTTP client: no redirects, no cookies, and
// a bound on the whole exchange.
var serverClient = &http.Client{
	Timeout:       onionTimeout,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func (n *Node) observe(h OnionHop) {
	if n.cfg.OnionObserver != nil {
		n.cfg.OnionObserver(h)
	}
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

func (n *Node) onionReply(s network.Stream, status int, msg string) {
	if err := onion.WriteResponse(s, status, []byte(msg)); err != nil {
		s.Reset()
		return
	}
	s.Close()
}

// onionForward sends the next layer on and relays the answer unchanged.
func (n *Node) onionForward(ctx context.Context, s network.Stream, hop int, p *onion.Peeled, seen OnionHop) {
	if hop >= onion.MaxHops {
		n.onionReply(s, onion.StatusBadRequest, fmt.Sprintf("an onion request passes at most %d nodes", onion.MaxHops))
		return
	}
	if p.Routing.Destination == n.pubHex {
		n.onionReply(s, onion.StatusBadRequest, "onion loop: the next hop is this node")
		return
	}
	v := n.view.Load()
	if v == nil {
		n.onionReply(s, storagerpc.StatusUnavailable, "the node has not loaded the network yet")
		return
	}
	pid, ok := v.peers[p.Routing.Destination]
	if !ok {
		n.onionReply(s, onion.StatusBadGateway, "the next hop is not a registered service node")
		return
	}
	next, err := p.Next()
	if err != nil {
		n.onionReply(s, onion.StatusBadRequest, "cannot encode the next layer")
		return
	}
	n.observe(seen)
	status, body, err := onion.Send(ctx, n.host, pid, hop+1, next)
	if err != nil {
		n.log.Debug().Err(err).Str("next", p.Routing.Destination[:8]).Msg("onion forward")
		n.onionReply(s, onion.StatusBadGateway, "the next hop did not answer")
		return
	}
	if err := onion.WriteResponse(s, status, body); err != nil {
		s.Reset()
		return
	}
	s.Close()
}

// onionHTTP forwards the layer by HTTP to a server the network knows
// (Config.Servers) and relays its answer (sealed by the server for the
// client) unchanged. Any other address is refused, so a request cannot make
// the exit reach another port of this machine; redirects are not followed.
func (n *Node) onionHTTP(ctx context.Context, s network.Stream, p *onion.Peeled) {
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
		n.onionReply(s, onion.StatusBadRequest, "bad server address: want protocol http(s), a port and a /target")
		return
	}
	hostport := net.JoinHostPort(r.Host, strconv.Itoa(port))
	if !slices.Contains(n.cfg.Servers, hostport) {
		n.onionReply(s, onion.StatusForbidden, "the exit forwards only to the network's servers")
		return
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
		n.onionReply(s, onion.StatusBadRequest, "bad server request")
		return
	}
	resp, err := serverClient.Do(req)
	if err != nil {
		n.onionReply(s, onion.StatusBadGateway, "the server did not answer")
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, onion.MaxLayerSize))
	if err != nil {
		n.onionReply(s, onion.StatusBadGateway, "the server's answer was cut short")
		return
	}
	if err := onion.WriteResponse(s, resp.StatusCode, body); err != nil {
		s.Reset()
		return
	}
	s.Close()
}
