package errkind

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestKinds(t *testing.T) {
	base := fs.ErrNotExist
	for _, tc := range []struct {
		name string
		err  error
		want Kind
		text string
	}{
		{"plain", base, Other, base.Error()},
		{"invalid", AsInvalid(base), Invalid, base.Error()},
		{"invalidf", Invalidf("--nodes %d: want 4 to 2000", 3), Invalid, "--nodes 3: want 4 to 2000"},
		{"not running", AsNotRunning(base), NotRunning, base.Error()},
		{"wrapped", fmt.Errorf("open: %w", AsNotRunning(base)), NotRunning, "open: " + base.Error()},
		{"outermost wins", AsInvalid(AsNotRunning(base)), Invalid, base.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Of(tc.err); got != tc.want {
				t.Errorf("Of = %v, want %v", got, tc.want)
			}
			if tc.err.Error() != tc.text {
				t.Errorf("text %q, want %q", tc.err.Error(), tc.text)
			}
			if tc.want != Other && tc.name != "invalidf" && !errors.Is(tc.err, base) {
				t.Error("the mark hides the chain")
			}
		})
	}
	if Mark(Invalid, nil) != nil || AsNotRunning(nil) != nil {
		t.Error("a nil error was marked")
	}
}
