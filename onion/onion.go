// Package onion is the onion request format of SPEC 5, shared by clients
// (which build requests) and service nodes (which peel them): the layer
// encoding, both layer encryptions, and the reply encryption.
//
// A layer is [u32 little-endian N][N bytes][UTF-8 JSON]. For a hop, the N
// bytes are ciphertext and the JSON says how to decrypt them
// ({"ephemeral_key": hex, "enc_type": "xchacha20" | "aes-gcm"}); decrypting
// gives the next layer, whose JSON says what to do: forward the N bytes to
// "destination" (with that layer's "ephemeral_key" and "enc_type"), act as the
// destination ("headers": the N bytes are the request), or forward them by
// HTTP to "host"/"target". The destination encrypts its reply once, with the
// key of the layer it decrypted; the hops pass it back unchanged.
//
//	req, keys, err := onion.Build(rand, path, dest, payload, onion.XChaCha20)
//	// send req to path[0]; then
//	reply, err := keys.OpenReply(encReply)
package onion

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/sessionctl/sessionctl/internal/x25519"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/chacha20poly1305"
)

// EncType names a layer encryption.
type EncType string

// The two encryptions of SPEC 5.
const (
	XChaCha20 EncType = "xchacha20"
	AESGCM    EncType = "aes-gcm"
)

// orDefault is the encryption a layer names: aes-gcm when it names none,
// as the storage server reads it.
func (t EncType) orDefault() EncType {
	if t == "" {
		return AESGCM
	}
	return t
}

// MaxHops bounds the nodes a request may pass through.
const MaxHops = 15

// MaxLayerSize bounds an onion request: the 10 MiB request limit and room
// for the layers around it.
const MaxLayerSize = 10<<20 + 64<<10

// Errors of the format, for errors.Is.
var (
	ErrFormat  = errors.New("malformed onion layer")
	ErrDecrypt = errors.New("onion layer does not decrypt")
)

// Routing is the JSON part of a layer. Which fields are set says what the
// layer is; see the package doc.
type Routing struct {
	EphemeralKey string  `json:"ephemeral_key,omitempty"`
	EncType      EncType `json:"enc_type,omitempty"`
	Destination  string  `json:"destination,omitempty"` // next node's Ed25519 key (hex)
	Headers      *string `json:"headers,omitempty"`     // set: this node is the destination
	Host         string  `json:"host,omitempty"`        // set: forward by HTTP
	Target       string  `json:"target,omitempty"`
	Port         int     `json:"port,omitempty"`
	Protocol     string  `json:"protocol,omitempty"`
	Method       string  `json:"method,omitempty"`
	// For the destination, how it answers (the storage server's flags):
	// the body embedded as JSON rather than a JSON string, and the sealed
	// answer in base64 (the default) or raw.
	JSON   *bool `json:"json,omitempty"`
	Base64 *bool `json:"base64,omitempty"`
	// HopNo is a starting hop number a client may give the first node.
	HopNo int `json:"hop_no,omitempty"`
}

// IsDestination reports whether the layer is for the node that decrypted it.
func (r *Routing) IsDestination() bool { return r.Headers != nil }

// IsHTTP reports whether the layer is to be forwarded by HTTP.
func (r *Routing) IsHTTP() bool { return r.Host != "" }

// EncodeLayer writes [u32 LE len(body)][body][json(r)].
func EncodeLayer(body []byte, r Routing) ([]byte, error) {
	// A hop's routing (routing.go) is at most 200 bytes.
	out := make([]byte, 4, 4+len(body)+200)
	binary.LittleEndian.PutUint32(out, uint32(len(body)))
	out = append(out, body...)
	return appendRouting(out, r)
}

// DecodeLayer reads a layer; the JSON must be an object with known fields.
func DecodeLayer(data []byte) (body []byte, r Routing, err error) {
	body, js, err := splitLayer(data)
	if err != nil {
		return nil, r, err
	}
	if fast, ok := parseRouting(js); ok {
		return body, fast, nil
	}
	if r, err = decodeRouting(js); err != nil {
		return nil, r, err
	}
	return body, r, nil
}

