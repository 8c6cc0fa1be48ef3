package flock

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Two opens of one file stand for two processes: flock(2) and LockFileEx
// both lock per open file.
func TestTryLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	open := func() *os.File {
		t.Helper()
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	a, b := open(), open()
	if err := TryLock(a, true); err != nil {
		t.Fatalf("first exclusive lock: %v", err)
	}
	if err := TryLock(b, true); !errors.Is(err, ErrLocked) {
		t.Fatalf("second exclusive lock: got %v, want ErrLocked", err)
	}
	if err := TryLock(b, false); !errors.Is(err, ErrLocked) {
		t.Fatalf("shared lock beside an exclusive one: got %v, want ErrLocked", err)
	}
	if err := Unlock(a); err != nil {
		t.Fatal(err)
	}
	if err := TryLock(b, false); err != nil {
		t.Fatalf("shared lock once released: %v", err)
	}
	if err := TryLock(a, false); err != nil {
		t.Fatalf("two shared locks: %v", err)
	}
	if err := TryLock(open(), true); !errors.Is(err, ErrLocked) {
		t.Fatalf("exclusive lock beside shared ones: got %v, want ErrLocked", err)
	}
	b.Close() // closing releases too
	Unlock(a)
	if err := TryLock(open(), true); err != nil {
		t.Fatalf("exclusive lock once all are released: %v", err)
	}
}
