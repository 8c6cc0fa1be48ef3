package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/sessionctl/sessionctl/bench"
	"github.com/sessionctl/sessionctl/devnet"
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
	levels, err := bench.ParseLevels(c.String("clients"))
	if err != nil {
		return err
	}
	exe, _ := exec.LookPath(os.Args[0]) // this binary as invoked, for `id ls` and `send` as new processes
	cfg := bench.Config{Nodes: c.Int("nodes"), Duration: c.Duration("duration"), Clients: levels, Exe: exe}
	if err := cfg.Check(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	stderr := c.App.ErrWriter
	if err := forLoad(stderr, devnet.MinMemoryLimit); err != nil {
		return err
	}
	line := progressLine(c)
	defer line.Clear()
	cfg.Progress = func(step string) { line.Show("bench: " + step) }
	r, err := bench.Run(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil && c.Context.Err() == nil {
			return fmt.Errorf("bench: stopped")
		}
		return err
	}
	return output(c).Show(r, r.WriteText)
}