// splitLayer returns a layer's body and its JSON.
func splitLayer(data []byte) (body, js []byte, err error) {
	if len(data) > MaxLayerSize {
		return nil, nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrFormat, len(data), MaxLayerSize)
	}
	if len(data) < 4 {
		return nil, nil, fmt.Errorf("%w: %d bytes, no length", ErrFormat, len(data))
	}
	n := binary.LittleEndian.Uint32(data)
	if uint64(n) > uint64(len(data)-4) {
		return nil, nil, fmt.Errorf("%w: length %d past the end (%d bytes)", ErrFormat, n, len(data)-4)
	}
	return data[4 : 4+n], data[4+n:], nil
}

// decodeRouting reads a layer's JSON with encoding/json: what parseRouting
// does not read.
func decodeRouting(js []byte) (Routing, error) {
	var r Routing
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("%w: routing JSON: %v", ErrFormat, err)
	}
	if dec.More() {
		return r, fmt.Errorf("%w: data after the routing JSON", ErrFormat)
	}
	return r, nil
}

// KeyPair is an X25519 key pair.
type KeyPair struct {
	Private [32]byte
	Public  [32]byte
}

// NewKeyPair makes an ephemeral X25519 key pair from rand.
func NewKeyPair(rand io.Reader) (KeyPair, error) {
	var kp KeyPair
	if _, err := io.ReadFull(rand, kp.Private[:]); err != nil {
		return kp, fmt.Errorf("ephemeral key: %w", err)
	}
	return kp, kp.derivePublic()
}

// derivePublic sets Public from Private (clamped), fast (package x25519).
func (kp *KeyPair) derivePublic() error {
	pub, err := x25519.PublicKey(&kp.Private)
	kp.Public = pub
	return err
}

// symmetricKey derives a layer's key from our private key and their public
// key. clientPub and serverPub are the ephemeral (client) and the node's
// (server) public keys, whichever side computes it.
func symmetricKey(t EncType, priv, theirPub, clientPub, serverPub [32]byte) ([32]byte, error) {
	shared, err := x25519.X25519(priv, theirPub)
	if err != nil {
		return [32]byte{}, fmt.Errorf("%w: bad public key", ErrDecrypt)
	}
	switch t {
	case XChaCha20:
		// BLAKE2b-256 of shared || clientPub || serverPub, in one call
		// (blake2b.New256 allocates a digest).
		var in [96]byte
		copy(in[:], shared[:])
		copy(in[32:], clientPub[:])
		copy(in[64:], serverPub[:])
		return blake2b.Sum256(in[:]), nil
	case AESGCM:
		m := hmac.New(sha256.New, []byte("LOKI"))
		s := shared // on the heap for m.Write, in this case only
		m.Write(s[:])
		var key [32]byte
		m.Sum(key[:0])
		return key, nil
	}
	return [32]byte{}, fmt.Errorf("%w: enc_type %q", ErrFormat, t)
}

func seal(t EncType, key, plain []byte, rand io.Reader) ([]byte, error) {
	return sealAppend(nil, t, key, plain, rand)
}

// sealAppend appends plain sealed with key, [nonce][ciphertext], to dst.
func sealAppend(dst []byte, t EncType, key, plain []byte, rand io.Reader) ([]byte, error) {
	var aead cipher.AEAD
	switch t {
	case XChaCha20:
		a, err := chacha20poly1305.NewX(key)
		if err != nil {
			return nil, err
		}
		aead = a
	case AESGCM:
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		if aead, err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: enc_type %q", ErrFormat, t)
	}
	dst = slices.Grow(dst, aead.NonceSize()+len(plain)+aead.Overhead())
	nonce := dst[len(dst) : len(dst)+aead.NonceSize()]
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, err
	}
	return aead.Seal(dst[:len(dst)+len(nonce)], nonce, plain, nil), nil
}

