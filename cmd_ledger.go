package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/device"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/ledger"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
	"github.com/urfave/cli/v2"
)

const catLedger = "ledger"

var (
	ledgerURLFlag = &cli.StringFlag{
		Name:     "ledger",
		Usage:    "`URL` of the ledger RPC (default: the one running under --dir)",
		EnvVars:  []string{"SESSIONCTL_LEDGER"},
		Category: catLedger,
	}
	ledgerTokenFlag = &cli.StringFlag{
		Name:     "token",
		Usage:    "the ledger's `TOKEN`, for mining (default: read from --dir)",
		EnvVars:  []string{"SESSIONCTL_TOKEN"},
		Category: catLedger,
	}
)

// ledgerClient finds the ledger: --ledger, else the devnet running under
// --dir, else a ledger served alone there. Nothing there, or nothing
// answering, is exit code 3.
func ledgerClient(c *cli.Context) (*ledgerrpc.Client, error) {
	return dirOf(c).Ledger(c.Context, c.String(ledgerURLFlag.Name), c.String(ledgerTokenFlag.Name))
}

// withLedger is an action that asks the ledger.
func withLedger(do func(c *cli.Context, lc *ledgerrpc.Client) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		lc, err := ledgerClient(c)
		if err != nil {
			return err
		}
		return do(c, lc)
	}
}

func ledgerCommand() *cli.Command {
	ledgerFlags := []cli.Flag{ledgerURLFlag, ledgerTokenFlag, jsonFlag}
	return &cli.Command{
		Name:  "ledger",
		Usage: "run and query the staking ledger (blocks, nodes, swarms, balances)",
		Subcommands: []*cli.Command{
			{
				Name:      "serve",
				Usage:     "run a ledger alone in the foreground (the devnet runs one for you)",
				ArgsUsage: " ",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "listen", Value: "127.0.0.1:0", Usage: "`ADDR` for the RPC", EnvVars: []string{"SESSIONCTL_LEDGER_LISTEN"}},
					&cli.StringFlag{Name: "seed", Value: "sessionctl", Usage: "the chain's `SEED`: the same seed makes the same chain", EnvVars: []string{"SESSIONCTL_SEED"}},
					&cli.DurationFlag{Name: "block-time", Value: time.Second, Usage: "time between blocks; 0 makes blocks only with 'ledger mine'"},
					&cli.StringSliceFlag{Name: "fund", Usage: "fund `NAME=COINS` at genesis (an identity of the keystore or an Ed25519 key)"},
					&cli.StringFlag{Name: "genesis-coins", Value: "1000", Usage: "`COINS` given at genesis to every identity of the keystore"},
				},
				Action: ledgerServe,
			},
			{Name: "info", Usage: "height, hash and counts of the chain", ArgsUsage: " ", Flags: ledgerFlags, Action: withLedger(ledgerInfo)},
			{Name: "nodes", Usage: "the registered service nodes", ArgsUsage: " ", Flags: ledgerFlags, Action: withLedger(ledgerNodes)},
			{Name: "swarms", Usage: "the swarms and their members", ArgsUsage: " ", Flags: ledgerFlags, Action: withLedger(ledgerSwarms)},
			{Name: "balance", Usage: "a wallet's balance and stake", ArgsUsage: "NAME|WALLET", Flags: ledgerFlags, Action: withLedger(ledgerBalance)},
			{Name: "mine", Usage: "make N blocks now", ArgsUsage: "N", Flags: ledgerFlags, Action: withLedger(ledgerMine)},
			{Name: "fund", Usage: "pay COINS from the devnet's faucet to an identity or a wallet (needs the devnet's token)", ArgsUsage: "NAME|WALLET COINS",
				Flags: []cli.Flag{jsonFlag}, Action: ledgerFund},
		},
	}
}

