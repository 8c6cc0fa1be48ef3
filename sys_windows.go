//go:build windows

package main

import (
	"syscall"

	"golang.org/x/sys/windows"
)

// openNoFollow: Windows has no such flag; O_EXCL already refuses a path
// that exists, a link included.
const openNoFollow = 0

// detachAttr starts a detached devnet without a console of its own and
// out of the console's process group, so it outlives the terminal.
func detachAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP | windows.DETACHED_PROCESS}
}
