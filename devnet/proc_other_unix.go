//go:build unix && !linux

package devnet

import "syscall"

// childProcAttr puts a node's process in its own process group; without
// Linux's parent-death signal, a node outlives a devnet that is killed.
func childProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// lowerPriority leaves the priority as it is: threads' nice is Linux's.
func lowerPriority() {}
