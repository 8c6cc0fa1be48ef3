package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/urfave/cli/v2"
)

// Reactions, typing indicators, and how a fetched message is shown: the
// commands over client/reactions.go and client/profiles.go.

func reactCommand() *cli.Command {
	return &cli.Command{
		Name:      "react",
		Usage:     "put an emoji on a message (or take it off), as apps react",
		ArgsUsage: "HASH EMOJI",
		Description: "HASH is a message this identity sent or read, as 'send' or 'fetch' showed it. The reaction goes\n" +
			"to the conversation the message belongs to, with a copy for this identity's other devices.",
		Flags: []cli.Flag{&cli.StringFlag{Name: "as", Usage: "the identity (`NAME`) reacting"},
			&cli.BoolFlag{Name: "remove", Usage: "take the emoji off instead"}, ledgerURLFlag, jsonFlag},
		Action: react,
	}
}

func react(c *cli.Context) error {
	if c.NArg() != 2 {
		return errkind.Invalidf("react takes two arguments, the message's HASH and the EMOJI; got %d", c.NArg())
	}
	hash, emoji := c.Args().Get(0), c.Args().Get(1)
	if err := client.CheckEmoji(emoji); err != nil {
		return errkind.AsInvalid(err)
	}
	cl, ctx, done, err := clientAs(c)
	if err != nil {
		return err
	}
	defer done()
	res, target, err := cl.React(ctx, hash, emoji, c.Bool("remove"))
	if errors.Is(err, client.ErrUnknownMessage) {
		return errkind.AsInvalid(err)
	}
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, struct {
			sendOut
			Reaction client.Reaction `json:"reaction"`
		}{sendOutput(c, res), client.Reaction{MessageRef: *target, Emoji: emoji, Remove: c.Bool("remove")}})
	}
	verb := "reacted " + emoji + " to"
	if c.Bool("remove") {
		verb = "took " + emoji + " off"
	}
	fmt.Fprintf(c.App.Writer, "%s %q: reaction %s sent to %s\n", verb, display.Escape(target.Text), res.Hash, display.SenderLabel(senderNames(c), res.To, ""))
	return nil
}

func typingCommand() *cli.Command {
	return &cli.Command{
		Name:      "typing",
		Usage:     "tell someone you are typing (or stopped), as apps do while a message is written",
		ArgsUsage: " ",
		Flags: []cli.Flag{&cli.StringFlag{Name: "as", Usage: "the identity (`NAME`) typing"},
			&cli.StringFlag{Name: "to", Usage: "the recipient: an `ACCOUNT_ID`, an identity of the keystore, or a session name"},
			&cli.BoolFlag{Name: "stop", Usage: "say typing stopped"}, ledgerURLFlag, jsonFlag},
		Action: typing,
	}
}

func typing(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if c.String("to") == "" {
		return errkind.Invalidf("typing needs --to RECIPIENT")
	}
	cl, lc, ctx, done, err := clientAndLedgerAs(c)
	if err != nil {
		return err
	}
	defer done()
	to, err := resolveAccount(c, lc, c.String("to"))
	if err != nil {
		return err
	}
	if to.Prefix != identity.PrefixSession || to == cl.AccountID() {
		return errkind.Invalidf("%s: typing goes to another Session account (05...)", c.String("to"))
	}
	res, err := cl.SendTyping(ctx, to, !c.Bool("stop"))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, map[string]any{"hash": res.Hash, "to": res.To, "typing": !c.Bool("stop")})
	}
	what := "typing"
	if c.Bool("stop") {
		what = "stopped typing"
	}
	fmt.Fprintf(c.App.Writer, "told %s: %s (it lasts %s in the swarm)\n", display.SenderLabel(senderNames(c), res.To, ""), what, client.TypingTTL)
	return nil
}

// sendReceipts sends read receipts for the messages shown (not those read
// on another device, whose receipts are that device's to send) and says
// on stderr what it sent.
func sendReceipts(ctx context.Context, c *cli.Context, cl *client.Client, shown []client.Message) []client.ReceiptResult {
	var fresh []client.Message
	for _, m := range shown {
		if !m.ReadElsewhere {
			fresh = append(fresh, m)
		}
	}
	res := cl.SendReadReceipts(ctx, fresh)
	if !c.Bool("json") {
		names := senderNames(c)
		for _, r := range res {
			if r.Error != "" {
				fmt.Fprintf(c.App.ErrWriter, "read receipt to %s not sent: %s\n", display.SenderLabel(names, r.To, ""), r.Error)
			} else {
				fmt.Fprintf(c.App.ErrWriter, "sent %s a read receipt for %s\n", display.SenderLabel(names, r.To, ""), display.Plural(r.Messages, "message"))
			}
		}
	}
	return res
}
