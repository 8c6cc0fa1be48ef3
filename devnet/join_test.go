package devnet

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/chain"
)

// TestJoinFaucet: the join URL tells a joiner where the ledger is and pays
// each wallet one stake, also when many ask at once (their transfers take
// consecutive nonces); it refuses a second payment, a funded wallet, a
// wrong secret, and anything that is not a wallet.
func TestJoinFaucet(t *testing.T) {
	d := up(t, UpConfig{Dir: t.TempDir(), Nodes: 5, BlockTime: 100 * time.Millisecond})
	defer d.Close()
	ctx := context.Background()
	m := d.Manifest()
	jc, err := NewJoinClient(m.Join.URL)
	if err != nil {
		t.Fatal(err)
	}
	info, err := jc.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.LedgerURL != m.Ledger.URL || len(info.Servers) != 2 || info.Stake == 0 || info.Seed != m.Seed {
		t.Fatalf("join info %+v, manifest ledger %s", info, m.Ledger.URL)
	}
	var wallets []string
	for i := 0; i < 6; i++ {
		pk, _, _ := ed25519.GenerateKey(nil)
		wallets = append(wallets, hex.EncodeToString(pk))
	}
	var wg sync.WaitGroup
	errs := make([]error, len(wallets))
	for i, w := range wallets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = jc.Fund(ctx, w)
		}()
	}
	wg.Wait()
	for i, w := range wallets {
		if errs[i] != nil {
			t.Fatalf("fund %d at once: %v", i, errs[i])
		}
		a, err := d.Network.Ledger.Account(w)
		if err != nil || a.Balance != info.Stake+chain.Coin {
			t.Fatalf("wallet %d holds %d (%v), want the stake and a coin", i, a.Balance, err)
		}
	}
	if err := jc.Fund(ctx, wallets[0]); !errors.Is(err, ErrFaucet) || !strings.Contains(err.Error(), "enough for a stake") {
		t.Fatalf("a funded wallet again: %v", err)
	}
	for _, bad := range []string{"", "zz", strings.Repeat("0", 63), "05" + strings.Repeat("a", 64)} {
		if err := jc.Fund(ctx, bad); !errors.Is(err, ErrFaucet) {
			t.Fatalf("fund %q: %v, want a faucet refusal", bad, err)
		}
	}
	wrong, _ := NewJoinClient(m.Control.URL + "/join/" + strings.Repeat("0", 32))
	if _, err := wrong.Info(ctx); err == nil || !strings.Contains(err.Error(), "no such join URL") {
		t.Fatalf("a wrong secret: %v", err)
	}
	for _, u := range []string{"", "ftp://x/join/y", "http://x/joins/y", "http://x/join/y/z", m.Ledger.URL} {
		if _, err := NewJoinClient(u); err == nil {
			t.Fatalf("%q taken for a join URL", u)
		}
	}
	// The join URL gives nothing of the control endpoint.
	resp, err := http.Post(m.Control.URL+"/v1/fund", "application/json", strings.NewReader(`{"to":"`+wallets[1]+`","amount":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the control faucet without the token: %d", resp.StatusCode)
	}
}
