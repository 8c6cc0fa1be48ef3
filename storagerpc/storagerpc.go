// Package storagerpc is the wire protocol of the service nodes' storage RPC
// (SPEC 4), shared by the nodes and the clients that call them: the libp2p
// protocol ids, the request and response envelopes, the parameters of each
// method with the real network's names, the message hash, and the strings each
// method's signature covers.
//
// A request is one libp2p stream: the caller writes the JSON
// {"method": ..., "params": {...}} and closes its side; the node answers
// {"code": N, "body": ...} and closes. Codes are the storage server's HTTP
// statuses (200, 400, 401, 403, 404, 406, 413, 421, 429, 500, 503); an
// error's body is a short string, a 421's body is the owning swarm. A
// node's HTTPS edge takes the same envelope (or a JSON-RPC 2.0 one) at
// /storage_rpc/v1, as real clients send it.
//
//	p := storagerpc.RetrieveParams{Pubkey: owner.String(), Timestamp: now}
//	p.Auth = storagerpc.SignAuth(key, owner, storagerpc.RetrieveSigMsg(p.Namespace, p.Timestamp))
//	resp, err := storagerpc.Call(ctx, host, peerID, storagerpc.ProtocolStorage, "retrieve", p)
//	var res storagerpc.RetrieveResult
//	err = resp.Decode(&res)
//
// (ExampleSignAuth and ExampleCall are these, compiled.)
package storagerpc

import (
	"context"
	"crypto/ed25519"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/streampool"
	"golang.org/x/crypto/blake2b"
)

// Protocol ids (SPEC 10: one libp2p protocol per purpose). On a stream of
// a 1.0.0 protocol the caller writes its request and closes its side; the
// node answers and closes. The 2.0.0 protocols carry the same requests and
// answers framed (package streampool: [u32 big-endian length][bytes]), one
// after another on a stream kept open; a node speaks both, and a caller
// whose host has a stream pool (streampool.Host) uses 2.0.0 where the peer
// has it.
const (
	ProtocolStorage protocol.ID = "/sessionctl/storage/1.0.0" // clients -> node: the storage RPC
	ProtocolSwarm   protocol.ID = "/sessionctl/swarm/1.0.0"   // node -> node: replication and data moves

	ProtocolStorageFramed protocol.ID = "/sessionctl/storage/2.0.0"
	ProtocolSwarmFramed   protocol.ID = "/sessionctl/swarm/2.0.0"
)

// framedOf is the framed version of a protocol, "" for none.
func framedOf(p protocol.ID) protocol.ID {
	switch p {
	case ProtocolStorage:
		return ProtocolStorageFramed
	case ProtocolSwarm:
		return ProtocolSwarmFramed
	}
	return ""
}

// Limits of SPEC 4.
const (
	MaxRequestSize  = 10 << 20 // a request body
	MaxResponseSize = 16 << 20 // what a caller reads back
	MaxDataSize     = 76_800   // a message's data, decoded
	MaxSubrequests  = 20       // in a batch or sequence
	SignatureWindow = 60 * time.Second
	MinTTL          = 10 * time.Second
	MaxTTL          = 14 * 24 * time.Hour // a message in a public namespace
	MaxPrivateTTL   = 30 * 24 * time.Hour // a message in any other, and any expiry an owner sets
	MaxConfigTTL    = MaxPrivateTTL       // namespaces 2-5
	// StoreTolerance is how far in the future a store's timestamp, and how
	// far in the past its expiry, may be.
	StoreTolerance = 10 * time.Second
	// ForwardedWindow is the signature window of a request a swarm member
	// forwarded: a little wider, for the time forwarding takes.
	ForwardedWindow = 70 * time.Second
	// MaxRetrieveSize is what max_size = -1 stands for.
	MaxRetrieveSize = 7_800_000
)

// MsgReplayed opens the error a node answers (401) to a signed write whose
// signature it accepted before: a client that signs the same change in the
// same millisecond as another signs it again.
const MsgReplayed = "signature already used"

