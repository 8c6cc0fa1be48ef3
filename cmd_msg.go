package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/ledger"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
	"github.com/urfave/cli/v2"
)

// resolveAccount reads an Account ID, an identity of the keystore, or a
// session name registered on the ledger.
func resolveAccount(c *cli.Context, lc *ledgerrpc.Client, arg string) (identity.AccountID, error) {
	if len(arg) == identity.AccountIDLen {
		id, err := identity.ParseAccountID(arg)
		if err != nil {
			return id, usageError(err)
		}
		return id, nil
	}
	if identity.ValidName(arg) == nil {
		if e, err := keystore(c).Get(arg); err == nil {
			return e.Keys.AccountID(), nil
		} else if !errors.Is(err, identity.ErrNotFound) {
			return identity.AccountID{}, err
		}
	}
	name, err := ledger.NormalizeName(arg)
	if err != nil {
		return identity.AccountID{}, usagef("%q is not an Account ID, an identity of the keystore, or a session name", arg)
	}
	rec, err := lc.Name(c.Context, ledger.NameHash(name))
	if ledgerrpc.IsCode(err, ledgerrpc.CodeNotFound) {
		return identity.AccountID{}, usagef("%q is not an identity of the keystore, and no session name %q is registered", arg, name)
	}
	if err != nil {
		return identity.AccountID{}, rpcError(err)
	}
	value, err := hex.DecodeString(rec.Value)
	if err != nil {
		return identity.AccountID{}, fmt.Errorf("the ledger's record of %q is malformed", name)
	}
	id, err := ledger.DecryptName(name, value)
	if err != nil {
		return identity.AccountID{}, fmt.Errorf("the session name %q: %w", name, err)
	}
	return id, nil
}

// startClient starts a Session client for the identity called name.
func startClient(c *cli.Context, name string, statePath string) (*client.Client, *ledgerrpc.Client, error) {
	e, err := keystore(c).Get(name)
	if err != nil {
		return nil, nil, keystoreError(err)
	}
	if !e.Keys.HasPhrase() {
		return nil, nil, usagef("%q is not a Session account", name)
	}
	lc, err := ledgerClient(c)
	if err != nil {
		return nil, nil, err
	}
	cl, err := client.New(client.Config{Keys: e.Keys, Ledger: lc, StatePath: statePath, Logger: logger(c)})
	if err != nil {
		return nil, nil, err
	}
	if err := cl.Start(c.Context); err != nil {
		return nil, nil, err
	}
	return cl, lc, nil
}

// clientError maps client errors: a network that does not answer is 3.
func clientError(err error) error {
	if errors.Is(err, client.ErrUnreachable) || errors.Is(err, client.ErrNoNodes) {
		return notRunning(err)
	}
	return err
}

func sendCommand() *cli.Command {
	return &cli.Command{
		Name:      "send",
		Usage:     "send an end-to-end encrypted message through a 3-hop onion path",
		ArgsUsage: "TEXT",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "the sending identity (`NAME`)"},
			&cli.StringFlag{Name: "to", Usage: "the recipient: an `ACCOUNT_ID`, an identity of the keystore, or a session name"},
			ledgerURLFlag, ledgerTokenFlag, jsonFlag,
		},
		Action: send,
	}
}

func send(c *cli.Context) error {
	text, err := oneArg(c, "the message TEXT")
	if err != nil {
		return err
	}
	if c.String("from") == "" || c.String("to") == "" {
		return usagef("send needs --from NAME and --to RECIPIENT")
	}
	cl, lc, err := startClient(c, c.String("from"), "")
	if err != nil {
		return err
	}
	defer cl.Close()
	to, err := resolveAccount(c, lc, c.String("to"))
	if err != nil {
		return err
	}
	if to.Prefix != identity.PrefixSession {
		return usagef("%s is not a Session account (05...)", to)
	}
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	res, err := cl.Send(ctx, to, text)
	if err != nil {
		return clientError(err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, res)
	}
	names := nodeNames(c)
	p := res.Path
	fmt.Fprintf(c.App.Writer, "sent %s to %s\n", res.Hash, res.To)
	fmt.Fprintf(c.App.Writer, "path: you -> %s (guard) -> %s (middle) -> %s (exit) -> %s (swarm %s); stored by %d nodes\n",
		nameOf(names, p.Guard), nameOf(names, p.Middle), nameOf(names, p.Exit), nameOf(names, p.Destination), res.Swarm, res.Stored)
	return nil
}

func fetchCommand() *cli.Command {
	return &cli.Command{
		Name:      "fetch",
		Usage:     "fetch new messages through an onion path, checking every signature",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "as", Usage: "the identity (`NAME`) whose messages to fetch"},
			&cli.BoolFlag{Name: "follow", Usage: "keep fetching every second until interrupted"},
			ledgerURLFlag, ledgerTokenFlag, jsonFlag,
		},
		Action: fetch,
	}
}

func fetch(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	name := c.String("as")
	if name == "" {
		return usagef("fetch needs --as NAME")
	}
	if err := identity.ValidName(name); err != nil {
		return usageError(err)
	}
	state := filepath.Join(c.String(dirFlag.Name), "clients", name+".json")
	cl, _, err := startClient(c, name, state)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	senders := map[string]string{}
	if all, err := keystore(c).List(); err == nil {
		for _, e := range all {
			senders[e.Keys.AccountID().String()] = e.Name
		}
	}
	for {
		fctx, cancel := context.WithTimeout(ctx, time.Minute)
		msgs, rejected, err := cl.Fetch(fctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return clientError(err)
		}
		if c.Bool("json") {
			if msgs == nil {
				msgs = []client.Message{}
			}
			out := struct {
				Messages []client.Message  `json:"messages"`
				Rejected []client.Rejected `json:"rejected,omitempty"`
			}{msgs, rejected}
			if c.Bool("follow") {
				if len(msgs) > 0 || len(rejected) > 0 {
					printJSONLine(c.App.Writer, out)
				}
			} else if err := printJSON(c.App.Writer, out); err != nil {
				return err
			}
		} else {
			for _, m := range msgs {
				from := m.From
				if n, ok := senders[m.From]; ok {
					from = n + " (" + m.From[:12] + "...)"
				}
				text := m.Text
				if m.Kind == "group_invite" {
					text = "[an invite to a closed group; 'sessionctl group ls --as " + name + "' joins it]"
				}
				fmt.Fprintf(c.App.Writer, "from %s at %s: %s\n", from, time.UnixMilli(m.Timestamp).Format("15:04:05"), text)
			}
			for _, r := range rejected {
				fmt.Fprintf(c.App.ErrWriter, "rejected %s: %s\n", r.Hash, r.Reason)
			}
			if len(msgs) == 0 && !c.Bool("follow") {
				fmt.Fprintln(c.App.Writer, "no new messages")
			}
		}
		if !c.Bool("follow") {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}
