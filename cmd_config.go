package main

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/device"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/storagerpc"
	"github.com/urfave/cli/v2"
)

// The account's configs (profile, contacts) and its message requests: the
// commands over client/config.go and client/requests.go.

var configTTLFlag = &cli.DurationFlag{Name: "ttl", Usage: "how long the config lives in the swarm unless a device extends it (`DURATION`, 10s to 720h; a workshop shortens it to watch one expire)",
	Value: client.ConfigTTL}

func profileCommand() *cli.Command {
	return &cli.Command{
		Name:  "profile",
		Usage: "an account's profile, kept in its swarm for all its devices (the user profile config)",
		Subcommands: []*cli.Command{
			{
				Name:      "set",
				Usage:     "set the display name or the profile picture (every message carries them)",
				ArgsUsage: " ",
				Flags: []cli.Flag{asFlag, &cli.StringFlag{Name: "display-name", Usage: "the `NAME` others see (at most 100 bytes; an empty one removes it)"},
					&cli.StringFlag{Name: "avatar", Usage: "a picture (`FILE`, at most 10 MB) to encrypt, upload and show as the profile picture"},
					&cli.BoolFlag{Name: "remove-avatar", Usage: "remove the profile picture"},
					configTTLFlag, ledgerURLFlag, jsonFlag},
				Action: profileSet,
			},
			{Name: "show", Usage: "show the profile as the account's swarm holds it", ArgsUsage: " ", Flags: []cli.Flag{asFlag, ledgerURLFlag, jsonFlag}, Action: profileShow},
		},
	}
}

func profileSet(c *cli.Context) error {
	name, pic := c.String("display-name"), c.String("avatar")
	setName := c.IsSet("display-name")
	if !setName && pic == "" && !c.Bool("remove-avatar") {
		return errkind.Invalidf("profile set needs --display-name NAME, --avatar FILE or --remove-avatar")
	}
	if pic != "" && c.Bool("remove-avatar") {
		return errkind.Invalidf("--avatar and --remove-avatar contradict each other")
	}
	if err := configmsg.SetProfileName(configmsg.Dict{}, name); err != nil {
		return errkind.AsInvalid(err)
	}
	if err := checkTTL(c); err != nil {
		return err
	}
	// The picture is read and checked before anything is sent.
	ch := client.ProfileChange{RemoveAvatar: c.Bool("remove-avatar")}
	var srv client.ServerInfo
	if pic != "" {
		var err error
		if ch.Avatar, err = device.ReadPicture(pic); err != nil {
			return err
		}
		if srv, err = dirOf(c).FileServer(); err != nil {
			return err
		}
	}
	if setName {
		ch.Name = &name
	}
	return actAs(c, func(ctx context.Context, d *device.Device) error {
		res, err := d.Client.UpdateProfile(ctx, srv, ch, c.Duration("ttl"))
		if err != nil || c.Bool("json") {
			return orJSON(c, res, err)
		}
		var what []string
		if setName {
			what = append(what, fmt.Sprintf("%s's display name is %q", c.String("as"), name))
		}
		switch {
		case res.Avatar != nil:
			what = append(what, fmt.Sprintf("the profile picture is %s (%s, encrypted)", res.Avatar.URL, display.ByteSize(res.Avatar.Size)))
		case c.Bool("remove-avatar"):
			what = append(what, fmt.Sprintf("%s has no profile picture", c.String("as")))
		}
		return printPush(c, res.ConfigPush, strings.Join(what, "; "))
	})
}

// checkTTL checks --ttl before any network work.
func checkTTL(c *cli.Context) error {
	if ttl := c.Duration("ttl"); ttl < storagerpc.MinTTL || ttl > client.ConfigTTL {
		return errkind.Invalidf("--ttl %v: want %v to %v", ttl, storagerpc.MinTTL, client.ConfigTTL)
	}
	return nil
}

func printPush(c *cli.Context, push *client.ConfigPush, what string) error {
	if c.Bool("json") {
		return display.JSON(c.App.Writer, push)
	}
	if push.Hash == "" {
		_, err := fmt.Fprintf(c.App.Writer, "%s: unchanged (seqno %d)\n", what, push.Seqno)
		return err
	}
	fmt.Fprintf(c.App.Writer, "%s: %s config seqno %d, in the account's swarm for all its devices until %s",
		what, push.Kind, push.Seqno, time.UnixMilli(push.ExpiresAt).Format("2006-01-02 15:04:05"))
	if push.Replaced > 0 {
		fmt.Fprintf(c.App.Writer, " (replacing %s)", display.Plural(push.Replaced, "older message"))
	}
	_, err := fmt.Fprintln(c.App.Writer)
	return err
}