// Status codes, as the storage server answers them.
const (
	StatusOK              = 200
	StatusBadRequest      = 400
	StatusUnauthorized    = 401 // a missing or wrong signature, a replayed write
	StatusForbidden       = 403 // a TTL out of range
	StatusNotFound        = 404 // a delete with "required" that deleted nothing
	StatusNotAcceptable   = 406 // a timestamp outside the window: the client's clock is off
	StatusTooLarge        = 413
	StatusMisdirected     = 421 // the account belongs to another swarm
	StatusTooManyRequests = 429
	StatusInternal        = 500
	StatusUnavailable     = 503 // the node has no swarm view yet, or is closing
)

// Request is the envelope of every call.
type Request struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// EncodeRequest is a Request's JSON, {"method":...,"params":...}, written
// in one pass: params must be valid JSON (what json.Marshal or a decoder
// gave), and are written as they are. json.Marshal of a Request would check
// and compact them a second time, for every request and every member a
// store is forwarded to.
func EncodeRequest(method string, params json.RawMessage) []byte {
	b := make([]byte, 0, len(`{"method":,"params":}`)+len(method)+2+len(params))
	b = append(b, `{"method":`...)
	b = appendString(b, method)
	b = append(b, `,"params":`...)
	b = appendRaw(b, params)
	return append(b, '}')
}

// appendString appends s as a JSON string: as it is when it is a plain
// name (every method is), else as json.Marshal writes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendRaw appends raw JSON; a nil one is null, as json.Marshal writes it.
func appendRaw(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// Response is the envelope of every answer.
type Response struct {
	Code int             `json:"code"`
	Body json.RawMessage `json:"body"`
}

// AppendJSON appends the response's JSON, {"code":N,"body":...}, to b in
// one pass: Body must be valid JSON (a node's answers are what json.Marshal
// made), and is written as it is.
func (r *Response) AppendJSON(b []byte) []byte {
	// Room for all of it at once: {"code":N,"body":...} around the body.
	b = slices.Grow(b, len(`{"code":,"body":}`)+20+max(len(r.Body), len("null")))
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, int64(r.Code), 10)
	b = append(b, `,"body":`...)
	b = appendRaw(b, r.Body)
	return append(b, '}')
}

// OnionAnswer is what the destination of an onion request answers, as the
// storage server does: the status and the body (embedded JSON when the
// request asked "json": true).
type OnionAnswer struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// Error is a non-200 response as a Go error.
type Error struct {
	Code    int
	Message string
	Body    json.RawMessage // the raw body (a 421 carries the swarm)
}

func (e *Error) Error() string { return fmt.Sprintf("storage rpc %d: %s", e.Code, e.Message) }

// Err returns the response as an *Error, or nil for a 200.
func (r *Response) Err() error {
	if r.Code == StatusOK {
		return nil
	}
	var msg string
	if json.Unmarshal(r.Body, &msg) != nil {
		msg = string(r.Body)
	}
	return &Error{Code: r.Code, Message: msg, Body: r.Body}
}

// Decode unmarshals a 200 response's body into v, or returns the error.
func (r *Response) Decode(v any) error {
	if err := r.Err(); err != nil {
		return err
	}
	switch p := v.(type) {
	case *SwarmResults:
		return DecodeSwarmResults(r.Body, p)
	case *RetrieveResult:
		return DecodeRetrieveResult(r.Body, p)
	}
	return json.Unmarshal(r.Body, v)
}

// Namespace is a message namespace, -32768..32767.
type Namespace int16

// Sig is the namespace's form in a signed string: "" for 0, else decimal.
func (n Namespace) Sig() string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(int(n))
}

// Public reports whether anyone may store in the namespace (multiples of 10).
func (n Namespace) Public() bool { return n%10 == 0 }

// IsConfig reports whether the namespace holds account config (2-5).
func (n Namespace) IsConfig() bool { return n >= 2 && n <= 5 }

// MaxTTL is the longest a new message of the namespace may live: 14 days in
// a public namespace, 30 in the others (the account's own).
func (n Namespace) MaxTTL() time.Duration {
	if n.Public() {
		return MaxTTL
	}
	return MaxPrivateTTL
}

// PublicOutbox reports whether the namespace is a public outbox: the
// negative namespaces -(20n+1) (-1, -21, ...) hold one message at a time,
// which anyone may read and only the owner may write.
func (n Namespace) PublicOutbox() bool { return n < 0 && -int(n)%20 == 1 }

