// Package proxy is the devnet's HTTP forward proxy. Many Session clients
// hard-code the real network's hosts (the seeds, the file server, the
// default community) but take an HTTP proxy: pointed at this one, they
// reach the devnet with no code change.
//
//	p, err := proxy.New(proxy.Config{Backends: proxy.Backends{Seed: "127.0.0.1:4100", Files: ..., Community: ...},
//		Tunnel: isNodeEdge})
//	err = p.Start(ctx)
//	defer p.Close()
//	url := p.URL() // http://127.0.0.1:PORT: the client's proxy setting
//
// What it does with a request:
//
//	GET http://seed1.getsession.org/json_rpc     absolute form, a real host: forwarded to the devnet's
//	                                             server for it (seed1-3: the seed; filev2: the file
//	                                             server; open.getsession.org: the community server)
//	GET http://127.0.0.1:4100/...                one of those servers by its own address: forwarded
//	CONNECT seed1.getsession.org:443             a real host's HTTPS port (443, 4443): tunnelled to the
//	                                             proxy's TLS front (a self-signed certificate for the
//	                                             real names), which forwards as above
//	CONNECT filev2.getsession.org:80             a real host's other ports: tunnelled to its server
//	CONNECT 127.0.0.1:4321                       a node's HTTPS edge (Config.Tunnel): tunnelled as it is
//	anything else                                403: the proxy never reaches outside the devnet
//
// Tunnels are bounded (Config.MaxTunnels; one more is answered 503) and end
// when idle both ways for Config.IdleTimeout, or when the proxy closes:
// Close waits for every tunnel and forward. Each request is one edge log
// line (Config.Edge): "proxy CONNECT" with the bytes carried when its tunnel
// ends, "proxy GET" (POST, ...) with the URL asked for; what then reaches a
// node or the seed is logged there too.
package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/internal/edgelog"
	"github.com/sessionctl/sessionctl/internal/httpserve"
)

// The real network's hosts that clients hard-code, by the devnet server
// that answers for them.
var (
	// SeedHosts are the seeds (session-desktop's preload.js, bun-network's seeds.ts).
	SeedHosts = []string{"seed1.getsession.org", "seed2.getsession.org", "seed3.getsession.org"}
	// FileHosts is the file server (session-desktop's SERVER_HOSTS.DEFAULT_FILE_SERVER).
	FileHosts = []string{"filev2.getsession.org"}
	// CommunityHosts are the default community, by name and by the
	// address apps saved before it had one (session-desktop's ApiUtil.ts).
	CommunityHosts = []string{"open.getsession.org", "116.203.70.33"}
)

// tlsPorts are the ports at which a real host speaks HTTPS: a CONNECT
// there is tunnelled to the TLS front (443; the seeds' 4443).
var tlsPorts = map[string]bool{"443": true, "4443": true}

// Backends are the devnet's servers (host:port, plain HTTP) that answer
// for the real hosts; "" leaves a kind out.
type Backends struct {
	Seed, Files, Community string
}

// Config configures a Proxy.
type Config struct {
	// Addr to listen on; default 127.0.0.1:0. The TLS front listens on
	// the same IP, at a free port.
	Addr string
	// Backends answer for the real hosts.
	Backends Backends
	// Tunnel reports whether a CONNECT may reach host:port as it is: a
	// node's HTTPS edge. nil allows none.
	Tunnel func(hostport string) bool
	// MaxTunnels bounds the tunnels open at once; default 256.
	MaxTunnels int
	// IdleTimeout ends a tunnel that carried nothing either way for that
	// long; default 2 minutes.
	IdleTimeout time.Duration
	// DialTimeout bounds reaching a devnet address; default 5 s.
	DialTimeout time.Duration
	// Edge gets one entry a request (component=edge lines). The zero Sink
	// records nothing.
	Edge edgelog.Sink
	// Logger gets the proxy's lifecycle and failures.
	Logger zerolog.Logger
}

