// Package devnettest starts devnets for the tests of other packages: one
// call, a temporary directory, stopped when the test ends.
//
//	nw := devnettest.Start(t, devnet.Config{Nodes: 7})
package devnettest

import (
	"context"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/devnet"
)

// Start starts a network for a test and stops it when the test ends. An
// empty cfg.Dir becomes a temporary directory.
func Start(t testing.TB, cfg devnet.Config) *devnet.Network {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	nw, err := devnet.New(cfg)
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
