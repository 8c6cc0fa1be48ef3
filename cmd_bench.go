package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/sessionctl/sessionctl/bench"
	"github.com/sessionctl/sessionctl/devnet"
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
	if err := noArgs(c); err != nil {
		return err
	}
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
	setMemoryLimit()
	stderr := c.App.ErrWriter
	if err := servePprof(stderr); err != nil {
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
		return printJSON(c.App.Writer, r)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "sessionctl bench: %d nodes, %d CPUs\n\n", r.Nodes, r.CPUs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ready\t%.0f ms\t(bare libp2p hosts: %.0f ms, %.2f×)\n", r.ReadyMS, r.BareMS, r.ReadyRatio)
	fmt.Fprintf(tw, "onion round trip\t%.2f ms\t(direct: %.2f ms, %.2f×)\n", r.OnionMS, r.DirectMS, r.OnionRatio)
	fmt.Fprintf(tw, "onion crypto\t%.2f ms\t(a request's layers built and peeled, one core; %d requests a send: at most %.0f sends/s on %d CPUs)\n",
		r.OnionCryptoMS, 3, r.CryptoCeiling, r.CPUs)
	fmt.Fprintf(tw, "per node\t%.2f MB RSS\t%.1f open files\n", r.RSSMBNode, r.FilesNode)
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clients\tsends/s\tsend p50\tsend p99\tfetch p50\tfetch p99\tCPU/send\tfailed\t")
	for _, l := range r.Load {
		fmt.Fprintf(tw, "%d\t%.0f\t%.1f ms\t%.1f ms\t%.1f ms\t%.1f ms\t%.1f ms\t%d\t\n", l.Clients, l.SendsPerSec, l.SendP50MS, l.SendP99MS, l.FetchP50MS, l.FetchP99MS, l.CPUPerSendMS, l.Failed)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GOAL\tWANT\tGOT\tMET")
	for _, g := range r.Goals {
		met := "no"
		if g.Met {
			met = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", g.What, g.Want, g.Got, met)
	}
	return tw.Flush()
}
