// Package httpserve runs sessionctl's HTTP servers (the ledger RPC, the file
// and community servers, the devnet's control endpoint) the one way, with the
// lifecycle every long-lived part has:
//
//	s := httpserve.New(addr, handler, log) // allocates only
//	err := s.Start(ctx)                    // binds (127.0.0.1:0 unless told); serves
//	url := s.URL()
//	err := <-s.Err()                       // a failure after Start (Serve's error)
//	s.Close()                              // graceful: new requests refused, running ones finish; safe twice
//
// Handlers run on a context that Close cancels (BaseContext), and Close
// returns only once every handler has returned, so the caller may close what
// they use right after. A panic in a handler is net/http's to recover: it
// answers nothing and logs.
package httpserve

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Server is one HTTP server.
type Server struct {
	addr string
	h    http.Handler
	log  zerolog.Logger
	tls  *tls.Config
	// onErr, if set (OnErr), is told of the failure Err delivers.
	onErr func(error)

	mu      sync.Mutex
	ln      net.Listener
	srv     *http.Server
	cancel  context.CancelFunc
	done    chan struct{}
	errc    chan error
	ready   chan struct{}
	started bool
	closed  bool
	running sync.WaitGroup // handlers under way
	// fresh are connections that have not sent a request yet, which
	// Shutdown would wait 5 s for (a client's transport dials ahead).
	fresh map[net.Conn]bool
}

// New returns a server of h for addr (default 127.0.0.1:0).
func New(addr string, h http.Handler, log zerolog.Logger) *Server {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	return &Server{addr: addr, h: h, log: log, errc: make(chan error, 1), ready: make(chan struct{}), done: make(chan struct{})}
}

// NewTLS returns a server of h for addr that speaks HTTPS with cfg.
func NewTLS(addr string, h http.Handler, log zerolog.Logger, cfg *tls.Config) *Server {
	s := New(addr, h, log)
	s.tls = cfg
	return s
}

// ErrClosed is Start after Close.
var ErrClosed = errors.New("server closed")

// Start binds and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.started {
		return errors.New("httpserve: already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.addr, err)
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	base, cancel := context.WithCancel(context.Background())
	s.ln, s.cancel, s.started = ln, cancel, true
	tracked := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.running.Add(1)
		defer s.running.Done()
		s.h.ServeHTTP(w, r)
	})
	s.srv = &http.Server{Handler: tracked, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute,
		BaseContext: func(net.Listener) context.Context { return base }, ConnState: s.connState}
	close(s.ready)
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("http server stopped")
			s.errc <- err
			if s.onErr != nil {
				s.onErr(err)
			}
		}
	}()
	return nil
}

// Ready is closed once the server listens.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Err delivers a failure of the server after Start, if one happens.
func (s *Server) Err() <-chan error { return s.errc }

// OnErr has f told of the failure Err delivers, on the server's goroutine,
// before Close returns: an owner of thousands of servers (a devnet's
// nodes' edges) then needs no goroutine a server waiting on Err. f must
// not call Close. Call it before Start.
func (s *Server) OnErr(f func(error)) { s.onErr = f }

// URL is http://host:port once started, "" before.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	if s.tls != nil {
		return "https://" + s.ln.Addr().String()
	}
	return "http://" + s.ln.Addr().String()
}

// Addr is the address listened on, nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Close stops accepting, cancels the running handlers' context, waits for
// them to return (closing their connections after 5 s), and stops the
// server. Safe to call twice, and before Start.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	started := s.started
	s.mu.Unlock()
	if !started {
		return nil
	}
	// Handlers see their context end at once (a long poll returns), then
	// Shutdown waits for them to finish.
	s.cancel()
	// Connections that never sent a request are closed now: Shutdown
	// would otherwise wait 5 s for each to speak.
	s.mu.Lock()
	for c := range s.fresh {
		c.Close()
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := s.srv.Shutdown(ctx)
	cancel()
	if err != nil {
		// Shutdown gave up on slow handlers: close their connections and
		// wait for the handlers, which now see a canceled context.
		s.srv.Close()
	}
	<-s.done
	s.running.Wait()
	return nil
}

// connState keeps track of the connections that have not sent a request.
func (s *Server) connState(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st == http.StateNew {
		if s.fresh == nil {
			s.fresh = map[net.Conn]bool{}
		}
		s.fresh[c] = true // bounded by the connections open
	} else {
		delete(s.fresh, c)
	}
}

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// WriteError answers {"error": msg} with status.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"error": msg})
}
