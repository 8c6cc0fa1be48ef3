package main

import (
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/internal/complete"
	"github.com/urfave/cli/v2"
)

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: eval \"$(sessionctl completion bash)\"; zsh and fish too",
		ArgsUsage: "bash|zsh|fish",
		Action:    func(c *cli.Context) error { return complete.WriteScript(c.App.Writer, c.Args().First()) },
	}
}

// dirNames lists the names of a kind under the --dir a command line gives
// (what a shell completes).
func dirNames(g map[string]string, k complete.Kind) []string {
	return devnet.Dir(g[dirFlag.Name]).Names(string(k))
}
