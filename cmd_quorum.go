package main

import (
	"errors"
	"io"
	"strconv"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
	"github.com/urfave/cli/v2"
)

func quorumCommand() *cli.Command {
	return &cli.Command{
		Name:  "quorum",
		Usage: "the testing quorums: who tested whom, the votes, the state changes",
		Subcommands: []*cli.Command{
			{Name: "ls", Usage: "the remembered testing rounds", ArgsUsage: " ", Flags: []cli.Flag{ledgerURLFlag, jsonFlag}, Action: withLedger(quorumList)},
			{Name: "inspect", Usage: "one round, as 'quorum ls' numbers them: members, targets, votes, commits and reveals, changes (default: the last round that changed a node's state)", ArgsUsage: "[ROUND]",
				Flags: []cli.Flag{ledgerURLFlag, jsonFlag, &cli.Uint64Flag{Name: "height", Usage: "the round that block `HEIGHT` belongs to"},
					&cli.StringFlag{Name: "node", Usage: "the last round that changed the state of node `NAME` (or key)"}}, Action: withLedger(quorumInspect)},
		},
	}
}

func quorumList(c *cli.Context, lc *ledgerrpc.Client) error {
	rounds, err := lc.Rounds(c.Context)
	if err != nil {
		return err
	}
	info, _ := lc.Info(c.Context) // (a round's length: unknown, it is said so)
	names := nodeNames(c)
	return output(c).Show(map[string]any{"rounds": display.NameRounds(rounds, names)}, func(w io.Writer) error {
		return display.WriteRounds(w, rounds, info.Params.RoundBlocks, names)
	})
}

func quorumInspect(c *cli.Context, lc *ledgerrpc.Client) error {
	var q chain.RoundQuery
	switch {
	case c.NArg() > 1 || c.NArg()+btoi(c.IsSet("height"))+btoi(c.IsSet("node")) > 1:
		return errkind.Invalidf("quorum inspect takes one of ROUND, --height HEIGHT or --node NAME")
	case c.NArg() == 1:
		r, err := strconv.ParseUint(c.Args().First(), 10, 64)
		if err != nil {
			return errkind.Invalidf("round %q: want a round number, as 'sessionctl quorum ls' shows", c.Args().First())
		}
		q.Number = &r
	case c.IsSet("height"):
		h := c.Uint64("height")
		q.Height = &h
	}
	names := nodeNames(c)
	if q.Node = c.String("node"); q.Node != "" {
		for k, n := range names {
			if n == q.Node {
				q.Node = k
			}
		}
	}
	info, _ := lc.Info(c.Context) // (a round's length: unknown, it is said so)
	rd, err := chain.FindRound(c.Context, lc, info.Params.RoundBlocks, q)
	switch {
	case errors.Is(err, chain.ErrNoRound) && c.IsSet("node"):
		return errkind.Invalidf("no remembered round changed the state of %s", c.String("node"))
	case errors.Is(err, chain.ErrNoRound):
		return errkind.AsInvalid(err)
	case err != nil:
		return err
	}
	return output(c).Show(display.NameRound(rd, names), func(w io.Writer) error {
		return display.WriteRound(w, rd, info.Params.RoundBlocks, names)
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