func open(t EncType, key, ct []byte) ([]byte, error) {
	var aead cipher.AEAD
	switch t {
	case XChaCha20:
		a, err := chacha20poly1305.NewX(key)
		if err != nil {
			return nil, err
		}
		aead = a
	case AESGCM:
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		if aead, err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: enc_type %q", ErrFormat, t)
	}
	if len(ct) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrDecrypt, len(ct))
	}
	plain, err := aead.Open(nil, ct[:aead.NonceSize()], ct[aead.NonceSize():], nil)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plain, nil
}

// Hop is one node of a path: its Ed25519 key (hex), which names it as a
// destination, and its X25519 key, which its layer is encrypted to.
type Hop struct {
	Ed25519 string
	X25519  [32]byte
}

// ReplyKey decrypts the destination's reply.
type ReplyKey struct {
	encType EncType
	key     []byte // the final layer's symmetric key
}

// OpenReply decrypts the destination's reply.
func (k ReplyKey) OpenReply(ct []byte) ([]byte, error) {
	if k.key == nil {
		return nil, fmt.Errorf("%w: no reply key", ErrDecrypt)
	}
	return open(k.encType, k.key, ct)
}

// Build makes an onion request that passes through path and ends at dest,
// which receives payload as its request ("headers" set). It returns the bytes
// to send to path[0] and the key that opens dest's reply. Every layer has a
// fresh ephemeral key.
//
// The destination is asked for its answer as raw JSON, not base64 (see
// the json and base64 flags of Routing).
func Build(rand io.Reader, path []Hop, dest Hop, payload []byte, t EncType) ([]byte, ReplyKey, error) {
	headers, yes, no := "", true, false
	return build(rand, path, dest.X25519, dest.Ed25519, Routing{Headers: &headers, JSON: &yes, Base64: &no}, payload, t)
}

// BuildHTTP makes an onion request whose last hop, path[len-1], forwards
// plain, encrypted for the server's X25519 key, by HTTP as r says (host,
// target, port, protocol, method). As in the real network, the exit's layer
// is [N][ciphertext for the server][{host, target, ..., ephemeral_key,
// enc_type}] and the exit POSTs that whole layer to the server, which
// decrypts it with the ephemeral key named there (OpenForServer). The key
// opens the server's reply, which the hops pass back unchanged.
func BuildHTTP(rand io.Reader, path []Hop, r Routing, server [32]byte, plain []byte, t EncType) ([]byte, ReplyKey, error) {
	if len(path) == 0 {
		return nil, ReplyKey{}, fmt.Errorf("onion: an HTTP request needs at least one hop")
	}
	ct, eph, rk, err := sealForServer(rand, server, plain, t)
	if err != nil {
		return nil, ReplyKey{}, err
	}
	r.EphemeralKey, r.EncType = hex.EncodeToString(eph[:]), t
	last := path[len(path)-1]
	out, _, err := build(rand, path[:len(path)-1], last.X25519, last.Ed25519, r, ct, t)
	return out, rk, err
}

// layerKey is one layer's ephemeral key and symmetric key.
type layerKey struct {
	eph KeyPair
	key [32]byte
}

