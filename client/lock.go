package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/sessionctl/sessionctl/internal/flock"
)

// lockFile takes an exclusive lock on path (created 0600 if missing),
// waiting until ctx ends; it returns the function that releases it. The
// lock goes with the process, so a killed fetch never leaves it held.
func lockFile(ctx context.Context, path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := flock.TryLock(f, true)
		if err == nil {
			return func() { flock.Unlock(f); f.Close() }, nil
		}
		if !errors.Is(err, flock.ErrLocked) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
