package ledgerrpc

import (
	"errors"
	"fmt"

	"github.com/sessionctl/sessionctl/internal/errkind"
)

// Marked marks an error of a Client for the command line's exit codes
// (package errkind): a ledger that cannot be reached is NotRunning, a
// request it refused as malformed or against its rules is Invalid. An
// error marked already, and any other, is returned as it is.
func Marked(err error) error {
	if err == nil || errkind.Of(err) != errkind.Other {
		return err
	}
	if errors.Is(err, ErrUnreachable) {
		return errkind.AsNotRunning(fmt.Errorf("%w; is it running?", err))
	}
	var e *Error
	if errors.As(err, &e) && e.Code != CodeInternal && e.Code != CodeUnavailable {
		return errkind.AsInvalid(err)
	}
	return err
}
