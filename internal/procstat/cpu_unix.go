//go:build unix

package procstat

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time the process has used, user and system, on all
// cores.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ContextSwitches is how many times the process's threads gave up their
// core: voluntarily (to wait: a futex, a read, a sleep) and not (preempted
// by the kernel).
func ContextSwitches() (voluntary, involuntary int64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	return int64(ru.Nvcsw), int64(ru.Nivcsw)
}