// NoAuthRetrieve reports whether anyone may read the namespace without a
// signature: -10 (the legacy closed groups') and the public outboxes.
func (n Namespace) NoAuthRetrieve() bool { return n == -10 || n.PublicOutbox() }

// Unrevocable reports whether a revoked subaccount token may still read the
// namespace: the negative namespaces ending in 11 (-11, -111, -211, ...),
// where a group leaves a kicked member its notice.
func (n Namespace) Unrevocable() bool { return n < 0 && -int(n)%100 == 11 }

// NamespaceVar is a namespace or "all", for delete_all, delete_before and expire_all.
type NamespaceVar struct {
	All bool
	NS  Namespace
}

// Sig is the form in a signed string: "" for 0, "all", or decimal.
func (v NamespaceVar) Sig() string {
	if v.All {
		return "all"
	}
	return v.NS.Sig()
}

// MarshalJSON writes "all" or the number.
func (v NamespaceVar) MarshalJSON() ([]byte, error) {
	if v.All {
		return []byte(`"all"`), nil
	}
	return json.Marshal(int(v.NS))
}

// UnmarshalJSON reads "all" or a number in range.
func (v *NamespaceVar) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		if s != "all" {
			return fmt.Errorf(`namespace: want a number or "all"`)
		}
		*v = NamespaceVar{All: true}
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil || n < -32768 || n > 32767 {
		return fmt.Errorf("namespace: want -32768 to 32767")
	}
	*v = NamespaceVar{NS: Namespace(n)}
	return nil
}

// MessageHash is BLAKE2b-32(prefix byte || key || namespace in decimal (empty
// for 0) || data), base64 without padding: 43 characters.
func MessageHash(owner identity.AccountID, ns Namespace, data []byte) string {
	// In one call on one buffer, on the stack for a message of up to
	// 2 KiB: blake2b.New256's digest, its Sum and the base64 were four
	// allocations a store.
	var stack [2048]byte
	in := append(stack[:0], byte(owner.Prefix))
	in = append(in, owner.Key[:]...)
	if ns != 0 {
		in = strconv.AppendInt(in, int64(ns), 10) // ns.Sig()
	}
	in = append(in, data...)
	sum := blake2b.Sum256(in)
	var out [43]byte // base64, unpadded, of 32 bytes
	base64.RawStdEncoding.Encode(out[:], sum[:])
	return string(out[:])
}

// The signed strings of SPEC 4, method name first.
func StoreSigMsg(ns Namespace, sigTS int64) []byte {
	return []byte("store" + ns.Sig() + strconv.FormatInt(sigTS, 10))
}
func RetrieveSigMsg(ns Namespace, ts int64) []byte {
	return []byte("retrieve" + ns.Sig() + strconv.FormatInt(ts, 10))
}
func DeleteSigMsg(hashes []string) []byte {
	return []byte("delete" + concat(hashes))
}
func DeleteAllSigMsg(ns NamespaceVar, ts int64) []byte {
	return []byte("delete_all" + ns.Sig() + strconv.FormatInt(ts, 10))
}
func DeleteBeforeSigMsg(ns NamespaceVar, before int64) []byte {
	return []byte("delete_before" + ns.Sig() + strconv.FormatInt(before, 10))
}
func ExpireAllSigMsg(ns NamespaceVar, expiry int64) []byte {
	return []byte("expire_all" + ns.Sig() + strconv.FormatInt(expiry, 10))
}

// ExpireSigMsg covers "expire" || "shorten"|"extend"|"" || expiry || hashes.
func ExpireSigMsg(shorten, extend bool, expiry int64, hashes []string) []byte {
	mode := ""
	if shorten {
		mode = "shorten"
	} else if extend {
		mode = "extend"
	}
	return []byte("expire" + mode + strconv.FormatInt(expiry, 10) + concat(hashes))
}
func GetExpiriesSigMsg(ts int64, hashes []string) []byte {
	return []byte("get_expiries" + strconv.FormatInt(ts, 10) + concat(hashes))
}

