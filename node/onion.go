package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/sessionctl/sessionctl/onion"
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
	hop, layer, err := onion.ReadRequest(s)
	if err != nil {
		n.onionReply(s, onion.StatusTooLarge, "onion request over the size limit or unreadable")
		return
	}
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
	ctx, cancel := context.WithTimeout(context.Background(), onionTimeout-time.Second)
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

func (n *Node) observe(h OnionHop) {
	if n.cfg.OnionObserver != nil {
		n.cfg.OnionObserver(h)
	}
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

// onionHTTP forwards the payload by HTTP to a server on this machine and
// relays its answer (sealed by the server for the client) unchanged. Only
// loopback servers are reached: the devnet sends nothing off the machine.
func (n *Node) onionHTTP(ctx context.Context, s network.Stream, p *onion.Peeled) {
	r := p.Routing
	ip := net.ParseIP(r.Host)
	if r.Host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		n.onionReply(s, onion.StatusBadRequest, "the devnet forwards only to servers on 127.0.0.1")
		return
	}
	scheme := r.Protocol
	if scheme == "" {
		scheme = "http"
	}
	if scheme != "http" && scheme != "https" || r.Port <= 0 || r.Port > 65535 || len(r.Target) == 0 || r.Target[0] != '/' {
		n.onionReply(s, onion.StatusBadRequest, "bad server address: want protocol http(s), a port and a /target")
		return
	}
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	url := scheme + "://" + net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) + r.Target
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(p.Body))
	if err != nil {
		n.onionReply(s, onion.StatusBadRequest, "bad server request")
		return
	}
	resp, err := http.DefaultClient.Do(req)
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
