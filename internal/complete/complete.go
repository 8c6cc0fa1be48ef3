// Package complete completes a sessionctl command line for bash, zsh and
// fish: the scripts Script prints call the program again with the words
// typed so far, the word under the cursor last ("" for a new word), then
// Flag; Words answers with the candidates, a line each.
//
// urfave/cli v2 answers the same flag with its own hooks, but those read
// os.Args without the word being completed (so `devnet up --<TAB>` got
// nothing) and cannot tell a flag's value from an argument; this package
// walks the app's commands and flags itself, and names what arguments and
// flag values are (nodes, identities, groups, rooms, snapshots) from the
// commands' ArgsUsage and flag names.
package complete

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// Flag ends a command line that asks for completions (urfave/cli's name).
const Flag = "--generate-bash-completion"

// Kind is what a word names; Names lists those of a kind.
type Kind string

// The kinds of names completed (devnet.Dir.Names lists them).
const (
	Node     Kind = "node"
	Identity Kind = "identity"
	Group    Kind = "group"
	Room     Kind = "room"
	Snapshot Kind = "snapshot"
	Log      Kind = "log"
)

// argKinds are what the words of an ArgsUsage name.
var argKinds = map[string]Kind{
	"GROUP": Group, "MEMBER": Identity, "MEMBER[,MEMBER...]": Identity, "ROOM": Room, "ACCOUNT": Identity,
	"ACCOUNT_ID|NAME": Identity, "NAME|ACCOUNT_ID": Identity, "NAME|WALLET": Identity, "ID": Identity,
	"[COMPONENT|NODE...]": Log,
}

// nameKinds are what an ArgsUsage's NAME names, by the command's parent:
// `node kill NAME` a node; `group create NAME` a new name (none).
var nameKinds = map[string]Kind{"node": Node, "id": Identity, "snapshot": Snapshot}

// flagKinds are what a flag's value names, by the flag's name.
var flagKinds = map[string]Kind{"from": Identity, "to": Identity, "as": Identity, "members": Identity, "node": Node}

// flagChoices are the values a flag takes, by the flag's name.
var flagChoices = map[string][]string{
	"log-level":  {"trace", "debug", "info", "warn", "error", "disabled"},
	"log-format": {"console", "json"},
}

// Names lists the names of a kind; globals are the values of the app's
// own flags (--dir) as the command line gives them, else their
// environment variables', else their defaults.
type Names func(globals map[string]string, kind Kind) []string

// Requested reports whether args (the program's name first) ask for
// completions, and returns the words after the program's name, the word to
// complete last.
func Requested(args []string) ([]string, bool) {
	if len(args) < 2 || args[len(args)-1] != Flag {
		return nil, false
	}
	words := args[1 : len(args)-1]
	if len(words) == 0 {
		words = []string{""}
	}
	return words, true
}

// Words returns the candidates for the last of words (the words after the
// program's name): the subcommands, the flags (for a word starting with
// "-"), or the names an argument or a flag's value takes; none leaves it to
// the shell (file names).
func Words(app *cli.App, words []string, names Names) []string {
	if len(words) == 0 {
		words = []string{""}
	}
	cur, before := words[len(words)-1], words[:len(words)-1]
	var path []*cli.Command // the commands reached
	flags, cmds := app.Flags, app.Commands
	var given []string // the flags given
	npos := 0          // the positional arguments given
	globals := map[string]string{}
	for i := 0; i < len(before); i++ {
		w := before[i]
		if w == "--" {
			return nil // arguments only, as the shell pleases
		}
		if isFlag(w) {
			name, val, hasVal := strings.Cut(strings.TrimLeft(w, "-"), "=")
			f := find(flags, name)
			if f == nil {
				f = find(app.Flags, name)
			}
			if f != nil {
				given = append(given, f.Names()[0])
			}
			if takesValue(f) && !hasVal && i+1 < len(before) {
				i++
				val = before[i]
			}
			if f != nil && find(app.Flags, name) == f {
				globals[f.Names()[0]] = val
			}
			continue
		}
		if c := findCommand(cmds, w); c != nil && npos == 0 {
			path = append(path, c)
			flags, cmds = c.Flags, c.Subcommands
			continue
		}
		npos++
	}
	for _, f := range app.Flags {
		name := f.Names()[0]
		if _, ok := globals[name]; !ok {
			globals[name] = defaultOf(f)
		}
	}
	list := func(k Kind) []string {
		if k == "" || names == nil {
			return nil
		}
		return names(globals, k)
	}
	// A flag's value: the word after a flag that takes one, or --flag=value.
	if f, prefix, ok := valueOf(app, flags, before, cur); ok {
		name := f.Names()[0]
		vals := flagChoices[name]
		if vals == nil {
			vals = list(flagKinds[name])
		}
		return names1(vals, prefix, cur[len(prefix):])
	}
	switch {
	case strings.HasPrefix(cur, "-"):
		var cands []string
		for _, f := range append(slices.Clone(flags), app.Flags...) {
			if slices.Contains(given, f.Names()[0]) && !repeatable(f) {
				continue
			}
			for _, n := range f.Names() {
				cands = append(cands, dashes(n)+n)
			}
		}
		return names1(append(cands, "--help"), "", cur)
	case len(cmds) > 0 && npos == 0:
		var cands []string
		for _, c := range cmds {
			if !c.Hidden {
				cands = append(cands, c.Names()...)
			}
		}
		return names1(cands, "", cur)
	case len(path) > 0:
		if choices := literal(path[len(path)-1].ArgsUsage); choices != nil {
			return names1(choices, "", cur)
		}
		return names1(list(argKind(path, npos)), "", cur)
	}
	return nil
}

