//go:build unix

package devnet

import (
	"errors"
	"syscall"
)

// fileLimit returns how many files this process may open (Go raises the
// soft limit to the hard one at start).
var fileLimit = func() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	return uint64(rl.Cur), nil
}

// signalStop asks process pid to stop (SIGTERM), or, with kill, stops it
// at once (SIGKILL).
func signalStop(pid int, kill bool) error {
	if kill {
		return syscall.Kill(pid, syscall.SIGKILL)
	}
	return syscall.Kill(pid, syscall.SIGTERM)
}

// ProcessAlive reports whether a process with pid exists.
func ProcessAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// detachAttr starts a detached devnet in a session of its own: it outlives
// the terminal that started it.
func detachAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
