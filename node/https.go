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
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"time"

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
// The certificate is self-signed, made at the first handshake for the
// node's key (real clients do not verify it). Requests are rate-limited per client address
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
	mux := http.NewServeMux()
	mux.HandleFunc("POST /storage_rpc/v1", n.edge(maxStorageRequest, n.edgeStorage))
	mux.HandleFunc("POST /onion_req/v2", n.edge(onion.MaxLayerSize, n.edgeOnion))
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
	return httpserve.NewTLS(n.cfg.HTTPSAddr, n.cfg.Edge.Handler(edgeEndpoint, mux), n.log, &tls.Config{GetCertificate: n.edgeCert, MinVersion: tls.VersionTLS12}), nil
}

// edgeCert is the HTTPS edge's certificate, made at the first handshake
// (a devnet's nodes start by the hundred, and most are never called over
// HTTPS); a failure to make it fails that handshake, and the next tries
// again.
func (n *Node) edgeCert(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	n.certMu.Lock()
	defer n.certMu.Unlock()
	if n.cert == nil {
		c, err := n.selfSignedCert()
		if err != nil {
			return nil, fmt.Errorf("https edge certificate: %w", err)
		}
		n.cert = &c
	}
	return n.cert, nil
}

// HTTPSURL is where the node's HTTPS edge listens ("" before Start).
func (n *Node) HTTPSURL() string {
	if n.https == nil {
		return ""
	}
	if a, ok := n.https.Addr().(*net.TCPAddr); ok && a.IP.IsUnspecified() {
		if ip, port := n.edgeAddr(); ip != "" {
			return "https://" + net.JoinHostPort(ip, strconv.Itoa(port)) // as published
		}
	}
	return n.https.URL()
}

// edge makes an edge handler an HTTP handler on the request path
// (request.go): served (Close waits; a panic answers 500), one deadline,
// the rate limit and the body read within the memory budget, keyed by the
// client's address; limit bounds the body.
func (n *Node) edge(limit int, h func(ctx context.Context, w http.ResponseWriter, body []byte, from clientKey)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		failed := func() { http.Error(w, "internal error", http.StatusInternalServerError) }
		if !n.serve(r.URL.Path, failed, func() { n.serveEdge(w, r, limit, h) }) {
			http.Error(w, "the node is stopping", http.StatusServiceUnavailable)
		}
	}
}

func (n *Node) serveEdge(w http.ResponseWriter, r *http.Request, limit int, h func(context.Context, http.ResponseWriter, []byte, clientKey)) {
	// A context of its own, not shared (deadline): a client that goes
	// away cancels its request only.
	at := time.Now().Add(requestTimeout)
	ctx, cancel := context.WithDeadline(n.hctx, at)
	defer cancel()
	defer context.AfterFunc(r.Context(), cancel)()
	// The deadline bounds the body's read and the answer's write too. The
	// write deadline is cleared after: net/http leaves it on a kept-alive
	// connection, which would then fail its next requests.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(at)
	rc.SetWriteDeadline(at)
	defer rc.SetWriteDeadline(time.Time{})
	from := edgeClient(r)
	if e := n.charge(from); e != nil {
		edgeError(w, e)
		return
	}
	if r.URL.Path == "/storage_rpc/v1" && r.Header.Get("X-Loki-Long-Poll") != "" {
		// An obsolete header: the storage server tells such clients to upgrade.
		http.Error(w, "long polling is no longer supported, client upgrade required", http.StatusGone)
		return
	}
	if r.ContentLength > int64(limit) {
		edgeError(w, errf(storagerpc.StatusTooLarge, "request over the size limit (%d bytes)", limit))
		return
	}
	body, release, rerr := n.readBody(from, http.MaxBytesReader(w, r.Body, int64(limit)), limit)
	defer release()
	if rerr != nil {
		edgeError(w, rerr)
		return
	}
	ctx, turn, rerr := n.takeTurn(ctx, from, classNew)
	if rerr != nil {
		edgeError(w, rerr)
		return
	}
	defer turn.done()
	h(ctx, w, body, from)
}

// edgeError answers a refusal at the edge as the storage server does: its
// status, its message as text.
func edgeError(w http.ResponseWriter, e *rpcError) {
	resp := e.response()
	writeEdge(w, resp.Code, resp.Body)
}

// edgeStorage answers POST /storage_rpc/v1.
func (n *Node) edgeStorage(ctx context.Context, w http.ResponseWriter, body []byte, _ clientKey) {
	req, rerr := decodeRequest(body)
	if rerr != nil {
		edgeError(w, rerr)
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
func (n *Node) edgeOnion(ctx context.Context, w http.ResponseWriter, body []byte, from clientKey) {
	ctx, cancel := forwardContext(ctx)
	defer cancel()
	status, out, release := n.onionStep(ctx, 1, body, from)
	defer release()
	if status == onion.StatusOK {
		w.Header().Set("Content-Type", "text/plain")
	}
	w.WriteHeader(status)
	w.Write(out)
}
