package devnet

import "syscall"

// childProcAttr puts a node's process in its own process group (the
// terminal's Ctrl-C reaches only the devnet, which stops its nodes in
// order) and has the kernel send it SIGTERM if the devnet dies.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
