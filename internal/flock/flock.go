// Package flock takes advisory locks on open files: flock(2) on Unix,
// LockFileEx on Windows. A lock goes with its process, so one that is
// killed never leaves it held. The devnet's directory lock and a client's
// state lock share it.
package flock

import (
	"errors"
	"os"
)

// ErrLocked means another process (or another open file) holds a lock
// that conflicts with the one asked for.
var ErrLocked = errors.New("locked by another process")

// TryLock takes a lock on f without waiting: exclusive, or shared when
// exclusive is false. It returns ErrLocked when a conflicting lock is held.
func TryLock(f *os.File, exclusive bool) error { return tryLock(f, exclusive) }

// Unlock releases the lock taken on f. Closing f releases it too.
func Unlock(f *os.File) error { return unlock(f) }
