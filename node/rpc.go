package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// rpcError is a refusal with the storage server's status code. Its message
// is written for the client; internal errors are logged and answered 500.
type rpcError struct {
	code int
	msg  string
	body any // a 421 carries the owning swarm
}

func errf(code int, format string, args ...any) *rpcError {
	return &rpcError{code: code, msg: fmt.Sprintf(format, args...)}
}

func (e *rpcError) response() storagerpc.Response {
	var body []byte
	if e.body != nil {
		body, _ = json.Marshal(e.body)
	} else {
		body, _ = json.Marshal(e.msg)
	}
	return storagerpc.Response{Code: e.code, Body: body}
}

func okResponse(v any) storagerpc.Response {
	body, err := json.Marshal(v)
	if err != nil {
		return errf(storagerpc.StatusInternal, "internal error").response()
	}
	return storagerpc.Response{Code: storagerpc.StatusOK, Body: body}
}

// requestTimeout bounds the handling of one request.
const requestTimeout = 30 * time.Second

// handleStorage serves one storage RPC request on a stream.
func (n *Node) handleStorage(s network.Stream) {
	s.SetDeadline(time.Now().Add(requestTimeout))
	remote := s.Conn().RemotePeer()
	// Count the request before reading it: a client over its rate is
	// refused without its body being held.
	if !n.limiter.allow(remote.String(), n.cfg.Now()) {
		n.refuse(s, errf(storagerpc.StatusTooManyRequests, "too many requests; slow down"), storagerpc.MaxRequestSize)
		return
	}
	body, release, err := n.inflight.read(s, remote, storagerpc.MaxRequestSize)
	defer release()
	if e := readError(err); e != nil {
		n.refuse(s, e, storagerpc.MaxRequestSize)
		return
	}
	ctx, cancel := context.WithTimeout(n.hctx, requestTimeout)
	resp := n.handle(ctx, body)
	cancel()
	writeResponse(s, resp)
}

// readError maps a failed read of a request body to the refusal to send,
// or nil when the read succeeded.
func readError(err error) *rpcError {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errTooLarge):
		return errf(storagerpc.StatusTooLarge, "request body over %d bytes", storagerpc.MaxRequestSize)
	case errors.Is(err, errBusy):
		return errf(storagerpc.StatusUnavailable, "the node is busy with other large requests; try again")
	}
	return errf(storagerpc.StatusBadRequest, "request unreadable")
}

// refuse answers a request the node will not read, then discards what the
// peer still sends (holding none of it), so the peer reads the refusal.
func (n *Node) refuse(s network.Stream, e *rpcError, limit int) {
	data, _ := json.Marshal(e.response())
	if _, err := s.Write(data); err != nil {
		s.Reset()
		return
	}
	s.CloseWrite()
	drain(s, limit)
	s.Close()
}

func writeResponse(s network.Stream, resp storagerpc.Response) {
	data, _ := json.Marshal(resp)
	if _, err := s.Write(data); err != nil {
		s.Reset()
		return
	}
	s.Close()
}

// handle decodes one request and runs it.
func (n *Node) handle(ctx context.Context, body []byte) storagerpc.Response {
	req, rerr := decodeRequest(body)
	if rerr != nil {
		return rerr.response()
	}
	return n.dispatch(ctx, req.Method, req.Params, true, true)
}

// decodeRequest reads the {"method","params"} envelope.
func decodeRequest(body []byte) (*storagerpc.Request, *rpcError) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req storagerpc.Request
	if err := dec.Decode(&req); err != nil {
		return nil, errf(storagerpc.StatusBadRequest, "invalid request: want {\"method\": ..., \"params\": {...}}")
	}
	if dec.More() {
		return nil, errf(storagerpc.StatusBadRequest, "invalid request: data after the request")
	}
	if req.Method == "" {
		return nil, errf(storagerpc.StatusBadRequest, "invalid request: no method")
	}
	if len(req.Params) == 0 || string(req.Params) == "null" {
		req.Params = json.RawMessage("{}")
	}
	return &req, nil
}

