// Package buildinfo says which build of sessionctl runs (its --version).
//
// A build stamps its commit with the linker, as the container image's
// build does (Containerfile):
//
//	go build -ldflags "-X github.com/sessionctl/sessionctl/internal/buildinfo.commit=$(git rev-parse HEAD)" .
//
// Without it, the commit Go recorded from the source tree's VCS is used,
// when there is one.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// commit is the commit the linker stamped (-X ...buildinfo.commit=SHA); ""
// when none was.
var commit string

// Version is the module's version as the build recorded it ("devel" from
// a source tree), with the commit when known.
func Version() string {
	bi, _ := debug.ReadBuildInfo() // (nil when the binary has none)
	return version(bi, commit)
}

// version is Version from build info (nil: none) and a stamped commit.
func version(bi *debug.BuildInfo, stamped string) string {
	v, rev := "unknown", strings.TrimSpace(stamped)
	if bi != nil {
		v = bi.Main.Version
		if v == "" || v == "(devel)" {
			v = "devel"
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && rev == "" {
				rev = s.Value
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " (" + rev + ")"
	}
	return v
}
