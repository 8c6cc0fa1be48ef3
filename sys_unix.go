//go:build unix

package main

import "syscall"

// openNoFollow refuses a symbolic link at the path opened.
const openNoFollow = syscall.O_NOFOLLOW

// detachAttr starts a detached devnet in a session of its own: it outlives
// the terminal that started it.
func detachAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