// build wraps payload for the final node (finalX) with the routing fin, then
// a layer per hop of path from the last to the first. The layers' keys are
// made first (each an X25519 key exchange), then the layers are sealed
// from the inside out.
func build(rand io.Reader, path []Hop, finalX [32]byte, finalEd string, fin Routing, payload []byte, t EncType) ([]byte, ReplyKey, error) {
	if len(path)+1 > MaxHops {
		return nil, ReplyKey{}, fmt.Errorf("onion: %d hops, at most %d", len(path)+1, MaxHops)
	}
	targets := make([][32]byte, 0, len(path)+1)
	for _, h := range path {
		targets = append(targets, h.X25519)
	}
	targets = append(targets, finalX)
	keys := make([]layerKey, len(targets))
	// Ephemeral private keys are read from rand in order, so a
	// deterministic rand gives deterministic requests.
	for i := range keys {
		if _, err := io.ReadFull(rand, keys[i].eph.Private[:]); err != nil {
			return nil, ReplyKey{}, fmt.Errorf("ephemeral key: %w", err)
		}
	}
	// One after another, on the caller's goroutine: a goroutine a key
	// (four a request, twelve a send), or one for half of them, each made
	// and waited for, was a hand-off that woke the idle processor at one
	// client (a thread woken and put to sleep again: about 25 us of CPU
	// on the 2-core machine, in the kernel), and bought little: a whole
	// request is built in 0.15 ms, and under load the cores are busy with
	// other requests anyway.
	errs := make([]error, len(targets))
	for i := range targets {
		if errs[i] = keys[i].eph.derivePublic(); errs[i] == nil {
			keys[i].key, errs[i] = symmetricKey(t, keys[i].eph.Private, targets[i], keys[i].eph.Public, targets[i])
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, ReplyKey{}, err
	}
	// Innermost: the final node's plaintext is payload with its routing.
	plain, err := EncodeLayer(payload, fin)
	if err != nil {
		return nil, ReplyKey{}, err
	}
	edOf := func(i int) string {
		if i == len(path) {
			return finalEd
		}
		return path[i].Ed25519
	}
	for i := len(path); i >= 0; i-- {
		// The layer for hop i, sealed into its own bytes: to send to
		// path[0], or the previous hop's plaintext (forward to hop i).
		var dest string
		if i > 0 {
			dest = edOf(i)
		}
		layer, err := sealLayer(t, keys[i], plain, dest, rand)
		if err != nil {
			return nil, ReplyKey{}, err
		}
		if i == 0 {
			return layer, ReplyKey{encType: t, key: keys[len(path)].key[:]}, nil
		}
		plain = layer
	}
	panic("unreachable")
}

// sealLayer makes the layer [N][plain sealed with k][{"ephemeral_key":
// k's public key, "enc_type": t, "destination": dest}] (no destination
// when dest is ""), sealing plain straight into it.
func sealLayer(t EncType, k layerKey, plain []byte, dest string, rand io.Reader) ([]byte, error) {
	// The nonce, the tag and a hop's routing (at most 200 bytes).
	out := make([]byte, 4, 4+len(plain)+24+16+200)
	out, err := sealAppend(out, t, k.key[:], plain, rand)
	if err != nil {
		return nil, err
	}
	binary.LittleEndian.PutUint32(out, uint32(len(out)-4))
	return appendHopRouting(out, k.eph.Public, t, dest)
}

// Peeled is what a node finds when it decrypts its layer.
type Peeled struct {
	// Body is the next layer's ciphertext (forward), the request (destination)
	// or the ciphertext for the server (HTTP).
	Body    []byte
	Routing Routing
	// Layer is the whole decrypted layer, [N][Body][JSON]: what an exit
	// POSTs to a server.
	Layer []byte
	// The layer's encryption and key encrypt the destination's answer.
	encType EncType
	key     [32]byte
}

// Next returns the layer to send to Routing.Destination. It is written
// over Layer, [N][Body][JSON], whose length and Body it keeps and whose
// JSON it replaces (Layer is not whole after; Body is unchanged): the next
// layer's JSON is never longer than this one's, which names the next hop
// too, but when it is, Next writes to new memory.
func (p *Peeled) Next() ([]byte, error) {
	n := 4 + len(p.Body)
	return appendRouting(p.Layer[:n:len(p.Layer)], Routing{EphemeralKey: p.Routing.EphemeralKey, EncType: p.Routing.EncType})
}

// SealReply encrypts the destination's answer for the client.
func (p *Peeled) SealReply(rand io.Reader, plain []byte) ([]byte, error) {
	return seal(p.encType, p.key[:], plain, rand)
}

// SealReplyAppend is SealReply appending to dst (a buffer to reuse).
func (p *Peeled) SealReplyAppend(dst []byte, rand io.Reader, plain []byte) ([]byte, error) {
	return sealAppend(dst, p.encType, p.key[:], plain, rand)
}

// Peel decrypts a node's layer with its X25519 key pair.
func Peel(data []byte, node KeyPair) (*Peeled, error) {
	ct, eph, encType, err := outerLayer(data)
	if err != nil {
		return nil, err
	}
	key, err := symmetricKey(encType, node.Private, eph, eph, node.Public)
	if err != nil {
		return nil, err
	}
	plain, err := open(encType, key[:], ct)
	if err != nil {
		return nil, err
	}
	body, inner, err := DecodeLayer(plain)
	if err != nil {
		return nil, err
	}
	switch {
	case inner.Destination != "":
		if !hexKey(inner.Destination) {
			return nil, fmt.Errorf("%w: destination is not an Ed25519 key", ErrFormat)
		}
		if !hexKey(inner.EphemeralKey) {
			return nil, fmt.Errorf("%w: the next layer has no ephemeral key", ErrFormat)
		}
	case inner.Host != "":
		if !hexKey(inner.EphemeralKey) {
			return nil, fmt.Errorf("%w: the server's layer has no ephemeral key", ErrFormat)
		}
	case inner.Headers != nil:
	default:
		return nil, fmt.Errorf("%w: the layer names no destination", ErrFormat)
	}
	return &Peeled{Body: body, Routing: inner, Layer: plain, encType: encType, key: key}, nil
}

// outerLayer reads the layer a node peels: its ciphertext, the ephemeral
// key and the encryption; no routing in clear. A layer of the form
// appendRouting writes is read without a copy of its strings.
func outerLayer(data []byte) (ct []byte, eph [32]byte, t EncType, err error) {
	ct, js, err := splitLayer(data)
	if err != nil {
		return nil, eph, t, err
	}
	var key []byte
	if raw, ok := parseRaw(js); ok {
		if len(raw.destination) > 0 || raw.headers != nil {
			return nil, eph, t, fmt.Errorf("%w: routing in clear", ErrFormat)
		}
		key, t = raw.ephemeralKey, encType(raw.encType)
	} else {
		r, err := decodeRouting(js)
		if err != nil {
			return nil, eph, t, err
		}
		if r.Destination != "" || r.Headers != nil || r.Host != "" {
			return nil, eph, t, fmt.Errorf("%w: routing in clear", ErrFormat)
		}
		key, t = []byte(r.EphemeralKey), r.EncType
	}
	if !hexKey(key) {
		return nil, eph, t, fmt.Errorf("%w: ephemeral_key is not 32 bytes of hex", ErrFormat)
	}
	if _, err := hex.Decode(eph[:], key); err != nil {
		return nil, eph, t, fmt.Errorf("%w: ephemeral_key is not 32 bytes of hex", ErrFormat)
	}
	return ct, eph, t.orDefault(), nil
}

// hexKey reports whether s is 32 bytes of hex, as hex.DecodeString reads
// them (either case).
func hexKey[T string | []byte](s T) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// EncodeV4Request writes a server request in the v4 format:
// l<len>:<json {method, endpoint, headers}>[<len>:<body>]e.
func EncodeV4Request(meta []byte, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "l%d:", len(meta))
	b.Write(meta)
	if body != nil {
		fmt.Fprintf(&b, "%d:", len(body))
		b.Write(body)
	}
	b.WriteByte('e')
	return b.Bytes()
}