func concat(ss []string) string {
	n := 0
	for _, s := range ss {
		n += len(s)
	}
	b := make([]byte, 0, n)
	for _, s := range ss {
		b = append(b, s...)
	}
	return string(b)
}

// Sign signs msg with key, base64-encoded as JSON requests carry it.
func Sign(key ed25519.PrivateKey, msg []byte) string {
	var out [88]byte // base64 of 64 bytes
	base64.StdEncoding.Encode(out[:], ed25519.Sign(key, msg))
	return string(out[:])
}

// Auth is the authentication every signed request carries.
type Auth struct {
	PubkeyEd25519 string `json:"pubkey_ed25519,omitempty"` // for 05 accounts: the Ed25519 key behind the X25519 one
	Signature     string `json:"signature,omitempty"`      // base64
}

// Parameters of each method, with the storage server's names.
type (
	StoreParams struct {
		Pubkey    string    `json:"pubkey"`
		Timestamp int64     `json:"timestamp"`        // ms
		TTL       int64     `json:"ttl,omitempty"`    // ms, relative to timestamp
		Expiry    int64     `json:"expiry,omitempty"` // or an absolute expiry, unix ms
		Data      string    `json:"data"`             // base64
		Namespace Namespace `json:"namespace,omitempty"`
		SigTS     int64     `json:"sig_timestamp,omitempty"`
		Auth
		SubAuth
	}
	RetrieveParams struct {
		Pubkey    string    `json:"pubkey"`
		Namespace Namespace `json:"namespace,omitempty"`
		LastHash  string    `json:"last_hash,omitempty"`
		// LastHashCamel is the spelling some clients send (lastHash).
		LastHashCamel string `json:"lastHash,omitempty"`
		MaxCount      int    `json:"max_count,omitempty"`
		MaxSize       int    `json:"max_size,omitempty"`
		Timestamp     int64  `json:"timestamp"`
		Auth
		SubAuth
	}
	DeleteParams struct {
		Pubkey   string   `json:"pubkey"`
		Messages []string `json:"messages"`
		Required bool     `json:"required,omitempty"`
		Auth
		SubAuth
	}
	DeleteAllParams struct {
		Pubkey    string        `json:"pubkey"`
		Namespace *NamespaceVar `json:"namespace,omitempty"`
		Timestamp int64         `json:"timestamp"`
		Auth
		SubAuth
	}
	DeleteBeforeParams struct {
		Pubkey    string        `json:"pubkey"`
		Namespace *NamespaceVar `json:"namespace,omitempty"`
		Before    int64         `json:"before"`
		Auth
		SubAuth
	}
	ExpireParams struct {
		Pubkey   string   `json:"pubkey"`
		Messages []string `json:"messages"`
		Expiry   int64    `json:"expiry"`
		Shorten  bool     `json:"shorten,omitempty"`
		Extend   bool     `json:"extend,omitempty"`
		Auth
		SubAuth
	}
	ExpireAllParams struct {
		Pubkey    string        `json:"pubkey"`
		Namespace *NamespaceVar `json:"namespace,omitempty"`
		Expiry    int64         `json:"expiry"`
		Auth
		SubAuth
	}
	GetExpiriesParams struct {
		Pubkey    string   `json:"pubkey"`
		Messages  []string `json:"messages"`
		Timestamp int64    `json:"timestamp"`
		Auth
		SubAuth
	}
	GetSwarmParams struct {
		Pubkey string `json:"pubkey"`
	}
	BatchParams struct {
		Requests []Request `json:"requests"`
	}
)

// Misc is what the storage server adds to most answers: the node's clock
// (t, unix ms; clients set their clock offset from it) and the network's
// hard fork (hf, [major, minor]). Answers a swarm member gives to the member
// that forwarded a request, errors and get_expiries' answer carry neither.
type Misc struct {
	T  int64 `json:"t,omitempty"`
	HF []int `json:"hf,omitempty"`
}

// Message is one stored message as retrieve returns it.
type Message struct {
	Hash       string `json:"hash"`
	Timestamp  int64  `json:"timestamp"`
	Expiration int64  `json:"expiration"`
	Data       string `json:"data"` // base64
}

// RetrieveResult is retrieve's body.
type RetrieveResult struct {
	Messages []Message `json:"messages"`
	More     bool      `json:"more"`
	Misc
}

