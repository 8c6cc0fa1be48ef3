package exitcode

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/community"
	"github.com/sessionctl/sessionctl/group"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
	"github.com/sessionctl/sessionctl/storagerpc"
)

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, OK},
		{errors.New("disk full"), Failure},
		{errkind.Invalidf("--nodes 3"), Usage},
		{errkind.AsNotRunning(errors.New("no devnet")), NoNetwork},
		{fmt.Errorf("open: %w", identity.ErrNotFound), Usage},
		{fmt.Errorf("kick: %w", group.ErrNotAdmin), Usage},
		{fmt.Errorf("send: the message is 80348 bytes encrypted, %w of 76800", storagerpc.ErrTooLarge), Usage},
		{fmt.Errorf("send: %w", client.ErrNoNodes), NoNetwork},
		{fmt.Errorf("%w at http://x", ledgerrpc.ErrUnreachable), NoNetwork},
		{&ledgerrpc.Error{Code: "rejected"}, Usage},
		{&ledgerrpc.Error{Code: ledgerrpc.CodeInternal}, Failure},
		{&community.RefusedError{}, Usage},
		{Force(Failure, fmt.Errorf("line 4: %w", identity.ErrNotFound)), Failure},
	} {
		if got := Of(tc.err); got != tc.want {
			t.Errorf("Of(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestExplain(t *testing.T) {
	msg, code := Explain(&fs.PathError{Op: "mkdir", Path: "/x/y", Err: fs.ErrPermission})
	if code != Usage || !strings.HasPrefix(msg, "cannot create the directory /x/y: permission denied; choose another --dir") {
		t.Errorf("mkdir: %q, %d", msg, code)
	}
	msg, code = Explain(fmt.Errorf("%w at http://x:\n refused", ledgerrpc.ErrUnreachable))
	if code != NoNetwork || msg != "ledger not reachable at http://x: refused; is it running?" {
		t.Errorf("unreachable: %q, %d", msg, code)
	}
}
