//go:build windows

package devnet

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/windows"
)

// fileLimit is unknown on Windows, whose handles have no per-process
// limit of the Unix kind: the nodes try.
var fileLimit = func() (uint64, error) { return 0, errors.ErrUnsupported }

// signalStop stops process pid. Windows has no SIGTERM to send another
// process: a devnet is asked to stop over its control endpoint first, and
// this ends it at once either way.
func signalStop(pid int, _ bool) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// ProcessAlive reports whether a process with pid exists and has not exited.
func ProcessAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return errors.Is(err, windows.ERROR_ACCESS_DENIED)
	}
	defer windows.CloseHandle(h)
	var code uint32
	if windows.GetExitCodeProcess(h, &code) != nil {
		return false
	}
	const stillActive = 259
	return code == stillActive
}

// childProcAttr starts a node's process in a process group of its own, so
// the console's Ctrl-C reaches only the devnet, which stops its nodes.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP}
}

// detachAttr starts a detached devnet without a console of its own and
// out of the console's process group, so it outlives the terminal.
func detachAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP | windows.DETACHED_PROCESS}
}

// lowerPriority leaves the priority as it is.
func lowerPriority() {}
