package devnet

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/internal/httpserve"
)

// Joining from another machine. The control server serves, under a path
// holding a secret derived from the control token (like the dashboard's),
// what a machine needs to run a node in this devnet, and a faucet limited
// to one node's stake a wallet:
//
//	GET  /join/{secret}        JoinInfo: the ledger's URL, the servers, the stake
//	POST /join/{secret}/fund   {"wallet": HEX} -> {"tx", "height"}: the stake and a coin for fees
//
// The join URL (manifest: join.url, and the banner) is what a teacher
// hands out: it lets its holder fund and run nodes, nothing else: kill,
// restart, mine and arbitrary payments still need the token. What the
// joining node then does goes to the ledger's own RPC (reads, and
// transactions its keys sign) and to other nodes over libp2p.

// maxJoins bounds the wallets the join faucet pays (and remembers), a
// devnet run.
const maxJoins = 1000

// joinSecret is the join URL's path secret for a control token.
func joinSecret(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("sessionctl-join"))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// JoinInfo is what GET /join/{secret} answers.
type JoinInfo struct {
	Seed        string   `json:"seed"`
	LedgerURL   string   `json:"ledger_url"`
	Servers     []string `json:"servers"` // host:port of the file and community servers: where exits forward
	Stake       uint64   `json:"stake"`   // atomic units a node stakes
	BlockTimeMS int64    `json:"block_time_ms"`
	Nodes       int      `json:"nodes"` // the devnet's own
}

// joiner serves the join routes.
type joiner struct {
	d      *Devnet
	secret string

	mu     sync.Mutex
	funded map[string]bool // wallets paid, at most maxJoins
}

func (j *joiner) url(base string) string { return base + "/join/" + j.secret }

func (j *joiner) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /join/{secret}", j.guard(j.info))
	mux.HandleFunc("POST /join/{secret}/fund", j.guard(j.fund))
}

func (j *joiner) guard(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.PathValue("secret")), []byte(j.secret)) != 1 {
			writeErrOf(w, http.StatusNotFound, fmt.Errorf("%w: no such join URL; the devnet's is in its devnet.json (join.url)", ErrJoinSecret))
			return
		}
		h(w, r)
	}
}

func (j *joiner) info(w http.ResponseWriter, r *http.Request) {
	info := j.d.Network.Ledger.Info()
	httpserve.WriteJSON(w, http.StatusOK, JoinInfo{Seed: j.d.st.Seed, LedgerURL: j.d.Network.advertised(j.d.Network.LedgerURL()), Servers: j.d.Network.servers(),
		Stake: info.Params.StakeRequirement, BlockTimeMS: info.BlockTimeMS, Nodes: j.d.st.Nodes})
}

func (j *joiner) fund(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Wallet string `json:"wallet"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		httpserve.WriteError(w, http.StatusBadRequest, `want {"wallet": HEX}`)
		return
	}
	if _, err := walletOf(req.Wallet); err != nil {
		writeErrOf(w, http.StatusBadRequest, err)
		return
	}
	l := j.d.Network.Ledger
	need := l.Info().Params.StakeRequirement + chain.Coin
	a, err := l.Account(req.Wallet)
	if err != nil {
		httpserve.WriteError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if a.Balance+chain.Coin > need {
		writeErrOf(w, http.StatusBadRequest, fmt.Errorf("%w: the wallet holds %s coins already, enough for a stake", ErrFaucet, chain.FormatCoins(a.Balance)))
		return
	}
	j.mu.Lock()
	switch {
	case j.funded[req.Wallet]:
		j.mu.Unlock()
		writeErrOf(w, http.StatusBadRequest, fmt.Errorf("%w: the join faucet paid this wallet already", ErrFaucet))
		return
	case len(j.funded) >= maxJoins:
		j.mu.Unlock()
		writeErrOf(w, http.StatusBadRequest, fmt.Errorf("%w: the join faucet paid %d wallets, its limit", ErrFaucet, maxJoins))
		return
	}
	j.funded[req.Wallet] = true
	j.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	hash, h, err := j.d.Network.Fund(ctx, req.Wallet, need-a.Balance)
	if err != nil {
		j.mu.Lock()
		delete(j.funded, req.Wallet) // not paid: it may ask again
		j.mu.Unlock()
		status := http.StatusInternalServerError
		if errors.Is(err, ErrFaucet) {
			status = http.StatusBadRequest
		}
		writeErrOf(w, status, err)
		return
	}
	j.d.log.Info().Str("wallet", req.Wallet[:16]).Str("from", r.RemoteAddr).Msg("join faucet paid a stake")
	httpserve.WriteJSON(w, http.StatusOK, map[string]any{"tx": hash, "height": h})
}

// A JoinClient is how `node join` talks to a devnet's join URL.
type JoinClient struct {
	url  string
	http *http.Client
}

// NewJoinClient checks a join URL (http://HOST:PORT/join/SECRET).
func NewJoinClient(joinURL string) (*JoinClient, error) {
	u, err := url.Parse(joinURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !strings.HasPrefix(u.Path, "/join/") || strings.Count(u.Path, "/") != 2 {
		return nil, fmt.Errorf("%q is not a join URL: want http://HOST:PORT/join/SECRET, as 'devnet up' prints it", joinURL)
	}
	return &JoinClient{url: strings.TrimRight(joinURL, "/"), http: &http.Client{Timeout: 90 * time.Second}}, nil
}

// Info fetches the devnet's JoinInfo.
func (c *JoinClient) Info(ctx context.Context) (JoinInfo, error) {
	var out JoinInfo
	err := c.do(ctx, http.MethodGet, "", nil, &out)
	if err == nil && out.LedgerURL == "" {
		err = errors.New("the join URL answered without a ledger")
	}
	return out, err
}

// waitInfo is Info, asked again while the devnet does not answer (for up
// to joinWait); log is told once that it waits.
func (c *JoinClient) waitInfo(ctx context.Context, log zerolog.Logger) (JoinInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, joinWait)
	defer cancel()
	backoff, said := 250*time.Millisecond, false
	for {
		ictx, icancel := context.WithTimeout(ctx, 30*time.Second)
		info, err := c.Info(ictx)
		icancel()
		var se *sendError
		if !errors.As(err, &se) || ctx.Err() != nil {
			return info, err
		}
		if !said {
			log.Info().Str("devnet", c.host()).Err(err).Msg("the devnet does not answer yet: waiting for it")
			said = true
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return info, fmt.Errorf("the devnet at %s did not answer in %v: %w", c.host(), joinWait, err)
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// host is the join URL's host:port.
func (c *JoinClient) host() string { return hostOf(c.url) }

// Fund asks the join faucet for a stake for wallet.
func (c *JoinClient) Fund(ctx context.Context, wallet string) error {
	return c.do(ctx, http.MethodPost, "/fund", map[string]string{"wallet": wallet}, nil)
}

func (c *JoinClient) do(ctx context.Context, method, path string, body, out any) error {
	status, data, err := roundTrip(ctx, c.http, method, c.url+path, "", body, 1<<20)
	var se *sendError
	var ue *url.Error
	if errors.As(err, &se) && errors.As(err, &ue) {
		// Without the URL: it holds the secret, and this ends up in logs.
		err = &sendError{fmt.Errorf("%s http://%s/join/...%s: %w", ue.Op, c.host(), path, ue.Err)}
	}
	if err != nil {
		return fmt.Errorf("the devnet's join URL: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("the devnet's join URL: %w", decodeErr(data))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("the devnet's join URL answered what is not JSON: %w", err)
	}
	return nil
}