// dispatch runs method. recurse is true for a client's request (recursive
// methods are then forwarded to the swarm) and false for a request a swarm
// member forwarded; top is false inside a batch.
func (n *Node) dispatch(ctx context.Context, method string, params json.RawMessage, recurse, top bool) storagerpc.Response {
	var (
		out  any
		rerr *rpcError
	)
	switch method {
	case "info":
		out, rerr = n.info()
	case "oxend_request":
		out, rerr = n.oxendRequest(ctx, params)
	case "get_swarm", "get_snodes_for_pubkey":
		out, rerr = n.getSwarm(params)
	case "store":
		out, rerr = n.rpcStore(ctx, params, recurse)
	case "retrieve":
		out, rerr = n.retrieve(ctx, params)
	case "delete":
		out, rerr = n.deleteMsgs(ctx, params, recurse)
	case "delete_all":
		out, rerr = n.deleteAll(ctx, params, recurse)
	case "delete_before":
		out, rerr = n.deleteBefore(ctx, params, recurse)
	case "expire":
		out, rerr = n.expire(ctx, params, recurse)
	case "expire_all":
		out, rerr = n.expireAll(ctx, params, recurse)
	case "get_expiries":
		out, rerr = n.getExpiries(ctx, params)
	case "revoke_subaccount", "unrevoke_subaccount":
		out, rerr = n.revoke(ctx, method, params, recurse)
	case "revoked_subaccounts":
		out, rerr = n.revokedList(ctx, params)
	case "batch", "sequence":
		if !top || !recurse {
			rerr = errf(storagerpc.StatusBadRequest, "%s may not be nested or forwarded", method)
		} else {
			out, rerr = n.batch(ctx, params, method == "sequence")
		}
	default:
		rerr = errf(storagerpc.StatusBadRequest, "unknown method %q", truncate(method, 40))
	}
	if rerr != nil {
		return rerr.response()
	}
	return okResponse(out)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// routed decodes a method's parameters and checks that this node's swarm
// owns the account they name (else 421 with the owning swarm).
func routed[P any](n *Node, raw json.RawMessage, pubkey func(*P) string) (*P, identity.AccountID, *view, *rpcError) {
	p := new(P)
	if e := decodeParams(raw, p); e != nil {
		return nil, identity.AccountID{}, nil, e
	}
	owner, e := parseOwner(pubkey(p))
	if e != nil {
		return nil, owner, nil, e
	}
	v, e := n.route(owner)
	if e != nil {
		return nil, owner, nil, e
	}
	return p, owner, v, nil
}

// decodeParams reads a method's parameters.
func decodeParams(raw json.RawMessage, v any) *rpcError {
	if err := json.Unmarshal(raw, v); err != nil {
		return errf(storagerpc.StatusBadRequest, "invalid params: %s", truncate(err.Error(), 120))
	}
	return nil
}

// parseOwner reads the account a request is about: a Session account (05),
// a closed group (03) or a plain Ed25519 key (00).
func parseOwner(pubkey string) (identity.AccountID, *rpcError) {
	id, err := identity.ParseAccountID(pubkey)
	if err != nil {
		return id, errf(storagerpc.StatusBadRequest, "invalid pubkey: %s", err)
	}
	switch id.Prefix {
	case identity.PrefixSession, identity.PrefixGroup, identity.PrefixUnblinded:
		return id, nil
	}
	return id, errf(storagerpc.StatusBadRequest, "invalid pubkey: prefix %02x does not own messages", byte(id.Prefix))
}

// route checks that this node's swarm owns the account: otherwise 421 with
// the owning swarm, so the client can retry there.
func (n *Node) route(owner identity.AccountID) (*view, *rpcError) {
	v := n.view.Load()
	if v == nil {
		return nil, errf(storagerpc.StatusUnavailable, "the node has not loaded the swarms yet")
	}
	sid := v.ownerSwarm(owner)
	if sid != v.mine || sid == chain.UnassignedSwarm {
		return nil, &rpcError{code: storagerpc.StatusMisdirected, msg: "wrong swarm", body: v.swarmResult(sid)}
	}
	return v, nil
}

// checkAuth verifies a signed request: the timestamp (when window) within
// ±60 s, then either the signature by the account's key (for 05 accounts,
// the pubkey_ed25519 that converts to it), or, with a subaccount token, the
// owner's signature over the token, the token's flags (need), that it is not
// revoked (but where allowRevoked), and the holder's signature. A signature
// is accepted once: a replay gets 401.
func (n *Node) checkAuth(ctx context.Context, owner identity.AccountID, a storagerpc.Auth, sub storagerpc.SubAuth, msg []byte, ts int64, window bool, need byte, allowRevoked bool) *rpcError {
	now := n.cfg.Now()
	if window {
		d := now.Sub(time.UnixMilli(ts))
		if d > storagerpc.SignatureWindow || d < -storagerpc.SignatureWindow {
			return errf(storagerpc.StatusNotAcceptable, "timestamp %d is outside the ±60 s window of the node's clock (%d)", ts, now.UnixMilli())
		}
	}
	if a.Signature == "" {
		return errf(storagerpc.StatusUnauthorized, "missing signature")
	}
	sig, err := decodeSig(a.Signature)
	if err != nil {
		return errf(storagerpc.StatusUnauthorized, "signature is not 64 bytes of base64")
	}
	var key ed25519.PublicKey
	switch {
	case sub.Subaccount != "":
		if owner.Prefix == identity.PrefixSession {
			return errf(storagerpc.StatusUnauthorized, "05 accounts take no subaccount tokens")
		}
		tok, err := storagerpc.ParseToken(sub.Subaccount)
		if err != nil {
			return errf(storagerpc.StatusUnauthorized, "%s", err)
		}
		if tok[0] != byte(owner.Prefix) && tok.Flags()&storagerpc.FlagAnyPrefix == 0 {
			return errf(storagerpc.StatusUnauthorized, "the token is for %02x accounts, not %02x", tok[0], byte(owner.Prefix))
		}
		tsig, err := decodeSig(sub.SubaccountSig)
		if err != nil || !ed25519.Verify(owner.Key[:], tok[:], tsig) {
			return errf(storagerpc.StatusUnauthorized, "subaccount_sig is not the account's signature over the token")
		}
		if tok.Flags()&need != need {
			return errf(storagerpc.StatusUnauthorized, "the token does not allow this (flags %02x, need %02x)", tok.Flags(), need)
		}
		if !allowRevoked {
			// A node that has not learned its swarm's revocations
			// cannot tell whether the token was revoked (revsync.go),
			// unless a synced peer checked it first.
			if e := n.revocationsSynced(); e != nil && !isReplica(ctx) {
				return e
			}
			revoked, err := n.store.isRevoked(ctx, owner.String(), tok)
			if err != nil {
				return errf(storagerpc.StatusInternal, "storage failure")
			}
			if revoked {
				return errf(storagerpc.StatusUnauthorized, "the token has been revoked")
			}
		}
		key = tok.Key()
	case owner.Prefix == identity.PrefixSession:
		if a.PubkeyEd25519 == "" {
			return errf(storagerpc.StatusUnauthorized, "pubkey_ed25519 is required for 05 accounts")
		}
		b, err := hex.DecodeString(a.PubkeyEd25519)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return errf(storagerpc.StatusUnauthorized, "pubkey_ed25519 is not 64 hex characters")
		}
		x, err := identity.Ed25519ToX25519(b)
		if err != nil || x != owner.Key {
			return errf(storagerpc.StatusUnauthorized, "pubkey_ed25519 does not convert to the account's key")
		}
		key = b
	default:
		key = owner.Key[:]
	}
	if !ed25519.Verify(key, msg, sig) {
		return errf(storagerpc.StatusUnauthorized, "signature does not verify")
	}
	// Keyed on the signature's bytes: one signature has one key however
	// its base64 is spelled.
	switch n.replay.first(string(sig), now) {
	case replaySeen:
		return errf(storagerpc.StatusUnauthorized, "signature already used: sign each request anew")
	case replayFull:
		return errf(storagerpc.StatusUnavailable, "the node is busy; try again")
	}
	return nil
}