// Proxy is a running forward proxy.
type Proxy struct {
	cfg   Config
	log   zerolog.Logger
	hosts map[string]string // a real host name -> its backend
	own   map[string]bool   // the backends' own host:port
	http  *httpserve.Server
	front *httpserve.Server
	rp    *httputil.ReverseProxy
	tr    *http.Transport
	dial  net.Dialer
	slots chan struct{} // one a tunnel open

	errc      chan error
	closing   chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New validates cfg and allocates; nothing listens until Start.
func New(cfg Config) (*Proxy, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("proxy: address %q: %w", cfg.Addr, err)
	}
	if cfg.MaxTunnels == 0 {
		cfg.MaxTunnels = 256
	}
	if cfg.MaxTunnels < 0 {
		return nil, fmt.Errorf("proxy: MaxTunnels %d: want a positive bound", cfg.MaxTunnels)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	p := &Proxy{cfg: cfg, log: cfg.Logger.With().Str("module", "proxy").Logger(), hosts: map[string]string{}, own: map[string]bool{},
		slots: make(chan struct{}, cfg.MaxTunnels), errc: make(chan error, 1), closing: make(chan struct{})}
	for _, b := range []struct {
		addr  string
		names []string
	}{{cfg.Backends.Seed, SeedHosts}, {cfg.Backends.Files, FileHosts}, {cfg.Backends.Community, CommunityHosts}} {
		if b.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(b.addr); err != nil {
			return nil, fmt.Errorf("proxy: backend %q: want host:port: %w", b.addr, err)
		}
		p.own[b.addr] = true
		for _, n := range b.names {
			p.hosts[n] = b.addr
		}
	}
	p.dial = net.Dialer{Timeout: cfg.DialTimeout}
	p.tr = &http.Transport{Proxy: nil, DialContext: p.dial.DialContext, MaxIdleConnsPerHost: 8, MaxConnsPerHost: 64,
		IdleConnTimeout: 30 * time.Second, ResponseHeaderTimeout: time.Minute, DisableCompression: true}
	p.rp = &httputil.ReverseProxy{Transport: p.tr, Rewrite: rewrite, ErrorHandler: p.forwardError}
	cert, err := frontCert()
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	p.http = httpserve.New(cfg.Addr, http.HandlerFunc(p.serve), p.log)
	p.front = httpserve.NewTLS(net.JoinHostPort(host, "0"), http.HandlerFunc(p.serveFront), p.log,
		&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	return p, nil
}

// Start binds the proxy and its TLS front and serves.
func (p *Proxy) Start(ctx context.Context) error {
	if err := p.front.Start(ctx); err != nil {
		return fmt.Errorf("proxy's TLS front: %w", err)
	}
	if err := p.http.Start(ctx); err != nil {
		p.front.Close()
		return fmt.Errorf("proxy: %w", err)
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		var err error
		select {
		case err = <-p.http.Err():
		case err = <-p.front.Err():
		case <-p.closing:
			return
		}
		p.errc <- err
	}()
	p.log.Info().Str("url", p.URL()).Str("tls_front", p.front.Addr().String()).Msg("proxy listening")
	return nil
}

// URL is the proxy's address, http://IP:PORT ("" before Start): what a
// client's proxy setting takes.
func (p *Proxy) URL() string { return p.http.URL() }

// Err delivers a failure of the proxy or its TLS front after Start.
func (p *Proxy) Err() <-chan error { return p.errc }

// Close stops both listeners, ends the tunnels and waits for every
// request under way. Safe twice, and before Start.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() { close(p.closing) })
	err := errors.Join(p.http.Close(), p.front.Close())
	p.wg.Wait()
	p.tr.CloseIdleConnections()
	return err
}

// route says which devnet address answers for hostport, asked for in
// absolute form (connect false) or by CONNECT; false: none.
func (p *Proxy) route(hostport string, connect bool) (string, bool) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		if connect {
			return "", false // CONNECT names a port
		}
		host, port = hostport, "80"
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if b, ok := p.hosts[host]; ok {
		if connect && tlsPorts[port] {
			return p.front.Addr().String(), true
		}
		return b, true
	}
	hp := net.JoinHostPort(host, port)
	if p.own[hp] {
		return hp, true
	}
	if connect && p.cfg.Tunnel != nil && p.cfg.Tunnel(hp) {
		return hp, true
	}
	return "", false
}

