// Package procstat reads what this process holds, from /proc (Linux): its
// resident memory and its open files. Elsewhere both read 0. CPUTime reads the process's
// CPU time on Unix and Windows.
package procstat

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// OpenFiles is the number of file descriptors the process holds.
func OpenFiles() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}

// RSSMB is the process's resident memory (VmRSS), in MiB.
func RSSMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