// DecodeV4 reads l<len>:<part>[<len>:<part>]e: one or two parts.
func DecodeV4(data []byte) (first, second []byte, err error) {
	if len(data) < 2 || data[0] != 'l' || data[len(data)-1] != 'e' {
		return nil, nil, fmt.Errorf("%w: not a v4 list", ErrFormat)
	}
	rest := data[1 : len(data)-1]
	var parts [][]byte
	for len(rest) > 0 {
		if len(parts) == 2 {
			return nil, nil, fmt.Errorf("%w: more than two parts", ErrFormat)
		}
		i := bytes.IndexByte(rest, ':')
		if i <= 0 || i > 9 {
			return nil, nil, fmt.Errorf("%w: bad length prefix", ErrFormat)
		}
		var n int
		for _, c := range rest[:i] {
			if c < '0' || c > '9' {
				return nil, nil, fmt.Errorf("%w: bad length prefix", ErrFormat)
			}
			n = n*10 + int(c-'0')
		}
		if n > len(rest)-i-1 {
			return nil, nil, fmt.Errorf("%w: part past the end", ErrFormat)
		}
		parts = append(parts, rest[i+1:i+1+n])
		rest = rest[i+1+n:]
	}
	if len(parts) == 0 {
		return nil, nil, fmt.Errorf("%w: empty list", ErrFormat)
	}
	if len(parts) == 2 {
		return parts[0], parts[1], nil
	}
	return parts[0], nil, nil
}

