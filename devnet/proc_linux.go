package devnet

import (
	"os"
	"strconv"
	"syscall"
)

// childProcAttr puts a node's process in its own process group (the
// terminal's Ctrl-C reaches only the devnet, which stops its nodes in
// order) and has the kernel send it SIGTERM if the devnet dies.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// workerNice is how much lower than the devnet's a worker's CPU priority
// is: on a machine its nodes saturate, the devnet's ledger still makes its
// blocks on time (10,000 nodes over 8 workers on 2 cores made one every
// 2-5 s of a 1 s block time), and a node's proofs and votes land in the
// block they are sent for.
const workerNice = 5

// lowerPriority gives every thread of this process workerNice (Linux's
// nice is a thread's: the threads the Go runtime starts later are cloned
// from these, and inherit it). Best effort: an error leaves it as it was.
func lowerPriority() {
	for range 2 { // (a thread started during the first pass)
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return
		}
		for _, t := range tasks {
			if tid, err := strconv.Atoi(t.Name()); err == nil {
				syscall.Setpriority(syscall.PRIO_PROCESS, tid, workerNice)
			}
		}
	}
}
