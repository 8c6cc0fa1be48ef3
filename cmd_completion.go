package main

import (
	"fmt"
	"io"

	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/internal/complete"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/urfave/cli/v2"
)

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: eval \"$(sessionctl completion bash)\"; zsh and fish too",
		ArgsUsage: "bash|zsh|fish",
		Action: func(c *cli.Context) error {
			script, err := complete.Script(c.Args().First())
			if err != nil {
				return errkind.AsInvalid(err)
			}
			_, err = fmt.Fprint(c.App.Writer, script)
			return err
		},
	}
}

// completeWords prints the candidates for the last of words (a completion
// script asked): commands, flags, and the names under --dir.
func completeWords(app *cli.App, words []string, stdout io.Writer) {
	for _, w := range complete.Words(app, words, func(g map[string]string, k complete.Kind) []string {
		return devnet.Dir(g[dirFlag.Name]).Names(string(k))
	}) {
		fmt.Fprintln(stdout, w)
	}
}
