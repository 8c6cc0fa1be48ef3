package chain

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"

	"golang.org/x/crypto/blake2b"
)

// TxType names what a transaction does.
type TxType string

// The transaction types.
const (
	TxTransfer    TxType = "transfer"     // move coins between wallets
	TxRegister    TxType = "register"     // register a service node with the operator's stake
	TxContribute  TxType = "contribute"   // add a contributor's stake to a node
	TxUnlock      TxType = "unlock"       // a contributor asks for the node's stakes back
	TxName        TxType = "name"         // register a session name (SNS)
	TxStateChange TxType = "state_change" // decommission, recommission or deregister a node
	TxNodeInfo    TxType = "node_info"    // a node publishes its peer ID and addresses
	TxUptimeProof TxType = "uptime_proof" // a node says it is up
	TxCommit      TxType = "commit"       // a node commits to a round's secret
	TxReveal      TxType = "reveal"       // and reveals it
	TxVote        TxType = "vote"         // a quorum member's verdict on a target
)

// EncryptedNameSize is the size of an encrypted SNS value: the 33-byte
// Account ID, the 16-byte tag and the 24-byte nonce that follows them
// (XChaCha20-Poly1305).
const EncryptedNameSize = 33 + 16 + 24

// MaxTxSize bounds an encoded transaction.
const MaxTxSize = 16 << 10

// Tx is a signed transaction. Signer is the Ed25519 public key (hex) of the
// wallet or node that signs; Nonce is the signer's count of transactions so
// far, so a transaction cannot be replayed. Signature signs SigningBytes;
// a registration is also signed by the node's key (NodeSignature), so nobody
// registers a node key they do not hold.
type Tx struct {
	Type          TxType          `json:"type"`
	Signer        string          `json:"signer"`
	Nonce         uint64          `json:"nonce"`
	Body          json.RawMessage `json:"body"`
	Signature     string          `json:"signature"`
	NodeSignature string          `json:"node_signature,omitempty"`
}

// The bodies of each transaction type.
type (
	// TransferBody moves Amount from the signer to To.
	TransferBody struct {
		To     string `json:"to"`
		Amount uint64 `json:"amount"`
	}
	// RegisterBody registers NodeKey with the signer as operator staking
	// Amount, taking FeeBPS of the node's rewards first, and holding spots
	// for the Reserved contributors.
	RegisterBody struct {
		NodeKey  string        `json:"node_key"`
		FeeBPS   uint32        `json:"fee_bps"`
		Amount   uint64        `json:"amount"`
		Reserved []Reservation `json:"reserved,omitempty"`
	}
	// Reservation holds Amount of a node's stake for Wallet.
	Reservation struct {
		Wallet string `json:"wallet"`
		Amount uint64 `json:"amount"`
	}
	// ContributeBody stakes Amount from the signer in NodeKey.
	ContributeBody struct {
		NodeKey string `json:"node_key"`
		Amount  uint64 `json:"amount"`
	}
	// UnlockBody asks for NodeKey's stakes back.
	UnlockBody struct {
		NodeKey string `json:"node_key"`
	}
	// NameBody registers the name whose hash is NameHash (base64), owned by
	// the signer, mapping to the encrypted Value (hex, see EncryptName).
	NameBody struct {
		NameHash string `json:"name_hash"`
		Value    string `json:"value"`
	}
	// StateChangeBody moves NodeKey to State. Step 6's testing quorums
	// sign these; until then the ledger's authority key does.
	StateChangeBody struct {
		NodeKey string    `json:"node_key"`
		State   NodeState `json:"state"`
		Reason  string    `json:"reason,omitempty"`
	}
	// NodeInfoBody publishes where the signing node listens.
	NodeInfoBody struct {
		PeerID string   `json:"peer_id"`
		Addrs  []string `json:"addrs"`
		// The HTTPS client edge, as clients find it in the node list.
		PublicIP    string `json:"public_ip,omitempty"`
		StoragePort int    `json:"storage_port,omitempty"`
	}
	// UptimeProofBody is a node's signed "I am up".
	UptimeProofBody struct {
		Version string `json:"version"`
	}
	// CommitBody commits to a round's secret: Hash is CommitHash(secret).
	CommitBody struct {
		Round uint64 `json:"round"`
		Hash  string `json:"hash"`
	}
	// RevealBody reveals the secret committed to (32 bytes, hex).
	RevealBody struct {
		Round  uint64 `json:"round"`
		Secret string `json:"secret"`
	}
	// VoteBody is a quorum member's verdict on a target it tested.
	VoteBody struct {
		Round  uint64 `json:"round"`
		Target string `json:"target"`
		Pass   bool   `json:"pass"`
		Reason string `json:"reason,omitempty"`
	}
)

