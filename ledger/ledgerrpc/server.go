// Package ledgerrpc serves a ledger over HTTP JSON on 127.0.0.1, in the role
// of oxend's RPC, and is the client that service nodes, Session clients and
// the command line use to reach it.
//
// Reads are open; transactions are accepted from anyone (they are signed);
// making blocks on demand and the authority's state changes need the bearer
// token the server was given.
//
//	GET  /v1/info[?wait_height=H]  height, hash, counts; waits (up to 30 s) for height H
//	GET  /v1/nodes                 every registered node
//	GET  /v1/nodes/{key}           one node
//	GET  /v1/swarms                swarms and their members
//	GET  /v1/swarm_of/{account}    the swarm that owns an Account ID
//	GET  /v1/accounts/{wallet}     balance, stake and next nonce
//	GET  /v1/names?hash=H          an SNS record by name hash
//	GET  /v1/blocks/{height}       a block
//	GET  /v1/txs/{hash}            where a transaction stands
//	GET  /v1/rounds                the remembered testing rounds, newest first
//	GET  /v1/rounds/at/{height}    the testing round of a height
//	POST /v1/txs                   submit a transaction
//	POST /v1/mine                  {"blocks": N}; token
//	POST /v1/state_change          {"node_key","state","reason"}; token
//
// Errors are {"error": {"code", "message"}} with a stable code.
package ledgerrpc

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/edgelog"
	"github.com/sessionctl/sessionctl/internal/httpserve"
	"github.com/sessionctl/sessionctl/ledger"
)

// Error codes of the RPC.
const (
	CodeBadRequest   = "bad_request"  // the request cannot be read
	CodeRejected     = "rejected"     // a transaction breaks a rule of the chain
	CodeNotFound     = "not_found"    // no such node, block, name or route
	CodeUnauthorized = "unauthorized" // the token is missing or wrong
	CodeUnavailable  = "unavailable"  // the ledger is closing
	CodeInternal     = "internal"     // something failed inside; see the ledger's log
)

// ServerConfig configures a Server.
type ServerConfig struct {
	Ledger *ledger.Ledger
	// Addr to listen on; "" means 127.0.0.1:0 (a free loopback port).
	Addr string
	// Token guards mine and state_change; "" leaves them open (tests only).
	Token  string
	Logger zerolog.Logger
	// Edge gets one entry for each request at the seed (POST /json_rpc,
	// and any path the RPC does not know): the devnet's "edge" log. The
	// RPC's own routes (/v1/...) are sessionctl's, not a client edge, and
	// get none. The zero Sink records nothing.
	Edge edgelog.Sink
}

// Server is the ledger's HTTP server.
type Server struct {
	cfg  ServerConfig
	log  zerolog.Logger
	http *httpserve.Server
}

// NewServer validates cfg.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Ledger == nil {
		return nil, errors.New("ledgerrpc: ServerConfig.Ledger is required")
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With().Str("module", "ledger-rpc").Logger()}
	s.http = httpserve.New(cfg.Addr, s.Handler(), s.log)
	return s, nil
}

// Start binds the address and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	if err := s.http.Start(ctx); err != nil {
		return err
	}
	s.log.Info().Str("url", s.URL()).Msg("ledger rpc listening")
	return nil
}

// URL returns the server's base URL, e.g. http://127.0.0.1:41234 ("" before
// Start).
func (s *Server) URL() string { return s.http.URL() }

// Ready is closed once the server listens.
func (s *Server) Ready() <-chan struct{} { return s.http.Ready() }

// Err delivers a failure of the server after Start.
func (s *Server) Err() <-chan error { return s.http.Err() }

// Close stops the server: long polls return at once, other requests finish
// (up to 5 s). Safe to call twice.
func (s *Server) Close() error { return s.http.Close() }