// SwarmNode describes a swarm member, in get_swarm and 421 answers, with
// the storage server's fields and types, then the devnet's own.
type SwarmNode struct {
	// Address is the node's Lokinet address: z-base-32 of pubkey_legacy,
	// then ".snode" (deprecated upstream, still sent).
	Address string `json:"address"`
	// PubkeyLegacy is the node's primary key, service_node_pubkey in oxend's
	// answers: on the devnet its Ed25519 key.
	PubkeyLegacy  string `json:"pubkey_legacy"`
	PubkeyEd25519 string `json:"pubkey_ed25519"`
	PubkeyX25519  string `json:"pubkey_x25519"`
	// The HTTPS edge: ip, port_https, and port as a string (deprecated).
	IP        string `json:"ip"`
	Port      string `json:"port"`
	PortHTTPS int    `json:"port_https"`
	// PortOMQ and PortQUIC are where the storage server speaks OxenMQ and
	// QUIC; a devnet node speaks neither, so they are 0 (as
	// storage_lmq_port in oxend's answers).
	PortOMQ  int `json:"port_omq"`
	PortQUIC int `json:"port_quic"`
	// The node on libp2p, for sessionctl's own clients.
	PeerID string   `json:"peer_id"`
	Addrs  []string `json:"addrs"`
}

// SwarmResult is get_swarm's body and a 421's body.
type SwarmResult struct {
	// Swarm is the swarm id in hex, as the storage server writes it (no
	// leading zeros; ffffffffffffffff for none).
	Swarm  string      `json:"swarm"`
	SNodes []SwarmNode `json:"snodes"`
	Misc
}

// MemberResult is one swarm member's part of a recursive request's answer:
// a failure, or the method's fields and the member's signature over them.
type MemberResult struct {
	Failed          bool   `json:"failed,omitempty"`
	QueryFailure    bool   `json:"query_failure,omitempty"` // store: the member's database failed
	Code            int    `json:"code,omitempty"`
	Reason          string `json:"reason,omitempty"`
	Timeout         bool   `json:"timeout,omitempty"`
	BadPeerResponse bool   `json:"bad_peer_response,omitempty"`
	Hash            string `json:"hash,omitempty"`      // store
	Already         bool   `json:"already,omitempty"`   // store
	Deleted         any    `json:"deleted,omitempty"`   // delete*, []string or map[ns][]string
	Updated         any    `json:"updated,omitempty"`   // expire*, []string or map[ns][]string
	Unchanged       any    `json:"unchanged,omitempty"` // expire with shorten or extend: map[hash]expiry
	Count           *int   `json:"count,omitempty"`     // unrevoke_subaccount: tokens unrevoked
	Expiry          int64  `json:"expiry,omitempty"`    // store: the message's expiry; expire: the one applied
	// T is the node's clock in the entry node's own store result
	// (deprecated upstream: the same t is at the top level).
	T         int64  `json:"t,omitempty"`
	Signature string `json:"signature,omitempty"`
}

// SwarmResults is the body of store, delete, delete_all, delete_before,
// expire, expire_all, revoke_subaccount and unrevoke_subaccount: each
// member's result by its Ed25519 key (hex).
type SwarmResults struct {
	Hash  string                  `json:"hash,omitempty"` // store
	Swarm map[string]MemberResult `json:"swarm"`
	Misc
}

// SnodeAddress is a node's Lokinet address: its key in z-base-32 (as
// oxenc's to_base32z, no padding), then ".snode".
func SnodeAddress(key []byte) string {
	return base32z.EncodeToString(key) + ".snode"
}

var base32z = base32.NewEncoding("ybndrfg8ejkmcpqxot1uwisza345h769").WithPadding(base32.NoPadding)

// PeerIDFromEd25519 returns the libp2p peer ID of a node key (hex): nodes'
// libp2p identities are their Ed25519 keys.
func PeerIDFromEd25519(hexKey string) (peer.ID, error) {
	b, err := hex.DecodeString(hexKey)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return "", fmt.Errorf("node key %q: want 64 hex characters", hexKey)
	}
	pub, err := crypto.UnmarshalEd25519PublicKey(b)
	if err != nil {
		return "", err
	}
	return peer.IDFromPublicKey(pub)
}