// decodeSig reads a 64-byte signature in base64, padded (88 characters) or
// not (86), strictly: no line breaks, no unused bits set. Each signature
// has exactly one accepted spelling of each kind.
func decodeSig(s string) ([]byte, error) {
	enc := base64.StdEncoding.Strict()
	switch len(s) {
	case 88:
	case 86:
		enc = base64.RawStdEncoding.Strict()
	default:
		return nil, errors.New("signature: want 88 (or 86 unpadded) base64 characters")
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("signature: line breaks")
	}
	sig, err := enc.DecodeString(s)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, errors.New("signature: not 64 bytes of base64")
	}
	return sig, nil
}

// sign signs parts, concatenated, with the node's key (base64).
func (n *Node) sign(parts ...string) string {
	var b bytes.Buffer
	for _, p := range parts {
		b.WriteString(p)
	}
	return storagerpc.Sign(n.cfg.Key, b.Bytes())
}

func (n *Node) info() (any, *rpcError) {
	now := n.nowMS()
	out := map[string]any{"version": chain.StorageServerVersion, "timestamp": now, "t": now, "hf": chain.HardFork}
	if v := n.view.Load(); v != nil {
		out["height"] = v.height
		out["swarm"] = swarmHex(v.mine)
	}
	return out, nil
}

// oxendRequest passes the chain queries clients make through a node on to
// the node's view of the chain (oxend's answers: chain/oxend.go).
func (n *Node) oxendRequest(ctx context.Context, raw json.RawMessage) (any, *rpcError) {
	var p struct {
		Endpoint string          `json:"endpoint"`
		Params   json.RawMessage `json:"params"`
	}
	if e := decodeParams(raw, &p); e != nil {
		return nil, e
	}
	switch p.Endpoint {
	case "get_service_nodes", "get_n_service_nodes":
		var sp chain.GetServiceNodesParams
		if len(p.Params) > 0 {
			if e := decodeParams(p.Params, &sp); e != nil {
				return nil, e
			}
		}
		v := n.view.Load()
		if v == nil {
			return nil, errf(storagerpc.StatusUnavailable, "the node has not loaded the network yet")
		}
		nodes := make([]chain.ServiceNode, 0, len(v.nodes))
		for _, sn := range v.nodes {
			nodes = append(nodes, sn)
		}
		states, err := chain.ServiceNodeStates(nodes, sp)
		if err != nil {
			return nil, errf(storagerpc.StatusBadRequest, "invalid params: fields")
		}
		return map[string]any{"result": map[string]any{"service_node_states": states, "height": v.height, "status": "OK"}}, nil
	case "ons_resolve":
		return n.onsResolve(ctx, p.Params)
	case "get_info":
		info, err := n.cfg.Ledger.Info(ctx)
		if err != nil {
			return nil, errf(storagerpc.StatusUnavailable, "the chain did not answer")
		}
		return map[string]any{"result": chain.GetInfo(info)}, nil
	}
	return nil, errf(storagerpc.StatusBadRequest, "oxend_request: endpoint %q is not passed through", truncate(p.Endpoint, 40))
}

// NameLedger is a Ledger that also looks up session names (ledgerrpc's
// Local and Client are); a node whose ledger is not cannot resolve them.
type NameLedger interface {
	NameValue(ctx context.Context, nameHash string) (value string, found bool, err error)
}

