// Package buildinfo says which build of sessionctl runs (its --version).
package buildinfo

import "runtime/debug"

// Version is the module's version as the build recorded it ("devel" from
// a source tree), with the commit when known.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v
}
