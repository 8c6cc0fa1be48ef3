package devnet

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// checkWorkerNice: each worker runs at workerNice, every thread of it, and
// this process (the devnet) at its own.
func checkWorkerNice(t *testing.T, pids map[int]bool) {
	t.Helper()
	for pid := range pids {
		tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			if n := niceOf(t, "/proc/"+strconv.Itoa(pid)+"/task/"+task.Name()+"/stat"); n != workerNice {
				t.Errorf("worker pid %d thread %s has nice %d, want %d", pid, task.Name(), n, workerNice)
			}
		}
	}
	if n := niceOf(t, "/proc/self/stat"); n == workerNice {
		t.Errorf("the devnet's own process has the workers' nice %d", n)
	}
}

// niceOf reads the nice field (19th) of a /proc stat file.
func niceOf(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // (the name may hold spaces)
	n, err := strconv.Atoi(f[16])
	if err != nil {
		t.Fatal(err)
	}
	return n
}
