package node

import (
	"bytes"
	"cmp"
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
	"sync/atomic"
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
	// The hot results of a send and a fetch, written by hand as
	// json.Marshal writes them.
	if body, ok := storagerpc.MarshalResult(v); ok {
		return storagerpc.Response{Code: storagerpc.StatusOK, Body: body}
	}
	body, err := json.Marshal(v)
	if err != nil {
		return errf(storagerpc.StatusInternal, "internal error").response()
	}
	return storagerpc.Response{Code: storagerpc.StatusOK, Body: body}
}

// handleStorage serves one storage RPC request on a stream.
func (n *Node) handleStorage(s network.Stream) {
	ctx, cancel := n.streamDeadline(s, 0)
	defer cancel()
	ctx, body, release, rerr := n.admit(ctx, peerClient(s.Conn().RemotePeer()), true, s, storagerpc.MaxRequestSize, nil)
	defer release()
	if rerr != nil {
		n.refuse(s, rerr, storagerpc.MaxRequestSize)
		return
	}
	writeResponse(s, n.handle(ctx, body))
}

// refuse answers a request the node will not read, then discards what the
// peer still sends (holding none of it), so the peer reads the refusal.
func (n *Node) refuse(s network.Stream, e *rpcError, limit int) {
	resp := e.response()
	if _, err := s.Write(resp.AppendJSON(nil)); err != nil {
		s.Reset()
		return
	}
	s.CloseWrite()
	drain(s, limit)
	s.Close()
}

