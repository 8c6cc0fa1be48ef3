package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/internal/errkind"
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
				Flags:     append([]cli.Flag{jsonFlag}, pacingFlags...),
				Action: func(c *cli.Context) error {
					steps, err := loadScenario(c, c.Args().First())
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

// pacingFlags pace a scenario for a room (scenario run, devnet up --scenario).
var pacingFlags = []cli.Flag{&cli.DurationFlag{Name: "pace", Usage: "pause `DURATION` after each step (2s), for a room to follow"},
	&cli.BoolFlag{Name: "step", Usage: "wait for Enter on the terminal before each 'say' line but the first"}}

// loadScenario reads and checks a scenario (lines start with commands but scenario and devnet) and its pace; SESSIONCTL_STEP_ANY_INPUT=1 lets --step read a test's stdin.
func loadScenario(c *cli.Context, file string) ([]scenario.Step, error) {
	if err := scenario.CheckPacing(c.Duration("pace"), c.Bool("step"), display.IsTerminal(os.Stdin), os.Getenv("SESSIONCTL_STEP_ANY_INPUT") != ""); err != nil {
		return nil, errkind.AsInvalid(err)
	}
	verbs := map[string]bool{}
	for _, cmd := range newApp(nil, nil).Commands {
		verbs[cmd.Name] = cmd.Name != "scenario" && cmd.Name != "help" && cmd.Name != "devnet"
	}
	return scenario.Load(file, verbs)
}

// runScenario runs steps, each command in-process against --dir.
func runScenario(c *cli.Context, steps []scenario.Step) error {
	dir := c.String(dirFlag.Name)
	r := &scenario.Runner{Out: c.App.Writer, JSON: c.Bool("json"), FilesDir: dir, Pace: c.Duration("pace"), Step: c.Bool("step"), Next: os.Stdin, Prompt: c.App.ErrWriter,
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
