// Package cliargs reorders a command line for urfave/cli/v2, which stops
// reading flags at the first positional argument, so that flags may come
// anywhere, as in `sessionctl id show alice --json`.
package cliargs

import (
	"slices"
	"strings"

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
