// Command sessionctl runs the infrastructure of the Session messenger on one
// machine: a staking ledger, service nodes in swarms, onion routing, servers,
// closed groups and scripted clients.
//
// This file only wires the command line (urfave/cli/v2) to the packages; each
// cmd_*.go file holds one noun's commands.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/internal/buildinfo"
	"github.com/sessionctl/sessionctl/internal/chaoscmd"
	"github.com/sessionctl/sessionctl/internal/cliargs"
	"github.com/sessionctl/sessionctl/internal/complete"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/internal/exitcode"
	"github.com/sessionctl/sessionctl/logs"
	"github.com/urfave/cli/v2"
)

func main() { os.Exit(runMain()) }

// timeFormat sets zerolog's process-wide time format (ms: log files' lines
// order) once, before any goroutine logs (a scenario runs commands in-process).
var timeFormat sync.Once

// runMain is the process's entry: a devnet's node process (the devnet ran
// this binary again, with devnet.NodeProcessEnv set), or the command line.
func runMain() int {
	if os.Getenv(devnet.NodeProcessEnv) != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if devnet.NodeProcess(ctx, os.Stdin, os.Stdout, os.Stderr) != nil {
			return exitcode.Failure // (its error is its last log line)
		}
		return exitcode.OK
	}
	return run(os.Args, os.Stdout, os.Stderr)
}

// run runs the command line args and returns the exit code. Tests call it
// in-process with their own writers.
func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	if words, ok := complete.Requested(args); ok {
		complete.Write(stdout, app, words, dirNames)
		return exitcode.OK
	}
	err := app.Run(cliargs.FlagsFirst(app, cliargs.HelpLast(args)))
	if err == nil {
		return exitcode.OK
	}
	msg, code := exitcode.Explain(err)
	fmt.Fprintf(stderr, "sessionctl: %s\n", msg)
	return code
}

// Flag categories of the help output.
const (
	catGlobal = "global"
	catOutput = "output"
)

var (
	dirFlag = &cli.StringFlag{
		Name:     "dir",
		Usage:    "the `DIR` holding a devnet's state, keys, manifest and logs",
		Value:    ".devnet",
		EnvVars:  []string{"SESSIONCTL_DIR"},
		Category: catGlobal,
	}
	logLevelFlag = &cli.StringFlag{
		Name:     "log-level",
		Usage:    "`LEVEL` of the logs written to stderr: trace, debug, info, warn, error, disabled",
		Value:    "warn",
		EnvVars:  []string{"SESSIONCTL_LOG_LEVEL"},
		Category: catGlobal,
	}
	jsonFlag = &cli.BoolFlag{
		Name:     "json",
		Usage:    "print machine-readable JSON on stdout",
		Category: catOutput,
	}
)

// newApp builds the command line application writing to stdout and stderr.
func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "sessionctl",
		Usage: "run the Session messenger's infrastructure on one machine",
		Description: "A staking ledger, service nodes in swarms, onion routing, servers, closed groups\n" +
			"and scripted clients, in one binary. State lives under --dir.",
		CustomAppHelpTemplate: cli.AppHelpTemplate + "\n" + exitcode.Help + "\n",
		Flags:                 []cli.Flag{dirFlag, logLevelFlag},
		Writer:                stdout,
		ErrWriter:             stderr,
		Version:               buildinfo.Version(),
		Suggest:               true,
		ExitErrHandler:        func(*cli.Context, error) {}, // run maps errors to exit codes
		Before: func(c *cli.Context) error {
			lvl, err := zerolog.ParseLevel(c.String(logLevelFlag.Name))
			if err != nil || c.String(logLevelFlag.Name) == "" {
				return errkind.Invalidf("--log-level %q: want trace, debug, info, warn, error or disabled", c.String(logLevelFlag.Name))
			}
			timeFormat.Do(func() { zerolog.TimeFieldFormat = logs.TimeFormat })
			c.App.Metadata["logger"] = zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: true}).
				Level(lvl).With().Timestamp().Logger()
			return nil
		},
		Commands: []*cli.Command{
			idCommand(),
			devnetCommand(),
			sendCommand(),
			fetchCommand(),
			unsendCommand(),
			reactCommand(),
			typingCommand(),
			deleteAllCommand(),
			profileCommand(),
			contactsCommand(),
			requestCommand(),
			nodeCommand(),
			swarmCommand(),
			quorumCommand(),
			groupCommand(),
			fileCommand(),
			communityCommand(),
			scenarioCommand(),
			ledgerCommand(),
			nameCommand(),
			logsCommand(),
			benchCommand(),
			chaoscmd.Command(dialDevnet, jsonFlag),
			completionCommand(),
		},
		Metadata: map[string]any{},
	}
	cliargs.Strict(app)
	return app
}

// logger returns the logger the app built from --log-level.
func logger(c *cli.Context) zerolog.Logger {
	if l, ok := c.App.Metadata["logger"].(zerolog.Logger); ok {
		return l
	}
	return zerolog.Nop()
}
