package devnet

import (
	"context"
	"testing"
	"time"
)

// StartT starts a network for a test of this package (other packages use
// devnettest.Start, which does the same; this package cannot import it) and
// stops it when the test ends. An empty cfg.Dir becomes a temporary
// directory.
func StartT(t testing.TB, cfg Config) *Network {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	nw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := nw.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nw.Close() })
	return nw
}
