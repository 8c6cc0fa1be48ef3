package ledgerrpc

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sessionctl/sessionctl/internal/errkind"
)

func TestMarked(t *testing.T) {
	other := errors.New("disk full")
	for _, tc := range []struct {
		err  error
		want errkind.Kind
	}{
		{nil, errkind.Other},
		{other, errkind.Other},
		{fmt.Errorf("%w at http://x: refused", ErrUnreachable), errkind.NotRunning},
		{&Error{Code: CodeInternal}, errkind.Other},
		{&Error{Code: CodeUnavailable}, errkind.Other},
		{fmt.Errorf("mine: %w", &Error{Code: "rejected", Message: "no"}), errkind.Invalid},
		{errkind.AsNotRunning(&Error{Code: "rejected"}), errkind.NotRunning},
	} {
		got := Marked(tc.err)
		if errkind.Of(got) != tc.want || !errors.Is(got, tc.err) {
			t.Errorf("Marked(%v) = %v, kind %v; want %v", tc.err, got, errkind.Of(got), tc.want)
		}
	}
}