// refusal is what a client asking for a host outside the devnet reads.
func refusal(hostport string, connect bool) string {
	what := "the seeds (" + strings.Join(SeedHosts, ", ") + "), " + strings.Join(FileHosts, ", ") + ", " +
		strings.Join(CommunityHosts, ", ") + " and the devnet's own servers"
	if connect {
		what += ", and by CONNECT the nodes' HTTPS addresses"
	} else {
		what += " (a node's HTTPS address is reached by CONNECT: an https:// URL)"
	}
	return fmt.Sprintf("sessionctl's devnet proxy reaches only the devnet: %s is not one of its hosts; it answers for %s\n",
		edgelog.Trim(hostport), what)
}

// serve answers a request to the proxy and records it.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	e := edgelog.Entry{Method: edgelog.Trim(r.Method), Remote: r.RemoteAddr, Endpoint: "proxy " + edgelog.Trim(r.Method)}
	start := time.Now()
	defer func() {
		e.Duration = time.Since(start)
		p.cfg.Edge.Record(e)
	}()
	if r.Method == http.MethodConnect {
		e.Path = r.Host
		p.connect(w, r, &e)
		return
	}
	if !r.URL.IsAbs() || r.URL.Host == "" {
		e.Path = r.URL.Path
		e.Status = http.StatusBadRequest
		http.Error(w, "this is sessionctl's devnet proxy: send requests in absolute form (POST http://seed1.getsession.org/json_rpc) or CONNECT host:port", e.Status)
		return
	}
	e.Path = r.URL.Scheme + "://" + r.URL.Host + r.URL.Path
	if r.URL.Scheme != "http" {
		e.Status = http.StatusBadRequest
		http.Error(w, "an "+edgelog.Trim(r.URL.Scheme)+" URL goes through CONNECT, not in absolute form", e.Status)
		return
	}
	target, ok := p.route(r.URL.Host, false)
	if !ok {
		e.Status = http.StatusForbidden
		http.Error(w, refusal(r.URL.Host, false), e.Status)
		return
	}
	e.Target = target
	p.forward(w, r, target, &e)
}

// serveFront answers a request that came through a tunnel to the TLS
// front: the Host header names the real host.
func (p *Proxy) serveFront(w http.ResponseWriter, r *http.Request) {
	e := edgelog.Entry{Method: edgelog.Trim(r.Method), Remote: r.RemoteAddr, Endpoint: "proxy " + edgelog.Trim(r.Method),
		Path: "https://" + r.Host + r.URL.Path}
	start := time.Now()
	defer func() {
		e.Duration = time.Since(start)
		p.cfg.Edge.Record(e)
	}()
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	target, ok := p.hosts[strings.TrimSuffix(strings.ToLower(host), ".")]
	if !ok {
		e.Status = http.StatusMisdirectedRequest
		http.Error(w, refusal(r.Host, false), e.Status)
		return
	}
	e.Target = target
	p.forward(w, r, target, &e)
}

type targetKey struct{}

// rewrite points a forwarded request at its devnet address, keeping its
// path, query and Host header (the server sees the name the client used).
func rewrite(pr *httputil.ProxyRequest) {
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host, _ = pr.In.Context().Value(targetKey{}).(string)
	pr.Out.Host = pr.In.Host
}

// forward passes r to target and notes the status answered in e.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, target string, e *edgelog.Entry) {
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		// ReverseProxy aborts (panics with http.ErrAbortHandler) when a
		// side goes mid-answer; the line still says what was answered.
		e.Status = sw.status
		if rec := recover(); rec != nil {
			if e.Status == 0 {
				e.Status = http.StatusBadGateway
			}
			panic(rec)
		}
		if e.Status == 0 {
			e.Status = http.StatusOK
		}
	}()
	p.rp.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), targetKey{}, target)))
}

