package main

import (
	"context"
	"fmt"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/device"
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
			{Name: "show", Usage: "show the profile as the account's swarm holds it", ArgsUsage: " ", Flags: []cli.Flag{asFlag, ledgerURLFlag, jsonFlag}, Action: cmdAs(func(ctx context.Context, c *cli.Context, x device.Cmd) error { return x.ShowProfile(ctx) })},
		},
	}
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
			{Name: "ls", Usage: "list the contacts", ArgsUsage: " ", Flags: []cli.Flag{asFlag, ledgerURLFlag, jsonFlag}, Action: cmdAs(func(ctx context.Context, c *cli.Context, x device.Cmd) error { return x.Contacts(ctx) })},
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

func requestCommand() *cli.Command {
	return &cli.Command{
		Name:  "request",
		Usage: "message requests: messages from accounts that are not contacts, held until accepted",
		Description: "A fetch holds a stranger's messages as a request ('fetch --requests' shows them). Accepting\n" +
			"makes the sender a contact and tells them (a MessageRequestResponse); declining deletes the\n" +
			"messages from the swarm, and --block drops whatever the sender writes later.",
		Subcommands: []*cli.Command{
			{Name: "ls", Usage: "list the requests held", ArgsUsage: " ", Flags: []cli.Flag{asFlag, ledgerURLFlag, jsonFlag}, Action: cmdAs(func(ctx context.Context, c *cli.Context, x device.Cmd) error { return x.Requests(ctx) })},
			{Name: "accept", Usage: "accept an account's request: its messages are shown, and it is told", ArgsUsage: "ACCOUNT",
				Flags: []cli.Flag{asFlag, &cli.StringFlag{Name: "save-dir", Usage: "download, decrypt and save the held messages' attachments in `DIR` first"},
					ledgerURLFlag, jsonFlag}, Action: cmdAs(func(ctx context.Context, c *cli.Context, x device.Cmd) error {
					return x.Accept(ctx, c.Args().First(), c.String("save-dir"))
				})},
			{Name: "decline", Usage: "decline an account's request: its messages are deleted", ArgsUsage: "ACCOUNT",
				Flags: []cli.Flag{asFlag, &cli.BoolFlag{Name: "block", Usage: "block the account too"}, ledgerURLFlag, jsonFlag}, Action: cmdAs(func(ctx context.Context, c *cli.Context, x device.Cmd) error {
					return x.Decline(ctx, c.Args().First(), c.Bool("block"))
				})},
		},
	}
}

func profileSet(c *cli.Context) error {
	name, pic := c.String("display-name"), c.String("avatar")
	if !c.IsSet("display-name") && pic == "" && !c.Bool("remove-avatar") {
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
	ch := client.ProfileChange{RemoveAvatar: c.Bool("remove-avatar")}
	if c.IsSet("display-name") {
		ch.Name = &name
	}
	if pic != "" { // read and checked before anything is sent
		var err error
		if ch.Avatar, err = device.ReadPicture(pic); err != nil {
			return err
		}
		if _, err := dirOf(c).FileServer(); err != nil {
			return err
		}
	}
	return cmdAs(func(ctx context.Context, c *cli.Context, x device.Cmd) error {
		return x.SetProfile(ctx, ch, c.Duration("ttl"))
	})(c)
}

// checkTTL checks --ttl before any network work.
func checkTTL(c *cli.Context) error {
	if ttl := c.Duration("ttl"); ttl < storagerpc.MinTTL || ttl > client.ConfigTTL {
		return errkind.Invalidf("--ttl %v: want %v to %v", ttl, storagerpc.MinTTL, client.ConfigTTL)
	}
	return nil
}

func contactEdit(c *cli.Context, change func(*cli.Context, *configmsg.Contact)) error {
	if err := configmsg.SetContact(configmsg.Dict{}, configmsg.Contact{ID: "05" + fmt.Sprintf("%064x", 0), Nickname: c.String("nickname")}); err != nil {
		return errkind.AsInvalid(err)
	}
	if err := checkTTL(c); err != nil {
		return err
	}
	verb := map[string]string{"add": "approved", "block": "blocked", "unblock": "unblocked"}[c.Command.Name]
	return cmdAs(func(ctx context.Context, c *cli.Context, x device.Cmd) error {
		return x.EditContact(ctx, c.Args().First(), verb, c.Duration("ttl"), func(ct *configmsg.Contact) { change(c, ct) })
	})(c)
}