// names1 returns those of cands that complete val, each after prefix
// ("--flag="): of a list (alice,b) the last name.
func names1(cands []string, prefix, val string) []string {
	head := ""
	if !strings.HasPrefix(val, "-") {
		head = val[:strings.LastIndex(val, ",")+1] // names have no commas
	}
	var out []string
	for _, c := range cands {
		if w := prefix + head + c; strings.HasPrefix(c, val[len(head):]) && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// Write writes Words' candidates to w, a line each.
func Write(w io.Writer, app *cli.App, words []string, names Names) error {
	for _, c := range Words(app, words, names) {
		if _, err := fmt.Fprintln(w, c); err != nil {
			return err
		}
	}
	return nil
}

// valueOf reports whether cur is a flag's value: the flag, and for
// "--flag=value" the part before the value.
func valueOf(app *cli.App, flags []cli.Flag, before []string, cur string) (cli.Flag, string, bool) {
	lookup := func(w string) cli.Flag {
		if !isFlag(w) {
			return nil
		}
		name := strings.TrimLeft(w, "-")
		if f := find(flags, name); f != nil {
			return f
		}
		return find(app.Flags, name)
	}
	if isFlag(cur) {
		if name, _, ok := strings.Cut(cur, "="); ok {
			if f := lookup(name); takesValue(f) {
				return f, name + "=", true
			}
		}
		return nil, "", false
	}
	n := len(before)
	if n >= 2 && before[n-1] == "=" { // bash splits --flag=value at the "="
		if f := lookup(before[n-2]); takesValue(f) {
			return f, "", true
		}
	}
	if n >= 1 && !strings.Contains(before[n-1], "=") {
		if f := lookup(before[n-1]); takesValue(f) {
			return f, "", true
		}
	}
	return nil, "", false
}

// argKind is what the positional argument at index i of the command path
// ends at names.
func argKind(path []*cli.Command, i int) Kind {
	cmd := path[len(path)-1]
	words := strings.Fields(cmd.ArgsUsage)
	if len(words) == 0 {
		return ""
	}
	w := words[len(words)-1]
	if i < len(words) {
		w = words[i]
	} else if !strings.Contains(w, "...") {
		return ""
	}
	if w == "NAME" && len(path) >= 2 {
		return nameKinds[path[len(path)-2].Name]
	}
	return argKinds[w]
}

// literal returns the choices of an ArgsUsage that lists its words
// ("bash|zsh|fish"), else nil.
func literal(usage string) []string {
	if usage == "" || usage != strings.ToLower(usage) || strings.ContainsAny(usage, " []") {
		return nil
	}
	return strings.Split(usage, "|")
}

func isFlag(w string) bool { return len(w) > 1 && w[0] == '-' && (w[1] < '0' || w[1] > '9') }

func dashes(name string) string {
	if len(name) == 1 {
		return "-"
	}
	return "--"
}

func find(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	if f == nil {
		return false
	}
	_, isBool := f.(*cli.BoolFlag)
	return !isBool
}

func repeatable(f cli.Flag) bool {
	_, ok := f.(*cli.StringSliceFlag)
	return ok
}

// defaultOf is a flag's value when the command line does not give it: its
// environment variable's, else its default.
func defaultOf(f cli.Flag) string {
	if ev, ok := f.(interface{ GetEnvVars() []string }); ok {
		for _, e := range ev.GetEnvVars() {
			if v, ok := os.LookupEnv(e); ok {
				return v
			}
		}
	}
	if dv, ok := f.(interface{ GetValue() string }); ok {
		return dv.GetValue()
	}
	return ""
}