func profileShow(c *cli.Context) error {
	return actAs(c, func(ctx context.Context, d *device.Device) error {
		cfg, err := d.Client.LoadConfig(ctx, configmsg.UserProfile)
		if err != nil {
			return err
		}
		p := configmsg.ReadProfile(cfg.Data())
		if c.Bool("json") {
			out := struct {
				configmsg.Profile
				Seqno     int64 `json:"seqno"`
				ExpiresAt int64 `json:"expires_at,omitempty"`
				Found     bool  `json:"found"`
			}{Profile: p, Found: cfg.Message != nil, ExpiresAt: cfg.Expiry}
			if cfg.Message != nil {
				out.Seqno = cfg.Message.Seqno()
			}
			return display.JSON(c.App.Writer, out)
		}
		w := c.App.Writer
		if cfg.Message == nil {
			fmt.Fprintf(w, "%s's swarm holds no profile: never set, or it expired with no device online to extend it\n", c.String("as"))
			return nil
		}
		fmt.Fprintf(w, "display name: %s\n", display.Escape(cmp.Or(p.Name, "(none)")))
		if p.PicURL != "" {
			fmt.Fprintf(w, "picture:      %s\n", display.Escape(p.PicURL))
		}
		fmt.Fprintf(w, "seqno:        %d", cfg.Message.Seqno())
		if cfg.Expiry > 0 {
			fmt.Fprintf(w, ", expires %s", time.UnixMilli(cfg.Expiry).Format("2006-01-02 15:04:05"))
		}
		fmt.Fprintln(w)
		return nil
	})
}

func contactsCommand() *cli.Command {
	edit := func(name, usage string, change func(*cli.Context, *configmsg.Contact)) *cli.Command {
		flags := []cli.Flag{asFlag, configTTLFlag, ledgerURLFlag, jsonFlag}
		if name == "add" {
			flags = append(flags, &cli.StringFlag{Name: "nickname", Usage: "what you call them (`NAME`)"})
		}
		return &cli.Command{
			Name: name, Usage: usage, ArgsUsage: "ACCOUNT", Flags: flags,
			Action: func(c *cli.Context) error { return contactEdit(c, change) },
		}
	}
	return &cli.Command{
		Name:  "contacts",
		Usage: "an account's contacts, kept in its swarm for all its devices (the contacts config)",
		Description: "ACCOUNT is an Account ID, an identity of the keystore or a session name. Writing to an\n" +
			"account makes it an approved contact; a message from anyone else is a message request\n" +
			"('fetch --requests', 'request accept|decline').",
		Subcommands: []*cli.Command{
			{Name: "ls", Usage: "list the contacts", ArgsUsage: " ", Flags: []cli.Flag{asFlag, ledgerURLFlag, jsonFlag}, Action: contactsList},
			edit("add", "approve an account: its messages arrive as usual, not as requests", func(c *cli.Context, ct *configmsg.Contact) {
				ct.Approved, ct.Blocked = true, false
				if c.IsSet("nickname") {
					ct.Nickname = c.String("nickname")
				}
			}),
			edit("block", "block an account: what it sends is dropped", func(_ *cli.Context, ct *configmsg.Contact) { ct.Blocked = true }),
			edit("unblock", "unblock an account", func(_ *cli.Context, ct *configmsg.Contact) { ct.Blocked = false }),
		},
	}
}

func contactEdit(c *cli.Context, change func(*cli.Context, *configmsg.Contact)) error {
	arg := c.Args().First()
	if err := configmsg.SetContact(configmsg.Dict{}, configmsg.Contact{ID: "05" + fmt.Sprintf("%064x", 0), Nickname: c.String("nickname")}); err != nil {
		return errkind.AsInvalid(err)
	}
	if err := checkTTL(c); err != nil {
		return err
	}
	return actAs(c, func(ctx context.Context, d *device.Device) error {
		id, err := d.Resolve(ctx, arg)
		if err != nil {
			return err
		}
		if id == d.AccountID() {
			return errkind.Invalidf("%s is %s itself", arg, c.String("as"))
		}
		push, err := d.Client.EditContact(ctx, id, c.Duration("ttl"), func(ct *configmsg.Contact) { change(c, ct) })
		if err != nil {
			return err
		}
		verb := map[string]string{"add": "approved", "block": "blocked", "unblock": "unblocked"}[c.Command.Name]
		return printPush(c, push, fmt.Sprintf("%s %s", verb, arg))
	})
}

