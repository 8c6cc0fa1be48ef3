package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sessionctl/sessionctl/bench"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/urfave/cli/v2"
)

// `sessionctl bench`: a throwaway devnet measured beside floors of the
// same run (package bench); the README's figures come from it.

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:      "bench",
		Usage:     "start a throwaway devnet, measure it beside bare libp2p hosts and direct requests, and report",
		ArgsUsage: " ",
		Description: "Reports time to ready beside as many bare libp2p hosts, an onion round trip beside a direct request,\n" +
			"sends a second and fetch latency (p50, p99) at each load level, and the memory and open files per node,\n" +
			"each against the goal it is held to. It takes about a minute with the defaults; nothing is kept.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "nodes", Value: 12, Usage: fmt.Sprintf("`N` nodes in the devnet (%d to %d)", devnet.MinNodes, devnet.MaxNodes)},
			&cli.DurationFlag{Name: "duration", Value: bench.DefaultDuration, Usage: "`DURATION` of each load level"},
			&cli.StringFlag{Name: "clients", Value: "1,8,64", Usage: "load levels: `N,N,...` clients at once"},
			jsonFlag,
		},
		Action: benchRun,
	}
}

func benchRun(c *cli.Context) error {
	n := c.Int("nodes")
	if n < devnet.MinNodes || n > devnet.MaxNodes {
		return errkind.Invalidf("--nodes %d: want %d to %d", n, devnet.MinNodes, devnet.MaxNodes)
	}
	if d := c.Duration("duration"); d < 100*time.Millisecond || d > 10*time.Minute {
		return errkind.Invalidf("--duration %v: want 100ms to 10m", d)
	}
	var levels []int
	for _, f := range strings.Split(c.String("clients"), ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 || v > 1024 {
			return errkind.Invalidf("--clients %q: want numbers from 1 to 1024, comma-separated", c.String("clients"))
		}
		levels = append(levels, v)
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	stderr := c.App.ErrWriter
	if err := forLoad(stderr); err != nil {
		return err
	}
	r, err := bench.Run(ctx, bench.Config{Nodes: n, Duration: c.Duration("duration"), Clients: levels,
		Progress: func(step string) { fmt.Fprintf(stderr, "bench: %s\n", step) }})
	if err != nil {
		if ctx.Err() != nil && c.Context.Err() == nil {
			return fmt.Errorf("bench: stopped")
		}
		return err
	}
	if c.Bool("json") {
		return display.JSON(c.App.Writer, r)
	}
	return r.WriteText(c.App.Writer)
}
