package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sessionctl/sessionctl/client"
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
		return clientError(err)
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
	fmt.Fprintf(c.App.Writer, "%s %q: reaction %s sent to %s\n", verb, escapeText(target.Text), res.Hash, senderLabel(senderNames(c), res.To, ""))
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
		return clientError(err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, map[string]any{"hash": res.Hash, "to": res.To, "typing": !c.Bool("stop")})
	}
	what := "typing"
	if c.Bool("stop") {
		what = "stopped typing"
	}
	fmt.Fprintf(c.App.Writer, "told %s: %s (it lasts %s in the swarm)\n", senderLabel(senderNames(c), res.To, ""), what, client.TypingTTL)
	return nil
}

// senderLabel names an account for a line of output: the name it is
// called by (a nickname or the name its messages carry, escaped: it comes
// from the network), its keystore name, and the start of its ID.
func senderLabel(names map[string]string, id, display string) string {
	short := id
	if len(id) > 12 {
		short = id[:12] + "..."
	}
	n, known := names[id]
	switch {
	case display != "" && known:
		return escapeText(display) + " (" + n + ", " + short + ")"
	case display != "":
		return escapeText(display) + " (" + short + ")"
	case known:
		return n + " (" + short + ")"
	}
	return id
}

// describe is what a message shows, on one line (what came from the
// network escaped): its text, or for another kind what it is.
func describe(m client.Message, me, as string, names map[string]string) string {
	partner := m.From
	if m.SyncTarget != "" {
		partner = m.SyncTarget
	}
	whose := func(ref client.MessageRef) string {
		switch {
		case ref.Author == me:
			return "your message"
		case ref.Author == partner:
			return "their message"
		}
		return senderLabel(names, ref.Author, "") + "'s message"
	}
	about := func(ref client.MessageRef) string {
		switch {
		case ref.Text != "":
			return fmt.Sprintf("%s %q", whose(ref), ref.Text)
		case ref.Hash != "":
			return fmt.Sprintf("%s %s", whose(ref), ref.Hash)
		}
		return fmt.Sprintf("%s sent at %s, which this device does not have", whose(ref), clock(ref.Timestamp))
	}
	switch m.Kind {
	case "":
		text := escapeText(m.Text)
		for _, a := range m.Attachments {
			text += escapeText(fmt.Sprintf(" [attachment %s, %d bytes]", a.Name, a.Size))
		}
		if m.Quote != nil {
			text = "[replying to " + escapeText(about(*m.Quote)) + "] " + text
		}
		return text
	case client.KindGroupInvite:
		inv := m.GroupUpdate.GetInviteMessage()
		return escapeText(fmt.Sprintf("[an invite to closed group %q (%s); 'sessionctl group join %s --as %s' accepts it]",
			inv.GetName(), inv.GetGroupSessionId(), groupArg(inv.GetName(), inv.GetGroupSessionId()), as))
	case client.KindGroupPromote:
		return escapeText(fmt.Sprintf("[made an admin of closed group %q; 'sessionctl group ls --as %s' takes the group's key]",
			m.GroupUpdate.GetPromoteMessage().GetName(), as))
	case client.KindUnsend:
		if m.Unsend != nil {
			return "[took back a message sent at " + clock(m.Unsend.Timestamp) + "]"
		}
		return "[took back a message]"
	case client.KindReaction:
		r := m.Reaction
		if r.Remove {
			return "[took the reaction " + escapeText(r.Emoji) + " off " + escapeText(about(r.MessageRef)) + "]"
		}
		return "[reacted " + escapeText(r.Emoji) + " to " + escapeText(about(r.MessageRef)) + "]"
	case client.KindReceipt:
		switch {
		case len(m.Read) == 1 && m.Read[0].Hash != "":
			return "[read " + escapeText(about(m.Read[0])) + "]"
		case len(m.Read) == 1:
			return "[read your message sent at " + clock(m.Read[0].Timestamp) + "]"
		case m.Read != nil:
			return fmt.Sprintf("[read %d of your messages]", len(m.Read))
		}
	case client.KindTyping:
		if m.Typing == client.TypingStopped {
			return "[stopped typing]"
		}
		return "[typing]"
	}
	if m.Note != "" {
		return "[" + escapeText(m.Note) + "]"
	}
	return "[" + escapeText(strings.ReplaceAll(m.Kind, "_", " ")) + "]"
}

func clock(ms int64) string { return time.UnixMilli(ms).Format("15:04:05") }

// messageLine is a fetched message as fetch prints it.
func messageLine(m client.Message, me, as string, names map[string]string) string {
	from := senderLabel(names, m.From, m.FromName)
	if m.SyncTarget != "" {
		from = "you (another device) to " + senderLabel(names, m.SyncTarget, "")
	}
	seen := ""
	if m.ReadElsewhere {
		seen = "  (read on another device)"
	}
	return fmt.Sprintf("from %s at %s: %s%s", from, clock(m.Timestamp), describe(m, me, as, names), seen)
}

// saveAvatars downloads the new profile pictures msgs carry into dir, as
// avatar-NAME.EXT (NAME: the sender's keystore name, or the start of its
// ID). A picture that cannot be had is reported and skipped.
func saveAvatars(ctx context.Context, c *cli.Context, cl *client.Client, dir string, msgs []client.Message) error {
	names := senderNames(c)
	var srv client.ServerInfo
	for _, m := range msgs {
		if !m.AvatarChanged || m.Profile == nil {
			continue
		}
		if srv.URL == "" {
			var err error
			if srv, err = fileServer(c); err != nil {
				return err
			}
			if err := mkSaveDir(dir); err != nil {
				return err
			}
		}
		who := names[m.From]
		if who == "" {
			who = m.From[:min(16, len(m.From))]
		}
		pic, err := cl.DownloadAvatar(ctx, srv, m.Profile)
		if err != nil {
			fmt.Fprintf(c.App.ErrWriter, "profile picture of %s: %s; skipped\n", senderLabel(names, m.From, m.FromName), escapeText(err.Error()))
			continue
		}
		path, existed, err := saveNew(dir, safeFileName("avatar-"+who+avatarExt(pic), ""), pic)
		if err != nil {
			return fmt.Errorf("save the profile picture of %s: %w", who, err)
		}
		if !existed {
			fmt.Fprintf(c.App.ErrWriter, "saved %s (%d bytes): the profile picture of %s\n", path, len(pic), senderLabel(names, m.From, m.FromName))
		}
	}
	return nil
}

// avatarExt is a picture's file extension, from its bytes.
func avatarExt(pic []byte) string {
	switch http.DetectContentType(pic) {
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	case "image/gif":
		return ".gif"
	case "image/webp":
		return ".webp"
	case "image/bmp":
		return ".bmp"
	}
	return ".bin"
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
				fmt.Fprintf(c.App.ErrWriter, "read receipt to %s not sent: %s\n", senderLabel(names, r.To, ""), r.Error)
			} else {
				fmt.Fprintf(c.App.ErrWriter, "sent %s a read receipt for %s\n", senderLabel(names, r.To, ""), plural(r.Messages, "message"))
			}
		}
	}
	return res
}
