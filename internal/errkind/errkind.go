// Package errkind marks an error with whose it is, so that the command line
// maps any package's error to an exit code (README, "Exit codes") without
// knowing every sentinel, as moby's errdefs does for HTTP statuses:
//
//	return errkind.Invalidf("--nodes %d: want 4 to 2000", n) // the caller's mistake: nothing was changed
//	return errkind.NotRunning(err)                          // nothing runs where the caller looked
//
// A mark keeps the error's text and its chain (errors.Is and errors.As see
// through it); Of finds the outermost mark.
package errkind

import (
	"errors"
	"fmt"
)

// Kind is whose an error is.
type Kind int

// The kinds of errors.
const (
	// Other is a failure at run time: no mark.
	Other Kind = iota
	// Invalid is the caller's mistake (a bad flag, argument or file):
	// nothing was changed.
	Invalid
	// NotRunning is a devnet, ledger or network that is not running (or
	// not answering) where the caller looked.
	NotRunning
)

// marked is an error with its kind.
type marked struct {
	kind Kind
	err  error
}

func (e *marked) Error() string { return e.err.Error() }
func (e *marked) Unwrap() error { return e.err }

// Mark returns err marked as k; nil stays nil.
func Mark(k Kind, err error) error {
	if err == nil {
		return nil
	}
	return &marked{kind: k, err: err}
}

// Invalidf is an Invalid error made as fmt.Errorf makes one.
func Invalidf(format string, args ...any) error {
	return &marked{kind: Invalid, err: fmt.Errorf(format, args...)}
}

// AsInvalid marks err as the caller's mistake.
func AsInvalid(err error) error { return Mark(Invalid, err) }

// AsNotRunning marks err as "nothing runs there".
func AsNotRunning(err error) error { return Mark(NotRunning, err) }

// Of returns the kind of the outermost mark in err's chain, Other if none.
func Of(err error) Kind {
	var m *marked
	if errors.As(err, &m) {
		return m.kind
	}
	return Other
}