// Handler returns the RPC's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/info", s.info)
	mux.HandleFunc("GET /v1/nodes", s.nodes)
	mux.HandleFunc("GET /v1/nodes/{key}", s.node)
	mux.HandleFunc("GET /v1/swarms", s.swarms)
	mux.HandleFunc("GET /v1/swarm_of/{account}", s.swarmOf)
	mux.HandleFunc("GET /v1/accounts/{wallet}", s.account)
	mux.HandleFunc("GET /v1/names", s.name)
	mux.HandleFunc("GET /v1/blocks/{height}", s.block)
	mux.HandleFunc("GET /v1/txs/{hash}", s.txStatus)
	mux.HandleFunc("GET /v1/rounds", s.rounds)
	mux.HandleFunc("GET /v1/rounds/at/{height}", s.roundAt)
	mux.HandleFunc("POST /v1/txs", s.submit)
	mux.Handle("POST /json_rpc", s.cfg.Edge.Handler(seedEndpoint, http.HandlerFunc(s.jsonRPC)))
	mux.HandleFunc("POST /v1/mine", s.authorized(s.mine))
	mux.HandleFunc("POST /v1/state_change", s.authorized(s.stateChange))
	mux.Handle("/", s.cfg.Edge.Handler(seedEndpoint, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})))
	return mux
}

// errorBody is the JSON of an error.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e errorBody
	e.Error.Code, e.Error.Message = code, msg
	httpserve.WriteJSON(w, status, e)
}

// classify maps a ledger error to the RPC's error: the one mapping both
// the HTTP server and Local use. Unexpected errors are CodeInternal, their
// text not shown.
func classify(err error) *Error {
	switch {
	case errors.Is(err, ledger.ErrClosed), errors.Is(err, ledger.ErrNotStarted):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the ledger is not running"}
	case errors.Is(err, ledger.ErrNoBlock), errors.Is(err, ledger.ErrNoNode):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, chain.ErrTxFormat):
		return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: err.Error()}
	case isRuleError(err):
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeRejected, Message: err.Error()}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
}

// fail maps a ledger error to a response; unexpected errors are logged and
// answered without their text.
func (s *Server) fail(w http.ResponseWriter, err error) {
	e := classify(err)
	if errors.Is(err, context.Canceled) {
		return // the client went away (a node stopping in a long poll): nobody to answer
	}
	if e.Code == CodeInternal {
		s.log.Error().Err(err).Msg("request failed")
	}
	writeError(w, e.Status, e.Code, e.Message)
}

func isRuleError(err error) bool {
	for _, e := range []error{ledger.ErrNonce, ledger.ErrFunds, ledger.ErrNoNode, ledger.ErrStakeRules,
		ledger.ErrNodeState, ledger.ErrNameTaken, ledger.ErrForbidden, ledger.ErrMempoolFull} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (s *Server) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) != 1 {
				writeError(w, http.StatusUnauthorized, CodeUnauthorized, "this endpoint needs the ledger's token (Authorization: Bearer)")
				return
			}
		}
		h(w, r)
	}
}

// maxWait bounds a long poll of /v1/info.
const maxWait = 30 * time.Second

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	wh := r.URL.Query().Get("wait_height")
	if wh == "" {
		httpserve.WriteJSON(w, http.StatusOK, s.cfg.Ledger.Info())
		return
	}
	h, err := strconv.ParseUint(wh, 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "wait_height: want a block height")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), maxWait)
	defer cancel()
	info, err := s.cfg.Ledger.WaitHeight(ctx, h)
	if errors.Is(err, context.DeadlineExceeded) {
		info = s.cfg.Ledger.Info() // not there yet: the caller asks again
	} else if err != nil {
		s.fail(w, err)
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, info)
}

func (s *Server) nodes(w http.ResponseWriter, r *http.Request) {
	httpserve.WriteJSON(w, http.StatusOK, struct {
		Nodes []chain.ServiceNode `json:"nodes"`
	}{s.cfg.Ledger.Nodes()})
}

func (s *Server) node(w http.ResponseWriter, r *http.Request) {
	n, ok := s.cfg.Ledger.Node(r.PathValue("key"))
	if !ok {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such service node: "+trim(r.PathValue("key")))
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, n)
}

