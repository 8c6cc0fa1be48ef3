package node

import (
	"context"
	"testing"

	"github.com/sessionctl/sessionctl/internal/p2phost"
)

// TestGivenHost: a node serves on the host it is given (Config.Host) and
// closes it, started or not; a host of another key is refused.
func TestGivenHost(t *testing.T) {
	listen := []string{"/ip4/127.0.0.1/tcp/0"}
	key := seedKey("given")
	h, err := p2phost.New(key, listen)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Key: seedKey("another"), DataDir: t.TempDir(), Ledger: downLedger{}, Host: h}); err == nil {
		h.Close()
		t.Fatal("a host of another key was accepted")
	}
	n, err := New(Config{Key: key, DataDir: t.TempDir(), Ledger: downLedger{}, Host: h})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n.Host() != h || len(n.Addrs()) == 0 {
		t.Fatalf("the node serves on %v at %v, not on the host given", n.Host().ID(), n.Addrs())
	}
	n.Close()
	if got := h.Network().ListenAddresses(); len(got) != 0 {
		t.Fatalf("the host given still listens at %v after Close", got)
	}
	// Never started: Close closes it too.
	h, err = p2phost.New(key, listen)
	if err != nil {
		t.Fatal(err)
	}
	n, err = New(Config{Key: key, DataDir: t.TempDir(), Ledger: downLedger{}, Host: h})
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	if got := h.Network().ListenAddresses(); len(got) != 0 {
		t.Fatalf("the host given still listens at %v after Close without Start", got)
	}
}
