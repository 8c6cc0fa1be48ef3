package devnet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/client"
)

// TestSnapshotOfRunningDevnet: a snapshot saved while the devnet runs and
// its traffic flows holds every message acknowledged before the save;
// loading it rewinds the running devnet in place (same control address and
// token), without the messages acknowledged after the save, and the devnet
// works on. A devnet that nobody serves cannot rewind, and says why.
func TestSnapshotOfRunningDevnet(t *testing.T) {
	dir := t.TempDir()
	d := up(t, UpConfig{Dir: dir, Nodes: 5, Traffic: true, BlockTime: 200 * time.Millisecond})
	t.Cleanup(func() { d.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	seed := d.Manifest().Seed
	send := func(ledgerURL, prefix string, n int) {
		t.Helper()
		alice := clientT(t, ledgerURL, client.Config{Keys: ClientKeys(seed, "alice")})
		defer alice.Close()
		for i := range n {
			if _, err := alice.Send(ctx, ClientKeys(seed, "bob").AccountID(), fmt.Sprintf("%s %d", prefix, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(d.Network.LedgerURL(), "before", 5)
	// Carol sends on while the snapshot is saved: the save copies
	// databases being written.
	type sent struct {
		text       string
		began, ack time.Time
	}
	var during []sent
	stop, carolDone, first := make(chan struct{}), make(chan error, 1), make(chan struct{})
	carol := clientT(t, d.Network.LedgerURL(), client.Config{Keys: ClientKeys(seed, "carol")})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				carolDone <- nil
				return
			default:
			}
			s := sent{text: fmt.Sprintf("during %d", i), began: time.Now()}
			if _, err := carol.Send(ctx, ClientKeys(seed, "bob").AccountID(), s.text); err != nil {
				carolDone <- err
				return
			}
			s.ack = time.Now()
			during = append(during, s) // (read once carolDone is sent)
			if i == 0 {
				close(first)
			}
		}
	}()
	select {
	case <-first:
	case err := <-carolDone:
		t.Fatalf("carol: %v", err)
	}
	saveBegan := time.Now()
	done, err := SnapshotCommand(ctx, dir, "save", "mid", false)
	saveEnded := time.Now()
	if err != nil || !done.Running {
		t.Fatalf("save while running: %+v, %v", done, err)
	}
	send(d.Network.LedgerURL(), "after", 2) // (and carol's, until she stops)
	close(stop)
	if err := <-carolDone; err != nil {
		t.Fatal(err)
	}
	carol.Close()
	if _, err := SnapshotCommand(ctx, dir, "save", "mid", false); !errors.Is(err, ErrSnapshotExists) {
		t.Fatalf("save again: %v", err)
	}
	if _, err := SnapshotCommand(ctx, dir, "load", "mid"+"x", false); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("load of no snapshot: %v", err)
	}
	if _, err := SnapshotCommand(ctx, dir, "load", "mid", false); !errors.Is(err, ErrMustStop) {
		t.Fatalf("load into a devnet nobody serves: %v", err)
	}

	served := make(chan error, 1)
	go func() {
		last, err := Serve(ctx, d)
		served <- errors.Join(err, last.Close())
	}()
	for deadline := time.Now().Add(time.Minute); ; {
		d.mu.Lock()
		ok := d.served
		d.mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Serve did not start")
		}
		time.Sleep(time.Millisecond)
	}
	m1, _ := ReadManifest(dir)
	done, err = SnapshotCommand(ctx, dir, "load", "mid", false)
	if err != nil || !done.Running {
		t.Fatalf("load while running: %+v, %v", done, err)
	}
	m2, err := ReadManifest(dir)
	if err != nil || m2.Rewound == "" || m2.Control != m1.Control || m2.Dashboard != m1.Dashboard {
		t.Fatalf("after the rewind: %v, control %v then %v, rewound %q", err, m1.Control, m2.Control, m2.Rewound)
	}
	bobTexts := func() []string {
		t.Helper()
		bob := clientT(t, m2.Ledger.URL, client.Config{Keys: ClientKeys(seed, "bob")})
		defer bob.Close()
		msgs, _, err := bob.Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var texts []string
		for _, m := range msgs {
			if !strings.HasPrefix(m.Text, "traffic") {
				texts = append(texts, m.Text)
			}
		}
		slices.Sort(texts)
		return texts
	}
	want := []string{"before 0", "before 1", "before 2", "before 3", "before 4"}
	got := bobTexts()
	for _, s := range during {
		have := slices.Contains(got, s.text)
		switch {
		case s.ack.Before(saveBegan) && !have:
			t.Errorf("%q, acknowledged before the save began, is not in the snapshot", s.text)
		case s.began.After(saveEnded) && have:
			t.Errorf("%q, sent after the save ended, is in the snapshot", s.text)
		}
		if i := slices.Index(got, s.text); i >= 0 {
			got = slices.Delete(got, i, i+1)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after the rewind bob has %q (besides carol's), want %q", got, want)
	}
	t.Logf("carol sent %d messages around the save", len(during))
	send(m2.Ledger.URL, "later", 1)
	if got := bobTexts(); !slices.Contains(got, "later 0") || slices.Contains(got, "after 0") {
		t.Fatalf("the rewound devnet: bob has %q", got)
	}
	cc, err := Dial(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := cc.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
