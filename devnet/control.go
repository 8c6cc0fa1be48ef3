package devnet

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sessionctl/sessionctl/community"
	"github.com/sessionctl/sessionctl/internal/httpserve"
)

// The control endpoint: HTTP on 127.0.0.1, every request guarded by the
// manifest's token (Authorization: Bearer). The CLI's devnet, node and down
// commands use it through ControlClient.
//
//	GET  /v1/status                 height, nodes running, swarms
//	GET  /v1/nodes                  every node as in the manifest
//	POST /v1/nodes/{name}/kill      stop a node (it stays registered)
//	POST /v1/nodes/{name}/restart   start it again
//	POST /v1/down                   stop the devnet

type controlServer struct {
	d    *Devnet
	http *httpserve.Server
}

func startControl(ctx context.Context, d *Devnet) (*controlServer, error) {
	c := &controlServer{d: d}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", c.status)
	mux.HandleFunc("GET /v1/nodes", c.nodes)
	mux.HandleFunc("POST /v1/nodes/{name}/kill", c.kill)
	mux.HandleFunc("POST /v1/nodes/{name}/restart", c.restart)
	mux.HandleFunc("POST /v1/down", c.downReq)
	mux.HandleFunc("POST /v1/community/rooms", c.addRoom)
	c.http = httpserve.New("127.0.0.1:0", c.auth(mux), d.log)
	if err := c.http.Start(ctx); err != nil {
		return nil, fmt.Errorf("control endpoint: %w", err)
	}
	return c, nil
}

func (c *controlServer) url() string { return c.http.URL() }

func (c *controlServer) close() error { return c.http.Close() }

func (c *controlServer) auth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(c.d.token)) != 1 {
			httpserve.WriteError(w, http.StatusUnauthorized, "the control endpoint needs the token in devnet.json")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// The control protocol keeps sentinel errors across the wire: an error
// answer carries a code that the client turns back into the sentinel, so
// callers use errors.Is, never the text.
var controlErrors = map[string]error{
	"unknown_node":   ErrUnknownNode,
	"node_running":   ErrNodeRunning,
	"node_stopped":   ErrNodeStopped,
	"room_exists":    community.ErrRoomExists,
	"bad_room_token": community.ErrRoomToken,
}

// writeErrOf answers err with its status and, for a sentinel, its code.
func writeErrOf(w http.ResponseWriter, status int, err error) {
	for code, sentinel := range controlErrors {
		if errors.Is(err, sentinel) {
			httpserve.WriteJSON(w, status, map[string]string{"error": err.Error(), "code": code})
			return
		}
	}
	httpserve.WriteError(w, status, err.Error())
}

// remoteError is an error answer of the control endpoint: its message, and
// the sentinel its code names.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

// decodeErr turns an error answer back into an error.
func decodeErr(data []byte) error {
	var e struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	if json.Unmarshal(data, &e) != nil || e.Error == "" {
		return errors.New("the control endpoint answered an error it did not explain")
	}
	return &remoteError{msg: e.Error, sentinel: controlErrors[e.Code]}
}

// Status is the answer of /v1/status.
type Status struct {
	Seed         string `json:"seed"`
	PID          int    `json:"pid"`
	Height       uint64 `json:"height"`
	Nodes        int    `json:"nodes"`
	NodesRunning int    `json:"nodes_running"`
	ActiveNodes  int    `json:"active_nodes"`
	Swarms       int    `json:"swarms"`
	LedgerURL    string `json:"ledger_url"`
}

func (c *controlServer) status(w http.ResponseWriter, r *http.Request) {
	info := c.d.Network.Ledger.Info()
	httpserve.WriteJSON(w, http.StatusOK, Status{Seed: c.d.st.Seed, PID: c.d.Manifest().PID, Height: info.Height, Nodes: c.d.st.Nodes,
		NodesRunning: len(c.d.Network.Nodes()), ActiveNodes: info.ActiveNodes, Swarms: info.Swarms, LedgerURL: c.d.Network.LedgerURL()})
}

func (c *controlServer) nodes(w http.ResponseWriter, r *http.Request) {
	httpserve.WriteJSON(w, http.StatusOK, c.d.nodes())
}

func (c *controlServer) kill(w http.ResponseWriter, r *http.Request) {
	i, err := c.d.nodeIndex(r.PathValue("name"))
	if err != nil {
		writeErrOf(w, http.StatusNotFound, err)
		return
	}
	if err := c.d.Network.StopNode(i); err != nil {
		writeErrOf(w, http.StatusConflict, err)
		return
	}
	c.d.log.Info().Str("node", NodeName(i)).Msg("node killed")
	c.d.writeManifestLogged()
	httpserve.WriteJSON(w, http.StatusOK, map[string]string{"killed": NodeName(i)})
}

func (c *controlServer) restart(w http.ResponseWriter, r *http.Request) {
	i, err := c.d.nodeIndex(r.PathValue("name"))
	if err != nil {
		writeErrOf(w, http.StatusNotFound, err)
		return
	}
	if c.d.Network.Node(i) != nil {
		if err := c.d.Network.StopNode(i); err != nil {
			c.d.log.Warn().Err(err).Str("node", NodeName(i)).Msg("stop before restart")
		}
	}
	if err := c.d.Network.StartNode(r.Context(), i); err != nil {
		httpserve.WriteError(w, http.StatusInternalServerError, "restart failed; see the node's log")
		c.d.log.Error().Err(err).Str("node", NodeName(i)).Msg("restart")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if err := c.d.Network.Node(i).WaitReady(ctx); err != nil {
		httpserve.WriteError(w, http.StatusInternalServerError, "the node did not become ready")
		return
	}
	c.d.log.Info().Str("node", NodeName(i)).Msg("node restarted")
	c.d.writeManifestLogged()
	httpserve.WriteJSON(w, http.StatusOK, map[string]string{"restarted": NodeName(i)})
}

func (c *controlServer) downReq(w http.ResponseWriter, r *http.Request) {
	httpserve.WriteJSON(w, http.StatusOK, map[string]bool{"stopping": true})
	c.d.requestDown()
}

func (c *controlServer) addRoom(w http.ResponseWriter, r *http.Request) {
	var req struct{ Token, Name string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		httpserve.WriteError(w, http.StatusBadRequest, `want {"token", "name"}`)
		return
	}
	if err := c.d.Network.Community.AddRoom(r.Context(), req.Token, req.Name); err != nil {
		writeErrOf(w, http.StatusConflict, err)
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, map[string]string{"room": req.Token})
}

// AddRoom creates a room on the devnet's community server.
func (c *ControlClient) AddRoom(ctx context.Context, token, name string) error {
	return c.do(ctx, http.MethodPost, "/v1/community/rooms", map[string]string{"token": token, "name": name}, nil)
}

// ErrUnresponsive is returned by Dial when a devnet process holds the
// directory but its control endpoint does not answer (it is overloaded or
// stuck): Dial returns a client all the same, whose Down still stops it.
var ErrUnresponsive = errors.New("a devnet runs in this directory but does not answer")

// ControlClient talks to a running devnet's control endpoint.
type ControlClient struct {
	m   *Manifest
	dir string
	hc  *http.Client
	// stuck: Dial found it holding the directory without answering.
	stuck bool
}

// Locked reports whether a devnet process holds dir's lock: the one sure
// sign that it runs, however it is doing (a pid may be reused, and a killed
// process may linger as a zombie after it released the lock).
func Locked(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "devnet", "lock"))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// Dial reads dir's manifest and checks that its devnet answers; a devnet
// that is gone is ErrNotRunning, one that holds the directory but does not
// answer ErrUnresponsive (with a client that can stop it).
func Dial(ctx context.Context, dir string) (*ControlClient, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		if Locked(dir) {
			return nil, fmt.Errorf("%w: it has not written devnet.json (still starting?)", ErrUnresponsive)
		}
		return nil, err
	}
	c := &ControlClient{m: m, dir: dir, hc: &http.Client{Timeout: 60 * time.Second}}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.Status(sctx); err != nil {
		if Locked(dir) {
			c.stuck = true
			return c, fmt.Errorf("%w (pid %d)", ErrUnresponsive, m.PID)
		}
		if errors.Is(err, ErrNotRunning) || sctx.Err() != nil {
			return nil, fmt.Errorf("%w: devnet.json is left from a devnet that is gone (pid %d)", ErrNotRunning, m.PID)
		}
		return nil, err
	}
	return c, nil
}