// ErrTooLarge is data over MaxDataSize, refused before it is sent: the
// caller's to make smaller (a long text goes as an attachment).
var ErrTooLarge = errors.New("over the size limit")

// ErrBadResponse is returned for an answer that cannot be read.
var ErrBadResponse = errors.New("malformed storage rpc response")

// Call sends one request on a new stream of proto to p and reads the answer.
// The stream is closed or reset on every path.
func Call(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID, method string, params any) (*Response, error) {
	raw, err := MarshalParams(params)
	if err != nil {
		return nil, fmt.Errorf("encode %s params: %w", method, err)
	}
	return RoundTrip(ctx, h, p, proto, EncodeRequest(method, raw))
}

// RoundTrip sends body to p and returns the decoded answer: on a stream of
// the framed protocol kept open, when h has a stream pool and p speaks it;
// else on a new stream of proto.
func RoundTrip(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID, body []byte) (*Response, error) {
	var data []byte
	var err error
	if ph, ok := h.(streampool.Host); ok && framedOf(proto) != "" {
		data, err = ph.StreamPool().RoundTrip(ctx, p, framedOf(proto), proto, body, MaxResponseSize,
			func(s network.Stream) ([]byte, error) { return oneShot(s, p, body) })
	} else {
		var s network.Stream
		if s, err = h.NewStream(network.WithAllowLimitedConn(ctx, "storage"), p, proto); err != nil {
			return nil, fmt.Errorf("open stream to %s: %w", p.ShortString(), err)
		}
		if dl, ok := ctx.Deadline(); ok {
			s.SetDeadline(dl)
		} else {
			s.SetDeadline(time.Now().Add(30 * time.Second))
		}
		data, err = oneShot(s, p, body)
	}
	return answered(data, err, p)
}

// answered is the decoded answer data from p, or err.
func answered(data []byte, err error, p peer.ID) (*Response, error) {
	if err != nil {
		return nil, err
	}
	resp, err := decodeResponse(data)
	if err != nil || resp.Code == 0 {
		return nil, fmt.Errorf("%w from %s", ErrBadResponse, p.ShortString())
	}
	return &resp, nil
}

// MaxStartSize is the largest body Start sends: half a stream's window
// (256 KiB in memory and in yamux), so that its write on an idle stream
// never waits for the peer to read (a store's data is at most 76,800
// bytes).
const MaxStartSize = 128 << 10

// Pending is a request Start sent, whose answer Answer reads.
type Pending struct {
	c streampool.Call
	p peer.ID
}

// Start sends body to p as RoundTrip does, when h's stream pool holds an
// idle stream of proto's framed version to p (without waiting for a
// stream, a dial or a negotiation) and body is at most MaxStartSize; ok
// is false, and nothing is sent, otherwise: RoundTrip then. Requests to
// several peers, started one after another and their answers then read
// in turn (Answer), travel at once without a goroutine each. When ok and
// err is nil, Answer must be called.
func Start(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID, body []byte) (pd Pending, ok bool, err error) {
	ph, isPool := h.(streampool.Host)
	if !isPool || framedOf(proto) == "" || len(body) > MaxStartSize {
		return Pending{}, false, nil
	}
	c, ok, err := ph.StreamPool().SendIdle(ctx, p, framedOf(proto), nil, body)
	return Pending{c, p}, ok, err
}

// Answer reads and decodes the answer to the request Start sent, as
// RoundTrip does, by the deadline of the context it was sent under.
func (pd Pending) Answer() (*Response, error) {
	data, err := pd.c.Answer(MaxResponseSize)
	return answered(data, err, pd.p)
}

// oneShot writes body on s, closes its side and reads the answer to the
// end: a stream of a 1.0.0 protocol, closed or reset on every path.
func oneShot(s network.Stream, p peer.ID, body []byte) ([]byte, error) {
	if _, err := s.Write(body); err != nil {
		s.Reset()
		return nil, fmt.Errorf("send to %s: %w", p.ShortString(), err)
	}
	if err := s.CloseWrite(); err != nil {
		s.Reset()
		return nil, fmt.Errorf("send to %s: %w", p.ShortString(), err)
	}
	data, err := io.ReadAll(io.LimitReader(s, MaxResponseSize+1))
	if err != nil {
		s.Reset()
		return nil, fmt.Errorf("read from %s: %w", p.ShortString(), err)
	}
	s.Close()
	if len(data) > MaxResponseSize {
		return nil, fmt.Errorf("%w: over %d bytes", ErrBadResponse, MaxResponseSize)
	}
	return data, nil
}

