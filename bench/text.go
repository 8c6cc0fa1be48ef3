package bench

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/internal/errkind"
)

// WriteText writes the report for a person: the floors beside what was
// measured, each load level, and each goal with whether it was met.
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "sessionctl bench: %d nodes, %d CPUs\n\n", r.Nodes, r.CPUs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ready\t%.0f ms\t(bare libp2p hosts: %.0f ms, %.2f×)\n", r.ReadyMS, r.BareMS, r.ReadyRatio)
	fmt.Fprintf(tw, "onion round trip\t%.2f ms\t(direct: %.2f ms, %.2f×)\n", r.OnionMS, r.DirectMS, r.OnionRatio)
	fmt.Fprintf(tw, "onion crypto\t%.2f ms\t(a request's layers built and peeled, CPU; %d requests a send: at most %.0f sends/s on %d CPUs)\n",
		r.OnionCryptoMS, 3, r.CryptoCeiling, r.CPUs)
	fmt.Fprintf(tw, "floor a send\t%.2f ms CPU\t(onion %.2f + %.1f inserts × %.3f + %.1f round trips: %.2f; insert %.3f ms, round trip %.3f ms in memory, %.3f ms TCP)\n",
		r.FloorCPUMS, r.OnionFloorMS, r.StoresPerSend, r.InsertMS, r.StreamsPerSend, r.StreamFloorMS, r.InsertMS, r.MemRoundTripMS, r.TCPRoundTripMS)
	fmt.Fprintf(tw, "per node\t%.2f MB RSS\t%.1f open files\n", r.RSSMBNode, r.FilesNode)
	for _, p := range r.Processes {
		fmt.Fprintf(tw, "`%s`\t%.1f ms\t(a new process, median of %d; CPU %.1f ms)\n", p.Command, p.WallMS, p.Runs, p.CPUMS)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clients\tsends/s\tsend p50\tsend p99\tfair share\tfetch p50\tfetch p99\tCPU/send\t/floor\tfailed\tfirst sends p99\t")
	for _, l := range r.Load {
		fmt.Fprintf(tw, "%d\t%.0f\t%.1f ms\t%.1f ms\t%.1f ms\t%.1f ms\t%.1f ms\t%.1f ms\t%.2f×\t%d\t%.1f ms\t\n", l.Clients, l.SendsPerSec, l.SendP50MS, l.SendP99MS, l.FairShareMS, l.FetchP50MS, l.FetchP99MS, l.CPUPerSendMS, l.FloorRatio, l.Failed, l.FirstSendP99MS)
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

// ParseLevels reads load levels written N,N,... (clients at once, 1 to
// 1024 each), as --clients gives them.
func ParseLevels(s string) ([]int, error) {
	var levels []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 || v > 1024 {
			return nil, errkind.Invalidf("--clients %q: want numbers from 1 to 1024, comma-separated", s)
		}
		levels = append(levels, v)
	}
	return levels, nil
}

// Check checks cfg as Run would, before anything starts: errkind.Invalid
// errors naming the flags.
func (cfg Config) Check() error {
	if n := cfg.Nodes; n < devnet.MinNodes || n > devnet.MaxNodes {
		return errkind.Invalidf("--nodes %d: want %d to %d", n, devnet.MinNodes, devnet.MaxNodes)
	}
	if d := cfg.Duration; d < 100*time.Millisecond || d > 10*time.Minute {
		return errkind.Invalidf("--duration %v: want 100ms to 10m", d)
	}
	return nil
}
