package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/ledger"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
	"github.com/urfave/cli/v2"
)

func quorumCommand() *cli.Command {
	return &cli.Command{
		Name:  "quorum",
		Usage: "the testing quorums: who tested whom, the votes, the state changes",
		Subcommands: []*cli.Command{
			{Name: "ls", Usage: "the remembered testing rounds", ArgsUsage: " ", Flags: []cli.Flag{ledgerURLFlag, jsonFlag}, Action: quorumList},
			{Name: "inspect", Usage: "one round, as 'quorum ls' numbers them: members, targets, votes, commits and reveals, changes (default: the last round that changed a node's state)", ArgsUsage: "[ROUND]",
				Flags: []cli.Flag{ledgerURLFlag, jsonFlag, &cli.Uint64Flag{Name: "height", Usage: "the round that block `HEIGHT` belongs to"},
					&cli.StringFlag{Name: "node", Usage: "the last round that changed the state of node `NAME` (or key)"}}, Action: quorumInspect},
		},
	}
}

func quorumList(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	lc, err := ledgerClient(c)
	if err != nil {
		return err
	}
	rounds, err := lc.Rounds(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		if rounds == nil {
			rounds = []ledger.Round{}
		}
		return printJSON(c.App.Writer, struct {
			Rounds []ledger.Round `json:"rounds"`
		}{rounds})
	}
	names := nodeNames(c)
	span := roundSpan(c, lc)
	tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUND\tHEIGHTS\tQUORUMS\tCOMMITS\tREVEALS\tVOTES\tFAILS\tCHANGES")
	for _, r := range rounds {
		fails := 0
		for _, v := range r.Votes {
			if !v.Pass {
				fails++
			}
		}
		var changes []string
		for _, ch := range r.Changes {
			changes = append(changes, nameOf(names, ch.Target)+" "+string(ch.State))
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", r.Round, heights(r.Start, span), len(r.Quorums), len(r.Commits), len(r.Reveals), len(r.Votes), fails, display.OrDash(strings.Join(changes, ", ")))
	}
	return tw.Flush()
}

// roundSpan is how many blocks a round lasts (0 when the ledger does not say).
func roundSpan(c *cli.Context, lc *ledgerrpc.Client) uint64 {
	info, err := lc.Info(c.Context)
	if err != nil {
		return 0
	}
	return info.Params.RoundBlocks
}

// heights is a round's block range, "20-39".
func heights(start, span uint64) string {
	if span == 0 {
		return fmt.Sprintf("%d-", start)
	}
	return fmt.Sprintf("%d-%d", start, start+span-1)
}

func quorumInspect(c *cli.Context) error {
	if c.NArg() > 1 || c.NArg()+btoi(c.IsSet("height"))+btoi(c.IsSet("node")) > 1 {
		return errkind.Invalidf("quorum inspect takes one of ROUND, --height HEIGHT or --node NAME")
	}
	lc, err := ledgerClient(c)
	if err != nil {
		return err
	}
	var rd ledger.Round
	span := roundSpan(c, lc)
	if c.NArg() == 1 || c.IsSet("height") {
		h := c.Uint64("height")
		if c.NArg() == 1 {
			r, err := strconv.ParseUint(c.Args().First(), 10, 64)
			if err != nil {
				return errkind.Invalidf("round %q: want a round number, as 'sessionctl quorum ls' shows", c.Args().First())
			}
			if span == 0 {
				return fmt.Errorf("the ledger does not say how long a round is")
			}
			h = r * span
		}
		if rd, err = lc.RoundAt(c.Context, h); err != nil {
			if ledgerrpc.IsCode(err, ledgerrpc.CodeNotFound) {
				return errkind.AsInvalid(err)
			}
			return err
		}
	} else {
		rounds, err := lc.Rounds(c.Context)
		if err != nil {
			return err
		}
		// The newest round that changed a node's state (that node's, with
		// --node), else the newest tallied round with votes.
		target := ""
		if name := c.String("node"); name != "" {
			target = name
			for k, n := range nodeNames(c) {
				if n == name {
					target = k
				}
			}
		}
		found := false
		for _, r := range rounds {
			for _, ch := range r.Changes {
				if !found && (target == "" || ch.Target == target) {
					rd, found = r, true
				}
			}
			if found {
				break
			}
		}
		if !found && target != "" {
			return errkind.Invalidf("no remembered round changed the state of %s", c.String("node"))
		}
		for _, r := range rounds {
			if !found && len(r.Votes) > 0 && r.Tallied {
				rd, found = r, true
			}
		}
		if !found {
			return errkind.Invalidf("no testing round has been tallied yet; mine some blocks ('sessionctl ledger mine 20')")
		}
	}
	names := nodeNames(c)
	if c.Bool("json") {
		// The round as the chain keeps it (nodes by key), with the devnet's
		// names of those keys.
		return printJSON(c.App.Writer, struct {
			ledger.Round
			NodeNames map[string]string `json:"node_names,omitempty"`
		}{rd, names})
	}
	w := c.App.Writer
	fmt.Fprintf(w, "round %d (heights %s), seed %s\n", rd.Round, heights(rd.Start, span), display.OrDash(rd.Seed))
	fmt.Fprintf(w, "randomness: %d commits, %d reveals", len(rd.Commits), len(rd.Reveals))
	if len(rd.MissingReveals) > 0 {
		var miss []string
		for _, k := range rd.MissingReveals {
			miss = append(miss, nameOf(names, k))
		}
		fmt.Fprintf(w, "; committed without revealing: %s", strings.Join(miss, " "))
	}
	fmt.Fprintln(w)
	for i, q := range rd.Quorums {
		var members, targets []string
		for _, k := range q.Members {
			members = append(members, nameOf(names, k))
		}
		for _, k := range q.Targets {
			targets = append(targets, nameOf(names, k))
		}
		fmt.Fprintf(w, "quorum %d: members %s (threshold %d)\n  tested: %s\n", i+1, strings.Join(members, " "), q.Threshold, strings.Join(targets, " "))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VOTER\tTARGET\tRESULT\tREASON\tHEIGHT")
	for _, v := range rd.Votes {
		res := "pass"
		if !v.Pass {
			res = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", nameOf(names, v.Voter), nameOf(names, v.Target), res, display.OrDash(v.Reason), v.Height)
	}
	tw.Flush()
	if len(rd.Changes) == 0 {
		fmt.Fprintln(w, "state changes: none")
	}
	for _, ch := range rd.Changes {
		var voters []string
		for _, k := range ch.Votes {
			voters = append(voters, nameOf(names, k))
		}
		fmt.Fprintf(w, "state change at %d: %s -> %s, by the votes of %s\n", ch.Height, nameOf(names, ch.Target), ch.State, strings.Join(voters, " "))
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
