package ledger

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A ledger whose database fails stops making blocks and says so on Err,
// once; Close then closes Err.
func TestErrReportsAFailedBlock(t *testing.T) {
	l, err := New(Config{Path: filepath.Join(t.TempDir(), "ledger.db"), Seed: "err", BlockTime: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.WaitHeight(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-l.Err():
		t.Fatalf("a failure while it works: %v", err)
	default:
	}
	// Kill its database under it, as a failed disk would.
	l.mu.Lock()
	l.st.db.Close()
	l.mu.Unlock()
	select {
	case err := <-l.Err():
		if err == nil || !strings.Contains(err.Error(), "ledger: make block") {
			t.Fatalf("Err delivered %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no failure reported")
	}
	l.Close()
	if _, open := <-l.Err(); open {
		t.Fatal("Err is open after Close")
	}
}

// Close closes Err also when the ledger never started.
func TestErrClosedByCloseBeforeStart(t *testing.T) {
	l, err := New(Config{Path: filepath.Join(t.TempDir(), "ledger.db"), Seed: "err"})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, open := <-l.Err(); open {
		t.Fatal("Err is open after Close")
	}
}
