package devnet

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/httpserve"
)

// The faucet: a wallet the devnet funds at genesis (its key derives from
// the devnet's secret), from which the control endpoint pays whoever asks
// with the token: a new identity that wants a session name, the operator
// of a node started with `sessionctl node run`.
//
//	POST /v1/fund {"to": WALLET or ACCOUNT_ID, "amount": COINS (atomic units)}
//	  -> {"tx": HASH, "height": H}   once the transfer is in a block

// faucetGenesis is what the faucet holds at genesis: enough for 1,000
// nodes' stakes.
const faucetGenesis = 1_000 * stake

// maxFund bounds one payment of the faucet.
const maxFund = 10 * stake

// Payment is a payment of the faucet: To is an identity's name or a wallet.
type Payment struct {
	To     string
	Amount uint64
}

// ErrFaucet is a payment the faucet cannot make.
var ErrFaucet = errors.New("faucet")

func (nw *Network) faucet() ed25519.PrivateKey { return deriveSecret(nw.cfg.Secret, "faucet", 0) }

// Fund pays amount from the faucet to wallet (an Ed25519 key in hex, or an
// Account ID, whose Ed25519 key is the wallet) and waits until the
// transfer is in a block, making one if blocks come only on demand.
func (nw *Network) Fund(ctx context.Context, to string, amount uint64) (string, uint64, error) {
	wallet, err := walletOf(to)
	if err != nil {
		return "", 0, err
	}
	if amount == 0 || amount > maxFund {
		return "", 0, fmt.Errorf("%w: %s coins: want more than 0 and at most %s", ErrFaucet, chain.FormatCoins(amount), chain.FormatCoins(maxFund))
	}
	hash, err := nw.submitFund(wallet, amount)
	if err != nil {
		return "", 0, err
	}
	if nw.cfg.BlockTime == 0 {
		if _, err := nw.Ledger.Mine(ctx, 1); err != nil {
			return "", 0, err
		}
	}
	for {
		st, err := nw.Ledger.TxStatus(ctx, hash)
		if err == nil && st.Status == "included" {
			return hash, st.Height, nil
		}
		if err == nil && st.Status == "rejected" {
			return "", 0, fmt.Errorf("%w: the transfer was dropped: %s", ErrFaucet, st.Reason)
		}
		h := nw.Ledger.Info().Height
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err = nw.Ledger.WaitHeight(wctx, h+1)
		cancel()
		if err != nil {
			return "", 0, fmt.Errorf("the transfer %s is not in a block yet: %w", hash, err)
		}
	}
}

// submitFund signs and submits the faucet's transfer. Payments asked at
// once (six machines joining) take their nonces one after another: the
// next nonce counts the transfers still pending.
func (nw *Network) submitFund(wallet string, amount uint64) (string, error) {
	nw.fundMu.Lock()
	defer nw.fundMu.Unlock()
	key := nw.faucet()
	a, err := nw.Ledger.Account(pub(key))
	if err != nil {
		return "", err
	}
	if a.Balance < amount {
		return "", fmt.Errorf("%w: the faucet holds %s coins (a devnet made before the faucet existed has none)", ErrFaucet, chain.FormatCoins(a.Balance))
	}
	tx, err := chain.NewTx(chain.TxTransfer, key, a.NextNonce, chain.TransferBody{To: wallet, Amount: amount})
	if err != nil {
		return "", err
	}
	hash, err := nw.Ledger.Submit(tx)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrFaucet, err)
	}
	return hash, nil
}

// walletOf reads a wallet: 64 hex digits (an Ed25519 key) or an Account ID
// (05 and the X25519 key: its wallet is its Ed25519 key, which the ID does
// not give, so an Account ID is refused with what to give instead).
func walletOf(s string) (string, error) {
	if b, err := hex.DecodeString(s); err == nil && len(b) == ed25519.PublicKeySize {
		return s, nil
	}
	if _, err := identity.ParseAccountID(s); err == nil {
		return "", fmt.Errorf("%w: %q is an Account ID; a wallet is an Ed25519 key (64 hex digits): give an identity's name to 'ledger fund'", ErrFaucet, s)
	}
	return "", fmt.Errorf("%w: %q is not a wallet (64 hex digits)", ErrFaucet, s)
}

func (c *controlServer) fund(w http.ResponseWriter, r *http.Request) {
	var req struct {
		To     string `json:"to"`
		Amount uint64 `json:"amount"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		httpserve.WriteError(w, http.StatusBadRequest, `want {"to": WALLET, "amount": ATOMIC_UNITS}`)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	hash, h, err := c.d.Network.Fund(ctx, req.To, req.Amount)
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, ErrFaucet) {
			status = http.StatusBadRequest
		}
		writeErrOf(w, status, err)
		return
	}
	c.d.log.Info().Str("to", req.To[:min(16, len(req.To))]).Str("amount", chain.FormatCoins(req.Amount)).Msg("faucet paid")
	httpserve.WriteJSON(w, http.StatusOK, map[string]any{"tx": hash, "height": h})
}

// Fund asks the devnet's faucet to pay amount to wallet.
func (c *ControlClient) Fund(ctx context.Context, wallet string, amount uint64) (tx string, height uint64, err error) {
	var out struct {
		Tx     string `json:"tx"`
		Height uint64 `json:"height"`
	}
	err = c.do(ctx, http.MethodPost, "/v1/fund", map[string]any{"to": wallet, "amount": amount}, &out)
	return out.Tx, out.Height, err
}