func writeResponse(s network.Stream, resp storagerpc.Response) {
	if _, err := s.Write(resp.AppendJSON(nil)); err != nil {
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

// A method is parsed, then run, as the storage server first loads a request
// (a malformed or missing parameter is answered 400 before anything else is
// looked at, the owning swarm included) and then processes it. A batch
// parses every subrequest before it runs any: one malformed subrequest
// refuses the batch whole, and nothing of it is done.
type method struct {
	parse func(raw json.RawMessage) (any, *rpcError)
	run   func(n *Node, ctx context.Context, req any, raw json.RawMessage, recurse bool) (any, *rpcError)
}

// def makes a method of a typed parse and run.
func def[R any](parse func(json.RawMessage) (*R, *rpcError), run func(*Node, context.Context, *R, json.RawMessage, bool) (any, *rpcError)) method {
	return method{
		parse: func(raw json.RawMessage) (any, *rpcError) {
			r, e := parse(raw)
			if e != nil {
				return nil, e
			}
			return r, nil
		},
		run: func(n *Node, ctx context.Context, r any, raw json.RawMessage, recurse bool) (any, *rpcError) {
			return run(n, ctx, r.(*R), raw, recurse)
		},
	}
}

// methods are the storage RPC's methods, batch and sequence aside (they
// hold the others). recurse, for the methods that change a swarm's data,
// is true for a client's request (the node forwards it to its swarm) and
// false for one a swarm member forwarded.
var methods = map[string]method{
	"info":                  def(parseNone, (*Node).info),
	"oxend_request":         def(parseOxend, (*Node).oxendRequest),
	"get_swarm":             def(parseGetSwarm, (*Node).getSwarm),
	"get_snodes_for_pubkey": def(parseGetSwarm, (*Node).getSwarm),
	"store":                 def(parseStore, (*Node).rpcStore),
	"retrieve":              def(parseRetrieve, (*Node).retrieve),
	"delete":                def(parseDelete, (*Node).deleteMsgs),
	"delete_all":            def(parseDeleteAll, (*Node).deleteAll),
	"delete_before":         def(parseDeleteBefore, (*Node).deleteBefore),
	"expire":                def(parseExpire, (*Node).expire),
	"expire_all":            def(parseExpireAll, (*Node).expireAll),
	"get_expiries":          def(parseGetExpiries, (*Node).getExpiries),
	"revoke_subaccount":     def(parseRevoke, (*Node).revoke),
	"unrevoke_subaccount":   def(parseUnrevoke, (*Node).revoke),
	"revoked_subaccounts":   def(parseRevokedList, (*Node).revokedList),
}

// isMeta reports whether a method holds other requests.
func isMeta(method string) bool {
	return method == "batch" || method == "sequence" || method == "ifelse"
}

// dispatch runs method. recurse is true for a client's request (recursive
// methods are then forwarded to the swarm) and false for a request a swarm
// member forwarded; top is false inside a batch.
func (n *Node) dispatch(ctx context.Context, name string, params json.RawMessage, recurse, top bool) storagerpc.Response {
	var (
		out  any
		rerr *rpcError
	)
	m, ok := methods[name]
	switch {
	case name == "batch" || name == "sequence":
		if !top || !recurse {
			rerr = errf(storagerpc.StatusBadRequest, "invalid request: %s may not be nested or forwarded", name)
		} else {
			out, rerr = n.batch(ctx, params, name == "sequence")
		}
	case !ok:
		rerr = errf(storagerpc.StatusBadRequest, "no method %s", truncate(name, 40))
	default:
		var req any
		if req, rerr = m.parse(params); rerr == nil {
			out, rerr = m.run(n, ctx, req, params, recurse)
		}
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

// badf is a malformed request: 400, "invalid request: ...".
func badf(format string, args ...any) *rpcError {
	return errf(storagerpc.StatusBadRequest, "invalid request: "+format, args...)
}

// decodeParams reads a method's parameters.
func decodeParams(raw json.RawMessage, v any) *rpcError {
	var err error
	switch p := v.(type) {
	case *storagerpc.StoreParams:
		err = storagerpc.DecodeStoreParams(raw, p)
	case *storagerpc.RetrieveParams:
		err = storagerpc.DecodeRetrieveParams(raw, p)
	default:
		err = json.Unmarshal(raw, v)
	}
	return paramsError(err)
}

// paramsError is the refusal of params that do not decode (err; nil: none).
func paramsError(err error) *rpcError {
	if err != nil {
		return errf(storagerpc.StatusBadRequest, "invalid params: %s", truncate(err.Error(), 120))
	}
	return nil
}

// parseOwner reads the account a request is about: a Session account (05),
// a closed group (03) or a plain Ed25519 key (00).
func parseOwner(pubkey string) (identity.AccountID, *rpcError) {
	if pubkey == "" {
		return identity.AccountID{}, badf("Required field 'pubkey' missing")
	}
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

// misc is what most answers carry at their top level: the node's clock and
// the network's hard fork.
func (n *Node) misc() storagerpc.Misc {
	return storagerpc.Misc{T: n.nowMS(), HF: []int{chain.HardFork[0], chain.HardFork[1]}}
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
		sw := v.swarmResult(sid)
		sw.Misc = n.misc()
		return nil, &rpcError{code: storagerpc.StatusMisdirected, msg: "wrong swarm", body: sw}
	}
	return v, nil
}

// signer is a signed request's authentication, read but not yet verified:
// the signature, the Ed25519 key behind a 05 account, and a subaccount
// token with the account's signature over it.
type signer struct {
	sig    []byte
	edKey  ed25519.PublicKey
	token  *storagerpc.Token
	tokSig []byte
}

// parseAuth reads a request's authentication: 400 when it is malformed, or
// when it is required and missing; nil when it is optional and missing.
func parseAuth(owner identity.AccountID, a storagerpc.Auth, sub storagerpc.SubAuth, required bool) (*signer, *rpcError) {
	if a.Signature == "" {
		if required {
			return nil, badf("Required field 'signature' missing")
		}
		return nil, nil
	}
	s := &signer{}
	var err error
	if s.sig, err = decodeSig(a.Signature); err != nil {
		return nil, badf("invalid signature: expected base64 encoded Ed25519 signature")
	}
	if a.PubkeyEd25519 != "" {
		if owner.Prefix != identity.PrefixSession {
			return nil, badf("pubkey_ed25519 is only permitted for 05 pubkeys")
		}
		b, err := hex.DecodeString(a.PubkeyEd25519)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, badf("invalid pubkey_ed25519: expected 64 hex characters")
		}
		s.edKey = b
	}
	if sub.Subaccount != "" {
		if sub.SubaccountSig == "" {
			return nil, badf("invalid subaccount: subaccount_sig is required when using subaccount")
		}
		tok, err := storagerpc.ParseToken(sub.Subaccount)
		if err != nil {
			return nil, badf("invalid subaccount: %s", err)
		}
		if s.tokSig, err = decodeSig(sub.SubaccountSig); err != nil {
			return nil, badf("invalid subaccount signature: expected base64 encoded Ed25519 signature")
		}
		s.token = &tok
	}
	return s, nil
}

// inWindow reports whether ts (unix ms) is within w of the node's clock.
func (n *Node) inWindow(ts int64, w time.Duration) bool {
	d := n.cfg.Now().Sub(time.UnixMilli(ts))
	return d <= w && d >= -w
}

// window is the signature window of a timestamped request: a forwarded one
// gets a little longer, for the time forwarding took.
func window(recurse bool) time.Duration {
	if recurse {
		return storagerpc.SignatureWindow
	}
	return storagerpc.ForwardedWindow
}

// verify checks a request's signature over msg: by the account's key (for
// 05 accounts, the pubkey_ed25519 that converts to it), or, with a
// subaccount token, the account's signature over the token, the token's
// flags (need), that it is not revoked (but where allowRevoked), and the
// holder's signature. Every failure is 401.
//
// A write (write) is accepted once: the storage server keeps no replay
// cache, but a captured signed delete or store must not be replayable
// here; a read signed once may be served again, as upstream does, so a
// client retrying an identical read is answered.
func (n *Node) verify(ctx context.Context, owner identity.AccountID, s *signer, msg []byte, need byte, allowRevoked, write bool) *rpcError {
	var key ed25519.PublicKey
	switch {
	case s.token != nil:
		if owner.Prefix == identity.PrefixSession {
			return errf(storagerpc.StatusUnauthorized, "05 accounts take no subaccount tokens")
		}
		tok := *s.token
		if tok[0] != byte(owner.Prefix) && tok.Flags()&storagerpc.FlagAnyPrefix == 0 {
			return errf(storagerpc.StatusUnauthorized, "the token is for %02x accounts, not %02x", tok[0], byte(owner.Prefix))
		}
		if !ed25519.Verify(owner.Key[:], tok[:], s.tokSig) {
			return errf(storagerpc.StatusUnauthorized, "subaccount_sig is not the account's signature over the token")
		}
		if tok.Flags()&need != need {
			return errf(storagerpc.StatusUnauthorized, "the token does not allow this (flags %02x, need %02x)", tok.Flags(), need)
		}
		if !allowRevoked && !n.fault(func(f *Faults) *atomic.Bool { return &f.IgnoreRevocations }) {
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
		if s.edKey == nil {
			return errf(storagerpc.StatusUnauthorized, "pubkey_ed25519 is required for 05 accounts")
		}
		x, err := identity.Ed25519ToX25519(s.edKey)
		if err != nil || x != owner.Key {
			return errf(storagerpc.StatusUnauthorized, "pubkey_ed25519 does not convert to the account's key")
		}
		key = s.edKey
	default:
		key = owner.Key[:]
	}
	if !ed25519.Verify(key, msg, s.sig) {
		return errf(storagerpc.StatusUnauthorized, "signature verification failed")
	}
	if !write {
		return nil
	}
	// Keyed on the signature's bytes: one signature has one key however
	// its base64 is spelled.
	switch n.replay.first(string(s.sig), n.cfg.Now()) {
	case replaySeen:
		return errf(storagerpc.StatusUnauthorized, storagerpc.MsgReplayed+": a signed change is accepted once; sign it anew")
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

// requireTS refuses a missing timestamp parameter, and one that is surely
// in seconds: the storage server takes unix milliseconds.
func requireTS(name string, ts int64) *rpcError {
	switch {
	case ts == 0:
		return badf("Required field '%s' missing", name)
	case ts < 1_000_000_000:
		return badf("Invalid timestamp for '%s': timestamp must be in milliseconds", name)
	}
	return nil
}

func parseNone(json.RawMessage) (*struct{}, *rpcError) { return &struct{}{}, nil }

func (n *Node) info(context.Context, *struct{}, json.RawMessage, bool) (any, *rpcError) {
	now := n.nowMS()
	out := map[string]any{"version": chain.StorageServerVersion, "timestamp": now, "t": now, "hf": n.misc().HF}
	if v := n.view.Load(); v != nil {
		out["height"] = v.height
		out["swarm"] = swarmHex(v.mine)
	}
	return out, nil
}

// oxendReq is an oxend_request: a chain query passed through the node.
type oxendReq struct {
	Endpoint string          `json:"endpoint"`
	Params   json.RawMessage `json:"params"`
}

// oxendEndpoints are the chain queries a node passes through: the storage
// server's two (get_service_nodes, ons_resolve), and get_n_service_nodes
// and get_info, which the devnet's own tools ask.
var oxendEndpoints = map[string]bool{"get_service_nodes": true, "get_n_service_nodes": true, "ons_resolve": true, "get_info": true}

func parseOxend(raw json.RawMessage) (*oxendReq, *rpcError) {
	p := new(oxendReq)
	if e := decodeParams(raw, p); e != nil {
		return nil, e
	}
	if p.Endpoint == "" {
		return nil, badf("Required field 'endpoint' missing")
	}
	if !oxendEndpoints[p.Endpoint] {
		return nil, badf("Invalid oxend endpoint '%s'", truncate(p.Endpoint, 40))
	}
	return p, nil
}

// oxendRequest passes the chain queries clients make through a node on to
// the node's view of the chain (oxend's answers: chain/oxend.go), as
// {"result": ...} with the node's t and hf.
func (n *Node) oxendRequest(ctx context.Context, p *oxendReq, _ json.RawMessage, _ bool) (any, *rpcError) {
	result, e := n.oxendResult(ctx, p)
	if e != nil {
		return nil, e
	}
	misc := n.misc()
	return map[string]any{"result": result, "t": misc.T, "hf": misc.HF}, nil
}

func (n *Node) oxendResult(ctx context.Context, p *oxendReq) (any, *rpcError) {
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
		return map[string]any{"service_node_states": states, "height": v.height, "status": "OK"}, nil
	case "ons_resolve":
		return n.onsResolve(ctx, p.Params)
	default: // get_info
		yieldTurn(ctx) // the ledger is another service
		info, err := n.cfg.Ledger.Info(ctx)
		if err != nil {
			return nil, errf(storagerpc.StatusUnavailable, "the chain did not answer")
		}
		return chain.GetInfo(info), nil
	}
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
	yieldTurn(ctx)
	value, found, err := nl.NameValue(ctx, p.NameHash)
	if err != nil {
		return nil, errf(storagerpc.StatusUnavailable, "the chain did not answer")
	}
	if !found {
		return map[string]any{}, nil
	}
	v, err := hex.DecodeString(value)
	if err != nil || len(v) != chain.EncryptedNameSize {
		return nil, errf(storagerpc.StatusInternal, "the name's value is malformed")
	}
	k := len(v) - 24
	return map[string]any{"encrypted_value": hex.EncodeToString(v[:k]), "nonce": hex.EncodeToString(v[k:])}, nil
}

type getSwarmReq struct {
	owner identity.AccountID
}

func parseGetSwarm(raw json.RawMessage) (*getSwarmReq, *rpcError) {
	var p storagerpc.GetSwarmParams
	if e := decodeParams(raw, &p); e != nil {
		return nil, e
	}
	owner, e := parseOwner(p.Pubkey)
	if e != nil {
		return nil, e
	}
	return &getSwarmReq{owner}, nil
}

func (n *Node) getSwarm(_ context.Context, r *getSwarmReq, _ json.RawMessage, _ bool) (any, *rpcError) {
	v := n.view.Load()
	if v == nil {
		return nil, errf(storagerpc.StatusUnavailable, "the node has not loaded the swarms yet")
	}
	sw := v.swarmResult(v.ownerSwarm(r.owner))
	sw.Misc = n.misc()
	return sw, nil
}

// decodeData reads a store's data: base64 of at most 76,800 bytes (from
// the request's bytes: storagerpc.DecodeStoreParamsData).
func decodeData(b64 []byte) ([]byte, *rpcError) {
	if len(b64) == 0 {
		return nil, badf("Required field 'data' missing")
	}
	if len(b64) > base64.StdEncoding.EncodedLen(storagerpc.MaxDataSize) {
		return nil, badf("Message body exceeds maximum allowed length of %d bytes", storagerpc.MaxDataSize)
	}
	data := make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
	n, err := base64.StdEncoding.Decode(data, b64)
	if err != nil {
		return nil, badf("Invalid 'data' value: not base64 encoded")
	}
	return data[:n], nil
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
		if !isHash(h) {
			return badf("invalid message hash: %q", truncate(h, 50))
		}
	}
	return nil
}

// isHash reports whether h looks like a message hash: 43 characters of
// unpadded base64.
func isHash(h string) bool {
	if len(h) != 43 {
		return false
	}
	_, err := base64.RawStdEncoding.DecodeString(h)
	return err == nil
}

type storeReq struct {
	p      storagerpc.StoreParams
	owner  identity.AccountID
	data   []byte
	expiry int64   // unix ms: the expiry given, or timestamp + ttl
	auth   *signer // nil when unsigned
}

func parseStore(raw json.RawMessage) (*storeReq, *rpcError) {
	r := new(storeReq)
	p := &r.p
	// The data's base64 is decoded from the request's bytes, not copied
	// to p.Data first (8 KB a send of the bench).
	b64, err := storagerpc.DecodeStoreParamsData(raw, p)
	if e := paramsError(err); e != nil {
		return nil, e
	}
	var e *rpcError
	if r.owner, e = parseOwner(p.Pubkey); e != nil {
		return nil, e
	}
	switch {
	case p.Timestamp == 0:
		return nil, badf("Required field 'timestamp' missing")
	case p.Timestamp < 0:
		return nil, badf("timestamp: want unix milliseconds")
	case p.TTL != 0 && p.Expiry != 0:
		return nil, badf("Cannot specify both 'expiry' and 'ttl'")
	case p.TTL == 0 && p.Expiry == 0:
		return nil, badf("Required field 'expiry' or 'ttl' missing")
	case p.TTL < 0:
		return nil, badf("Invalid value given for 'ttl': expected positive integer")
	case p.Expiry < 0:
		return nil, badf("Invalid value given for 'expiry': expected integer timestamp (in milliseconds)")
	}
	r.expiry = p.Expiry
	if p.TTL != 0 {
		r.expiry = p.Timestamp + p.TTL
	}
	if r.data, e = decodeData(b64); e != nil {
		return nil, e
	}
	if r.auth, e = parseAuth(r.owner, p.Auth, p.SubAuth, false); e != nil {
		return nil, e
	}
	return r, nil
}

// rpcStore stores a message, as the storage server does: a TTL out of
// range is 403, a timestamp off the node's clock 406; a namespace other
// than a public one (multiples of 10) needs the owner's signature (401
// without), within ±60 s (406); in a public namespace a signature is not
// looked at. A public outbox holds only the newest message.
func (n *Node) rpcStore(ctx context.Context, r *storeReq, raw json.RawMessage, recurse bool) (any, *rpcError) {
	p := &r.p
	v, e := n.route(r.owner)
	if e != nil {
		return nil, e
	}
	ttl := time.Duration(r.expiry-p.Timestamp) * time.Millisecond
	if ttl < storagerpc.MinTTL || ttl > p.Namespace.MaxTTL() {
		return nil, errf(storagerpc.StatusForbidden, "Provided expiry/TTL is not valid: want %d to %d ms", storagerpc.MinTTL.Milliseconds(), p.Namespace.MaxTTL().Milliseconds())
	}
	now := n.nowMS()
	tol := storagerpc.StoreTolerance.Milliseconds()
	if p.Timestamp > now+tol || r.expiry < now-tol {
		return nil, errf(storagerpc.StatusNotAcceptable, "Timestamp error: check your clock (the node's is %d)", now)
	}
	if !p.Namespace.Public() {
		if r.auth == nil {
			return nil, errf(storagerpc.StatusUnauthorized, "store: signature required to store to namespace %d", p.Namespace)
		}
		sigTS := cmp.Or(p.SigTS, p.Timestamp)
		if !n.inWindow(sigTS, storagerpc.SignatureWindow) {
			return nil, errf(storagerpc.StatusNotAcceptable, "store signature timestamp too far from current time (the node's is %d)", now)
		}
		need := storagerpc.FlagWrite
		if p.Namespace.PublicOutbox() {
			need |= storagerpc.FlagDelete // storing replaces what is there
		}
		if e := n.verify(ctx, r.owner, r.auth, storagerpc.StoreSigMsg(p.Namespace, sigTS), need, false, true); e != nil {
			return nil, e
		}
	}
	owner := r.owner.String()
	hash := storagerpc.MessageHash(r.owner, p.Namespace, r.data)
	mine := storagerpc.MemberResult{Hash: hash, Signature: n.sign(hash), Expiry: r.expiry}
	var already bool
	var err error
	if p.Namespace != 0 || !n.fault(func(f *Faults) *atomic.Bool { return &f.DropMessages }) {
		already, err = n.store.insert(ctx, &record{Hash: hash, Owner: owner, Namespace: p.Namespace, Timestamp: p.Timestamp, Expiry: r.expiry, Data: r.data}, true)
	}
	if err == nil && already {
		// The stored expiry is the later of the two.
		var cur map[string]expiryOf
		if cur, err = n.store.expiries(ctx, owner, []string{hash}); err == nil {
			if c, ok := cur[hash]; ok {
				mine.Expiry = c.expiry
			}
		}
	}
	if err == nil && p.Namespace.PublicOutbox() {
		_, _, err = n.store.deleteWhere(ctx, owner, ` AND namespace = ? AND hash != ?`, int64(p.Namespace), hash)
	}
	if err != nil {
		n.log.Error().Err(err).Msg("store")
		mine = storagerpc.MemberResult{Failed: true, QueryFailure: true, Reason: "storage failure"}
	}
	mine.Already = already && err == nil
	if err == nil && !already {
		n.log.Debug().Str("hash", hash).Str("owner", owner[:10]).Int("namespace", int(p.Namespace)).Bool("replica", !recurse).Msg("stored")
		if n.cfg.OnStore != nil {
			n.cfg.OnStore(StoreEvent{Node: n.pubHex, Hash: hash, Owner: owner, Namespace: int(p.Namespace), Replica: !recurse})
		}
	}
	if !recurse {
		if mine.Failed {
			return nil, errf(storagerpc.StatusInternal, "storage failure")
		}
		return mine, nil
	}
	misc := n.misc()
	mine.T = misc.T
	out := storagerpc.SwarmResults{Hash: hash, Swarm: n.forward(ctx, v, "store", raw, mine), Misc: misc}
	if allFailed(out.Swarm) || (p.Namespace == 0 && n.fault(func(f *Faults) *atomic.Bool { return &f.FailMessages })) {
		return nil, &rpcError{code: storagerpc.StatusInternal, body: out}
	}
	return out, nil
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
	body := storagerpc.EncodeRequest(method, raw) // once, for every member
	yieldTurn(ctx)
	// One deadline for all the members, sent to at once, not a context
	// and a timer for each (4 to 6 a store, two stores a send).
	fctx, cancel := context.WithTimeout(ctx, n.cfg.ForwardTimeout)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	// A member the node holds an idle stream to gets the request at once,
	// and its answer is read below, in turn with the others': they travel
	// at once, as on a goroutine each, without those goroutines (each
	// made, and woken at its end, a hand-off that woke the idle processor
	// at one client: 12 made a send). A member without one gets a
	// goroutine, whose RoundTrip opens a stream (which may dial).
	type started struct {
		k  string
		pd storagerpc.Pending
	}
	var sent [8]started
	pending := sent[:0]
	for _, k := range v.members[v.mine] {
		if k == n.pubHex {
			continue
		}
		pid := v.peers[k]
		pd, ok, err := storagerpc.Start(fctx, n.out(), pid, storagerpc.ProtocolSwarm, body)
		switch {
		case ok && err == nil:
			pending = append(pending, started{k, pd})
			continue
		case ok:
			mu.Lock()
			results[k] = memberResult(fctx, nil, err, mine.Hash)
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := storagerpc.RoundTrip(fctx, n.out(), pid, storagerpc.ProtocolSwarm, body)
			r := memberResult(fctx, resp, err, mine.Hash)
			mu.Lock()
			results[k] = r
			mu.Unlock()
		}()
	}
	for _, s := range pending {
		resp, err := s.pd.Answer()
		r := memberResult(fctx, resp, err, mine.Hash)
		mu.Lock()
		results[s.k] = r
		mu.Unlock()
	}
	wg.Wait()
	return results
}

// memberResult is a member's result of a forwarded request: its answer
// resp, or err (a timeout once fctx, the forward's, has ended); a store's
// result names hash, the message's ("" for other methods).
func memberResult(fctx context.Context, resp *storagerpc.Response, err error, hash string) storagerpc.MemberResult {
	var r storagerpc.MemberResult
	switch {
	case err != nil && fctx.Err() != nil:
		r = storagerpc.MemberResult{Failed: true, Timeout: true}
	case err != nil:
		r = storagerpc.MemberResult{Failed: true, Reason: "unreachable"}
	case resp.Code != storagerpc.StatusOK:
		r = storagerpc.MemberResult{Failed: true, Code: resp.Code, Reason: resp.Err().(*storagerpc.Error).Message}
	default:
		if storagerpc.DecodeMemberResultOf(resp.Body, &r, hash) != nil {
			r = storagerpc.MemberResult{Failed: true, BadPeerResponse: true}
		}
	}
	return r
}

type retrieveReq struct {
	p     storagerpc.RetrieveParams
	owner identity.AccountID
	last  string
	auth  *signer
}

func parseRetrieve(raw json.RawMessage) (*retrieveReq, *rpcError) {
	r := new(retrieveReq)
	p := &r.p
	if e := decodeParams(raw, p); e != nil {
		return nil, e
	}
	var e *rpcError
	if r.owner, e = parseOwner(p.Pubkey); e != nil {
		return nil, e
	}
	if p.LastHash != "" && p.LastHashCamel != "" {
		return nil, badf("Cannot specify both 'last_hash' and 'lastHash'")
	}
	r.last = cmp.Or(p.LastHash, p.LastHashCamel)
	if r.last != "" && !isHash(r.last) {
		return nil, badf("Invalid last_hash: expected base64 (43 chars)")
	}
	if r.auth, e = parseAuth(r.owner, p.Auth, p.SubAuth, false); e != nil {
		return nil, e
	}
	if r.auth != nil {
		if e := requireTS("timestamp", p.Timestamp); e != nil {
			return nil, e
		}
	}
	return r, nil
}

// retrieve returns an account's messages of a namespace after last_hash.
// Reading needs the account's signature (401 without), within ±60 s
// (406), but in the namespaces anyone may read (-10, the public
// outboxes); a revoked token may still read the unrevocable namespaces.
func (n *Node) retrieve(ctx context.Context, r *retrieveReq, _ json.RawMessage, _ bool) (any, *rpcError) {
	p := &r.p
	if _, e := n.route(r.owner); e != nil {
		return nil, e
	}
	if n.behind.Load() {
		return nil, errf(storagerpc.StatusUnavailable, "the node is catching up with its swarm after a restart")
	}
	switch {
	case r.auth == nil && !p.Namespace.NoAuthRetrieve():
		return nil, errf(storagerpc.StatusUnauthorized, "retrieve: request signature required")
	case r.auth != nil:
		if !n.inWindow(p.Timestamp, storagerpc.SignatureWindow) {
			return nil, errf(storagerpc.StatusNotAcceptable, "retrieve timestamp too far from current time (the node's is %d)", n.nowMS())
		}
		if e := n.verify(ctx, r.owner, r.auth, storagerpc.RetrieveSigMsg(p.Namespace, p.Timestamp), storagerpc.FlagRead, p.Namespace.Unrevocable(), false); e != nil {
			return nil, e
		}
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
	owner := r.owner.String()
	recs, more, err := n.store.retrieve(ctx, owner, p.Namespace, r.last, maxCount, maxSize, n.nowMS())
	if err != nil {
		n.log.Error().Err(err).Msg("retrieve")
		return nil, errf(storagerpc.StatusInternal, "storage failure")
	}
	n.log.Debug().Str("owner", owner[:10]).Int("namespace", int(p.Namespace)).Int("messages", len(recs)).Bool("more", more).Msg("fetched")
	out := storagerpc.RetrieveResult{Messages: []storagerpc.Message{}, More: more, Misc: n.misc()}
	for _, r := range recs {
		out.Messages = append(out.Messages, storagerpc.Message{
			Hash: r.Hash, Timestamp: r.Timestamp, Expiration: r.Expiry, Data: base64.StdEncoding.EncodeToString(r.Data),
		})
	}
	return out, nil
}

type deleteReq struct {
	p     storagerpc.DeleteParams
	owner identity.AccountID
	auth  *signer
}

func parseDelete(raw json.RawMessage) (*deleteReq, *rpcError) {
	r := new(deleteReq)
	if e := decodeParams(raw, &r.p); e != nil {
		return nil, e
	}
	var e *rpcError
	if r.owner, e = parseOwner(r.p.Pubkey); e != nil {
		return nil, e
	}
	if r.auth, e = parseAuth(r.owner, r.p.Auth, r.p.SubAuth, true); e != nil {
		return nil, e
	}
	if e := checkHashes(r.p.Messages, false); e != nil {
		return nil, e
	}
	return r, nil
}

func (n *Node) deleteMsgs(ctx context.Context, r *deleteReq, raw json.RawMessage, recurse bool) (any, *rpcError) {
	p := &r.p
	v, e := n.route(r.owner)
	if e != nil {
		return nil, e
	}
	if e := n.verify(ctx, r.owner, r.auth, storagerpc.DeleteSigMsg(p.Messages), storagerpc.FlagDelete, false, true); e != nil {
		return nil, e
	}
	owner := r.owner.String()
	deleted, err := n.store.deleteHashes(ctx, owner, p.Messages)
	mine := storagerpc.MemberResult{Deleted: nonNil(deleted), Signature: n.sign(append(append([]string{owner}, p.Messages...), deleted...)...)}
	if err != nil {
		n.log.Error().Err(err).Msg("delete")
		mine = storagerpc.MemberResult{Failed: true, Reason: "storage failure"}
	}
	out, e := n.finishRecursive(ctx, v, "delete", raw, mine, recurse)
	if e != nil || !recurse || !p.Required {
		return out, e
	}
	// required: 404, with the answer, when no member deleted anything.
	for _, r := range out.(storagerpc.SwarmResults).Swarm {
		if d, ok := r.Deleted.([]any); ok && len(d) > 0 {
			return out, nil
		}
		if d, ok := r.Deleted.([]string); ok && len(d) > 0 {
			return out, nil
		}
	}
	return nil, &rpcError{code: storagerpc.StatusNotFound, body: out}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// finishRecursive returns this node's result to a forwarding member, or
// forwards a client's request to the swarm and returns every member's
// result, with the node's t and hf: 500, with them, when every member failed.
func (n *Node) finishRecursive(ctx context.Context, v *view, method string, raw json.RawMessage, mine storagerpc.MemberResult, recurse bool) (any, *rpcError) {
	if !recurse {
		if mine.Failed {
			return nil, errf(storagerpc.StatusInternal, "storage failure")
		}
		return mine, nil
	}
	out := storagerpc.SwarmResults{Swarm: n.forward(ctx, v, method, raw, mine), Misc: n.misc()}
	if allFailed(out.Swarm) {
		return nil, &rpcError{code: storagerpc.StatusInternal, body: out}
	}
	return out, nil
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

type deleteAllReq struct {
	p     storagerpc.DeleteAllParams
	owner identity.AccountID
	auth  *signer
}

func parseDeleteAll(raw json.RawMessage) (*deleteAllReq, *rpcError) {
	r := new(deleteAllReq)
	if e := decodeParams(raw, &r.p); e != nil {
		return nil, e
	}
	var e *rpcError
	if r.owner, e = parseOwner(r.p.Pubkey); e != nil {
		return nil, e
	}
	if r.auth, e = parseAuth(r.owner, r.p.Auth, r.p.SubAuth, true); e != nil {
		return nil, e
	}
	if e := requireTS("timestamp", r.p.Timestamp); e != nil {
		return nil, e
	}
	return r, nil
}

func (n *Node) deleteAll(ctx context.Context, r *deleteAllReq, raw json.RawMessage, recurse bool) (any, *rpcError) {
	p := &r.p
	v, e := n.route(r.owner)
	if e != nil {
		return nil, e
	}
	if !n.inWindow(p.Timestamp, window(recurse)) {
		return nil, errf(storagerpc.StatusNotAcceptable, "delete_all timestamp too far from current time (the node's is %d)", n.nowMS())
	}
	ns := nsOrDefault(p.Namespace)
	if e := n.verify(ctx, r.owner, r.auth, storagerpc.DeleteAllSigMsg(ns, p.Timestamp), storagerpc.FlagDelete, false, true); e != nil {
		return nil, e
	}
	owner := r.owner.String()
	all, m, err := n.store.deleteAll(ctx, owner, ns)
	mine := storagerpc.MemberResult{Deleted: listOrMap(ns, all, m),
		Signature: n.sign(append([]string{owner, strconv.FormatInt(p.Timestamp, 10)}, all...)...)}
	if err != nil {
		n.log.Error().Err(err).Msg("delete_all")
		mine = storagerpc.MemberResult{Failed: true, Reason: "storage failure"}
	}
	return n.finishRecursive(ctx, v, "delete_all", raw, mine, recurse)
}

type deleteBeforeReq struct {
	p     storagerpc.DeleteBeforeParams
	owner identity.AccountID
	auth  *signer
}

func parseDeleteBefore(raw json.RawMessage) (*deleteBeforeReq, *rpcError) {
	r := new(deleteBeforeReq)
	if e := decodeParams(raw, &r.p); e != nil {
		return nil, e
	}
	var e *rpcError
	if r.owner, e = parseOwner(r.p.Pubkey); e != nil {
		return nil, e
	}
	if r.auth, e = parseAuth(r.owner, r.p.Auth, r.p.SubAuth, true); e != nil {
		return nil, e
	}
	if e := requireTS("before", r.p.Before); e != nil {
		return nil, e
	}
	return r, nil
}

func (n *Node) deleteBefore(ctx context.Context, r *deleteBeforeReq, raw json.RawMessage, recurse bool) (any, *rpcError) {
	p := &r.p
	v, e := n.route(r.owner)
	if e != nil {
		return nil, e
	}
	if p.Before > n.nowMS()+storagerpc.SignatureWindow.Milliseconds() {
		return nil, errf(storagerpc.StatusUnauthorized, "delete_before timestamp too far in the future")
	}
	ns := nsOrDefault(p.Namespace)
	if e := n.verify(ctx, r.owner, r.auth, storagerpc.DeleteBeforeSigMsg(ns, p.Before), storagerpc.FlagDelete, false, true); e != nil {
		return nil, e
	}
	owner := r.owner.String()
	all, m, err := n.store.deleteBefore(ctx, owner, ns, p.Before)
	mine := storagerpc.MemberResult{Deleted: listOrMap(ns, all, m),
		Signature: n.sign(append([]string{owner, strconv.FormatInt(p.Before, 10)}, all...)...)}
	if err != nil {
		n.log.Error().Err(err).Msg("delete_before")
		mine = storagerpc.MemberResult{Failed: true, Reason: "storage failure"}
	}
	return n.finishRecursive(ctx, v, "delete_before", raw, mine, recurse)
}

type expireAllReq struct {
	p     storagerpc.ExpireAllParams
	owner identity.AccountID
	auth  *signer
}

func parseExpireAll(raw json.RawMessage) (*expireAllReq, *rpcError) {
	r := new(expireAllReq)
	if e := decodeParams(raw, &r.p); e != nil {
		return nil, e
	}
	var e *rpcError
	if r.owner, e = parseOwner(r.p.Pubkey); e != nil {
		return nil, e
	}
	if r.auth, e = parseAuth(r.owner, r.p.Auth, r.p.SubAuth, true); e != nil {
		return nil, e
	}
	if e := requireTS("expiry", r.p.Expiry); e != nil {
		return nil, e
	}
	return r, nil
}

func (n *Node) expireAll(ctx context.Context, r *expireAllReq, raw json.RawMessage, recurse bool) (any, *rpcError) {
	p := &r.p
	v, e := n.route(r.owner)
	if e != nil {
		return nil, e
	}
	if p.Expiry < n.nowMS()-window(recurse).Milliseconds() {
		return nil, errf(storagerpc.StatusNotAcceptable, "expire_all timestamp should be >= current time")
	}
	ns := nsOrDefault(p.Namespace)
	if e := n.verify(ctx, r.owner, r.auth, storagerpc.ExpireAllSigMsg(ns, p.Expiry), storagerpc.FlagDelete, false, true); e != nil {
		return nil, e
	}
	owner := r.owner.String()
	all, m, err := n.store.expireAll(ctx, owner, ns, p.Expiry)
	mine := storagerpc.MemberResult{Updated: listOrMap(ns, all, m),
		Signature: n.sign(append([]string{owner, strconv.FormatInt(p.Expiry, 10)}, all...)...)}
	if err != nil {
		n.log.Error().Err(err).Msg("expire_all")
		mine = storagerpc.MemberResult{Failed: true, Reason: "storage failure"}
	}
	return n.finishRecursive(ctx, v, "expire_all", raw, mine, recurse)
}

type expireReq struct {
	p     storagerpc.ExpireParams
	owner identity.AccountID
	auth  *signer
}

func parseExpire(raw json.RawMessage) (*expireReq, *rpcError) {
	r := new(expireReq)
	if e := decodeParams(raw, &r.p); e != nil {
		return nil, e
	}
	var e *rpcError
	if r.owner, e = parseOwner(r.p.Pubkey); e != nil {
		return nil, e
	}
	if r.auth, e = parseAuth(r.owner, r.p.Auth, r.p.SubAuth, true); e != nil {
		return nil, e
	}
	if e := requireTS("expiry", r.p.Expiry); e != nil {
		return nil, e
	}
	if r.p.Shorten && r.p.Extend {
		return nil, badf("cannot specify both 'shorten' and 'extend'")
	}
	if e := checkHashes(r.p.Messages, false); e != nil {
		return nil, e
	}
	return r, nil
}

// expire sets the expiry of messages (only later ones with shorten, only
// earlier ones with extend), capped at 30 days from now. A subaccount
// token needs the write flag; without the delete flag it may only extend.
func (n *Node) expire(ctx context.Context, r *expireReq, raw json.RawMessage, recurse bool) (any, *rpcError) {
	p := &r.p
	v, e := n.route(r.owner)
	if e != nil {
		return nil, e
	}
	now := n.nowMS()
	if p.Expiry < now-storagerpc.SignatureWindow.Milliseconds() {
		return nil, errf(storagerpc.StatusUnauthorized, "expire: timestamp should be >= current time")
	}
	if e := n.verify(ctx, r.owner, r.auth, storagerpc.ExpireSigMsg(p.Shorten, p.Extend, p.Expiry, p.Messages), storagerpc.FlagWrite, false, true); e != nil {
		return nil, e
	}
	extend := p.Extend
	if r.auth.token != nil && r.auth.token.Flags()&storagerpc.FlagDelete == 0 {
		// Shortening an expiry is almost deleting: a token that may not
		// delete may only extend.
		if p.Shorten {
			return nil, errf(storagerpc.StatusBadRequest, "expire: shorten parameter cannot be used with this subaccount token (missing delete access)")
		}
		extend = true
	}
	expiry := min(p.Expiry, now+storagerpc.MaxPrivateTTL.Milliseconds())
	owner := r.owner.String()
	current, err := n.store.expiries(ctx, owner, p.Messages)
	var updated []string
	unchanged := map[string]int64{}
	for _, h := range slices.Sorted(maps.Keys(current)) {
		if err != nil {
			break
		}
		cur := current[h].expiry
		if p.Shorten && cur <= expiry || extend && cur >= expiry {
			unchanged[h] = cur
			continue
		}
		if err = n.store.setExpiry(ctx, owner, h, expiry); err == nil {
			updated = append(updated, h)
		}
	}
	if !p.Shorten && !p.Extend {
		clear(unchanged) // reported only when asked for
	}
	parts := append([]string{owner, strconv.FormatInt(expiry, 10)}, p.Messages...)
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
	return n.finishRecursive(ctx, v, "expire", raw, mine, recurse)
}

type getExpiriesReq struct {
	p     storagerpc.GetExpiriesParams
	owner identity.AccountID
	auth  *signer
}

func parseGetExpiries(raw json.RawMessage) (*getExpiriesReq, *rpcError) {
	r := new(getExpiriesReq)
	if e := decodeParams(raw, &r.p); e != nil {
		return nil, e
	}
	var e *rpcError
	if r.owner, e = parseOwner(r.p.Pubkey); e != nil {
		return nil, e
	}
	if r.auth, e = parseAuth(r.owner, r.p.Auth, r.p.SubAuth, true); e != nil {
		return nil, e
	}
	if e := requireTS("timestamp", r.p.Timestamp); e != nil {
		return nil, e
	}
	if e := checkHashes(r.p.Messages, true); e != nil {
		return nil, e
	}
	return r, nil
}

// getExpiries answers {"expiries": {hash: expiry}}: no t or hf, as upstream.
func (n *Node) getExpiries(ctx context.Context, r *getExpiriesReq, _ json.RawMessage, _ bool) (any, *rpcError) {
	p := &r.p
	if _, e := n.route(r.owner); e != nil {
		return nil, e
	}
	if !n.inWindow(p.Timestamp, storagerpc.SignatureWindow) {
		return nil, errf(storagerpc.StatusNotAcceptable, "get_expiries timestamp too far from current time (the node's is %d)", n.nowMS())
	}
	if e := n.verify(ctx, r.owner, r.auth, storagerpc.GetExpiriesSigMsg(p.Timestamp, p.Messages), storagerpc.FlagRead, false, false); e != nil {
		return nil, e
	}
	owner := r.owner.String()
	var (
		m   map[string]int64
		err error
	)
	if len(p.Messages) == 1 && p.Messages[0] == "all" {
		m, err = n.store.allExpiries(ctx, owner)
	} else {
		var e map[string]expiryOf
		e, err = n.store.expiries(ctx, owner, p.Messages)
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

// batch runs 1 to 20 subrequests, at once (batch) or in order until the
// first that fails (sequence). Every subrequest is parsed first: a batch
// that holds a malformed one, an unknown method or another batch is
// refused whole (400) and none of it runs.
func (n *Node) batch(ctx context.Context, raw json.RawMessage, sequence bool) (any, *rpcError) {
	var p struct {
		Requests []json.RawMessage `json:"requests"`
	}
	if e := decodeParams(raw, &p); e != nil {
		return nil, e
	}
	if len(p.Requests) == 0 {
		return nil, badf("Invalid batch request: no valid \"requests\" field")
	}
	if len(p.Requests) > storagerpc.MaxSubrequests {
		return nil, badf("Invalid batch request: subrequest limit exceeded (%d, at most %d)", len(p.Requests), storagerpc.MaxSubrequests)
	}
	type sub struct {
		m   method
		req any
		raw json.RawMessage
	}
	subs := make([]sub, len(p.Requests))
	for i, b := range p.Requests {
		var r struct {
			Method *string          `json:"method"`
			Params *json.RawMessage `json:"params"`
		}
		if json.Unmarshal(b, &r) != nil || len(b) == 0 || b[0] != '{' {
			return nil, badf("Invalid batch request: requests must be objects")
		}
		if r.Method == nil || r.Params == nil || len(*r.Params) == 0 || (*r.Params)[0] != '{' {
			return nil, badf("Invalid batch request: subrequests must have method/params keys")
		}
		if isMeta(*r.Method) {
			return nil, badf("Invalid batch subrequest: subrequests may not contain meta-requests (requests[%d] is %s)", i, *r.Method)
		}
		m, ok := methods[*r.Method]
		if !ok {
			return nil, badf("Invalid batch subrequest: invalid method %q", truncate(*r.Method, 40))
		}
		req, e := m.parse(*r.Params)
		if e != nil {
			e.msg = fmt.Sprintf("requests[%d] (%s): %s", i, *r.Method, e.msg)
			return nil, e
		}
		subs[i] = sub{m, req, *r.Params}
	}
	results := make([]batchResult, len(subs))
	run := func(i int) {
		out, e := subs[i].m.run(n, ctx, subs[i].req, subs[i].raw, true)
		var resp storagerpc.Response
		if e != nil {
			resp = e.response()
		} else {
			resp = okResponse(out)
		}
		results[i] = batchResult{Code: resp.Code, Body: resp.Body}
	}
	if sequence {
		for i := range subs {
			run(i)
			if results[i].Code/100 != 2 {
				results = results[:i+1]
				break
			}
		}
	} else {
		var wg sync.WaitGroup
		for i := range subs {
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

type revokeReq struct {
	method string // revoke_subaccount or unrevoke_subaccount
	p      storagerpc.RevokeParams
	owner  identity.AccountID
	auth   *signer
	toks   []storagerpc.Token
}

func parseRevoke(raw json.RawMessage) (*revokeReq, *rpcError) {
	return parseRevocation(raw, "revoke_subaccount")
}

func parseUnrevoke(raw json.RawMessage) (*revokeReq, *rpcError) {
	return parseRevocation(raw, "unrevoke_subaccount")
}

func parseRevocation(raw json.RawMessage, method string) (*revokeReq, *rpcError) {
	r := &revokeReq{method: method}
	if e := decodeParams(raw, &r.p); e != nil {
		return nil, e
	}
	var e *rpcError
	if r.owner, e = parseOwner(r.p.Pubkey); e != nil {
		return nil, e
	}
	// No token can revoke tokens: only the account's own key may.
	if r.auth, e = parseAuth(r.owner, r.p.Auth, storagerpc.SubAuth{}, true); e != nil {
		return nil, e
	}
	if e := requireTS("timestamp", r.p.Timestamp); e != nil {
		return nil, e
	}
	list, field := r.p.Revoke, "revoke"
	if method == "unrevoke_subaccount" {
		list, field = r.p.Unrevoke, "unrevoke"
	}
	if len(list) == 0 || len(list) > maxRevoked {
		return nil, badf("%s: want 1 to %d tokens", field, maxRevoked)
	}
	for _, s := range list {
		t, err := storagerpc.ParseToken(s)
		if err != nil {
			return nil, badf("%s: %s", field, err)
		}
		r.toks = append(r.toks, t)
	}
	return r, nil
}

// revoke adds tokens to the account's revocation list, or removes them. A
// member's answer is its signature, and for unrevoke_subaccount the count
// of tokens it unrevoked.
func (n *Node) revoke(ctx context.Context, r *revokeReq, raw json.RawMessage, recurse bool) (any, *rpcError) {
	p := &r.p
	v, e := n.route(r.owner)
	if e != nil {
		return nil, e
	}
	if !n.inWindow(p.Timestamp, storagerpc.SignatureWindow) {
		return nil, errf(storagerpc.StatusNotAcceptable, "%s timestamp too far from current time (the node's is %d)", r.method, n.nowMS())
	}
	if e := n.verify(ctx, r.owner, r.auth, storagerpc.RevokeSigMsg(r.method, p.Timestamp, r.toks), 0, false, true); e != nil {
		return nil, e
	}
	owner := r.owner.String()
	var count int
	var err error
	// The signed timestamp orders the change: every member records the
	// same, so their lists agree and repair can merge them.
	if r.method == "revoke_subaccount" {
		_, err = n.store.revoke(ctx, owner, r.toks, p.Timestamp, maxRevoked)
	} else {
		count, err = n.store.unrevoke(ctx, owner, r.toks, p.Timestamp, maxRevoked)
	}
	parts := []string{owner, strconv.FormatInt(p.Timestamp, 10)}
	for _, t := range r.toks {
		parts = append(parts, string(t[:]))
	}
	mine := storagerpc.MemberResult{Signature: n.sign(parts...)}
	if r.method == "unrevoke_subaccount" {
		mine.Count = &count
	}
	if err != nil {
		n.log.Error().Err(err).Msg(r.method)
		mine = storagerpc.MemberResult{Failed: true, Reason: "storage failure"}
	}
	return n.finishRecursive(ctx, v, r.method, raw, mine, recurse)
}

type revokedListReq struct {
	p     storagerpc.RevokeParams
	owner identity.AccountID
	auth  *signer
}

func parseRevokedList(raw json.RawMessage) (*revokedListReq, *rpcError) {
	r := new(revokedListReq)
	if e := decodeParams(raw, &r.p); e != nil {
		return nil, e
	}
	var e *rpcError
	if r.owner, e = parseOwner(r.p.Pubkey); e != nil {
		return nil, e
	}
	if r.auth, e = parseAuth(r.owner, r.p.Auth, storagerpc.SubAuth{}, true); e != nil {
		return nil, e
	}
	if e := requireTS("timestamp", r.p.Timestamp); e != nil {
		return nil, e
	}
	return r, nil
}

// revokedList returns the account's revoked tokens, for its owner (the
// devnet's own method).
func (n *Node) revokedList(ctx context.Context, r *revokedListReq, _ json.RawMessage, _ bool) (any, *rpcError) {
	p := &r.p
	if _, e := n.route(r.owner); e != nil {
		return nil, e
	}
	if !n.inWindow(p.Timestamp, storagerpc.SignatureWindow) {
		return nil, errf(storagerpc.StatusNotAcceptable, "revoked_subaccounts timestamp too far from current time (the node's is %d)", n.nowMS())
	}
	if e := n.verify(ctx, r.owner, r.auth, storagerpc.RevokeSigMsg("revoked_subaccounts", p.Timestamp, nil), 0, false, false); e != nil {
		return nil, e
	}
	toks, err := n.store.revokedTokens(ctx, r.owner.String())
	if err != nil {
		return nil, errf(storagerpc.StatusInternal, "storage failure")
	}
	return map[string]any{"revoked": toks}, nil
}