// onsResolve answers ons_resolve through the node as oxend does: the
// name's encrypted value and its nonce, in hex; nothing for an unknown name.
func (n *Node) onsResolve(ctx context.Context, raw json.RawMessage) (any, *rpcError) {
	var p struct {
		Type     int    `json:"type"`
		NameHash string `json:"name_hash"`
	}
	if e := decodeParams(raw, &p); e != nil {
		return nil, e
	}
	if p.Type != 0 || p.NameHash == "" || len(p.NameHash) > 64 {
		return nil, errf(storagerpc.StatusBadRequest, "ons_resolve: want {type: 0, name_hash}")
	}
	nl, ok := n.cfg.Ledger.(NameLedger)
	if !ok {
		return nil, errf(storagerpc.StatusBadRequest, "ons_resolve is not passed through by this node")
	}
	value, found, err := nl.NameValue(ctx, p.NameHash)
	if err != nil {
		return nil, errf(storagerpc.StatusUnavailable, "the chain did not answer")
	}
	if !found {
		return map[string]any{"result": map[string]any{}}, nil
	}
	v, err := hex.DecodeString(value)
	if err != nil || len(v) != chain.EncryptedNameSize {
		return nil, errf(storagerpc.StatusInternal, "the name's value is malformed")
	}
	k := len(v) - 24
	return map[string]any{"result": map[string]any{"encrypted_value": hex.EncodeToString(v[:k]), "nonce": hex.EncodeToString(v[k:])}}, nil
}

func (n *Node) getSwarm(raw json.RawMessage) (any, *rpcError) {
	var p storagerpc.GetSwarmParams
	if e := decodeParams(raw, &p); e != nil {
		return nil, e
	}
	owner, e := parseOwner(p.Pubkey)
	if e != nil {
		return nil, e
	}
	v := n.view.Load()
	if v == nil {
		return nil, errf(storagerpc.StatusUnavailable, "the node has not loaded the swarms yet")
	}
	return v.swarmResult(v.ownerSwarm(owner)), nil
}

func decodeData(b64 string) ([]byte, *rpcError) {
	if base64.StdEncoding.DecodedLen(len(b64)) > storagerpc.MaxDataSize+3 {
		return nil, errf(storagerpc.StatusTooLarge, "data over %d bytes", storagerpc.MaxDataSize)
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errf(storagerpc.StatusBadRequest, "data is not base64")
	}
	if len(data) > storagerpc.MaxDataSize {
		return nil, errf(storagerpc.StatusTooLarge, "data over %d bytes", storagerpc.MaxDataSize)
	}
	return data, nil
}

// checkHashes validates a list of message hashes (1 to 1,000, 43 characters).
func checkHashes(hashes []string, allowAll bool) *rpcError {
	if len(hashes) == 0 || len(hashes) > 1000 {
		return errf(storagerpc.StatusBadRequest, "messages: want 1 to 1000 hashes")
	}
	for _, h := range hashes {
		if allowAll && h == "all" && len(hashes) == 1 {
			continue
		}
		if len(h) != 43 {
			return errf(storagerpc.StatusBadRequest, "messages: %q is not a message hash", truncate(h, 50))
		}
		if _, err := base64.RawStdEncoding.DecodeString(h); err != nil {
			return errf(storagerpc.StatusBadRequest, "messages: %q is not a message hash", truncate(h, 50))
		}
	}
	return nil
}

func (n *Node) rpcStore(ctx context.Context, raw json.RawMessage, recurse bool) (any, *rpcError) {
	p, owner, v, e := routed(n, raw, func(p *storagerpc.StoreParams) string { return p.Pubkey })
	if e != nil {
		return nil, e
	}
	data, e := decodeData(p.Data)
	if e != nil {
		return nil, e
	}
	now := n.nowMS()
	maxTTL := storagerpc.MaxTTL
	if p.Namespace.IsConfig() {
		maxTTL = storagerpc.MaxConfigTTL
	}
	if p.TTL == 0 && p.Expiry > 0 {
		p.TTL = p.Expiry - p.Timestamp // the storage server takes either
	}
	switch {
	case p.TTL != 0 && p.Expiry != 0 && p.Timestamp+p.TTL != p.Expiry:
		return nil, errf(storagerpc.StatusBadRequest, "ttl and expiry disagree; give one")
	case p.Timestamp <= 0:
		return nil, errf(storagerpc.StatusBadRequest, "timestamp: want unix milliseconds")
	case p.Timestamp > now+10_000:
		return nil, errf(storagerpc.StatusNotAcceptable, "timestamp is in the future")
	case p.TTL < storagerpc.MinTTL.Milliseconds() || p.TTL > maxTTL.Milliseconds():
		return nil, errf(storagerpc.StatusBadRequest, "ttl %d ms: want %d to %d", p.TTL, storagerpc.MinTTL.Milliseconds(), maxTTL.Milliseconds())
	case p.Timestamp+p.TTL <= now:
		return nil, errf(storagerpc.StatusBadRequest, "the message has already expired")
	}
	if !p.Namespace.Public() || p.Signature != "" {
		sigTS := p.SigTS
		if sigTS == 0 {
			sigTS = p.Timestamp
		}
		if e := n.checkAuth(ctx, owner, p.Auth, p.SubAuth, storagerpc.StoreSigMsg(p.Namespace, sigTS), sigTS, true, storagerpc.FlagWrite, false); e != nil {
			return nil, e
		}
	}
	hash := storagerpc.MessageHash(owner, p.Namespace, data)
	mine := storagerpc.MemberResult{Hash: hash, Signature: n.sign(hash)}
	already, err := n.store.insert(ctx, &record{Hash: hash, Owner: owner.String(), Namespace: p.Namespace, Timestamp: p.Timestamp, Expiry: p.Timestamp + p.TTL, Data: data}, true)
	if err != nil {
		n.log.Error().Err(err).Msg("store")
		mine = storagerpc.MemberResult{Failed: true, Reason: "storage failure"}
	}
	mine.Already = already
	if err == nil && !already {
		n.log.Debug().Str("hash", hash).Str("owner", owner.String()[:10]).Int("namespace", int(p.Namespace)).Bool("replica", !recurse).Msg("stored")
		if n.cfg.OnStore != nil {
			n.cfg.OnStore(StoreEvent{Node: n.pubHex, Hash: hash, Owner: owner.String(), Namespace: int(p.Namespace), Replica: !recurse})
		}
	}
	if !recurse {
		if mine.Failed {
			return nil, errf(storagerpc.StatusInternal, "storage failure")
		}
		return mine, nil
	}
	results := n.forward(ctx, v, "store", raw, mine)
	if allFailed(results) {
		return nil, errf(storagerpc.StatusInternal, "the message could not be stored by any swarm member")
	}
	return storagerpc.SwarmResults{Hash: hash, Swarm: results}, nil
}