func (s *Server) swarms(w http.ResponseWriter, r *http.Request) {
	httpserve.WriteJSON(w, http.StatusOK, struct {
		Height uint64             `json:"height"`
		Swarms []ledger.SwarmInfo `json:"swarms"`
	}{s.cfg.Ledger.Info().SwarmsHeight, s.cfg.Ledger.Swarms()})
}

func (s *Server) swarmOf(w http.ResponseWriter, r *http.Request) {
	id, err := identity.ParseAccountID(r.PathValue("account"))
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, s.cfg.Ledger.SwarmOf(id))
}

func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	a, err := s.cfg.Ledger.Account(r.PathValue("wallet"))
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, a)
}

func (s *Server) name(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.cfg.Ledger.Name(r.URL.Query().Get("hash"))
	if !ok {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such name")
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, rec)
}

func (s *Server) block(w http.ResponseWriter, r *http.Request) {
	h, err := strconv.ParseUint(r.PathValue("height"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "height: want a block height")
		return
	}
	b, err := s.cfg.Ledger.Block(r.Context(), h)
	if err != nil {
		s.fail(w, err)
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, b)
}

func (s *Server) txStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.cfg.Ledger.TxStatus(r.Context(), r.PathValue("hash"))
	if err != nil {
		s.fail(w, err)
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, st)
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, CodeBadRequest, fmt.Sprintf("request body over %d bytes", limit))
		} else {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "unreadable request body")
		}
		return nil, false
	}
	return body, true
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, chain.MaxTxSize)
	if !ok {
		return
	}
	tx, err := chain.DecodeTx(body)
	if err != nil {
		s.fail(w, err)
		return
	}
	hash, err := s.cfg.Ledger.Submit(tx)
	if err != nil {
		s.fail(w, err)
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, map[string]string{"hash": hash})
}

// MineRequest is the body of POST /v1/mine.
type MineRequest struct {
	Blocks int `json:"blocks"`
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (s *Server) mine(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, 1<<10)
	if !ok {
		return
	}
	var req MineRequest
	if err := decodeStrict(body, &req); err != nil || req.Blocks < 1 || req.Blocks > 10_000 {
		writeError(w, http.StatusBadRequest, CodeBadRequest, `want {"blocks": N} with N from 1 to 10000`)
		return
	}
	blocks, err := s.cfg.Ledger.Mine(r.Context(), req.Blocks)
	if err != nil {
		s.fail(w, err)
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, struct {
		Blocks []*ledger.Block `json:"blocks"`
	}{blocks})
}

// StateChangeRequest is the body of POST /v1/state_change.
type StateChangeRequest struct {
	NodeKey string          `json:"node_key"`
	State   chain.NodeState `json:"state"`
	Reason  string          `json:"reason,omitempty"`
}

func (s *Server) stateChange(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, 1<<10)
	if !ok {
		return
	}
	var req StateChangeRequest
	if err := decodeStrict(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, `want {"node_key", "state", "reason"}`)
		return
	}
	hash, err := s.cfg.Ledger.ChangeState(req.NodeKey, req.State, req.Reason)
	if err != nil {
		s.fail(w, err)
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, map[string]string{"hash": hash})
}

func trim(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func (s *Server) rounds(w http.ResponseWriter, r *http.Request) {
	rounds := s.cfg.Ledger.Rounds()
	if rounds == nil {
		rounds = []chain.Round{}
	}
	httpserve.WriteJSON(w, http.StatusOK, struct {
		Rounds []chain.Round `json:"rounds"`
	}{rounds})
}

func (s *Server) roundAt(w http.ResponseWriter, r *http.Request) {
	h, err := strconv.ParseUint(r.PathValue("height"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "height: want a block height")
		return
	}
	rd, ok := s.cfg.Ledger.RoundAt(h)
	if !ok {
		writeError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("no testing round is remembered for height %d", h))
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, rd)
}
