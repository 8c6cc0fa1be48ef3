package device_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: a
// device's Close stops its client, and a devnet's Close everything.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
