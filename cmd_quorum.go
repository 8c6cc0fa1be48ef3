package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

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
			{Name: "inspect", Usage: "one round: members, targets, votes, commits and reveals, changes (default: the last round that changed a node's state)", ArgsUsage: "[HEIGHT]", Flags: []cli.Flag{ledgerURLFlag, jsonFlag}, Action: quorumInspect},
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
		return rpcError(err)
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
		fmt.Fprintf(tw, "%d\t%d-\t%d\t%d\t%d\t%d\t%d\t%s\n", r.Round, r.Start, len(r.Quorums), len(r.Commits), len(r.Reveals), len(r.Votes), fails, orDash(strings.Join(changes, ", ")))
	}
	return tw.Flush()
}

func quorumInspect(c *cli.Context) error {
	if c.NArg() > 1 {
		return usagef("quorum inspect takes at most one argument, a HEIGHT")
	}
	lc, err := ledgerClient(c)
	if err != nil {
		return err
	}
	var rd ledger.Round
	if c.NArg() == 1 {
		h, err := strconv.ParseUint(c.Args().First(), 10, 64)
		if err != nil {
			return usagef("height %q: want a block height", c.Args().First())
		}
		if rd, err = lc.RoundAt(c.Context, h); err != nil {
			if ledgerrpc.IsCode(err, ledgerrpc.CodeNotFound) {
				return usageError(err)
			}
			return rpcError(err)
		}
	} else {
		rounds, err := lc.Rounds(c.Context)
		if err != nil {
			return rpcError(err)
		}
		// The newest round that changed a node's state, else the newest
		// tallied round with votes.
		found := false
		for _, r := range rounds {
			if len(r.Changes) > 0 {
				rd, found = r, true
				break
			}
		}
		for _, r := range rounds {
			if !found && len(r.Votes) > 0 && r.Tallied {
				rd, found = r, true
			}
		}
		if !found {
			return usagef("no testing round has been tallied yet; mine some blocks ('sessionctl ledger mine 20')")
		}
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, rd)
	}
	names := nodeNames(c)
	w := c.App.Writer
	fmt.Fprintf(w, "round %d (heights %d-), seed %s\n", rd.Round, rd.Start, orDash(rd.Seed))
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", nameOf(names, v.Voter), nameOf(names, v.Target), res, orDash(v.Reason), v.Height)
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