func ledgerServe(c *cli.Context) error {
	coins, err := chain.ParseCoins(c.String("genesis-coins"))
	if err != nil {
		return errkind.Invalidf("--genesis-coins: %w", err)
	}
	fund, err := devnet.ParsePayments(c.StringSlice("fund"))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := devnet.ServeLedger(ctx, devnet.LedgerConfig{Dir: dirOf(c), Listen: c.String("listen"), Seed: c.String("seed"),
		BlockTime: c.Duration("block-time"), GenesisCoins: coins, Fund: fund, Logger: logger(c)})
	if err != nil {
		return err
	}
	info, w := s.Info(), c.App.Writer
	fmt.Fprintf(w, "ledger:  %s\nchain:   seed %q, height %d, %d nodes, block time %v\ntoken:   in %s\n",
		s.Endpoint().URL, c.String("seed"), info.Height, info.Nodes, c.Duration("block-time"), dirOf(c).LedgerEndpointFile())
	fmt.Fprintln(w, "Try 'sessionctl ledger info' in another terminal; Ctrl-C stops the ledger.")
	err = devnet.Wait(ctx, s, nil)
	fmt.Fprintln(w, "stopping the ledger")
	return errors.Join(err, s.Close())
}

func ledgerInfo(c *cli.Context, lc *ledgerrpc.Client) error {
	info, err := lc.Info(c.Context)
	if err != nil {
		return err
	}
	return output(c).Show(info, func(w io.Writer) error { return display.WriteLedgerInfo(w, lc.URL(), info) })
}

func ledgerNodes(c *cli.Context, lc *ledgerrpc.Client) error {
	nodes, err := lc.Nodes(c.Context)
	if err != nil {
		return err
	}
	names := nodeNames(c)
	return output(c).Show(map[string]any{"nodes": display.NameNodes(nodes, names)}, func(w io.Writer) error { return display.WriteLedgerNodes(w, nodes, names) })
}

func ledgerSwarms(c *cli.Context, lc *ledgerrpc.Client) error {
	swarms, height, err := lc.Swarms(c.Context)
	if err != nil {
		return err
	}
	out := display.NameSwarms(displaySwarms(swarms), nodeNames(c))
	return output(c).Show(map[string]any{"height": height, "swarms": out}, func(w io.Writer) error { return display.WriteSwarms(w, displaySwarms(swarms), nil) })
}

// displaySwarms converts swarms for package display.
func displaySwarms(swarms []ledger.SwarmInfo) []display.Swarm {
	out := make([]display.Swarm, len(swarms))
	for i, s := range swarms {
		out[i] = display.Swarm(s)
	}
	return out
}

func ledgerBalance(c *cli.Context, lc *ledgerrpc.Client) error {
	wallet, err := dirOf(c).Wallet(c.Args().First())
	if err != nil {
		return err
	}
	a, err := lc.Account(c.Context, wallet)
	if err != nil {
		return err
	}
	return output(c).Show(display.AccountOf(a), display.AccountOf(a).WriteText)
}

func ledgerFund(c *cli.Context) error {
	wallet, err := dirOf(c).Wallet(c.Args().Get(0))
	if err != nil {
		return err
	}
	amount, err := chain.ParseCoins(c.Args().Get(1))
	if err != nil || amount == 0 {
		return errkind.Invalidf("COINS %q: want a positive amount, such as 100 or 2.5", c.Args().Get(1))
	}
	cc, err := dialDevnet(c)
	if err != nil {
		return err
	}
	tx, h, err := cc.Fund(c.Context, wallet, amount)
	if errors.Is(err, devnet.ErrFaucet) {
		return errkind.AsInvalid(err)
	}
	if err != nil || c.Bool("json") {
		return orJSON(c, map[string]any{"wallet": wallet, "amount": amount, "amount_coins": chain.FormatCoins(amount), "tx": tx, "height": h}, err)
	}
	fmt.Fprintf(c.App.Writer, "paid %s coins to %s (tx %s, block %d)\n", chain.FormatCoins(amount), wallet, tx[:16], h)
	return nil
}

func ledgerMine(c *cli.Context, lc *ledgerrpc.Client) error {
	n, err := strconv.Atoi(c.Args().First())
	if err != nil || n < 1 || n > 10_000 {
		return errkind.Invalidf("mine %q: want a number of blocks from 1 to 10000", c.Args().First())
	}
	blocks, err := lc.Mine(c.Context, n)
	if err != nil || c.Bool("json") {
		return orJSON(c, map[string]any{"blocks": blocks}, err)
	}
	for _, b := range blocks {
		fmt.Fprintf(c.App.Writer, "block %d %s (%d txs)\n", b.Height, b.Hash, len(b.Txs))
	}
	return nil
}

