package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	// A test binary is built from a source tree: its module has no version.
	if v := Version(); !strings.HasPrefix(v, "devel") && v != "unknown" {
		t.Errorf("Version() = %q", v)
	}
}

func TestVersionCommit(t *testing.T) {
	vcs := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}}}
	for _, tc := range []struct {
		bi      *debug.BuildInfo
		stamped string
		want    string
	}{
		{nil, "", "unknown"},
		{nil, "fedcba9876543210fedc\n", "unknown (fedcba987654)"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "", "v1.2.3"},
		{vcs, "", "devel (0123456789ab)"},
		{vcs, "fedcba98", "devel (fedcba98)"}, // the stamp wins over what the tree recorded
	} {
		if got := version(tc.bi, tc.stamped); got != tc.want {
			t.Errorf("version(%v, %q) = %q, want %q", tc.bi, tc.stamped, got, tc.want)
		}
	}
}
