//go:build windows

package procstat

import (
	"time"

	"golang.org/x/sys/windows"
)

// CPUTime is the CPU time the process has used, user and system, on all
// cores.
func CPUTime() time.Duration {
	var created, exited, kernel, user windows.Filetime
	if windows.GetProcessTimes(windows.CurrentProcess(), &created, &exited, &kernel, &user) != nil {
		return 0
	}
	// A Filetime counts 100 ns intervals.
	ticks := func(f windows.Filetime) int64 { return int64(f.HighDateTime)<<32 | int64(f.LowDateTime) }
	return time.Duration((ticks(kernel) + ticks(user)) * 100)
}

// ContextSwitches reads 0 on Windows.
func ContextSwitches() (voluntary, involuntary int64) { return 0, 0 }