func contactsList(c *cli.Context) error {
	return actAs(c, func(ctx context.Context, d *device.Device) error {
		cfg, err := d.Client.LoadConfig(ctx, configmsg.Contacts)
		if err != nil {
			return err
		}
		all := configmsg.ListContacts(cfg.Data())
		if c.Bool("json") {
			return display.JSON(c.App.Writer, nonNil(all))
		}
		if len(all) == 0 {
			fmt.Fprintf(c.App.Writer, "%s has no contacts\n", c.String("as"))
			return nil
		}
		names := senderNames(c)
		tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CONTACT\tNICKNAME\tAPPROVED\tAPPROVED YOU\tBLOCKED")
		yes := func(b bool) string { return map[bool]string{true: "yes", false: "-"}[b] }
		for _, ct := range all {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", display.NameOr(names, ct.ID), display.Escape(display.OrDash(ct.Nickname)), yes(ct.Approved), yes(ct.ApprovedMe), yes(ct.Blocked))
		}
		return tw.Flush()
	})
}

func requestCommand() *cli.Command {
	return &cli.Command{
		Name:  "request",
		Usage: "message requests: messages from accounts that are not contacts, held until accepted",
		Description: "A fetch holds a stranger's messages as a request ('fetch --requests' shows them). Accepting\n" +
			"makes the sender a contact and tells them (a MessageRequestResponse); declining deletes the\n" +
			"messages from the swarm, and --block drops whatever the sender writes later.",
		Subcommands: []*cli.Command{
			{Name: "ls", Usage: "list the requests held", ArgsUsage: " ", Flags: []cli.Flag{asFlag, ledgerURLFlag, jsonFlag}, Action: requestList},
			{Name: "accept", Usage: "accept an account's request: its messages are shown, and it is told", ArgsUsage: "ACCOUNT",
				Flags: []cli.Flag{asFlag, &cli.StringFlag{Name: "save-dir", Usage: "download, decrypt and save the held messages' attachments in `DIR` first"},
					ledgerURLFlag, jsonFlag}, Action: requestAct},
			{Name: "decline", Usage: "decline an account's request: its messages are deleted", ArgsUsage: "ACCOUNT",
				Flags: []cli.Flag{asFlag, &cli.BoolFlag{Name: "block", Usage: "block the account too"}, ledgerURLFlag, jsonFlag}, Action: requestAct},
		},
	}
}

// writeMessages writes msgs as fetch does, for the device d.
func writeMessages(c *cli.Context, d *device.Device, msgs []client.Message, prefix string) error {
	return device.WriteMessages(c.App.Writer, msgs, prefix, d.AccountID().String(), d.Name, senderNames(c))
}

func requestList(c *cli.Context) error {
	return actAs(c, func(ctx context.Context, d *device.Device) error {
		held, err := d.Client.Requests(ctx)
		if err != nil || c.Bool("json") {
			return orJSON(c, map[string]any{"requests": nonNil(held)}, err)
		}
		if len(held) == 0 {
			fmt.Fprintln(c.App.Writer, "no message requests")
			return nil
		}
		return writeMessages(c, d, held, "request ")
	})
}

// requestAct accepts or declines the request of ACCOUNT.
func requestAct(c *cli.Context) error {
	arg := c.Args().First()
	return actAs(c, func(ctx context.Context, d *device.Device) error {
		id, err := d.Resolve(ctx, arg)
		if err != nil {
			return err
		}
		w := c.App.Writer
		if c.Command.Name == "decline" {
			n, err := d.Client.DeclineRequest(ctx, id, c.Bool("block"))
			if err != nil || c.Bool("json") {
				return orJSON(c, map[string]any{"declined": id.String(), "deleted": n, "blocked": c.Bool("block")}, err)
			}
			fmt.Fprintf(w, "declined %s's message request: %s deleted", arg, display.Plural(n, "message"))
			if c.Bool("block") {
				fmt.Fprintf(w, "; %s is blocked", arg)
			}
			_, err = fmt.Fprintln(w)
			return err
		}
		// The files are saved before anything is accepted: a failure accepts nothing.
		msgs, err := d.AcceptRequest(ctx, id, c.String("save-dir"), func(line string) { fmt.Fprintln(c.App.ErrWriter, line) })
		if err != nil || c.Bool("json") {
			return orJSON(c, map[string]any{"accepted": id.String(), "messages": nonNil(msgs)}, err)
		}
		if err := writeMessages(c, d, msgs, ""); err != nil {
			return err
		}
		fmt.Fprintf(w, "accepted %s's message request: %s is a contact now, and is told so\n", arg, arg)
		return nil
	})
}