// ErrTxFormat is returned for a transaction that cannot be read.
var ErrTxFormat = errors.New("malformed transaction")

// signingPrefix separates sessionctl transaction signatures from any other
// use of the same keys.
const signingPrefix = "sessionctl-tx-v1\x00"

// SigningBytes returns what Signature and NodeSignature sign: the prefix and
// the JSON of type, signer, nonce and body.
func (tx *Tx) SigningBytes() []byte {
	b, err := json.Marshal(struct {
		Type   TxType          `json:"type"`
		Signer string          `json:"signer"`
		Nonce  uint64          `json:"nonce"`
		Body   json.RawMessage `json:"body"`
	}{tx.Type, tx.Signer, tx.Nonce, tx.Body})
	if err != nil {
		panic("ledger: marshal of validated transaction fields: " + err.Error())
	}
	return append([]byte(signingPrefix), b...)
}

// CommitHash is what a node commits to for a round's secret (CommitBody)
// and what its reveal is checked against: BLAKE2b-32(secret), hex.
func CommitHash(secret []byte) string {
	sum := blake2b.Sum256(secret)
	return hex.EncodeToString(sum[:])
}

// Hash returns the transaction's id: BLAKE2b-32 of what it signs and its
// signatures, in hex.
func (tx *Tx) Hash() string {
	h, _ := blake2b.New256(nil)
	h.Write(tx.SigningBytes())
	h.Write([]byte(tx.Signature))
	h.Write([]byte(tx.NodeSignature))
	return hex.EncodeToString(h.Sum(nil))
}

// NewTx builds a transaction of type t with body, signed by key at nonce.
func NewTx(t TxType, key ed25519.PrivateKey, nonce uint64, body any) (*Tx, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode %s body: %w", t, err)
	}
	tx := &Tx{Type: t, Signer: hex.EncodeToString(key.Public().(ed25519.PublicKey)), Nonce: nonce, Body: b}
	tx.Signature = hex.EncodeToString(ed25519.Sign(key, tx.SigningBytes()))
	return tx, nil
}

// SignAsNode adds the node key's signature to a registration.
func (tx *Tx) SignAsNode(nodeKey ed25519.PrivateKey) {
	tx.NodeSignature = hex.EncodeToString(ed25519.Sign(nodeKey, tx.SigningBytes()))
}

// DecodeTx reads a transaction from JSON and checks its form and signatures;
// the rules of the chain are checked when it is applied.
func DecodeTx(data []byte) (*Tx, error) {
	if len(data) > MaxTxSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTxFormat, len(data), MaxTxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var tx Tx
	if err := dec.Decode(&tx); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTxFormat, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the transaction", ErrTxFormat)
	}
	if err := tx.Check(); err != nil {
		return nil, err
	}
	return &tx, nil
}

// Check verifies the transaction's form, its body's form and its signatures.
func (tx *Tx) Check() error {
	signer, err := ParseKey(tx.Signer)
	if err != nil {
		return fmt.Errorf("%w: signer: %v", ErrTxFormat, err)
	}
	if _, err := tx.DecodeBody(); err != nil {
		return err
	}
	if !VerifyHex(signer, tx.SigningBytes(), tx.Signature) {
		return fmt.Errorf("%w: bad signature", ErrTxFormat)
	}
	if tx.Type == TxRegister {
		var b RegisterBody
		json.Unmarshal(tx.Body, &b) // checked by DecodeBody
		nodeKey, _ := ParseKey(b.NodeKey)
		if !VerifyHex(nodeKey, tx.SigningBytes(), tx.NodeSignature) {
			return fmt.Errorf("%w: the node key's signature is missing or bad", ErrTxFormat)
		}
	} else if tx.NodeSignature != "" {
		return fmt.Errorf("%w: node_signature on a %s transaction", ErrTxFormat, tx.Type)
	}
	return nil
}

