package main

import (
	"fmt"
	"strconv"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/internal/errkind"
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
	lc, err := ledgerClient(c)
	if err != nil {
		return err
	}
	rounds, err := lc.Rounds(c.Context)
	if err != nil || c.Bool("json") {
		return orJSON(c, struct {
			Rounds []chain.Round `json:"rounds"`
		}{nonNil(rounds)}, err)
	}
	info, _ := lc.Info(c.Context) // (a round's length: unknown, it is said so)
	return display.WriteRounds(c.App.Writer, rounds, info.Params.RoundBlocks, nodeNames(c))
}

func quorumInspect(c *cli.Context) error {
	if c.NArg() > 1 || c.NArg()+btoi(c.IsSet("height"))+btoi(c.IsSet("node")) > 1 {
		return errkind.Invalidf("quorum inspect takes one of ROUND, --height HEIGHT or --node NAME")
	}
	lc, err := ledgerClient(c)
	if err != nil {
		return err
	}
	info, _ := lc.Info(c.Context)
	span, names := info.Params.RoundBlocks, nodeNames(c)
	var rd chain.Round
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
			return err
		}
	} else {
		rounds, err := lc.Rounds(c.Context)
		if err != nil {
			return err
		}
		// The newest round that changed a node's state (that node's, with
		// --node), else the newest tallied round with votes.
		target := c.String("node")
		for k, n := range names {
			if target != "" && n == target {
				target = k
			}
		}
		found := false
		if rd, found = chain.LastChanged(rounds, target); !found && target != "" {
			return errkind.Invalidf("no remembered round changed the state of %s", c.String("node"))
		}
		if !found {
			if rd, found = chain.LastTallied(rounds); !found {
				return errkind.Invalidf("no testing round has been tallied yet; mine some blocks ('sessionctl ledger mine 20')")
			}
		}
	}
	if c.Bool("json") {
		// The round as the chain keeps it (nodes by key), with the devnet's
		// names of those keys.
		return display.JSON(c.App.Writer, struct {
			chain.Round
			NodeNames map[string]string `json:"node_names,omitempty"`
		}{rd, names})
	}
	return display.WriteRound(c.App.Writer, rd, span, names)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
