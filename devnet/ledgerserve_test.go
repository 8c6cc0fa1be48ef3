package devnet

import (
	"context"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/ledger"
)

func TestServeLedger(t *testing.T) {
	ctx := context.Background()
	d := Dir(t.TempDir())
	alice, bob := ClientKeys("s", "alice"), ClientKeys("s", "bob")
	for _, name := range []string{"alice", "bob"} {
		if _, err := d.Keystore().Create(name, ClientKeys("s", name)); err != nil {
			t.Fatal(err)
		}
	}
	other := hex.EncodeToString(ClientKeys("s", "other").Ed25519Public())
	cfg := LedgerConfig{Dir: d, Seed: "serve", GenesisCoins: 10 * chain.Coin,
		Fund: []Payment{{To: "bob", Amount: 5 * chain.Coin}, {To: other, Amount: chain.Coin}, {To: "bob", Amount: chain.Coin}}}
	s, err := ServeLedger(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ep, err := d.ReadLedgerEndpoint()
	if err != nil || ep != s.Endpoint() || ep.PID != os.Getpid() || ep.Seed != "serve" || len(ep.Token) != 64 {
		t.Fatalf("ready file %+v (%v), want %+v", ep, err, s.Endpoint())
	}
	if st, _ := os.Stat(d.LedgerEndpointFile()); st.Mode().Perm() != 0o600 {
		t.Fatalf("ready file mode %v", st.Mode())
	}
	lc, err := d.Ledger(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	for wallet, want := range map[string]uint64{hex.EncodeToString(alice.Ed25519Public()): 10 * chain.Coin,
		hex.EncodeToString(bob.Ed25519Public()): 16 * chain.Coin, other: chain.Coin} {
		if a, err := lc.Account(ctx, wallet); err != nil || a.Balance != want {
			t.Errorf("balance of %.8s: %v, %v; want %d", wallet, a.Balance, err, want)
		}
	}
	// The token from the ready file mines.
	if _, err := lc.Mine(ctx, 1); err != nil {
		t.Fatalf("mine with the ready file's token: %v", err)
	}
	if _, err := ServeLedger(ctx, cfg); !errors.Is(err, ErrLedgerRunning) || errkind.Of(err) != errkind.Invalid {
		t.Fatalf("a second ledger in the directory: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, open := <-s.Err(); open {
		t.Fatal("Err is open after Close")
	}
	if _, err := d.ReadLedgerEndpoint(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the ready file outlived the ledger: %v", err)
	}
	// The chain resumes; another seed is refused, and said to be the caller's.
	cfg.Seed = "other"
	if _, err := ServeLedger(ctx, cfg); !errors.Is(err, ledger.ErrSeedMismatch) || errkind.Of(err) != errkind.Invalid {
		t.Fatalf("another seed: %v", err)
	}
	cfg.Seed, cfg.Fund = "serve", []Payment{{To: "nobody", Amount: 1}}
	if _, err := ServeLedger(ctx, cfg); err == nil {
		t.Fatal("a payment to nobody")
	}
	cfg.Fund = nil
	s2, err := ServeLedger(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if h := s2.Info().Height; h != 1 {
		t.Fatalf("resumed at height %d, want 1", h)
	}
}