func (p *Proxy) forwardError(w http.ResponseWriter, r *http.Request, err error) {
	target, _ := r.Context().Value(targetKey{}).(string)
	p.log.Debug().Err(err).Str("to", target).Msg("forward")
	http.Error(w, fmt.Sprintf("sessionctl's devnet proxy: the devnet's server at %s did not answer", target), http.StatusBadGateway)
}

// connect tunnels a CONNECT to its devnet address until either side ends
// it, it idles, or the proxy closes.
func (p *Proxy) connect(w http.ResponseWriter, r *http.Request, e *edgelog.Entry) {
	target, ok := p.route(r.Host, true)
	if !ok {
		e.Status = http.StatusForbidden
		http.Error(w, refusal(r.Host, true), e.Status)
		return
	}
	e.Target = target
	select {
	case p.slots <- struct{}{}:
		defer func() { <-p.slots }()
	default:
		e.Status = http.StatusServiceUnavailable
		http.Error(w, fmt.Sprintf("sessionctl's devnet proxy: %d tunnels are open already; close some and try again", p.cfg.MaxTunnels), e.Status)
		return
	}
	up, err := p.dial.DialContext(r.Context(), "tcp", target)
	if err != nil {
		e.Status = http.StatusBadGateway
		http.Error(w, fmt.Sprintf("sessionctl's devnet proxy: %s did not answer (is that node running?)", target), e.Status)
		return
	}
	down, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		e.Status = http.StatusInternalServerError
		http.Error(w, "sessionctl's devnet proxy: this connection cannot be tunnelled", e.Status)
		return
	}
	// The server's header deadlines are ours to clear once hijacked.
	down.SetDeadline(time.Time{})
	e.Status = http.StatusOK
	if _, err := io.WriteString(down, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		up.Close()
		down.Close()
		return
	}
	// What the client sent after its CONNECT (a TLS hello, eagerly) is
	// in the server's read buffer.
	if n := rw.Reader.Buffered(); n > 0 {
		b, _ := rw.Reader.Peek(n)
		if _, err := up.Write(b); err != nil {
			up.Close()
			down.Close()
			return
		}
	}
	e.Bytes = p.splice(r.Context(), down, up)
}

// splice copies a and b both ways until both ends are done (a half-close
// is passed on), an error, ctx's end (the proxy closing), or neither side
// sent anything for IdleTimeout. It returns the bytes carried.
func (p *Proxy) splice(ctx context.Context, a, b net.Conn) int64 {
	var carried, last atomic.Int64
	last.Store(time.Now().UnixNano())
	closeBoth := func() { a.Close(); b.Close() }
	stop := context.AfterFunc(ctx, closeBoth)
	defer stop()
	idle := p.cfg.IdleTimeout
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			src.SetReadDeadline(time.Now().Add(idle))
			n, err := src.Read(buf)
			if n > 0 {
				last.Store(time.Now().UnixNano())
				carried.Add(int64(n))
				dst.SetWriteDeadline(time.Now().Add(idle))
				if _, werr := dst.Write(buf[:n]); werr != nil {
					closeBoth()
					return
				}
			}
			switch {
			case err == nil:
			case errors.Is(err, io.EOF):
				if cw, ok := dst.(interface{ CloseWrite() error }); ok {
					cw.CloseWrite()
					return
				}
				closeBoth()
				return
			case isTimeout(err) && time.Since(time.Unix(0, last.Load())) < idle:
				// the other way is busy: this one may wait
			default:
				closeBoth()
				return
			}
		}
	}
	wg.Add(2)
	go pipe(b, a)
	go pipe(a, b)
	wg.Wait()
	closeBoth()
	return carried.Load()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// statusWriter notes the status a forward answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// frontCert makes the TLS front's self-signed certificate, for the real
// hosts' names (clients that check it must be told not to: it cannot be
// the real one).
func frontCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "sessionctl devnet proxy"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, hs := range [][]string{SeedHosts, FileHosts, CommunityHosts} {
		for _, h := range hs {
			if ip := net.ParseIP(h); ip != nil {
				tpl.IPAddresses = append(tpl.IPAddresses, ip)
			} else {
				tpl.DNSNames = append(tpl.DNSNames, h)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
