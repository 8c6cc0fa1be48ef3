// Package exitcode says which code sessionctl exits with for a command's
// error (README, "Exit codes"): the code an error was forced to, else its
// errkind mark's, else the kind of the packages' sentinels it wraps.
package exitcode

import (
	"errors"
	"io/fs"
	"strings"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/community"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/group"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/ledger"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// The exit codes.
const (
	OK        = 0 // success
	Failure   = 1 // runtime failure
	Usage     = 2 // bad usage or bad input: nothing was changed
	NoNetwork = 3 // no devnet (or ledger) running where the command looked
)

// Help documents the codes in `sessionctl --help`.
const Help = `EXIT CODES:
   0  success
   1  runtime failure
   2  bad usage or bad input (nothing was changed)
   3  no devnet or ledger running where the command looked`

// forced is an error with the code it exits with, whatever it wraps.
type forced struct {
	code int
	err  error
}

func (e *forced) Error() string { return e.err.Error() }
func (e *forced) Unwrap() error { return e.err }

// Force makes err exit with code, whatever it wraps (a scenario that
// failed is 1, whatever its step's error was).
func Force(code int, err error) error { return &forced{code, err} }

// notRunning are a network not there, or not answering: NoNetwork.
var notRunning = []error{ledgerrpc.ErrUnreachable, client.ErrUnreachable, client.ErrNoNodes, devnet.ErrNotRunning}

// invalid are the caller's mistakes: Usage.
var invalid = []error{
	identity.ErrNameInvalid, identity.ErrNameExists, identity.ErrAccountExists, identity.ErrNotFound, identity.ErrAccountIDFormat, identity.ErrAccountIDPrefix,
	ledger.ErrNameRules, ledgerrpc.ErrNameTaken, ledgerrpc.ErrNoName,
	client.ErrUnknownMessage, client.ErrNotSent, client.ErrAttachment, client.ErrAttachmentSize,
	group.ErrNotAdmin, group.ErrTooMany, group.ErrNotMember, group.ErrUnknown, group.ErrAlready, group.ErrKicked, group.ErrNameTaken,
	group.ErrInvited, group.ErrNoInvite, group.ErrOldKind, group.ErrLastAdmin, group.ErrDestroyed, group.ErrTooManyGroups,
	devnet.ErrConflict, devnet.ErrFormat, devnet.ErrRunning, devnet.ErrUnknownNode, devnet.ErrNodeStopped, devnet.ErrNodeRunning,
	devnet.ErrSnapshotName, devnet.ErrNoSnapshot, devnet.ErrSnapshotExists, devnet.ErrMustStop,
	storagerpc.ErrTooLarge,
}

// Of is the code a command that failed with err exits with (OK for nil).
func Of(err error) int {
	if err == nil {
		return OK
	}
	var f *forced
	if errors.As(err, &f) {
		return f.code
	}
	switch errkind.Of(err) {
	case errkind.Invalid:
		return Usage
	case errkind.NotRunning:
		return NoNetwork
	}
	for _, e := range notRunning {
		if errors.Is(err, e) {
			return NoNetwork
		}
	}
	for _, e := range invalid {
		if errors.Is(err, e) {
			return Usage
		}
	}
	var le *ledgerrpc.Error // a request the ledger refused (not its own failure)
	var refused *community.RefusedError
	if errors.As(err, &le) && le.Code != ledgerrpc.CodeInternal && le.Code != ledgerrpc.CodeUnavailable || errors.As(err, &refused) {
		return Usage
	}
	return Failure
}

// Explain is what the command line says of err, on one line, and the code
// it exits with: a directory that cannot be made is the user's to fix,
// said plainly; a ledger that cannot be reached asks whether it runs.
func Explain(err error) (msg string, code int) {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Op == "mkdir" {
		err = errkind.Invalidf("cannot create the directory %s: %v; choose another --dir (or SESSIONCTL_DIR)", pe.Path, pe.Err)
	}
	msg = oneLine(err.Error())
	if errors.Is(err, ledgerrpc.ErrUnreachable) {
		msg += "; is it running?"
	}
	// Several errors joined (errors.Join) at the end of the message: each
	// on a line of its own, indented, after what the message says first.
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) && len(joined.Unwrap()) > 1 {
		var texts, lines []string
		for _, e := range joined.Unwrap() {
			texts, lines = append(texts, e.Error()), append(lines, "  "+oneLine(e.Error()))
		}
		je, _ := joined.(error)
		if head, ok := strings.CutSuffix(err.Error(), strings.Join(texts, "\n")); ok && je != nil && je.Error() == strings.Join(texts, "\n") {
			if head = oneLine(head); head == "" { // nothing but the errors: the first leads
				head, lines = strings.TrimSpace(lines[0]), lines[1:]
			}
			msg = strings.Join(append([]string{head}, lines...), "\n")
		}
	}
	return msg, Of(err)
}

// oneLine is s with its runs of white space, line breaks too, one space.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
