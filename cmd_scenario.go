package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/sessionctl/sessionctl/internal/exitcode"
	"github.com/sessionctl/sessionctl/scenario"
	"github.com/urfave/cli/v2"
)

func scenarioCommand() *cli.Command {
	return &cli.Command{
		Name:  "scenario",
		Usage: "run scripted stories against the devnet: demos, workshops, end-to-end checks",
		Subcommands: []*cli.Command{
			{
				Name:      "run",
				Usage:     "run a scenario file against the devnet running under --dir",
				ArgsUsage: "FILE",
				Flags:     []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					steps, err := loadScenario(c.Args().First())
					if err != nil {
						return err
					}
					if _, err := dialDevnet(c); err != nil {
						return err
					}
					return runScenario(c, steps)
				},
			},
		},
	}
}

// loadScenario reads and checks a scenario: its lines start with the
// commands of the command line, but scenario and devnet (a scenario acts
// on the devnet; it does not start or stop it).
func loadScenario(file string) ([]scenario.Step, error) {
	verbs := map[string]bool{}
	for _, cmd := range newApp(nil, nil).Commands {
		verbs[cmd.Name] = cmd.Name != "scenario" && cmd.Name != "help" && cmd.Name != "devnet"
	}
	return scenario.Load(file, verbs)
}

// runScenario runs steps, each command in-process against --dir.
func runScenario(c *cli.Context, steps []scenario.Step) error {
	dir := c.String(dirFlag.Name)
	r := &scenario.Runner{Out: c.App.Writer, JSON: c.Bool("json"), FilesDir: dir,
		Exec: func(ctx context.Context, args []string) scenario.Result {
			var out, errb bytes.Buffer
			code := run(append([]string{"sessionctl", "--dir", dir}, args...), &out, &errb)
			return scenario.Result{Stdout: out.String(), Stderr: errb.String(), Code: code}
		}}
	err := r.Run(c.Context, steps)
	var f *scenario.Failure
	if errors.As(err, &f) {
		return exitcode.Force(exitcode.Failure, err)
	}
	if err == nil && !c.Bool("json") {
		fmt.Fprintf(c.App.Writer, "\nscenario passed: %d steps\n", len(steps))
	}
	return err
}
