//go:build unix && !linux

package devnet

import "testing"

// checkWorkerNice: elsewhere than Linux a worker keeps its priority.
func checkWorkerNice(*testing.T, map[int]bool) {}
