// Package cliargs reorders a command line for urfave/cli/v2, which stops
// reading flags at the first positional argument, so that flags may come
// anywhere, as in `sessionctl id show alice --json`.
package cliargs

import (
	"slices"
	"strings"

	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/urfave/cli/v2"
)

// FlagsFirst lets flags follow positional arguments, as in
// `sessionctl id show alice --json`: urfave/cli/v2 stops reading flags at the
// first positional argument, so the leaf command's flags (and their values)
// are moved before its positional arguments. Arguments after "--", and ones
// that look like negative numbers, stay positional.
func FlagsFirst(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	// The app's own flags (--dir, --log-level) may come anywhere: one found
	// after a command goes back to the front, where urfave/cli reads it.
	var globals []string
	global := func(flags []cli.Flag, a string) bool {
		return len(out) > 1 && knownFlag(app.Flags, a) && !knownFlag(flags, a)
	}
	take := func(flags []cli.Flag, i int) int {
		a := args[i]
		dst := &out
		if global(flags, a) {
			dst, flags = &globals, app.Flags
		}
		*dst = append(*dst, a)
		if takesValue(flags, a) && i+1 < len(args) {
			i++
			*dst = append(*dst, args[i])
		}
		return i
	}
	flags, cmds := app.Flags, app.Commands
	i := 1
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return withGlobals(append(out, args[i:]...), globals)
		}
		if isFlag(a) {
			i = take(flags, i)
			continue
		}
		cmd := findCommand(cmds, a)
		if cmd == nil && len(cmds) > 0 {
			// A misspelt command (a command with subcommands takes no
			// arguments): its flags are not known, so the rest is left
			// behind "--" for the unknown-command error and its suggestion.
			return withGlobals(append(append(out, "--"), args[i:]...), globals)
		}
		if cmd == nil {
			break // a positional argument of the command reached so far
		}
		out = append(out, a)
		flags, cmds = cmd.Flags, cmd.Subcommands
	}
	var pos []string
	for ; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
		case isFlag(a):
			i = take(flags, i)
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) > 0 {
		out = append(out, "--")
		out = append(out, pos...)
	}
	return withGlobals(out, globals)
}

// withGlobals puts the app's flags found later right after the program name.
func withGlobals(out, globals []string) []string {
	if len(globals) == 0 {
		return out
	}
	return append(append([]string{out[0]}, globals...), out[1:]...)
}

// knownFlag reports whether a ("--dir", "-dir=x") names one of flags.
func knownFlag(flags []cli.Flag, a string) bool {
	name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}

func isFlag(a string) bool {
	if len(a) < 2 || a[0] != '-' {
		return false
	}
	return a[1] < '0' || a[1] > '9' // -11 is a negative number, not a flag
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// takesValue reports whether the flag a (e.g. "--name", "-n") consumes the
// next argument: it is known, not a bool flag, and not written "--name=v".
func takesValue(flags []cli.Flag, a string) bool {
	name := strings.TrimLeft(a, "-")
	if strings.Contains(name, "=") {
		return false
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false // unknown flags are left for cli to refuse
}

// CheckArity makes cmd's action refuse a number of positional arguments
// other than its ArgsUsage names (Arity), as Count does.
func CheckArity(cmd *cli.Command) {
	n, ok := Arity(cmd.ArgsUsage)
	if !ok || cmd.Action == nil {
		return
	}
	act := cmd.Action
	cmd.Action = func(c *cli.Context) error {
		if err := Count(c, n); err != nil {
			return err
		}
		return act(c)
	}
}

// Arity is how many positional arguments an ArgsUsage names: " " none,
// "NAME" one, "ROOM TEXT" two; ok is false for a varying number
// ("[ROUND]", "[NODE...]", "HASH|--last"): the command checks them.
func Arity(usage string) (n int, ok bool) {
	for _, w := range strings.Fields(usage) {
		if strings.HasPrefix(w, "[") || strings.Contains(w, "--") {
			return 0, false
		}
	}
	return len(strings.Fields(usage)), usage != ""
}

// Count refuses a number of positional arguments other than n, naming
// them as the command's ArgsUsage does.
func Count(c *cli.Context, n int) error {
	words := strings.Fields(c.Command.ArgsUsage)
	switch {
	case c.NArg() == n:
		return nil
	case n == 0:
		return errkind.Invalidf("%s takes no arguments, got %q", c.Command.FullName(), c.Args().Slice())
	case n == 1:
		return errkind.Invalidf("%s takes one argument, %s; got %d", c.Command.FullName(), words[0], c.NArg())
	}
	return errkind.Invalidf("%s takes %s arguments, %s and %s; got %d", c.Command.FullName(), map[int]string{2: "two", 3: "three"}[n], strings.Join(words[:n-1], ", "), words[n-1], c.NArg())
}

// HelpLast makes "help devnet up" "devnet up --help" (urfave/cli's help
// command reads only the first word).
func HelpLast(args []string) []string {
	if len(args) > 2 && (args[1] == "help" || args[1] == "h") {
		return append(append([]string{args[0]}, args[2:]...), "--help")
	}
	return args
}

// Strict makes app's mistakes of usage errkind.Invalid errors (the exit
// code 2), rather than help pages: a flag's error (a duration without its
// unit says the form it wants), an unknown command or subcommand, a count of
// arguments other than a command's ArgsUsage names (CheckArity).
func Strict(app *cli.App) {
	app.OnUsageError = onUsageError
	if app.Action == nil {
		app.Action = func(c *cli.Context) error {
			if c.Args().Present() {
				return errkind.Invalidf("unknown command %q. %s See '%s --help'.", c.Args().First(), cli.SuggestCommand(c.App.Commands, c.Args().First()), app.Name)
			}
			return cli.ShowAppHelp(c)
		}
	}
	for _, cmd := range app.Commands {
		strict(app.Name, cmd)
	}
}

func strict(prog string, cmd *cli.Command) {
	cmd.OnUsageError = onUsageError
	CheckArity(cmd)
	if len(cmd.Subcommands) > 0 && cmd.Action == nil {
		cmd.Action = func(c *cli.Context) error {
			if c.Args().Present() {
				return errkind.Invalidf("unknown command %q. %s See '%s %s --help'.", c.Args().First(), cli.SuggestCommand(cmd.Subcommands, c.Args().First()), prog, cmd.Name)
			}
			return cli.ShowSubcommandHelp(c)
		}
	}
	for _, sub := range cmd.Subcommands {
		strict(prog, sub)
	}
}

func onUsageError(_ *cli.Context, err error, _ bool) error {
	if msg := err.Error(); strings.Contains(msg, "parse error") && durationFlag(msg) {
		return errkind.Invalidf("%v: a duration takes a unit, as in 5s, 500ms or 2m", err)
	}
	return errkind.AsInvalid(err)
}

// durationFlag reports whether a flag error names one of the duration flags.
func durationFlag(msg string) bool {
	for _, f := range []string{"block-time", "file-expiry", "timeout", "duration", "every", "ttl"} {
		if strings.Contains(msg, "-"+f) {
			return true
		}
	}
	return false
}