func allFailed(results map[string]storagerpc.MemberResult) bool {
	for _, r := range results {
		if !r.Failed {
			return false
		}
	}
	return true
}

// forward sends a recursive request to the other members of this node's
// swarm, concurrently, and returns every member's result, this node's
// (mine) included. A member that does not answer in ForwardTimeout is
// reported as failed with "timeout".
func (n *Node) forward(ctx context.Context, v *view, method string, raw json.RawMessage, mine storagerpc.MemberResult) map[string]storagerpc.MemberResult {
	results := map[string]storagerpc.MemberResult{n.pubHex: mine}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, k := range v.members[v.mine] {
		if k == n.pubHex {
			continue
		}
		pid := v.peers[k]
		wg.Add(1)
		go func() {
			defer wg.Done()
			fctx, cancel := context.WithTimeout(ctx, n.cfg.ForwardTimeout)
			defer cancel()
			var r storagerpc.MemberResult
			resp, err := storagerpc.Call(fctx, n.out(), pid, storagerpc.ProtocolSwarm, method, raw)
			switch {
			case err != nil && fctx.Err() != nil:
				r = storagerpc.MemberResult{Failed: true, Timeout: true}
			case err != nil:
				r = storagerpc.MemberResult{Failed: true, Reason: "unreachable"}
			case resp.Code != storagerpc.StatusOK:
				r = storagerpc.MemberResult{Failed: true, Code: resp.Code, Reason: resp.Err().(*storagerpc.Error).Message}
			default:
				if json.Unmarshal(resp.Body, &r) != nil {
					r = storagerpc.MemberResult{Failed: true, Reason: "bad_peer_response"}
				}
			}
			mu.Lock()
			results[k] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	return results
}

func (n *Node) retrieve(ctx context.Context, raw json.RawMessage) (any, *rpcError) {
	p, owner, _, e := routed(n, raw, func(p *storagerpc.RetrieveParams) string { return p.Pubkey })
	if e != nil {
		return nil, e
	}
	// A revoked member may still read namespace -11, where it is told so.
	if e := n.checkAuth(ctx, owner, p.Auth, p.SubAuth, storagerpc.RetrieveSigMsg(p.Namespace, p.Timestamp), p.Timestamp, true, storagerpc.FlagRead, p.Namespace == -11); e != nil {
		return nil, e
	}
	maxCount, maxSize := p.MaxCount, p.MaxSize
	if maxCount <= 0 && maxSize == 0 {
		maxSize = -5
	}
	if maxCount <= 0 || maxCount > 10_000 {
		maxCount = 10_000
	}
	switch {
	case maxSize < 0:
		maxSize = storagerpc.MaxRetrieveSize / -maxSize
	case maxSize == 0 || maxSize > storagerpc.MaxRetrieveSize:
		maxSize = storagerpc.MaxRetrieveSize
	}
	last := p.LastHash
	if last == "" {
		last = p.LastHashCamel
	}
	recs, more, err := n.store.retrieve(ctx, owner.String(), p.Namespace, last, maxCount, maxSize, n.nowMS())
	if err != nil {
		n.log.Error().Err(err).Msg("retrieve")
		return nil, errf(storagerpc.StatusInternal, "storage failure")
	}
	n.log.Debug().Str("owner", owner.String()[:10]).Int("namespace", int(p.Namespace)).Int("messages", len(recs)).Bool("more", more).Msg("fetched")
	out := storagerpc.RetrieveResult{Messages: []storagerpc.Message{}, More: more}
	for _, r := range recs {
		out.Messages = append(out.Messages, storagerpc.Message{
			Hash: r.Hash, Timestamp: r.Timestamp, Expiration: r.Expiry, Data: base64.StdEncoding.EncodeToString(r.Data),
		})
	}
	return out, nil
}

func (n *Node) deleteMsgs(ctx context.Context, raw json.RawMessage, recurse bool) (any, *rpcError) {
	p, owner, v, e := routed(n, raw, func(p *storagerpc.DeleteParams) string { return p.Pubkey })
	if e != nil {
		return nil, e
	}
	if e := checkHashes(p.Messages, false); e != nil {
		return nil, e
	}
	if e := n.checkAuth(ctx, owner, p.Auth, p.SubAuth, storagerpc.DeleteSigMsg(p.Messages), 0, false, storagerpc.FlagDelete, false); e != nil {
		return nil, e
	}
	deleted, err := n.store.deleteHashes(ctx, owner.String(), p.Messages)
	mine := storagerpc.MemberResult{Deleted: nonNil(deleted), Signature: n.sign(append(append([]string{owner.String()}, p.Messages...), deleted...)...)}
	if err != nil {
		n.log.Error().Err(err).Msg("delete")
		mine = storagerpc.MemberResult{Failed: true, Reason: "storage failure"}
	}
	return n.finishRecursive(ctx, v, "delete", raw, mine, recurse, func(results map[string]storagerpc.MemberResult) *rpcError {
		if !p.Required {
			return nil
		}
		for _, r := range results {
			if d, ok := r.Deleted.([]any); ok && len(d) > 0 {
				return nil
			}
			if d, ok := r.Deleted.([]string); ok && len(d) > 0 {
				return nil
			}
		}
		return errf(storagerpc.StatusNotFound, "no message was deleted")
	})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// finishRecursive returns this node's result to a forwarding member, or
// forwards a client's request to the swarm and returns every member's.
func (n *Node) finishRecursive(ctx context.Context, v *view, method string, raw json.RawMessage, mine storagerpc.MemberResult, recurse bool, check func(map[string]storagerpc.MemberResult) *rpcError) (any, *rpcError) {
	if !recurse {
		if mine.Failed {
			return nil, errf(storagerpc.StatusInternal, "storage failure")
		}
		return mine, nil
	}
	results := n.forward(ctx, v, method, raw, mine)
	if allFailed(results) {
		return nil, errf(storagerpc.StatusInternal, "no swarm member could carry out the request")
	}
	if check != nil {
		if e := check(results); e != nil {
			return nil, e
		}
	}
	return storagerpc.SwarmResults{Swarm: results}, nil
}

func nsOrDefault(p *storagerpc.NamespaceVar) storagerpc.NamespaceVar {
	if p == nil {
		return storagerpc.NamespaceVar{}
	}
	return *p
}

// byNamespace turns per-namespace hashes into the JSON map of an "all" answer.
func byNamespace(m map[storagerpc.Namespace][]string) map[string][]string {
	out := map[string][]string{}
	for ns, hs := range m {
		out[strconv.Itoa(int(ns))] = hs
	}
	return out
}

func listOrMap(ns storagerpc.NamespaceVar, all []string, m map[storagerpc.Namespace][]string) any {
	if ns.All {
		return byNamespace(m)
	}
	return nonNil(all)
}

func (n *Node) deleteAll(ctx context.Context, raw json.RawMessage, recurse bool) (any, *rpcError) {
	p, owner, v, e := routed(n, raw, func(p *storagerpc.DeleteAllParams) string { return p.Pubkey })
	if e != nil {
		return nil, e
	}
	ns := nsOrDefault(p.Namespace)
	if e := n.checkAuth(ctx, owner, p.Auth, p.SubAuth, storagerpc.DeleteAllSigMsg(ns, p.Timestamp), p.Timestamp, true, storagerpc.FlagDelete, false); e != nil {
		return nil, e
	}
	all, m, err := n.store.deleteAll(ctx, owner.String(), ns)
	mine := storagerpc.MemberResult{Deleted: listOrMap(ns, all, m),
		Signature: n.sign(append([]string{owner.String(), strconv.FormatInt(p.Timestamp, 10)}, all...)...)}
	if err != nil {
		n.log.Error().Err(err).Msg("delete_all")
		mine = storagerpc.MemberResult{Failed: true, Reason: "storage failure"}
	}
	return n.finishRecursive(ctx, v, "delete_all", raw, mine, recurse, nil)
}

func (n *Node) deleteBefore(ctx context.Context, raw json.RawMessage, recurse bool) (any, *rpcError) {
	p, owner, v, e := routed(n, raw, func(p *storagerpc.DeleteBeforeParams) string { return p.Pubkey })
	if e != nil {
		return nil, e
	}
	if p.Before > n.nowMS()+storagerpc.SignatureWindow.Milliseconds() {
		return nil, errf(storagerpc.StatusNotAcceptable, "before is in the future")
	}
	ns := nsOrDefault(p.Namespace)
	if e := n.checkAuth(ctx, owner, p.Auth, p.SubAuth, storagerpc.DeleteBeforeSigMsg(ns, p.Before), 0, false, storagerpc.FlagDelete, false); e != nil {
		return nil, e
	}
	all, m, err := n.store.deleteBefore(ctx, owner.String(), ns, p.Before)
	mine := storagerpc.MemberResult{Deleted: listOrMap(ns, all, m),
		Signature: n.sign(append([]string{owner.String(), strconv.FormatInt(p.Before, 10)}, all...)...)}
	if err != nil {
		n.log.Error().Err(err).Msg("delete_before")
		mine = storagerpc.MemberResult{Failed: true, Reason: "storage failure"}
	}
	return n.finishRecursive(ctx, v, "delete_before", raw, mine, recurse, nil)
}

func (n *Node) expireAll(ctx context.Context, raw json.RawMessage, recurse bool) (any, *rpcError) {
	p, owner, v, e := routed(n, raw, func(p *storagerpc.ExpireAllParams) string { return p.Pubkey })
	if e != nil {
		return nil, e
	}
	if p.Expiry < n.nowMS()-storagerpc.SignatureWindow.Milliseconds() {
		return nil, errf(storagerpc.StatusNotAcceptable, "expiry is in the past")
	}
	ns := nsOrDefault(p.Namespace)
	if e := n.checkAuth(ctx, owner, p.Auth, p.SubAuth, storagerpc.ExpireAllSigMsg(ns, p.Expiry), 0, false, storagerpc.FlagDelete, false); e != nil {
		return nil, e
	}
	all, m, err := n.store.expireAll(ctx, owner.String(), ns, p.Expiry)
	mine := storagerpc.MemberResult{Updated: listOrMap(ns, all, m),
		Signature: n.sign(append([]string{owner.String(), strconv.FormatInt(p.Expiry, 10)}, all...)...)}
	if err != nil {
		n.log.Error().Err(err).Msg("expire_all")
		mine = storagerpc.MemberResult{Failed: true, Reason: "storage failure"}
	}
	return n.finishRecursive(ctx, v, "expire_all", raw, mine, recurse, nil)
}

func (n *Node) expire(ctx context.Context, raw json.RawMessage, recurse bool) (any, *rpcError) {
	p, owner, v, e := routed(n, raw, func(p *storagerpc.ExpireParams) string { return p.Pubkey })
	if e != nil {
		return nil, e
	}
	if e := checkHashes(p.Messages, false); e != nil {
		return nil, e
	}
	if p.Shorten && p.Extend {
		return nil, errf(storagerpc.StatusBadRequest, "shorten and extend exclude each other")
	}
	now := n.nowMS()
	if p.Expiry < now-storagerpc.SignatureWindow.Milliseconds() {
		return nil, errf(storagerpc.StatusNotAcceptable, "expiry is in the past")
	}
	need := storagerpc.FlagWrite
	if !p.Extend {
		need |= storagerpc.FlagDelete // shortening is deleting early
	}
	if e := n.checkAuth(ctx, owner, p.Auth, p.SubAuth, storagerpc.ExpireSigMsg(p.Shorten, p.Extend, p.Expiry, p.Messages), 0, false, need, false); e != nil {
		return nil, e
	}
	// The new expiry is capped by each message's namespace: 30 days for
	// config namespaces, 14 for the others, as for a store.
	current, err := n.store.expiries(ctx, owner.String(), p.Messages)
	expiry := min(p.Expiry, now+storagerpc.MaxConfigTTL.Milliseconds())
	for _, e := range current {
		if !e.ns.IsConfig() {
			expiry = min(expiry, now+storagerpc.MaxTTL.Milliseconds())
		}
	}
	var updated []string
	unchanged := map[string]int64{}
	for _, h := range slices.Sorted(maps.Keys(current)) {
		if err != nil {
			break
		}
		cur := current[h].expiry
		if p.Shorten && cur <= expiry || p.Extend && cur >= expiry {
			unchanged[h] = cur
			continue
		}
		if err = n.store.setExpiry(ctx, owner.String(), h, expiry); err == nil {
			updated = append(updated, h)
		}
	}
	parts := append([]string{owner.String(), strconv.FormatInt(expiry, 10)}, p.Messages...)
	parts = append(parts, updated...)
	for _, h := range slices.Sorted(maps.Keys(unchanged)) {
		parts = append(parts, h, strconv.FormatInt(unchanged[h], 10))
	}
	mine := storagerpc.MemberResult{Updated: nonNil(updated), Expiry: expiry, Signature: n.sign(parts...)}
	if p.Shorten || p.Extend {
		mine.Unchanged = unchanged
	}
	if err != nil {
		n.log.Error().Err(err).Msg("expire")
		mine = storagerpc.MemberResult{Failed: true, Reason: "storage failure"}
	}
	return n.finishRecursive(ctx, v, "expire", raw, mine, recurse, nil)
}

func (n *Node) getExpiries(ctx context.Context, raw json.RawMessage) (any, *rpcError) {
	p, owner, _, e := routed(n, raw, func(p *storagerpc.GetExpiriesParams) string { return p.Pubkey })
	if e != nil {
		return nil, e
	}
	if e := checkHashes(p.Messages, true); e != nil {
		return nil, e
	}
	if e := n.checkAuth(ctx, owner, p.Auth, p.SubAuth, storagerpc.GetExpiriesSigMsg(p.Timestamp, p.Messages), p.Timestamp, true, storagerpc.FlagRead, false); e != nil {
		return nil, e
	}
	var (
		m   map[string]int64
		err error
	)
	if len(p.Messages) == 1 && p.Messages[0] == "all" {
		m, err = n.store.allExpiries(ctx, owner.String())
	} else {
		var e map[string]expiryOf
		e, err = n.store.expiries(ctx, owner.String(), p.Messages)
		m = map[string]int64{}
		for h, x := range e {
			m[h] = x.expiry
		}
	}
	if err != nil {
		n.log.Error().Err(err).Msg("get_expiries")
		return nil, errf(storagerpc.StatusInternal, "storage failure")
	}
	return map[string]any{"expiries": m}, nil
}

// batchResult is one sub-request's answer in a batch or sequence.
type batchResult struct {
	Code int             `json:"code"`
	Body json.RawMessage `json:"body"`
}

func (n *Node) batch(ctx context.Context, raw json.RawMessage, sequence bool) (any, *rpcError) {
	var p storagerpc.BatchParams
	if e := decodeParams(raw, &p); e != nil {
		return nil, e
	}
	if len(p.Requests) == 0 || len(p.Requests) > storagerpc.MaxSubrequests {
		return nil, errf(storagerpc.StatusBadRequest, "requests: want 1 to %d sub-requests", storagerpc.MaxSubrequests)
	}
	for i, r := range p.Requests {
		if r.Method == "" {
			return nil, errf(storagerpc.StatusBadRequest, "requests[%d]: no method", i)
		}
	}
	results := make([]batchResult, len(p.Requests))
	run := func(i int) {
		params := p.Requests[i].Params
		if len(params) == 0 {
			params = json.RawMessage("{}")
		}
		resp := n.dispatch(ctx, p.Requests[i].Method, params, true, false)
		results[i] = batchResult{Code: resp.Code, Body: resp.Body}
	}
	if sequence {
		for i := range p.Requests {
			run(i)
			if results[i].Code/100 != 2 {
				results = results[:i+1]
				break
			}
		}
	} else {
		var wg sync.WaitGroup
		for i := range p.Requests {
			wg.Add(1)
			go func() { defer wg.Done(); run(i) }()
		}
		wg.Wait()
	}
	return map[string]any{"results": results}, nil
}

// maxRevoked is how many revocations an account keeps: the oldest goes when
// a 51st comes.
const maxRevoked = 50

// revoke adds tokens to the account's revocation list, or removes them; only
// the account's own key may (no token can revoke tokens).
func (n *Node) revoke(ctx context.Context, method string, raw json.RawMessage, recurse bool) (any, *rpcError) {
	p, owner, v, e := routed(n, raw, func(p *storagerpc.RevokeParams) string { return p.Pubkey })
	if e != nil {
		return nil, e
	}
	list := p.Revoke
	if method == "unrevoke_subaccount" {
		list = p.Unrevoke
	}
	if len(list) == 0 || len(list) > maxRevoked {
		return nil, errf(storagerpc.StatusBadRequest, "want 1 to %d tokens", maxRevoked)
	}
	var toks []storagerpc.Token
	for _, s := range list {
		t, err := storagerpc.ParseToken(s)
		if err != nil {
			return nil, errf(storagerpc.StatusBadRequest, "%s", err)
		}
		toks = append(toks, t)
	}
	if e := n.checkAuth(ctx, owner, p.Auth, storagerpc.SubAuth{}, storagerpc.RevokeSigMsg(method, p.Timestamp, toks), p.Timestamp, true, 0, false); e != nil {
		return nil, e
	}
	var count int
	var err error
	// The signed timestamp orders the change: every member records the
	// same, so their lists agree and repair can merge them.
	if method == "revoke_subaccount" {
		count, err = n.store.revoke(ctx, owner.String(), toks, p.Timestamp, maxRevoked)
	} else {
		count, err = n.store.unrevoke(ctx, owner.String(), toks, p.Timestamp, maxRevoked)
	}
	parts := []string{owner.String(), strconv.FormatInt(p.Timestamp, 10)}
	for _, t := range toks {
		parts = append(parts, string(t[:]))
	}
	mine := storagerpc.MemberResult{Updated: count, Signature: n.sign(parts...)}
	if err != nil {
		n.log.Error().Err(err).Msg(method)
		mine = storagerpc.MemberResult{Failed: true, Reason: "storage failure"}
	}
	return n.finishRecursive(ctx, v, method, raw, mine, recurse, nil)
}

// revokedList returns the account's revoked tokens, for its owner.
func (n *Node) revokedList(ctx context.Context, raw json.RawMessage) (any, *rpcError) {
	p, owner, _, e := routed(n, raw, func(p *storagerpc.RevokeParams) string { return p.Pubkey })
	if e != nil {
		return nil, e
	}
	if e := n.checkAuth(ctx, owner, p.Auth, storagerpc.SubAuth{}, storagerpc.RevokeSigMsg("revoked_subaccounts", p.Timestamp, nil), p.Timestamp, true, 0, false); e != nil {
		return nil, e
	}
	toks, err := n.store.revokedTokens(ctx, owner.String())
	if err != nil {
		return nil, errf(storagerpc.StatusInternal, "storage failure")
	}
	return map[string]any{"revoked": toks}, nil
}
