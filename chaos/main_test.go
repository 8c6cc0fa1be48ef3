package chaos_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: a run
// closes every client it started, and heals every fault it made.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
