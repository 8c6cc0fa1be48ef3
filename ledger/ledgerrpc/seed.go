package ledgerrpc

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/internal/edgelog"
	"github.com/sessionctl/sessionctl/internal/httpserve"
	"github.com/sessionctl/sessionctl/ledger"
)

// The seed: what real clients ask oxend for when they first start, at
// POST /json_rpc (JSON-RPC 2.0), so a Session app pointed at the devnet's
// seed URL (the desktop app's LOCAL_DEVNET_SEED_URL) finds its nodes:
//
//	get_n_service_nodes, get_service_nodes   {fields, limit, active_only}
//	get_info                                  height, hard fork
//	ons_resolve                               {type: 0, name_hash}: a session name's encrypted value

// seedEndpoint names a request at the seed for its edge log line; jsonRPC
// adds the method.
func seedEndpoint(r *http.Request) string {
	if r.Method == http.MethodPost && r.URL.Path == "/json_rpc" {
		return "json_rpc"
	}
	return "seed_not_found"
}

// rpcRequest is a JSON-RPC 2.0 request.
type rpcRequest struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params,omitempty"`
}

// JSON-RPC 2.0 error codes.
const (
	rpcParseError     = -32700
	rpcInvalidRequest = -32600
	rpcNoMethod       = -32601
	rpcInvalidParams  = -32602
	rpcNotFound       = -32000
)

func (s *Server) jsonRPC(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	var req rpcRequest
	if err != nil || json.Unmarshal(body, &req) != nil {
		writeRPC(w, nil, nil, rpcParseError, "parse error: want a JSON-RPC 2.0 request")
		return
	}
	if req.Method == "" {
		writeRPC(w, req.ID, nil, rpcInvalidRequest, "invalid request: no method")
		return
	}
	edgelog.Note(w, "json_rpc/"+req.Method, "", "")
	result, code, msg := s.seedCall(req.Method, req.Params)
	writeRPC(w, req.ID, result, code, msg)
}

// seedCall runs one seed method.
func (s *Server) seedCall(method string, params json.RawMessage) (any, int, string) {
	if len(params) == 0 || string(params) == "null" {
		params = json.RawMessage("{}")
	}
	switch method {
	case "get_n_service_nodes", "get_service_nodes":
		var p chain.GetServiceNodesParams
		if json.Unmarshal(params, &p) != nil {
			return nil, rpcInvalidParams, "invalid params"
		}
		states, err := chain.ServiceNodeStates(s.cfg.Ledger.Nodes(), p)
		if err != nil {
			return nil, rpcInvalidParams, "invalid params: fields"
		}
		info := s.cfg.Ledger.Info()
		return map[string]any{"service_node_states": states, "height": info.Height, "block_hash": info.Hash,
			"hardfork": chain.HardFork[0], "status": "OK"}, 0, ""
	case "get_info":
		return chain.GetInfo(s.cfg.Ledger.Info()), 0, ""
	case "ons_resolve":
		var p struct {
			Type     int    `json:"type"`
			NameHash string `json:"name_hash"`
		}
		if json.Unmarshal(params, &p) != nil || p.Type != 0 || p.NameHash == "" {
			return nil, rpcInvalidParams, "invalid params: want {type: 0, name_hash}"
		}
		rec, ok := s.cfg.Ledger.Name(p.NameHash)
		if !ok {
			return map[string]any{}, 0, "" // oxend answers a name it does not know with no value
		}
		v, err := hex.DecodeString(rec.Value)
		if err != nil || len(v) != ledger.EncryptedNameSize {
			return nil, rpcNotFound, "the name's value is malformed"
		}
		n := len(v) - 24
		return map[string]any{"encrypted_value": hex.EncodeToString(v[:n]), "nonce": hex.EncodeToString(v[n:])}, 0, ""
	}
	return nil, rpcNoMethod, "method not found: " + trim(method)
}

// writeRPC writes a JSON-RPC 2.0 answer: the result, or the error when code
// is not 0.
func writeRPC(w http.ResponseWriter, id json.RawMessage, result any, code int, msg string) {
	if len(id) == 0 {
		id = json.RawMessage("0")
	}
	out := map[string]any{"jsonrpc": "2.0", "id": id}
	if code != 0 {
		out["error"] = map[string]any{"code": code, "message": msg}
	} else {
		out["result"] = result
	}
	httpserve.WriteJSON(w, http.StatusOK, out)
}