// Manifest returns the manifest the client was made from.
func (c *ControlClient) Manifest() *Manifest { return c.m }

func (c *ControlClient) do(ctx context.Context, method, path string, body, out any) error {
	var rb []byte
	if body != nil {
		var err error
		if rb, err = json.Marshal(body); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.m.Control.URL+path, bytes.NewReader(rb))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.m.Control.Token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: the control endpoint does not answer", ErrNotRunning)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%w: the control endpoint's answer was cut short", ErrNotRunning)
	}
	if resp.StatusCode != http.StatusOK {
		return decodeErr(data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("the control endpoint's answer is malformed: %w", err)
		}
	}
	return nil
}

// Status asks the devnet how it is.
func (c *ControlClient) Status(ctx context.Context) (*Status, error) {
	var s Status
	return &s, c.do(ctx, http.MethodGet, "/v1/status", nil, &s)
}

// Nodes lists the nodes.
func (c *ControlClient) Nodes(ctx context.Context) ([]ManifestNode, error) {
	var n []ManifestNode
	return n, c.do(ctx, http.MethodGet, "/v1/nodes", nil, &n)
}

// Kill stops a node.
func (c *ControlClient) Kill(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, "/v1/nodes/"+url.PathEscape(name)+"/kill", nil, nil)
}

// Restart starts a node again.
func (c *ControlClient) Restart(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, "/v1/nodes/"+url.PathEscape(name)+"/restart", nil, nil)
}

// Down stops the devnet and waits until it released its directory. A
// devnet that does not answer is sent SIGTERM, and SIGKILL if it has not
// stopped 20 s later (what it acknowledged is on disk either way).
func (c *ControlClient) Down(ctx context.Context) error {
	err := ErrUnresponsive
	if !c.stuck {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = c.do(dctx, http.MethodPost, "/v1/down", nil, nil)
		cancel()
	}
	if err != nil {
		if !Locked(c.dir) {
			return nil // it stopped on its own
		}
		if !ProcessAlive(c.m.PID) {
			return fmt.Errorf("the devnet does not answer, and its pid %d is gone: another process holds %s", c.m.PID, c.dir)
		}
		syscall.Kill(c.m.PID, syscall.SIGTERM)
	}
	term := time.Now()
	killed := false
	for {
		if !Locked(c.dir) {
			return nil
		}
		if !killed && time.Since(term) > 20*time.Second && ProcessAlive(c.m.PID) {
			syscall.Kill(c.m.PID, syscall.SIGKILL)
			killed = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the devnet (pid %d) did not stop: %w", c.m.PID, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ProcessAlive reports whether a process with pid exists.
func ProcessAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
