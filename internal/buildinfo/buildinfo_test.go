package buildinfo

import (
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	// A test binary is built from a source tree: its module has no version.
	if v := Version(); !strings.HasPrefix(v, "devel") && v != "unknown" {
		t.Errorf("Version() = %q", v)
	}
}
