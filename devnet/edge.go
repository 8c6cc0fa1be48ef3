package devnet

import (
	"context"
	"net"
	"net/url"
	"sort"
	"strconv"
	"sync"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/internal/edgelog"
	"github.com/sessionctl/sessionctl/proxy"
)

// The devnet's client edge, as a developer debugging their own client sees
// it: every request at a node's HTTPS edge, the seed or the proxy is one
// line of the "edge" log (component=edge; a node's lines name it), and the
// dashboard counts them by endpoint. The proxy (package proxy) takes the
// real network's host names to the devnet's servers.

// edgeSink is the sink of an edge: the "edge" logger, with more fields.
func (nw *Network) edgeSink(with func(zerolog.Context) zerolog.Context) edgelog.Sink {
	log := nw.cfg.logger("edge")
	if with != nil {
		log = with(log.With()).Logger()
	}
	return edgelog.Sink{Log: log, Observe: nw.cfg.OnEdge}
}

// nodeEdge is node i's edge sink.
func (nw *Network) nodeEdge(i int) edgelog.Sink {
	return nw.edgeSink(func(c zerolog.Context) zerolog.Context { return c.Str("node", NodeName(i)) })
}

// hostOf is a server URL's host:port.
func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Host
	}
	return ""
}

// startProxy starts the proxy in front of the seed, file and community
// servers (started before it).
func (nw *Network) startProxy(ctx context.Context) error {
	p, err := proxy.New(proxy.Config{Addr: nw.cfg.addr(PortProxy),
		Backends: proxy.Backends{Seed: hostOf(nw.LedgerURL()), Files: hostOf(local(nw.Files.URL())), Community: hostOf(local(nw.Community.URL()))},
		Tunnel:   nw.isNodeEdge, Edge: nw.edgeSink(nil), Logger: nw.cfg.logger("devnet")})
	if err != nil {
		return err
	}
	if err := p.Start(ctx); err != nil {
		return err
	}
	nw.Proxy = p
	return nil
}

// ProxyURL is the proxy's address ("" before Start).
func (nw *Network) ProxyURL() string {
	if nw.Proxy == nil {
		return ""
	}
	return local(nw.Proxy.URL())
}

// isNodeEdge reports whether hostport is a node's HTTPS edge: a running
// node's (in this process or its own), or one the ledger lists (a node
// that joined from another machine, as the seed tells clients).
func (nw *Network) isNodeEdge(hostport string) bool {
	nw.mu.Lock()
	for i := range nw.nodes {
		var https string
		if n := nw.nodes[i]; n != nil {
			https = n.HTTPSURL()
		} else if p := nw.procs[i]; p != nil {
			https = p.info.HTTPS
		} else if h := nw.hosted[i]; h != nil {
			https = h.info.HTTPS
		}
		if https != "" && hostOf(https) == hostport {
			nw.mu.Unlock()
			return true
		}
	}
	nw.mu.Unlock()
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	for _, sn := range nw.Ledger.Nodes() {
		if sn.PublicIP == host && sn.StoragePort != 0 && strconv.Itoa(sn.StoragePort) == port {
			return true
		}
	}
	return false
}

// maxEdgeEndpoints bounds the endpoints the dashboard counts apart (what
// a client names is open-ended: a storage method, a JSON-RPC method); the
// rest are counted as "other".
const maxEdgeEndpoints = 64

// edgeCounts counts the edge's requests by endpoint, for the dashboard.
type edgeCounts struct {
	mu     sync.Mutex
	counts map[string]uint64
}

func (c *edgeCounts) add(e edgelog.Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]uint64{}
	}
	k := e.Endpoint
	if _, ok := c.counts[k]; !ok && len(c.counts) >= maxEdgeEndpoints-1 {
		k = "other"
	}
	c.counts[k]++
}

// EdgeCount is how many requests an endpoint had.
type EdgeCount struct {
	Endpoint string `json:"endpoint"`
	Count    uint64 `json:"count"`
}

// list is the counts, the busiest first.
func (c *edgeCounts) list() []EdgeCount {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]EdgeCount, 0, len(c.counts))
	for k, v := range c.counts {
		out = append(out, EdgeCount{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Endpoint < out[j].Endpoint
	})
	return out
}