// DecodeBody returns the typed body (a *TransferBody, *RegisterBody, ...),
// with its fields' form checked.
func (tx *Tx) DecodeBody() (any, error) {
	var body any
	switch tx.Type {
	case TxTransfer:
		body = &TransferBody{}
	case TxRegister:
		body = &RegisterBody{}
	case TxContribute:
		body = &ContributeBody{}
	case TxUnlock:
		body = &UnlockBody{}
	case TxName:
		body = &NameBody{}
	case TxStateChange:
		body = &StateChangeBody{}
	case TxNodeInfo:
		body = &NodeInfoBody{}
	case TxUptimeProof:
		body = &UptimeProofBody{}
	case TxCommit:
		body = &CommitBody{}
	case TxReveal:
		body = &RevealBody{}
	case TxVote:
		body = &VoteBody{}
	default:
		return nil, fmt.Errorf("%w: unknown type %q", ErrTxFormat, tx.Type)
	}
	dec := json.NewDecoder(bytes.NewReader(tx.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(body); err != nil {
		return nil, fmt.Errorf("%w: %s body: %v", ErrTxFormat, tx.Type, err)
	}
	if err := checkBody(body); err != nil {
		return nil, fmt.Errorf("%w: %s body: %v", ErrTxFormat, tx.Type, err)
	}
	return body, nil
}

func checkBody(body any) error {
	switch b := body.(type) {
	case *TransferBody:
		if _, err := ParseKey(b.To); err != nil {
			return fmt.Errorf("to: %v", err)
		}
	case *RegisterBody:
		if _, err := ParseKey(b.NodeKey); err != nil {
			return fmt.Errorf("node_key: %v", err)
		}
		for _, r := range b.Reserved {
			if _, err := ParseKey(r.Wallet); err != nil {
				return fmt.Errorf("reserved wallet: %v", err)
			}
		}
	case *ContributeBody:
		return CheckKeyField("node_key", b.NodeKey)
	case *UnlockBody:
		return CheckKeyField("node_key", b.NodeKey)
	case *StateChangeBody:
		if err := CheckKeyField("node_key", b.NodeKey); err != nil {
			return err
		}
		switch b.State {
		case StateDecommissioned, StateActive, StateDeregistered:
		default:
			return fmt.Errorf("state %q: want decommissioned, active or deregistered", b.State)
		}
		if len(b.Reason) > 200 {
			return fmt.Errorf("reason longer than 200 bytes")
		}
	case *NameBody:
		if len(b.NameHash) != 44 {
			return fmt.Errorf("name_hash: want 44 base64 characters")
		}
		if v, err := hex.DecodeString(b.Value); err != nil || len(v) != EncryptedNameSize {
			return fmt.Errorf("value: want %d bytes in hex", EncryptedNameSize)
		}
	case *UptimeProofBody:
		if len(b.Version) > 32 {
			return fmt.Errorf("version longer than 32 bytes")
		}
	case *CommitBody:
		if v, err := hex.DecodeString(b.Hash); err != nil || len(v) != 32 {
			return fmt.Errorf("hash: want 32 bytes in hex")
		}
	case *RevealBody:
		if v, err := hex.DecodeString(b.Secret); err != nil || len(v) != 32 {
			return fmt.Errorf("secret: want 32 bytes in hex")
		}
	case *VoteBody:
		if err := CheckKeyField("target", b.Target); err != nil {
			return err
		}
		if len(b.Reason) > 200 {
			return fmt.Errorf("reason longer than 200 bytes")
		}
	case *NodeInfoBody:
		if b.PeerID == "" || len(b.PeerID) > 128 {
			return fmt.Errorf("peer_id: want 1-128 characters")
		}
		if len(b.Addrs) == 0 || len(b.Addrs) > 8 {
			return fmt.Errorf("addrs: want 1-8 addresses")
		}
		for _, a := range b.Addrs {
			if a == "" || len(a) > 256 {
				return fmt.Errorf("addrs: want addresses of 1-256 characters")
			}
		}
		if b.PublicIP != "" {
			if ip := net.ParseIP(b.PublicIP); ip == nil || ip.To4() == nil {
				return fmt.Errorf("public_ip: want an IPv4 address")
			}
		}
		if b.StoragePort < 0 || b.StoragePort > 65535 {
			return fmt.Errorf("storage_port: want 0-65535")
		}
	}
	return nil
}

func CheckKeyField(name, v string) error {
	if _, err := ParseKey(v); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	return nil
}

// parseKey reads a hex Ed25519 public key in its canonical lowercase form.
func ParseKey(s string) (ed25519.PublicKey, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize || hex.EncodeToString(b) != s {
		return nil, fmt.Errorf("want 64 lowercase hex characters of an Ed25519 key, got %q", truncate(s, 70))
	}
	return b, nil
}

func VerifyHex(pub ed25519.PublicKey, msg []byte, sigHex string) bool {
	sig, err := hex.DecodeString(sigHex)
	return err == nil && len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, msg, sig)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
