package node

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/internal/httpserve"
	"github.com/sessionctl/sessionctl/onion"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// The HTTPS client edge: what real Session clients call, beside libp2p,
// answered by the same code (dispatch, onionStep):
//
//	POST /storage_rpc/v1  {"method", "params"} (or a JSON-RPC 2.0 envelope): the storage RPC;
//	                      the status is the method's, the body its JSON (or its error text)
//	POST /onion_req/v2    an onion request entering the network at this node
//	POST /ping_test/v1    200, with the node's key (base64) in X-Oxen-Snode-Pubkey
//	GET  /get_stats/v1    {"version": "2.11.0"} (deprecated upstream, still served)
//
// The certificate is self-signed, made at start for the node's key (real
// clients do not verify it). Requests are rate-limited per client address
// (every connection from one address shares one bucket) and their bodies
// count against the node's memory budget, as on libp2p.

// SnodePubkeyHeader is the header of a ping_test answer that names the node.
const SnodePubkeyHeader = "X-Oxen-Snode-Pubkey"

// maxStorageRequest bounds a storage RPC request body: a batch of stores.
const maxStorageRequest = 10<<20 + 64<<10

// selfSignedCert makes a certificate for the node's HTTPS edge.
func (n *Node) selfSignedCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: n.pubHex},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// newEdge makes (does not start) the node's HTTPS server.
func (n *Node) newEdge() (*httpserve.Server, error) {
	cert, err := n.selfSignedCert()
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /storage_rpc/v1", n.edge(n.edgeStorage))
	mux.HandleFunc("POST /onion_req/v2", n.edge(n.edgeOnion))
	mux.HandleFunc("POST /ping_test/v1", func(w http.ResponseWriter, r *http.Request) {
		// The storage server names itself by its primary (legacy) key, on
		// the devnet its Ed25519 key, in base64.
		w.Header().Set(SnodePubkeyHeader, base64.StdEncoding.EncodeToString(n.keys.Ed25519Public()))
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /get_stats/v1", func(w http.ResponseWriter, r *http.Request) {
		v := chain.StorageServerVersion
		body, _ := json.Marshal(map[string]string{"version": fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2])})
		writeEdge(w, http.StatusOK, body)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, fmt.Sprintf("%s %s Not Found", r.Method, truncate(r.URL.Path, 100)), http.StatusNotFound)
	})
	return httpserve.NewTLS(n.cfg.HTTPSAddr, n.cfg.Edge.Handler(edgeEndpoint, mux), n.log, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), nil
}

// HTTPSURL is where the node's HTTPS edge listens ("" before Start).
func (n *Node) HTTPSURL() string {
	if n.https == nil {
		return ""
	}
	return n.https.URL()
}

// edgeClient names an HTTPS client for the rate limit and the memory
// budget: its address, as the storage server limits clients by IP. Every
// connection from one address shares one bucket, so opening a connection
// per request gains nothing; a workshop behind one address (or every app
// on the machine, on loopback) shares the mainnet's allowance, a burst of
// 600 requests and 300 a second, which a few dozen apps polling every few
// seconds stay far below.
func edgeClient(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return "https " + r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip != nil {
		return "https " + ip.String()
	}
	return "https " + host
}

// edge wraps an edge handler as guard wraps a stream handler: tracked (Close
// waits), refused after Close, a panic answered 500 and logged; then the
// rate limit, and the body read within the node's budget.
func (n *Node) edge(h func(ctx context.Context, w http.ResponseWriter, body []byte, client peer.ID)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !n.enter() {
			http.Error(w, "the node is stopping", http.StatusServiceUnavailable)
			return
		}
		defer n.hwg.Done()
		defer func() {
			if rec := recover(); rec != nil {
				n.log.Error().Str("handler", r.URL.Path).Str("panic", fmt.Sprint(rec)).Str("stack", string(debug.Stack())).Msg("request handler panicked")
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		client := edgeClient(r)
		if !n.limiter.allow(client, n.cfg.Now()) {
			http.Error(w, "too many requests; slow down", storagerpc.StatusTooManyRequests)
			return
		}
		if r.URL.Path == "/storage_rpc/v1" && r.Header.Get("X-Loki-Long-Poll") != "" {
			// An obsolete header: the storage server tells such clients to upgrade.
			http.Error(w, "long polling is no longer supported, client upgrade required", http.StatusGone)
			return
		}
		limit := maxStorageRequest
		if r.URL.Path == "/onion_req/v2" {
			limit = onion.MaxLayerSize
		}
		if r.ContentLength > int64(limit) {
			http.Error(w, "request over the size limit", http.StatusRequestEntityTooLarge)
			return
		}
		pid := peer.ID(client)
		body, release, err := n.inflight.read(http.MaxBytesReader(w, r.Body, int64(limit)), pid, limit+1)
		defer release()
		switch {
		case errors.Is(err, errBusy):
			http.Error(w, "the node is busy with other large requests; try again", storagerpc.StatusUnavailable)
			return
		case err != nil:
			http.Error(w, "request over the size limit or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		ctx, cancel := context.WithCancel(n.hctx)
		defer cancel()
		go func() {
			select {
			case <-r.Context().Done():
				cancel()
			case <-ctx.Done():
			}
		}()
		h(ctx, w, body, pid)
	}
}

// edgeStorage answers POST /storage_rpc/v1.
func (n *Node) edgeStorage(ctx context.Context, w http.ResponseWriter, body []byte, _ peer.ID) {
	var req struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Method  string          `json:"method"`
		Params  json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, "invalid json", http.StatusBadRequest)
		return
	}
	if req.Method == "" {
		http.Error(w, "invalid json: no `method` field", http.StatusBadRequest)
		return
	}
	if len(req.Params) == 0 || req.Params[0] != '{' {
		http.Error(w, "invalid json: no `params` field", http.StatusBadRequest)
		return
	}
	noteStorage(w, req.Method, req.Params)
	resp := n.dispatch(ctx, req.Method, req.Params, true, true)
	writeEdge(w, resp.Code, resp.Body)
}

// writeEdge writes a storage RPC answer as the storage server does: a JSON
// body as JSON, an error message (a JSON string) as text.
func writeEdge(w http.ResponseWriter, code int, body json.RawMessage) {
	var msg string
	if len(body) > 0 && body[0] == '"' && json.Unmarshal(body, &msg) == nil {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(code)
		w.Write([]byte(msg))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body)
}

// edgeOnion answers POST /onion_req/v2: the client's own layer for this
// node, which is then the first hop.
func (n *Node) edgeOnion(ctx context.Context, w http.ResponseWriter, body []byte, client peer.ID) {
	status, out := n.onionStep(ctx, 1, body, client)
	if status == onion.StatusOK {
		w.Header().Set("Content-Type", "text/plain")
	}
	w.WriteHeader(status)
	w.Write(out)
}
