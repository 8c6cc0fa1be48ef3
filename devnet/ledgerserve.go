package devnet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/ledger"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
)

// LedgerConfig configures a ledger served alone (`ledger serve`): the
// chain of a directory and its RPC, without nodes or servers.
type LedgerConfig struct {
	Dir Dir
	// Listen is the RPC's address; default 127.0.0.1:0.
	Listen string
	// Seed is the chain's seed; default "sessionctl". A chain made with
	// another is refused (ledger.ErrSeedMismatch).
	Seed string
	// BlockTime is the time between blocks; 0 makes blocks only when mined.
	BlockTime time.Duration
	// GenesisCoins are given at genesis to every identity of the keystore.
	GenesisCoins uint64
	// Fund are more payments at genesis: to an identity of the keystore or
	// a wallet (Dir.Wallet).
	Fund   []Payment
	Logger zerolog.Logger
}

// LedgerServer is a ledger served alone: a Part.
type LedgerServer struct {
	dir    Dir
	ep     LedgerEndpoint
	ledger *ledger.Ledger
	rpc    *ledgerrpc.Server

	errc     chan error
	watching context.CancelFunc
	wg       sync.WaitGroup
	once     sync.Once
	closeErr error
}

// ErrLedgerRunning is a ledger served alone in the directory already.
var ErrLedgerRunning = errors.New("a ledger is already running")

// ServeLedger starts the directory's chain (made at the first start) and its
// RPC, and writes the ready file (LedgerEndpoint: its URL and the token that
// guards mining); Close removes it. A ledger already served there is
// refused.
func ServeLedger(ctx context.Context, cfg LedgerConfig) (_ *LedgerServer, err error) {
	if cfg.Seed == "" {
		cfg.Seed = "sessionctl"
	}
	if cfg.BlockTime < 0 {
		return nil, errkind.Invalidf("--block-time must not be negative")
	}
	genesis, err := ledgerGenesis(cfg)
	if err != nil {
		return nil, err
	}
	if old, err := cfg.Dir.ReadLedgerEndpoint(); err == nil {
		probe := ledgerrpc.NewClient(old.URL, "")
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := probe.Info(pctx)
		cancel()
		if err == nil {
			return nil, errkind.AsInvalid(fmt.Errorf("%w under %s at %s", ErrLedgerRunning, cfg.Dir, old.URL))
		}
	}
	l, err := ledger.New(ledger.Config{Path: cfg.Dir.LedgerDB(), Seed: cfg.Seed, BlockTime: cfg.BlockTime, Genesis: genesis, Logger: cfg.Logger})
	if err != nil {
		return nil, errkind.AsInvalid(err)
	}
	s := &LedgerServer{dir: cfg.Dir, ledger: l, errc: make(chan error, 1)}
	defer func() {
		if err != nil {
			s.Close() // what started stops
		}
	}()
	if err := l.Start(ctx); err != nil {
		if errors.Is(err, ledger.ErrSeedMismatch) {
			return nil, errkind.Invalidf("%w: use that seed, or another --dir", err)
		}
		return nil, err
	}
	token := make([]byte, 32)
	if _, err := rand.Read(token); err != nil {
		return nil, err
	}
	srv, err := ledgerrpc.NewServer(ledgerrpc.ServerConfig{Ledger: l, Addr: cfg.Listen, Token: hex.EncodeToString(token), Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	if err := srv.Start(ctx); err != nil {
		return nil, err
	}
	s.rpc = srv
	s.ep = LedgerEndpoint{URL: srv.URL(), Token: hex.EncodeToString(token), PID: os.Getpid(), Seed: cfg.Seed}
	if err := writeJSONFile(cfg.Dir.LedgerEndpointFile(), s.ep); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	s.watching = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		watchParts(wctx, s.errc, map[string]<-chan error{"the ledger": l.Err(), "the ledger RPC": srv.Err()})
	}()
	return s, nil
}

// ledgerGenesis is what a new chain pays at genesis: GenesisCoins to every
// identity of the keystore, then Fund, a wallet's payments added up.
func ledgerGenesis(cfg LedgerConfig) ([]ledger.Allocation, error) {
	alloc := map[string]uint64{}
	var order []string
	add := func(wallet string, amount uint64) {
		if _, ok := alloc[wallet]; !ok {
			order = append(order, wallet)
		}
		alloc[wallet] += amount
	}
	ids, err := cfg.Dir.Keystore().List()
	if err != nil {
		return nil, err
	}
	for _, e := range ids {
		add(hex.EncodeToString(e.Keys.Ed25519Public()), cfg.GenesisCoins)
	}
	for _, p := range cfg.Fund {
		w, err := cfg.Dir.Wallet(p.To)
		if err != nil {
			return nil, err
		}
		add(w, p.Amount)
	}
	var out []ledger.Allocation
	for _, w := range order {
		out = append(out, ledger.Allocation{Wallet: w, Amount: alloc[w]})
	}
	return out, nil
}

// Endpoint is the ready file's content: how to reach the ledger.
func (s *LedgerServer) Endpoint() LedgerEndpoint { return s.ep }

// Info is the chain's tip.
func (s *LedgerServer) Info() chain.Info { return s.ledger.Info() }

// Err delivers the failure of the ledger or its RPC (a *PartError), and is
// closed by Close.
func (s *LedgerServer) Err() <-chan error { return s.errc }

// Close removes the ready file, stops the RPC and the ledger, and closes
// Err. Safe to call twice.
func (s *LedgerServer) Close() error {
	s.once.Do(func() {
		var errs []error
		if s.rpc != nil {
			if err := os.Remove(s.dir.LedgerEndpointFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			errs = append(errs, s.rpc.Close())
		}
		if s.watching != nil {
			s.watching()
		}
		errs = append(errs, s.ledger.Close())
		s.wg.Wait()
		close(s.errc)
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
