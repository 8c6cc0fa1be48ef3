package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/devnet/devnettest"
	"github.com/sessionctl/sessionctl/internal/exitcode"
)

// devnet up ends, exit code 1, saying which part failed, when a part the
// devnet needs dies (killed from inside the test).
func TestDevnetUpExitsWhenAPartDies(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"sessionctl", "--dir", dir, "devnet", "up", "--nodes", "4", "--block-time", "0"}, &out, &errb)
	}()
	deadline := time.Now().Add(2 * time.Minute)
	var m *devnet.Manifest
	for m == nil {
		select {
		case code := <-done:
			t.Fatalf("devnet up ended (%d) before it was ready: %s", code, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the devnet was not ready within 2 minutes")
		}
		m, _ = devnet.ReadManifest(dir)
	}
	devnettest.KillListener(t, m.Ledger.URL)
	select {
	case code := <-done:
		if code != exitcode.Failure || !strings.Contains(errb.String(), "sessionctl: the ledger RPC failed: ") {
			t.Fatalf("exit %d, stderr:\n%s", code, errb.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("devnet up runs on without its ledger RPC")
	}
	if _, err := devnet.ReadManifest(dir); err == nil {
		t.Fatal("the manifest outlived the devnet")
	}
}
