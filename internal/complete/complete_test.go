package complete

import (
	"slices"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestWords(t *testing.T) {
	app := &cli.App{
		Flags: []cli.Flag{&cli.StringFlag{Name: "dir", Value: ".devnet", EnvVars: []string{"COMPLETE_TEST_DIR"}}, &cli.StringFlag{Name: "log-level"}},
		Commands: []*cli.Command{
			{Name: "node", Subcommands: []*cli.Command{
				{Name: "kill", ArgsUsage: "NAME"},
				{Name: "ls", Flags: []cli.Flag{&cli.BoolFlag{Name: "json"}}},
				{Name: "hidden", Hidden: true},
			}},
			{Name: "send", ArgsUsage: "TEXT", Flags: []cli.Flag{&cli.StringFlag{Name: "from"}, &cli.StringFlag{Name: "to"}, &cli.BoolFlag{Name: "json"}}},
			{Name: "group", Subcommands: []*cli.Command{
				{Name: "add", ArgsUsage: "GROUP MEMBER[,MEMBER...]"},
				{Name: "rename", ArgsUsage: "GROUP NAME"},
			}},
			{Name: "completion", ArgsUsage: "bash|zsh|fish"},
		},
	}
	var dirs []string
	names := func(g map[string]string, k Kind) []string {
		dirs = append(dirs, g["dir"])
		return map[Kind][]string{Node: {"node-1", "node-2"}, Identity: {"alice", "bob"}, Group: {"crew"}}[k]
	}
	for _, tc := range []struct {
		words []string
		want  []string
		dir   string
	}{
		{[]string{""}, []string{"node", "send", "group", "completion"}, ""},
		{[]string{"no"}, []string{"node"}, ""},
		{[]string{"node", ""}, []string{"kill", "ls"}, ""},
		{[]string{"node", "ls", "--"}, []string{"--json", "--dir", "--log-level", "--help"}, ""},
		{[]string{"node", "ls", "--json", "--"}, []string{"--dir", "--log-level", "--help"}, ""},
		{[]string{"node", "kill", ""}, []string{"node-1", "node-2"}, ".devnet"},
		{[]string{"node", "kill", "node-1", ""}, nil, ""},
		{[]string{"--dir", "x", "node", "kill", "node-"}, []string{"node-1", "node-2"}, "x"},
		{[]string{"node", "kill", "--dir=y", "n"}, []string{"node-1", "node-2"}, "y"},
		{[]string{"send", "--from", ""}, []string{"alice", "bob"}, ".devnet"},
		{[]string{"send", "--to=b"}, []string{"--to=bob"}, ".devnet"},
		{[]string{"send", "--to", "=", "a"}, []string{"alice"}, ".devnet"},
		{[]string{"send", "--from", "alice", ""}, nil, ""}, // TEXT: free
		{[]string{"send", "--json", ""}, nil, ""},
		{[]string{"group", "add", ""}, []string{"crew"}, ".devnet"},
		{[]string{"group", "add", "crew", "alice,"}, []string{"alice,alice", "alice,bob"}, ".devnet"},
		{[]string{"group", "rename", "crew", ""}, nil, ""}, // a new name
		{[]string{"completion", "z"}, []string{"zsh"}, ""},
		{[]string{"--log-level", "w"}, []string{"warn"}, ""},
		{[]string{"send", "--", ""}, nil, ""},
	} {
		dirs = nil
		got := Words(app, tc.words, names)
		if !slices.Equal(got, tc.want) {
			t.Errorf("Words(%q) = %q, want %q", tc.words, got, tc.want)
		}
		if tc.dir != "" && (len(dirs) != 1 || dirs[0] != tc.dir) {
			t.Errorf("Words(%q) listed names in %q, want %q", tc.words, dirs, tc.dir)
		}
	}
	t.Setenv("COMPLETE_TEST_DIR", "from-env")
	dirs = nil
	Words(app, []string{"node", "kill", ""}, names)
	if !slices.Equal(dirs, []string{"from-env"}) {
		t.Errorf("with the environment's dir: listed in %q", dirs)
	}
}

func TestRequested(t *testing.T) {
	if w, ok := Requested([]string{"s", "node", "kill", "", Flag}); !ok || !slices.Equal(w, []string{"node", "kill", ""}) {
		t.Errorf("Requested = %q, %v", w, ok)
	}
	if w, ok := Requested([]string{"s", Flag}); !ok || !slices.Equal(w, []string{""}) {
		t.Errorf("Requested(nothing typed) = %q, %v", w, ok)
	}
	if _, ok := Requested([]string{"s", "node", "kill"}); ok {
		t.Error("Requested without the flag")
	}
}

func TestScript(t *testing.T) {
	for _, sh := range Shells {
		if s, err := Script(sh); err != nil || s == "" {
			t.Errorf("Script(%s): %v", sh, err)
		}
	}
	if _, err := Script("tcsh"); err == nil {
		t.Error("Script(tcsh) did not fail")
	}
}
