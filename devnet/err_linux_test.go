package devnet_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/devnet/devnettest"
)

// A part the devnet needs that dies ends it: Err says which part, and
// Wait returns it.
func TestDevnetErrNamesTheFailedPart(t *testing.T) {
	for _, tc := range []struct {
		part string
		url  func(*devnet.Devnet) string
	}{
		{"the ledger RPC", func(d *devnet.Devnet) string { return d.Network.LedgerURL() }},
		{"the control endpoint", func(d *devnet.Devnet) string { return d.Manifest().Control.URL }},
		{"the file server", func(d *devnet.Devnet) string { return d.Network.Files.URL() }},
	} {
		t.Run(tc.part, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			d, err := devnet.Up(ctx, devnet.UpConfig{Dir: t.TempDir(), Nodes: 4, BlockTime: devnet.BlockTimeManual})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			select {
			case err := <-d.Err():
				t.Fatalf("a failure while it works: %v", err)
			default:
			}
			devnettest.KillListener(t, tc.url(d))
			err = devnet.Wait(ctx, d, d.Done())
			var pe *devnet.PartError
			if !errors.As(err, &pe) || pe.Part != tc.part || !strings.Contains(err.Error(), tc.part+" failed: ") {
				t.Fatalf("Wait = %v, want %s's failure", err, tc.part)
			}
			if err := d.Close(); err != nil {
				t.Fatalf("Close after the failure: %v", err)
			}
			if _, open := <-d.Err(); open {
				t.Fatal("Err is open after Close")
			}
		})
	}
}

// A node that dies is no failure of the network: it is stopped and
// reported as exited, and starts again.
func TestNodeFailureIsAnExit(t *testing.T) {
	exited := make(chan string, 1)
	nw := devnettest.Start(t, devnet.Config{Nodes: 5, OnExit: func(i int, report string) {
		if i == 2 {
			exited <- report
		}
	}})
	info, ok := nw.NodeInfo(2)
	if !ok {
		t.Fatal("node-3 is not running")
	}
	devnettest.KillListener(t, info.HTTPS)
	select {
	case report := <-exited:
		if !strings.HasPrefix(report, "failed: ") || !strings.Contains(report, "https edge") {
			t.Fatalf("report %q", report)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the node's failure was not reported")
	}
	if nw.Running(2) || !strings.HasPrefix(nw.Exited(2), "failed: ") {
		t.Fatalf("node-3: running %v, exited %q", nw.Running(2), nw.Exited(2))
	}
	select {
	case err := <-nw.Err():
		t.Fatalf("a node's failure ended the network: %v", err)
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := nw.StartNode(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if !nw.Running(2) || nw.Exited(2) != "" {
		t.Fatalf("restarted node-3: running %v, exited %q", nw.Running(2), nw.Exited(2))
	}
}

// A ledger served alone whose RPC dies ends: Wait says so.
func TestServeLedgerErr(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := devnet.ServeLedger(ctx, devnet.LedgerConfig{Dir: devnet.Dir(t.TempDir())})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	devnettest.KillListener(t, s.Endpoint().URL)
	var pe *devnet.PartError
	if err := devnet.Wait(ctx, s, nil); !errors.As(err, &pe) || pe.Part != "the ledger RPC" {
		t.Fatalf("Wait = %v", err)
	}
}
