package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sessionctl/sessionctl/device"
	"github.com/sessionctl/sessionctl/group"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/urfave/cli/v2"
)

func groupCommand() *cli.Command {
	with := func(extra ...cli.Flag) []cli.Flag {
		return append([]cli.Flag{asFlag, ledgerURLFlag}, extra...)
	}
	return &cli.Command{
		Name:  "group",
		Usage: "closed groups as Session apps make them: create, invite, join, talk, kick with revocation and key rotation",
		Subcommands: []*cli.Command{
			{Name: "create", Usage: "create a group; you are its first admin", ArgsUsage: "NAME", Flags: with(&cli.StringFlag{Name: "members", Usage: "`MEMBERS` to invite, comma-separated (names, Account IDs or session names)"}, jsonFlag), Action: groupCreate},
			{Name: "add", Usage: "invite members (admins)", ArgsUsage: "GROUP MEMBER[,MEMBER...]", Flags: with(&cli.BoolFlag{Name: "history", Usage: "give them the group's keys so far: they read what it wrote before (else the key rotates)"}), Action: groupMembers},
			{Name: "kick", Usage: "remove members: revoke their tokens, tell them, rotate the key (admins)", ArgsUsage: "GROUP MEMBER[,MEMBER...]", Flags: with(&cli.BoolFlag{Name: "delete-messages", Usage: "delete what they wrote, for everyone"}), Action: groupMembers},
			{Name: "promote", Usage: "make a member an admin: it gets the group key (admins)", ArgsUsage: "GROUP MEMBER", Flags: with(), Action: groupMembers},
			{Name: "join", Usage: "accept an invite to a group", ArgsUsage: "GROUP", Flags: with(), Action: groupAct(func(ctx context.Context, c *cli.Context, x device.GroupCmd) error {
				return x.Join(ctx, c.Args().First())
			})},
			{Name: "leave", Usage: "leave a group (or decline its invite)", ArgsUsage: "GROUP", Flags: with(), Action: groupAct(func(ctx context.Context, c *cli.Context, x device.GroupCmd) error {
				return x.Leave(ctx, c.Args().First())
			})},
			{Name: "delete", Usage: "delete a group for everyone (admins)", ArgsUsage: "GROUP", Flags: with(), Action: groupAct(func(ctx context.Context, c *cli.Context, x device.GroupCmd) error {
				return x.Delete(ctx, c.Args().First())
			})},
			{Name: "rename", Usage: "rename a group (admins)", ArgsUsage: "GROUP NAME", Flags: with(), Action: groupAct(func(ctx context.Context, c *cli.Context, x device.GroupCmd) error {
				return x.Rename(ctx, c.Args().Get(0), c.Args().Get(1))
			})},
			{Name: "send", Usage: "post a message to a group", ArgsUsage: "GROUP TEXT", Flags: with(jsonFlag), Action: groupSend},
			{Name: "fetch", Usage: "read a group's new messages", ArgsUsage: "GROUP", Flags: with(jsonFlag), Action: groupAct(func(ctx context.Context, c *cli.Context, x device.GroupCmd) error {
				return x.Fetch(ctx, c.Args().First())
			})},
			{Name: "info", Usage: "a group's members (from its members config), admins, key generation and revoked tokens", ArgsUsage: "GROUP", Flags: with(jsonFlag), Action: groupInfo},
			{Name: "ls", Usage: "the groups of an identity, and the invites it received", ArgsUsage: " ", Flags: with(jsonFlag), Action: groupAct(func(ctx context.Context, c *cli.Context, x device.GroupCmd) error { return x.List(ctx) })},
		},
	}
}

// groupAct is an action on the groups of --as, brought up to date (what
// that found goes to stderr), with a minute (two to change members) to
// do its work.
func groupAct(do func(ctx context.Context, c *cli.Context, x device.GroupCmd) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		name := c.String("as")
		if name == "" {
			return errkind.Invalidf("--as NAME is required: the identity acting")
		}
		lc, err := ledgerClient(c)
		if err != nil {
			return err
		}
		gs, err := device.OpenGroups(c.Context, dirOf(c), lc, name, logger(c))
		if err != nil {
			return err
		}
		defer gs.Close()
		for _, line := range gs.Notices() {
			fmt.Fprintln(c.App.ErrWriter, line)
		}
		timeout := time.Minute
		switch c.Command.Name {
		case "create", "add", "kick", "promote":
			timeout = 2 * time.Minute
		}
		ctx, cancel := context.WithTimeout(c.Context, timeout)
		defer cancel()
		return do(ctx, c, device.GroupCmd{G: gs, Out: output(c)})
	}
}

// members resolves a comma-separated list of members.
func members(c *cli.Context, list string) ([]group.Invitee, error) {
	lc, err := ledgerClient(c)
	if err != nil {
		return nil, err
	}
	return device.Members(c.Context, keystore(c), lc, list)
}

func groupCreate(c *cli.Context) error {
	invitees, err := members(c, c.String("members"))
	if err == nil {
		err = device.CheckCreate(c.Args().First(), invitees)
	}
	if err != nil {
		return err
	}
	return groupAct(func(ctx context.Context, c *cli.Context, x device.GroupCmd) error {
		return x.Create(ctx, c.Args().First(), invitees)
	})(c)
}

// groupMembers adds, kicks or promotes members.
func groupMembers(c *cli.Context) error {
	invitees, err := members(c, c.Args().Get(1))
	if err != nil {
		return err
	}
	o := device.MemberOptions{History: c.Bool("history"), DeleteMessages: c.Bool("delete-messages")}
	return groupAct(func(ctx context.Context, c *cli.Context, x device.GroupCmd) error {
		return x.Members(ctx, c.Command.Name, c.Args().Get(0), invitees, o)
	})(c)
}

func groupSend(c *cli.Context) error {
	if strings.TrimSpace(c.Args().Get(1)) == "" {
		return errkind.Invalidf("an empty message: give some TEXT")
	}
	return groupAct(func(ctx context.Context, c *cli.Context, x device.GroupCmd) error {
		return x.Send(ctx, c.Args().Get(0), c.Args().Get(1))
	})(c)
}

func groupInfo(c *cli.Context) error {
	if c.String("as") != "" {
		return groupAct(func(ctx context.Context, c *cli.Context, x device.GroupCmd) error {
			return x.Info(ctx, c.Args().First())
		})(c)
	}
	// Without --as: the group as the identities of this keystore last read
	// it, an admin's view first (no network needed).
	g, old, err := device.FindLocal(dirOf(c), c.Args().First())
	if err != nil {
		return err
	}
	return device.ShowInfo(output(c), device.Info(c.Context, keystore(c), g, old, nil))
}
