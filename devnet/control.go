package devnet

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
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
//	POST /v1/snapshot/load          rewind it in place to a snapshot (rewind.go)
//	POST /v1/fund                   pay from the faucet (faucet.go)
//	POST /v1/repair                 a replica repair round on every node now (chaos.go)
//	POST /v1/nodes/{name}/skew      move a node's clock {"ms": N} (chaos.go)
//	POST /v1/chaos                  a chaos run's status, for the dashboard (chaos.go)
//	GET  /v1/chaos/faults           which fault kinds the devnet makes, or why not
//	POST /v1/nodes/{name}/disk      a disk fault {"mode": "full"|"read-only"|"heal"}

type controlServer struct {
	d    *Devnet
	http *httpserve.Server
	join *joiner
}

func startControl(ctx context.Context, d *Devnet) (*controlServer, error) {
	secret := d.cfg.JoinSecret
	if secret == "" {
		secret = joinSecret(d.token)
	}
	c := &controlServer{d: d, join: &joiner{d: d, secret: secret, funded: map[string]bool{}}}
	root := http.NewServeMux()
	d.dash.routes(root, c) // its own guard: the secret in the path
	c.join.routes(root)    // the same
	mux := http.NewServeMux()
	root.Handle("/", c.auth(mux))
	mux.HandleFunc("GET /v1/status", c.status)
	mux.HandleFunc("GET /v1/nodes", c.nodes)
	mux.HandleFunc("POST /v1/nodes/{name}/kill", c.kill)
	mux.HandleFunc("POST /v1/nodes/{name}/restart", c.restart)
	mux.HandleFunc("POST /v1/down", c.downReq)
	mux.HandleFunc("POST /v1/community/rooms", c.addRoom)
	mux.HandleFunc("POST /v1/fund", c.fund)
	mux.HandleFunc("POST /v1/snapshot/load", c.loadSnapshot)
	mux.HandleFunc("POST /v1/sent", c.sent)
	mux.HandleFunc("POST /v1/repair", c.repair)
	mux.HandleFunc("POST /v1/nodes/{name}/skew", c.skew)
	mux.HandleFunc("POST /v1/chaos", c.chaos)
	mux.HandleFunc("GET /v1/chaos/faults", c.chaosFaults)
	mux.HandleFunc("POST /v1/nodes/{name}/disk", c.disk)
	c.http = httpserve.New(d.controlListen(), root, d.log)
	if err := c.http.Start(ctx); err != nil {
		return nil, fmt.Errorf("control endpoint: %w", err)
	}
	return c, nil
}

func (c *controlServer) url() string { return local(c.http.URL()) }

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
	"faucet":         ErrFaucet,
	"no_snapshot":    ErrNoSnapshot,
	"snapshot_name":  ErrSnapshotName,
	"must_stop":      ErrMustStop,
	"join_secret":    ErrJoinSecret,
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
	Seed         string   `json:"seed"`
	PID          int      `json:"pid"`
	Height       uint64   `json:"height"`
	Nodes        int      `json:"nodes"`
	NodesRunning int      `json:"nodes_running"`
	ActiveNodes  int      `json:"active_nodes"`
	Swarms       int      `json:"swarms"`
	Ledger       Endpoint `json:"ledger"` // as in the manifest (without a token)
	// Exited are the nodes whose own process ended by itself (devnet up
	// --procs), by name: how it ended.
	Exited map[string]string `json:"exited,omitempty"`
	// Joined names the registered nodes that joined from processes of
	// their own ('node run', 'node join'): not counted in Nodes.
	Joined []string `json:"joined,omitempty"`
}

func (c *controlServer) status(w http.ResponseWriter, r *http.Request) {
	info := c.d.Network.Ledger.Info()
	st := Status{Seed: c.d.st.Seed, PID: os.Getpid(), Height: info.Height, Nodes: c.d.st.Nodes,
		NodesRunning: c.d.Network.RunningCount(), ActiveNodes: info.ActiveNodes, Swarms: info.Swarms, Ledger: Endpoint{URL: c.d.Network.LedgerURL()}}
	for i := 0; i < c.d.st.Nodes; i++ {
		if e := c.d.Network.Exited(i); e != "" && !c.d.Network.Running(i) {
			if st.Exited == nil {
				st.Exited = map[string]string{}
			}
			st.Exited[NodeName(i)] = e
		}
	}
	for _, n := range c.d.joined.list() {
		if _, ok := c.d.Network.Ledger.Node(n.Key); ok {
			st.Joined = append(st.Joined, n.Name)
		}
	}
	httpserve.WriteJSON(w, http.StatusOK, st)
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
	c.d.cfg.Events.publish(map[string]any{"t": "node", "name": NodeName(i), "running": false})
	c.d.cfg.Events.Record(TimelineEvent{Kind: TimelineKill, Nodes: []string{NodeName(i)},
		Text:  NodeName(i) + " killed: it answers nothing, and stays active on the ledger until a round's votes decommission it",
		Short: NodeName(i) + " killed"})
	c.d.writeManifestLogged()
	httpserve.WriteJSON(w, http.StatusOK, map[string]string{"killed": NodeName(i)})
}

func (c *controlServer) restart(w http.ResponseWriter, r *http.Request) {
	i, err := c.d.nodeIndex(r.PathValue("name"))
	if err != nil {
		writeErrOf(w, http.StatusNotFound, err)
		return
	}
	wasRunning := c.d.Network.Running(i)
	if wasRunning {
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
	if err := c.d.Network.WaitNodeReady(ctx, i); err != nil {
		httpserve.WriteError(w, http.StatusInternalServerError, "the node did not become ready")
		return
	}
	// Its new addresses on the ledger: a client in another process (the
	// next command) finds it where it now listens.
	if err := c.d.Network.AwaitPublished(ctx, i); err != nil {
		httpserve.WriteError(w, http.StatusInternalServerError, "the node's new address did not reach the ledger: "+err.Error())
		return
	}
	c.d.log.Info().Str("node", NodeName(i)).Msg("node restarted")
	c.d.cfg.Events.publish(map[string]any{"t": "node", "name": NodeName(i), "running": true})
	c.d.cfg.Events.Record(TimelineEvent{Kind: TimelineRestart, Nodes: []string{NodeName(i)}, Text: NodeName(i) + " restarted"})
	c.d.writeManifestLogged()
	httpserve.WriteJSON(w, http.StatusOK, map[string]any{"restarted": NodeName(i), "was_running": wasRunning})
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
	c.d.writeManifestLogged() // its join link
	httpserve.WriteJSON(w, http.StatusOK, map[string]string{"room": req.Token})
}

// sent takes a client's report of a message it sent, for the dashboard.
func (c *controlServer) sent(w http.ResponseWriter, r *http.Request) {
	var rep SentReport
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		httpserve.WriteError(w, http.StatusBadRequest, "want a SentReport: "+err.Error())
		return
	}
	if err := rep.check(); err != nil {
		httpserve.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	c.d.dash.sent(rep)
	httpserve.WriteJSON(w, http.StatusOK, map[string]bool{"shown": true})
}
