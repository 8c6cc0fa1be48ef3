package cliargs

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/urfave/cli/v2"
)

func TestFlagsFirst(t *testing.T) {
	app := &cli.App{
		Flags: []cli.Flag{&cli.StringFlag{Name: "dir"}, &cli.StringFlag{Name: "log-level"}},
		Commands: []*cli.Command{
			{Name: "id", Subcommands: []*cli.Command{{Name: "show", Flags: []cli.Flag{&cli.BoolFlag{Name: "json"}, &cli.StringFlag{Name: "community-pubkey"}}}}},
			{Name: "send", Flags: []cli.Flag{&cli.StringFlag{Name: "from"}, &cli.StringFlag{Name: "to"}}},
			{Name: "ledger", Subcommands: []*cli.Command{{Name: "mine"}}},
		},
	}
	for _, tc := range []struct{ in, want []string }{
		{[]string{"s"}, []string{"s"}},
		{[]string{"s", "id", "show", "alice", "--json"}, []string{"s", "id", "show", "--json", "--", "alice"}},
		{[]string{"s", "id", "show", "alice", "--community-pubkey", "ab", "--json"}, []string{"s", "id", "show", "--community-pubkey", "ab", "--json", "--", "alice"}},
		{[]string{"s", "send", "hi", "--from", "alice", "--to=bob"}, []string{"s", "send", "--from", "alice", "--to=bob", "--", "hi"}},
		// The app's flags may come after a command: they go to the front.
		{[]string{"s", "send", "hi", "--dir", "x", "--from", "a"}, []string{"s", "--dir", "x", "send", "--from", "a", "--", "hi"}},
		// After "--" everything is positional; a negative number is no flag.
		{[]string{"s", "send", "--", "--from"}, []string{"s", "send", "--", "--from"}},
		{[]string{"s", "ledger", "mine", "-11"}, []string{"s", "ledger", "mine", "--", "-11"}},
		// A misspelt command keeps what follows it, flags too, for the
		// unknown-command error: its flags are not known.
		{[]string{"s", "sned", "--from", "alice", "hi"}, []string{"s", "--", "sned", "--from", "alice", "hi"}},
		{[]string{"s", "--dir", "x", "id", "shwo", "alice", "--json"}, []string{"s", "--dir", "x", "id", "--", "shwo", "alice", "--json"}},
		// An unknown flag is left for cli to refuse.
		{[]string{"s", "send", "hi", "--nope"}, []string{"s", "send", "--nope", "--", "hi"}},
	} {
		if got := FlagsFirst(app, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("FlagsFirst(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestArity(t *testing.T) {
	for usage, want := range map[string]int{" ": 0, "NAME": 1, "ROOM TEXT": 2, "GROUP MEMBER[,MEMBER...]": 2, "ROOM MESSAGE_ID EMOJI": 3,
		"[ROUND]": -1, "[COMPONENT|NODE...]": -1, "HASH|--last": -1, "": -1} {
		n, ok := Arity(usage)
		if !ok {
			n = -1
		}
		if n != want {
			t.Errorf("Arity(%q) = %d, want %d", usage, n, want)
		}
	}
	ran := 0
	cmd := &cli.Command{Name: "rename", ArgsUsage: "GROUP NAME", Action: func(*cli.Context) error { ran++; return nil }}
	CheckArity(cmd)
	app := &cli.App{Name: "s", Commands: []*cli.Command{cmd}}
	if err := app.Run([]string{"s", "rename", "team"}); err == nil || err.Error() != "rename takes two arguments, GROUP and NAME; got 1" || errkind.Of(err) != errkind.Invalid {
		t.Errorf("one argument of two: %v", err)
	}
	if err := app.Run([]string{"s", "rename", "team", "crew"}); err != nil || ran != 1 {
		t.Errorf("two arguments: %v, ran %d", err, ran)
	}
}

func TestStrict(t *testing.T) {
	app := &cli.App{Name: "s", Writer: io.Discard, ErrWriter: io.Discard, ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{{Name: "devnet", Subcommands: []*cli.Command{
			{Name: "up", ArgsUsage: " ", Flags: []cli.Flag{&cli.DurationFlag{Name: "block-time"}}, Action: func(*cli.Context) error { return nil }}}}}}
	Strict(app)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"s", "sendd"}, `unknown command "sendd"`},
		{[]string{"s", "devnet", "upp"}, `unknown command "upp". Did you mean "up"? See 's devnet --help'.`},
		{FlagsFirst(app, []string{"s", "devnet", "upp", "--block-time", "5s"}), `unknown command "upp". Did you mean "up"?`},
		{FlagsFirst(app, []string{"s", "devnt", "--block-time", "5s", "up"}), `unknown command "devnt". Did you mean "devnet"?`},
		{[]string{"s", "devnet", "up", "--block-time", "5"}, "a duration takes a unit, as in 5s"},
		{[]string{"s", "devnet", "up", "x"}, `takes no arguments, got ["x"]`},
	} {
		err := app.Run(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) || errkind.Of(err) != errkind.Invalid {
			t.Errorf("%q: %v, want %q (invalid)", tc.args, err, tc.want)
		}
	}
	if got := HelpLast([]string{"s", "help", "devnet", "up"}); !slices.Equal(got, []string{"s", "devnet", "up", "--help"}) {
		t.Errorf("HelpLast = %q", got)
	}
}
