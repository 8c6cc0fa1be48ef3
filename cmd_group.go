package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/device"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/group"
	"github.com/sessionctl/sessionctl/identity"
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
			{Name: "add", Usage: "invite members (admins)", ArgsUsage: "GROUP MEMBER[,MEMBER...]", Flags: with(&cli.BoolFlag{Name: "history", Usage: "give them the group's keys so far: they read what it wrote before (else the key rotates)"}), Action: groupMemberAct},
			{Name: "kick", Usage: "remove members: revoke their tokens, tell them, rotate the key (admins)", ArgsUsage: "GROUP MEMBER[,MEMBER...]", Flags: with(&cli.BoolFlag{Name: "delete-messages", Usage: "delete what they wrote, for everyone"}), Action: groupMemberAct},
			{Name: "promote", Usage: "make a member an admin: it gets the group key (admins)", ArgsUsage: "GROUP MEMBER", Flags: with(), Action: groupMemberAct},
			{Name: "join", Usage: "accept an invite to a group", ArgsUsage: "GROUP", Flags: with(), Action: groupAct(groupJoin)},
			{Name: "leave", Usage: "leave a group (or decline its invite)", ArgsUsage: "GROUP", Flags: with(), Action: groupLeave},
			{Name: "delete", Usage: "delete a group for everyone (admins)", ArgsUsage: "GROUP", Flags: with(), Action: groupAct(groupDelete)},
			{Name: "rename", Usage: "rename a group (admins)", ArgsUsage: "GROUP NAME", Flags: with(), Action: groupAct(groupRename)},
			{Name: "send", Usage: "post a message to a group", ArgsUsage: "GROUP TEXT", Flags: with(jsonFlag), Action: groupAct(groupSend)},
			{Name: "fetch", Usage: "read a group's new messages", ArgsUsage: "GROUP", Flags: with(jsonFlag), Action: groupAct(groupFetch)},
			{Name: "info", Usage: "a group's members (from its members config), admins, key generation and revoked tokens", ArgsUsage: "GROUP", Flags: with(jsonFlag), Action: groupInfo},
			{Name: "ls", Usage: "the groups of an identity, and the invites it received", ArgsUsage: " ", Flags: with(jsonFlag), Action: groupList},
		},
	}
}

// withGroups runs do with the groups of --as, brought up to date (what
// that found goes to stderr), and timeout to do its work.
func withGroups(c *cli.Context, timeout time.Duration, do func(ctx context.Context, gs *device.Groups) error) error {
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
	ctx, cancel := context.WithTimeout(c.Context, timeout)
	defer cancel()
	return do(ctx, gs)
}

// groupAct is a command on GROUP (and perhaps a second argument): it finds
// the group among --as's, for do.
func groupAct(do func(ctx context.Context, c *cli.Context, gs *device.Groups, g *group.Group) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		if c.Command.Name == "send" && strings.TrimSpace(c.Args().Get(1)) == "" {
			return errkind.Invalidf("an empty message: give some TEXT")
		}
		return withGroups(c, time.Minute, func(ctx context.Context, gs *device.Groups) error {
			g, _, err := gs.Find(c.Args().Get(0))
			if err != nil {
				return err
			}
			return do(ctx, c, gs, g)
		})
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
	name := c.Args().First()
	if strings.TrimSpace(name) == "" || len(name) > 100 {
		return errkind.Invalidf("a group name is 1-100 bytes")
	}
	invitees, err := members(c, c.String("members"))
	if err != nil {
		return err
	}
	if len(invitees)+1 > group.MaxMembers {
		return errkind.Invalidf("%d members: %v", len(invitees)+1, group.ErrTooMany)
	}
	return withGroups(c, 2*time.Minute, func(ctx context.Context, gs *device.Groups) error {
		g, err := gs.Create(ctx, name, invitees)
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return display.JSON(c.App.Writer, device.Info(ctx, keystore(c), g, false, nil))
		}
		fmt.Fprintf(c.App.Writer, "created group %q: %s\n%s invited; each joins with 'sessionctl group join %s --as NAME'\n",
			g.Name, g.ID, display.Plural(len(invitees), "member"), name)
		return nil
	})
}

// groupMemberAct adds, kicks or promotes members.
func groupMemberAct(c *cli.Context) error {
	what := c.Command.Name
	invitees, err := members(c, c.Args().Get(1))
	if err != nil {
		return err
	}
	if len(invitees) == 0 {
		return errkind.Invalidf("group %s: no MEMBER given", what)
	}
	if what == "promote" && len(invitees) != 1 {
		return errkind.Invalidf("group promote takes one MEMBER")
	}
	var ids []identity.AccountID
	var who []string
	for _, m := range invitees {
		ids, who = append(ids, m.ID), append(who, m.ID.String())
	}
	return withGroups(c, 2*time.Minute, func(ctx context.Context, gs *device.Groups) error {
		g, _, err := gs.Find(c.Args().Get(0))
		if err != nil {
			return err
		}
		switch what {
		case "add":
			err = gs.Add(ctx, g, invitees, c.Bool("history"))
		case "kick":
			err = gs.Kick(ctx, g, ids, c.Bool("delete-messages"))
		case "promote":
			err = gs.Promote(ctx, g, ids[0])
		}
		if err != nil {
			return err
		}
		switch w := c.App.Writer; what {
		case "add":
			how := "the key rotated to generation " + fmt.Sprint(g.Generation) + ": they read from it on"
			if c.Bool("history") {
				how = "given the group's keys so far: they read its history"
			}
			fmt.Fprintf(w, "invited %s to %q (%s)\n", strings.Join(who, ", "), g.Name, how)
		case "kick":
			fmt.Fprintf(w, "removed %s from %q: token revoked, key rotated to generation %d\n", strings.Join(who, ", "), g.Name, g.Generation)
		case "promote":
			fmt.Fprintf(w, "%s is now an admin of %q (the group's key was sent)\n", who[0], g.Name)
		}
		return nil
	})
}

