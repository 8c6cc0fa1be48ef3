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
	// Several errors joined: each on its own line.
	joined := errors.Join(errors.New("line 3: unknown verb \"sedn\""), errors.New("line 5: wait\n blocks"))
	msg, code = Explain(errkind.Invalidf("x.scenario: 2 errors:\n%w", joined))
	if want := "x.scenario: 2 errors:\n  line 3: unknown verb \"sedn\"\n  line 5: wait blocks"; code != Usage || msg != want {
		t.Errorf("joined: %q, %d; want %q", msg, code, want)
	}
	if msg, _ = Explain(joined); msg != "line 3: unknown verb \"sedn\"\n  line 5: wait blocks" {
		t.Errorf("joined alone: %q", msg)
	}
	if msg, _ = Explain(fmt.Errorf("%w: %w", errors.New("a"), errors.New("b"))); msg != "a: b" {
		t.Errorf("two wrapped in one message: %q", msg)
	}
}