// SignAuth signs msg with key for a request about owner: a 05 account's
// requests also carry the Ed25519 key, which the node converts and compares.
func SignAuth(key ed25519.PrivateKey, owner identity.AccountID, msg []byte) Auth {
	a := Auth{Signature: Sign(key, msg)}
	if owner.Prefix == identity.PrefixSession {
		a.PubkeyEd25519 = hex.EncodeToString(key.Public().(ed25519.PublicKey))
	}
	return a
}

// Subaccount tokens (SPEC 8; the storage server's subaccounts): 36 bytes,
// a prefix byte, the permission flags, two zero bytes and the 32-byte
// Ed25519 key the holder signs with. The account's owner signs the token to
// grant it; a request made with it carries the token, that signature, and
// the holder's own signature.
const TokenSize = 36

// Permission flags of a token.
const (
	FlagRead   byte = 0x01
	FlagWrite  byte = 0x02
	FlagDelete byte = 0x04
	// FlagAnyPrefix lets a token serve an account of any prefix; without it
	// the token's first byte must be the account's prefix.
	FlagAnyPrefix byte = 0x08
)

// Token is a subaccount token.
type Token [TokenSize]byte

// NewToken makes a token granting flags to the holder of key.
func NewToken(prefix, flags byte, key ed25519.PublicKey) Token {
	var t Token
	t[0], t[1] = prefix, flags
	copy(t[4:], key)
	return t
}

// Flags returns the token's permission flags.
func (t Token) Flags() byte { return t[1] }

// Key returns the holder's Ed25519 key.
func (t Token) Key() ed25519.PublicKey { return ed25519.PublicKey(t[4:]) }

// String is the token in hex.
func (t Token) String() string { return hex.EncodeToString(t[:]) }

// ParseToken reads a token in hex or base64.
func ParseToken(s string) (Token, error) {
	var t Token
	b, err := hex.DecodeString(s)
	if err != nil {
		if b, err = base64.StdEncoding.DecodeString(s); err != nil {
			return t, fmt.Errorf("subaccount token: want %d bytes in hex or base64", TokenSize)
		}
	}
	if len(b) != TokenSize || b[2] != 0 || b[3] != 0 {
		return t, fmt.Errorf("subaccount token: want %d bytes with bytes 2 and 3 zero", TokenSize)
	}
	copy(t[:], b)
	return t, nil
}

// SubAuth is the authentication of a request made with a subaccount token.
type SubAuth struct {
	Subaccount    string `json:"subaccount,omitempty"`     // the token, hex
	SubaccountSig string `json:"subaccount_sig,omitempty"` // the owner's signature over the token, base64
}

// SignSubAuth signs msg with a token holder's key.
func SignSubAuth(holder ed25519.PrivateKey, token Token, ownerSig []byte, msg []byte) (Auth, SubAuth) {
	return Auth{Signature: Sign(holder, msg)}, SubAuth{Subaccount: token.String(), SubaccountSig: base64.StdEncoding.EncodeToString(ownerSig)}
}

// RevokeParams are the parameters of revoke_subaccount and unrevoke_subaccount.
type RevokeParams struct {
	Pubkey    string   `json:"pubkey"`
	Revoke    []string `json:"revoke,omitempty"`
	Unrevoke  []string `json:"unrevoke,omitempty"`
	Timestamp int64    `json:"timestamp"`
	Auth
}

// RevokeSigMsg covers "revoke_subaccount" (or "unrevoke_subaccount") ||
// timestamp || the tokens' bytes.
func RevokeSigMsg(method string, ts int64, tokens []Token) []byte {
	b := []byte(method + strconv.FormatInt(ts, 10))
	for _, t := range tokens {
		b = append(b, t[:]...)
	}
	return b
}
