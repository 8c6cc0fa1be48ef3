package devnet

import (
	"regexp"
	"sync"
)

// lazyRegexp is a regular expression compiled on first use, not at every
// command's start: a counted repetition ({1,64}) compiles to as many
// copies, thousands of allocations for the package's init otherwise.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