func nameCommand() *cli.Command {
	return &cli.Command{
		Name:  "name",
		Usage: "register and resolve session names (SNS) on the ledger",
		Subcommands: []*cli.Command{
			{
				Name:      "register",
				Usage:     "register NAME for an identity's Account ID (burns 7 coins)",
				ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "as", Usage: "the identity (`NAME`) that owns the name, pays for it and is its value"},
					&cli.BoolFlag{Name: "no-wait", Usage: "return once the ledger accepts it, before it is in a block"},
					ledgerURLFlag, ledgerTokenFlag, jsonFlag,
				},
				Action: withLedger(nameRegister),
			},
			{
				Name:      "resolve",
				Usage:     "the Account ID a session name maps to",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{ledgerURLFlag, ledgerTokenFlag, jsonFlag},
				Action:    withLedger(nameResolve),
			},
		},
	}
}

func nameRegister(c *cli.Context, lc *ledgerrpc.Client) error {
	if c.String("as") == "" {
		return errkind.Invalidf("--as is required: the identity that owns the name")
	}
	r, err := device.RegisterName(c.Context, keystore(c), lc, c.String("as"), c.Args().First(), !c.Bool("no-wait"))
	if err != nil {
		return err
	}
	return output(c).Show(r, r.WriteText)
}

func nameResolve(c *cli.Context, lc *ledgerrpc.Client) error {
	res, err := lc.ResolveName(c.Context, c.Args().First())
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return display.JSON(c.App.Writer, struct {
			Name      string `json:"name"`
			AccountID string `json:"account_id"`
			Owner     string `json:"owner"`
			Height    uint64 `json:"height"`
		}{res.Name, res.AccountID.String(), res.Owner, res.Height})
	}
	fmt.Fprintln(c.App.Writer, res.AccountID)
	return nil
}

func swarmCommand() *cli.Command {
	return &cli.Command{
		Name:  "swarm",
		Usage: "the swarms of the network and which one owns an account",
		Subcommands: []*cli.Command{
			{Name: "ls", Usage: "every swarm and its members", ArgsUsage: " ", Flags: []cli.Flag{ledgerURLFlag, jsonFlag}, Action: withLedger(swarmList)},
			{Name: "of", Usage: "the swarm that stores an account's messages", ArgsUsage: "ACCOUNT_ID|NAME", Flags: []cli.Flag{ledgerURLFlag, jsonFlag}, Action: withLedger(swarmOf)},
		},
	}
}

// nodeNames maps node keys to devnet names, when a devnet runs under --dir.
func nodeNames(c *cli.Context) map[string]string { return dirOf(c).NodeNames() }

func swarmList(c *cli.Context, lc *ledgerrpc.Client) error {
	swarms, _, err := lc.Swarms(c.Context)
	if err != nil {
		return err
	}
	names := nodeNames(c)
	return output(c).Show(map[string]any{"swarms": display.NameSwarms(displaySwarms(swarms), names)}, func(w io.Writer) error {
		return display.WriteSwarms(w, displaySwarms(swarms), names)
	})
}

func swarmOf(c *cli.Context, lc *ledgerrpc.Client) error {
	id, err := device.Resolve(c.Context, keystore(c), lc, c.Args().First())
	if err != nil {
		return err
	}
	s, err := lc.SwarmOf(c.Context, id)
	if err != nil {
		return err
	}
	if s.ID == chain.UnassignedSwarm {
		return errors.New("no swarm exists yet: no service node is active")
	}
	sj := display.NameSwarm(display.Swarm(s), nodeNames(c))
	return output(c).Show(struct {
		AccountID  string `json:"account_id"`
		SwarmSpace string `json:"swarm_space"`
		display.NamedSwarm
	}{id.String(), fmt.Sprint(id.SwarmSpace()), sj}, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "%s (swarm space %d) is stored by swarm %s: %s\n", id, id.SwarmSpace(), sj.SwarmID, sj.Names())
		return err
	})
}