// SealForServer encrypts a server request (the v4 encoding) for a server's
// X25519 key in the layer format, with the ephemeral key and enc_type in its
// JSON: what a client posting straight to the server sends (through the
// onion path, BuildHTTP adds the host fields to that JSON). The key opens
// the server's reply.
func SealForServer(rand io.Reader, server [32]byte, plain []byte, t EncType) ([]byte, ReplyKey, error) {
	ct, eph, rk, err := sealForServer(rand, server, plain, t)
	if err != nil {
		return nil, ReplyKey{}, err
	}
	out, err := EncodeLayer(ct, Routing{EphemeralKey: hex.EncodeToString(eph[:]), EncType: t})
	return out, rk, err
}

// sealForServer encrypts plain for server under a fresh ephemeral key.
func sealForServer(rand io.Reader, server [32]byte, plain []byte, t EncType) (ct []byte, eph [32]byte, rk ReplyKey, err error) {
	var kp KeyPair
	if _, err := io.ReadFull(rand, kp.Private[:]); err != nil {
		return nil, eph, rk, err
	}
	if err := kp.derivePublic(); err != nil {
		return nil, eph, rk, err
	}
	key, err := symmetricKey(t, kp.Private, server, kp.Public, server)
	if err != nil {
		return nil, eph, rk, err
	}
	if ct, err = seal(t, key[:], plain, rand); err != nil {
		return nil, eph, rk, err
	}
	return ct, kp.Public, ReplyKey{encType: t, key: key[:]}, nil
}

// OpenForServer is the server's side of SealForServer and BuildHTTP: it
// decrypts the layer the exit posted (its JSON names the ephemeral key and
// enc_type, and may name the host it was sent to) and returns a function
// that seals the reply.
func OpenForServer(data []byte, server KeyPair) ([]byte, func(rand io.Reader, reply []byte) ([]byte, error), error) {
	ct, r, err := DecodeLayer(data)
	if err != nil {
		return nil, nil, err
	}
	ephB, err := hex.DecodeString(r.EphemeralKey)
	if err != nil || len(ephB) != 32 || r.Destination != "" || r.Headers != nil {
		return nil, nil, fmt.Errorf("%w: want an ephemeral_key and enc_type (and the host fields)", ErrFormat)
	}
	eph := [32]byte(ephB)
	t := r.EncType.orDefault()
	key, err := symmetricKey(t, server.Private, eph, eph, server.Public)
	if err != nil {
		return nil, nil, err
	}
	plain, err := open(t, key[:], ct)
	if err != nil {
		return nil, nil, err
	}
	return plain, func(rand io.Reader, reply []byte) ([]byte, error) { return seal(t, key[:], reply, rand) }, nil
}

// V4Request is the JSON part of a v4 server request.
type V4Request struct {
	Method   string            `json:"method"`
	Endpoint string            `json:"endpoint"`
	Headers  map[string]string `json:"headers,omitempty"`
}

// V4Response is the JSON part of a v4 server reply.
type V4Response struct {
	Code    int               `json:"code"`
	Headers map[string]string `json:"headers,omitempty"`
}
