package main

import (
	"errors"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/logs"
	"github.com/urfave/cli/v2"
)

// `sessionctl logs`: the devnet's per-component log files (<dir>/logs) as
// one stream, ordered by time, nodes by name (package logs).

func logsCommand() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "show the devnet's logs as one stream, in time order",
		ArgsUsage: "[COMPONENT|NODE...]",
		Description: "COMPONENT is a log of <dir>/logs: ledger, devnet, nodes (every node), fileserver, community, traffic,\n" +
			"edge (every request at a node's HTTPS edge, the seed or the proxy: what a client called);\n" +
			"NODE is a node's name (node-3). With none, every log.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing lines as they are written (Ctrl-C stops)"},
			&cli.StringFlag{Name: "since", Usage: "only lines from `T` on: a duration back from now (10m) or a time (2026-11-30T04:00:00Z, 04:00)"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object a line"},
		},
		Action: logsAction,
	}
}

func logsAction(c *cli.Context) error {
	q := logs.Query{Asked: c.Args().Slice(), JSON: c.Bool("json"), Follow: c.Bool("follow")}
	if s := c.String("since"); s != "" {
		var err error
		if q.Since, err = logs.ParseSince(s, time.Now()); err != nil {
			return errkind.Invalidf("--since %q: %v", s, err)
		}
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir := dirOf(c).LogsDir()
	err := logs.Show(ctx, c.App.Writer, dir, q)
	switch {
	case errors.Is(err, logs.ErrNoLogs):
		return errkind.AsNotRunning(errors.New("no logs under " + dir + " (start a devnet with 'sessionctl devnet up')"))
	case errors.Is(err, logs.ErrUnknownLog):
		return errkind.AsInvalid(err)
	}
	return err
}
