package main

import (
	"fmt"

	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/urfave/cli/v2"
)

// bashCompletion asks sessionctl itself for the words that may follow
// (urfave/cli answers --generate-bash-completion with the subcommands and
// flags of the command line so far).
const bashCompletion = `_sessionctl() {
  local cur="${COMP_WORDS[COMP_CWORD]}"
  local words=("${COMP_WORDS[@]:1:COMP_CWORD-1}")
  COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" "${words[@]}" --generate-bash-completion 2>/dev/null)" -- "$cur"))
}
complete -o default -F _sessionctl sessionctl
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: eval \"$(sessionctl completion bash)\"",
		ArgsUsage: "bash",
		Action: func(c *cli.Context) error {
			shell := c.Args().First()
			if shell != "bash" {
				return errkind.Invalidf("completion for %q: only bash is supported (zsh can load it with bashcompinit)", shell)
			}
			_, err := fmt.Fprint(c.App.Writer, bashCompletion)
			return err
		},
	}
}
