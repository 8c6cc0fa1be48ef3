package ledgerrpc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/ledger"
)

// ErrUnreachable wraps a failure to reach the ledger at all.
var ErrUnreachable = errors.New("ledger not reachable")

// Error is an error answered by the ledger.
type Error struct {
	Status  int    // HTTP status
	Code    string // one of the Code constants
	Message string
}

func (e *Error) Error() string { return e.Message }

// IsCode reports whether err is an *Error with code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// Client talks to a ledger's RPC.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// NewClient returns a client of the ledger at base (e.g. http://127.0.0.1:4000);
// token is needed for Mine and ChangeState only.
func NewClient(base, token string) *Client {
	// Every node of a devnet long-polls the ledger: keep a connection per
	// poller instead of the default transport's two idle ones per host,
	// which closes and reopens connections under load.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 4096, 4096
	return &Client{base: base, token: token, hc: &http.Client{Timeout: maxWait + 10*time.Second, Transport: tr}}
}

// URL returns the ledger's base URL.
func (c *Client) URL() string { return c.base }

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("ledger request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w at %s: %v", ErrUnreachable, c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%w at %s: %v", ErrUnreachable, c.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		if json.Unmarshal(data, &e) != nil || e.Error.Code == "" {
			return &Error{Status: resp.StatusCode, Code: CodeInternal, Message: fmt.Sprintf("ledger answered %s", resp.Status)}
		}
		return &Error{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("read ledger answer to %s: %w", path, err)
	}
	return nil
}

// Info returns the tip's summary.
func (c *Client) Info(ctx context.Context) (chain.Info, error) {
	var i chain.Info
	return i, c.do(ctx, http.MethodGet, "/v1/info", nil, &i)
}

// WaitHeight waits until the ledger reaches height.
func (c *Client) WaitHeight(ctx context.Context, height uint64) (chain.Info, error) {
	for {
		var i chain.Info
		if err := c.do(ctx, http.MethodGet, "/v1/info?wait_height="+strconv.FormatUint(height, 10), nil, &i); err != nil {
			return i, err
		}
		if i.Height >= height {
			return i, nil
		}
	}
}

// Nodes returns every registered node.
func (c *Client) Nodes(ctx context.Context) ([]chain.ServiceNode, error) {
	var out struct {
		Nodes []chain.ServiceNode `json:"nodes"`
	}
	return out.Nodes, c.do(ctx, http.MethodGet, "/v1/nodes", nil, &out)
}

// Node returns one node by its Ed25519 key (hex).
func (c *Client) Node(ctx context.Context, key string) (chain.ServiceNode, error) {
	var n chain.ServiceNode
	return n, c.do(ctx, http.MethodGet, "/v1/nodes/"+url.PathEscape(key), nil, &n)
}