func groupJoin(ctx context.Context, c *cli.Context, gs *device.Groups, g *group.Group) error {
	if err := gs.Join(ctx, g); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "joined %q (%s): key generation %d, %s\n", g.Name, g.ID, g.Generation, display.Plural(len(g.MemberList()), "member"))
	return nil
}

func groupLeave(c *cli.Context) error {
	arg := c.Args().First()
	return withGroups(c, time.Minute, func(ctx context.Context, gs *device.Groups) error {
		g, old, err := gs.Find(arg)
		if err != nil && !old {
			return err
		}
		invited, gone := g.Invited, g.Kicked || g.Destroyed
		if err := gs.Leave(ctx, g, old); err != nil {
			return err
		}
		switch w := c.App.Writer; {
		case old:
			fmt.Fprintf(w, "left %q, a group of the old kind: forgotten here\n", g.Name)
		case invited:
			fmt.Fprintf(w, "declined the invite to %q\n", g.Name)
		case gone:
			fmt.Fprintf(w, "forgot %q\n", g.Name)
		default:
			fmt.Fprintf(w, "left %q; an admin's next fetch removes you and rotates the key\n", g.Name)
		}
		return nil
	})
}

func groupDelete(ctx context.Context, c *cli.Context, gs *device.Groups, g *group.Group) error {
	if err := gs.Delete(ctx, g); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "deleted %q for everyone\n", g.Name)
	return nil
}

func groupRename(ctx context.Context, c *cli.Context, gs *device.Groups, g *group.Group) error {
	if err := gs.Rename(ctx, g, c.Args().Get(1)); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "renamed the group %q\n", g.Name)
	return nil
}

func groupSend(ctx context.Context, c *cli.Context, gs *device.Groups, g *group.Group) error {
	if err := gs.Send(ctx, g, c.Args().Get(1)); err != nil || c.Bool("json") {
		return orJSON(c, map[string]any{"group": g.Name, "group_id": g.ID, "generation": g.Generation}, err)
	}
	fmt.Fprintf(c.App.Writer, "sent to %q (key generation %d)\n", g.Name, g.Generation)
	return nil
}

func groupFetch(ctx context.Context, c *cli.Context, gs *device.Groups, g *group.Group) error {
	msgs, bad, err := gs.Fetch(ctx, g)
	if err != nil || c.Bool("json") {
		return orJSON(c, struct {
			Messages   []group.Message    `json:"messages"`
			Unreadable []group.Unreadable `json:"unreadable,omitempty"`
		}{msgs, bad}, err)
	}
	device.WriteGroupMessages(c.App.Writer, c.App.ErrWriter, msgs, bad, device.MemberNames(ctx, keystore(c), g, gs.C))
	return nil
}

func groupInfo(c *cli.Context) error {
	arg := c.Args().First()
	show := func(ctx context.Context, g *group.Group, old bool, cl *client.Client) error {
		info := device.Info(ctx, keystore(c), g, old, cl)
		if c.Bool("json") {
			return display.JSON(c.App.Writer, info)
		}
		device.WriteInfo(c.App.Writer, info)
		return nil
	}
	if c.String("as") == "" {
		// Without --as: the group as the identities of this keystore last
		// read it, an admin's view first (no network needed).
		g, old, err := device.FindLocal(dirOf(c), arg)
		if err != nil {
			return err
		}
		return show(c.Context, g, old, nil)
	}
	return withGroups(c, time.Minute, func(ctx context.Context, gs *device.Groups) error {
		g, old, err := gs.Find(arg)
		if err != nil && !old {
			return err
		}
		if !old && !g.Invited && !g.Kicked && !g.Destroyed {
			// Every member reads the members config: the list is the group's.
			if err := gs.Refresh(ctx, g); err != nil && !errors.Is(err, group.ErrKicked) && !errors.Is(err, group.ErrDestroyed) {
				return err
			}
		}
		return show(ctx, g, old, gs.C)
	})
}

func groupList(c *cli.Context) error {
	return withGroups(c, time.Minute, func(ctx context.Context, gs *device.Groups) error {
		all, err := gs.Store.List(gs.Device, gs.C.AccountID().String())
		if err != nil {
			return err
		}
		sort.SliceStable(all, func(i, j int) bool { return all[i].Name < all[j].Name })
		if c.Bool("json") {
			out := []device.GroupInfo{}
			for _, e := range all {
				out = append(out, device.Info(ctx, keystore(c), e.Group, e.Old, nil))
			}
			return display.JSON(c.App.Writer, struct {
				Groups []device.GroupInfo `json:"groups"`
			}{out})
		}
		if len(all) == 0 {
			fmt.Fprintln(c.App.Writer, "no groups")
			return nil
		}
		tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tGROUP ID\tMEMBERS\tGENERATION\tROLE")
		for _, e := range all {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", display.Escape(e.Name), e.ID, len(e.MemberList()), e.Generation, device.Role(e.Group, e.Old))
		}
		return tw.Flush()
	})
}