// Swarms returns the swarms and the height they last changed at.
func (c *Client) Swarms(ctx context.Context) ([]ledger.SwarmInfo, uint64, error) {
	var out struct {
		Height uint64             `json:"height"`
		Swarms []ledger.SwarmInfo `json:"swarms"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/swarms", nil, &out)
	return out.Swarms, out.Height, err
}

// SwarmOf returns the swarm that owns an account.
func (c *Client) SwarmOf(ctx context.Context, id identity.AccountID) (ledger.SwarmInfo, error) {
	var s ledger.SwarmInfo
	return s, c.do(ctx, http.MethodGet, "/v1/swarm_of/"+id.String(), nil, &s)
}

// Account returns a wallet's balance, stake and next nonce.
func (c *Client) Account(ctx context.Context, wallet string) (chain.Account, error) {
	var a chain.Account
	return a, c.do(ctx, http.MethodGet, "/v1/accounts/"+url.PathEscape(wallet), nil, &a)
}

// Name returns the record of a name hash.
func (c *Client) Name(ctx context.Context, nameHash string) (ledger.NameRecord, error) {
	var r ledger.NameRecord
	return r, c.do(ctx, http.MethodGet, "/v1/names?hash="+url.QueryEscape(nameHash), nil, &r)
}

// Block returns the block at height.
func (c *Client) Block(ctx context.Context, height uint64) (*ledger.Block, error) {
	var b ledger.Block
	return &b, c.do(ctx, http.MethodGet, "/v1/blocks/"+strconv.FormatUint(height, 10), nil, &b)
}

// TxStatus says where a transaction stands.
func (c *Client) TxStatus(ctx context.Context, hash string) (ledger.TxStatus, error) {
	var s ledger.TxStatus
	return s, c.do(ctx, http.MethodGet, "/v1/txs/"+url.PathEscape(hash), nil, &s)
}

// Submit sends a signed transaction and returns its hash.
func (c *Client) Submit(ctx context.Context, tx *chain.Tx) (string, error) {
	var out struct {
		Hash string `json:"hash"`
	}
	return out.Hash, c.do(ctx, http.MethodPost, "/v1/txs", tx, &out)
}

// WaitTx waits until a submitted transaction is in a block, and returns its
// height; a transaction a block dropped returns its reason as an error.
func (c *Client) WaitTx(ctx context.Context, hash string) (uint64, error) {
	for {
		st, err := c.TxStatus(ctx, hash)
		if err != nil {
			return 0, err
		}
		switch st.Status {
		case "included":
			return st.Height, nil
		case "rejected":
			return 0, &Error{Status: http.StatusUnprocessableEntity, Code: CodeRejected, Message: st.Reason}
		case "unknown":
			return 0, fmt.Errorf("the ledger does not know transaction %s", hash)
		}
		info, err := c.Info(ctx)
		if err != nil {
			return 0, err
		}
		if _, err := c.WaitHeight(ctx, info.Height+1); err != nil {
			return 0, err
		}
	}
}

// Mine makes n blocks now (needs the token).
func (c *Client) Mine(ctx context.Context, n int) ([]*ledger.Block, error) {
	var out struct {
		Blocks []*ledger.Block `json:"blocks"`
	}
	return out.Blocks, c.do(ctx, http.MethodPost, "/v1/mine", MineRequest{Blocks: n}, &out)
}

// ChangeState queues an authority-signed state change (needs the token).
func (c *Client) ChangeState(ctx context.Context, nodeKey string, state chain.NodeState, reason string) (string, error) {
	var out struct {
		Hash string `json:"hash"`
	}
	return out.Hash, c.do(ctx, http.MethodPost, "/v1/state_change", StateChangeRequest{NodeKey: nodeKey, State: state, Reason: reason}, &out)
}

// Rounds returns the remembered testing rounds, newest first.
func (c *Client) Rounds(ctx context.Context) ([]chain.Round, error) {
	var out struct {
		Rounds []chain.Round `json:"rounds"`
	}
	return out.Rounds, c.do(ctx, http.MethodGet, "/v1/rounds", nil, &out)
}

// RoundAt returns the testing round of a height.
func (c *Client) RoundAt(ctx context.Context, height uint64) (chain.Round, error) {
	var r chain.Round
	return r, c.do(ctx, http.MethodGet, "/v1/rounds/at/"+strconv.FormatUint(height, 10), nil, &r)
}

// ErrNameTaken and ErrNoName are the name service's refusals.
var (
	ErrNameTaken = errors.New("the session name is already registered")
	ErrNoName    = errors.New("no such session name")
)

// Resolution is a session name looked up: the account it maps to.
type Resolution struct {
	Name      string             `json:"name"`
	AccountID identity.AccountID `json:"-"`
	Owner     string             `json:"owner"`
	Height    uint64             `json:"height"`
}

// ResolveName looks a session name up and decrypts the Account ID it maps
// to. name is normalized first; an unregistered name is ErrNoName.
func (c *Client) ResolveName(ctx context.Context, name string) (*Resolution, error) {
	name, err := ledger.NormalizeName(name)
	if err != nil {
		return nil, err
	}
	rec, err := c.Name(ctx, ledger.NameHash(name))
	if IsCode(err, CodeNotFound) {
		return nil, fmt.Errorf("%w: no session name %q is registered", ErrNoName, name)
	}
	if err != nil {
		return nil, err
	}
	value, err := hex.DecodeString(rec.Value)
	if err != nil {
		return nil, fmt.Errorf("the ledger's record of %q is malformed", name)
	}
	id, err := ledger.DecryptName(name, value)
	if err != nil {
		return nil, fmt.Errorf("the ledger's record of %q: %w", name, err)
	}
	return &Resolution{Name: name, AccountID: id, Owner: rec.Owner, Height: rec.Height}, nil
}

// RegisterName registers name for the account keys holds (its wallet pays
// and owns the name) and returns the transaction's hash; it is registered
// with the next block (WaitTx). A taken name is ErrNameTaken.
func (c *Client) RegisterName(ctx context.Context, keys *identity.Keys, name string) (normalized, txHash string, err error) {
	name, err = ledger.NormalizeName(name)
	if err != nil {
		return "", "", err
	}
	if _, err := c.Name(ctx, ledger.NameHash(name)); err == nil {
		return "", "", fmt.Errorf("%w: %q", ErrNameTaken, name)
	} else if !IsCode(err, CodeNotFound) {
		return "", "", err
	}
	value, err := ledger.EncryptName(name, keys.AccountID(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	acct, err := c.Account(ctx, hex.EncodeToString(keys.Ed25519Public()))
	if err != nil {
		return "", "", err
	}
	tx, err := chain.NewTx(chain.TxName, keys.Ed25519, acct.NextNonce, chain.NameBody{NameHash: ledger.NameHash(name), Value: hex.EncodeToString(value)})
	if err != nil {
		return "", "", err
	}
	hash, err := c.Submit(ctx, tx)
	return name, hash, err
}

// NameValue returns a name's encrypted value (hex), for a node's
// ons_resolve passthrough.
func (c *Client) NameValue(ctx context.Context, nameHash string) (string, bool, error) {
	r, err := c.Name(ctx, nameHash)
	if IsCode(err, CodeNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return r.Value, true, nil
}
