package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sessionctl/sessionctl/community"
	"github.com/sessionctl/sessionctl/device"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/urfave/cli/v2"
)

func communityCommand() *cli.Command {
	f := func(extra ...cli.Flag) []cli.Flag {
		return append([]cli.Flag{asFlag, ledgerURLFlag}, extra...)
	}
	return &cli.Command{
		Name:  "community",
		Usage: "the devnet's community server: rooms, posts, moderators, bans, message requests",
		Subcommands: []*cli.Command{
			{Name: "rooms", Usage: "the rooms", ArgsUsage: " ", Flags: f(jsonFlag), Action: communityRooms},
			{Name: "post", Usage: "post to a room (a padded Content, as apps post, with the account's display name)", ArgsUsage: "ROOM TEXT", Flags: f(jsonFlag,
				&cli.StringSliceFlag{Name: "attach", Usage: "a file (`PATH`) to upload to the room and post with the message"}), Action: communityPost},
			{Name: "read", Usage: "a room's messages and reactions", ArgsUsage: "ROOM", Flags: f(jsonFlag, &cli.Int64Flag{Name: "since", Usage: "messages after sequence number `N`"}), Action: communityRead},
			{Name: "react", Usage: "react to a message", ArgsUsage: "ROOM MESSAGE_ID EMOJI", Flags: f(&cli.BoolFlag{Name: "remove", Usage: "remove the reaction"}), Action: communityReact},
			{Name: "delete", Usage: "delete a message (its author or a moderator)", ArgsUsage: "ROOM MESSAGE_ID", Flags: f(), Action: communityDelete},
			{
				Name: "mod", Usage: "moderators",
				Subcommands: []*cli.Command{
					{Name: "add", Usage: "make a user a moderator of a room (admins)", ArgsUsage: "ROOM ID", Flags: f(&cli.BoolFlag{Name: "admin", Usage: "an admin, not only a moderator"}), Action: communityUserAct},
					{Name: "remove", Usage: "take a moderator's rights away (admins)", ArgsUsage: "ROOM ID", Flags: f(), Action: communityUserAct},
				},
			},
			{Name: "ban", Usage: "ban a user from a room (moderators)", ArgsUsage: "ROOM ID", Flags: f(), Action: communityUserAct},
			{Name: "unban", Usage: "lift a ban (moderators)", ArgsUsage: "ROOM ID", Flags: f(), Action: communityUserAct},
			{Name: "dm", Usage: "send a message request to a user of the server", ArgsUsage: "ID TEXT", Flags: f(), Action: communityDM},
			{Name: "inbox", Usage: "your message requests", ArgsUsage: " ", Flags: f(jsonFlag), Action: communityInbox},
			{
				Name: "room", Usage: "rooms of the server (its operator's commands)",
				Subcommands: []*cli.Command{
					{Name: "add", Usage: "create a room", ArgsUsage: "TOKEN", Flags: []cli.Flag{&cli.StringFlag{Name: "name", Usage: "the room's `NAME`"}}, Action: communityRoomAdd},
				},
			},
		},
	}
}

// withCommunity runs do as --as (default: the keystore's first identity)
// on the devnet's community server, with a minute to do its work.
func withCommunity(c *cli.Context, do func(ctx context.Context, cc *device.Community) error) error {
	if _, err := dirOf(c).CommunityServer(); err != nil {
		return err
	}
	name := c.String("as")
	if name == "" {
		all, err := keystore(c).List()
		if err != nil || len(all) == 0 {
			return errkind.Invalidf("--as NAME is required")
		}
		name = all[0].Name
	}
	lc, err := ledgerClient(c)
	if err != nil {
		return err
	}
	cc, err := device.OpenCommunity(c.Context, dirOf(c), lc, name, logger(c))
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	return do(ctx, cc)
}

func communityRooms(c *cli.Context) error {
	return withCommunity(c, func(ctx context.Context, cc *device.Community) error {
		rooms, err := cc.Rooms(ctx)
		if err != nil {
			return err
		}
		if c.Bool("json") {
			type roomJSON struct {
				community.RoomInfo
				JoinURL string `json:"join_url"`
			}
			out := []roomJSON{}
			for _, r := range rooms {
				out = append(out, roomJSON{r, cc.JoinURL(r.Token)})
			}
			return display.JSON(c.App.Writer, map[string]any{"rooms": out})
		}
		tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ROOM\tNAME\tSEQUENCE\tACTIVE\tMODERATORS\tYOU MODERATE\tJOIN LINK")
		for _, r := range rooms {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%v\t%s\n", display.Escape(r.Token), display.Escape(r.Name), r.Seqno, r.ActiveUsers,
				len(r.Moderators)+len(r.Admins)+len(r.HiddenModerators)+len(r.HiddenAdmins), r.Moderator, cc.JoinURL(r.Token))
		}
		return tw.Flush()
	})
}

func communityPost(c *cli.Context) error {
	room, text := c.Args().Get(0), c.Args().Get(1)
	if strings.TrimSpace(text) == "" && len(c.StringSlice("attach")) == 0 {
		return errkind.Invalidf("an empty message: give some text or --attach a file")
	}
	files, err := device.ReadRoomFiles(c.StringSlice("attach"))
	if err != nil {
		return err
	}
	return withCommunity(c, func(ctx context.Context, cc *device.Community) error {
		m, err := cc.Post(ctx, room, text, files)
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return display.JSON(c.App.Writer, device.RoomMessageOf(m, room))
		}
		fmt.Fprintf(c.App.Writer, "posted message %d in %s as %s\n", m.ID, room, m.SessionID)
		return nil
	})
}

func communityRead(c *cli.Context) error {
	room := c.Args().First()
	return withCommunity(c, func(ctx context.Context, cc *device.Community) error {
		msgs, err := cc.Read(ctx, room, c.Int64("since"))
		if err != nil {
			return err
		}
		if c.Bool("json") {
			out := []device.RoomMessage{}
			for i := range msgs {
				out = append(out, device.RoomMessageOf(&msgs[i], room))
			}
			return display.JSON(c.App.Writer, map[string]any{"messages": out})
		}
		names := cc.Names()
		for i := range msgs {
			fmt.Fprintln(c.App.Writer, device.RoomLine(&msgs[i], names))
		}
		if len(msgs) == 0 {
			fmt.Fprintln(c.App.Writer, "no messages")
		}
		return nil
	})
}

func communityReact(c *cli.Context) error {
	room, emoji := c.Args().Get(0), c.Args().Get(2)
	id, err := strconv.ParseInt(c.Args().Get(1), 10, 64)
	if err != nil {
		return errkind.Invalidf("MESSAGE_ID %q: want the number 'community read' shows after #", c.Args().Get(1))
	}
	return withCommunity(c, func(ctx context.Context, cc *device.Community) error {
		if err := cc.React(ctx, room, id, emoji, !c.Bool("remove")); err != nil {
			return err
		}
		verb := "reacted"
		if c.Bool("remove") {
			verb = "removed the reaction"
		}
		fmt.Fprintf(c.App.Writer, "%s %s to message %d in %s\n", verb, emoji, id, room)
		return nil
	})
}

func communityDelete(c *cli.Context) error {
	room, id := c.Args().Get(0), c.Args().Get(1)
	return withCommunity(c, func(ctx context.Context, cc *device.Community) error {
		if err := cc.Delete(ctx, room, id); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "deleted message %s from %s\n", id, room)
		return nil
	})
}

// communityUserAct makes a user (ROOM ID) a moderator or not, or bans or
// unbans them, as the command's name says.
func communityUserAct(c *cli.Context) error {
	room, who := c.Args().Get(0), c.Args().Get(1)
	return withCommunity(c, func(ctx context.Context, cc *device.Community) error {
		id, err := cc.UserID(who)
		if err != nil {
			return err
		}
		if aid, err := identity.ParseAccountID(who); err == nil && aid.Prefix == identity.PrefixSession {
			id = who // the server resolves a Session ID to the blinded ID it has seen
		}
		var done string
		switch c.Command.Name {
		case "add", "remove": // community mod add|remove
			add := c.Command.Name == "add"
			err, done = cc.SetModerator(ctx, room, id, add, c.Bool("admin")), fmt.Sprintf("%s: moderator of %s: %v", id, room, add)
		default:
			on := c.Command.Name == "ban"
			err, done = cc.Ban(ctx, room, id, on), fmt.Sprintf("%s: banned from %s: %v", id, room, on)
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(c.App.Writer, done)
		return nil
	})
}

func communityDM(c *cli.Context) error {
	who, text := c.Args().Get(0), c.Args().Get(1)
	return withCommunity(c, func(ctx context.Context, cc *device.Community) error {
		id, err := cc.UserID(who)
		if err != nil {
			return err
		}
		if err := cc.SendDM(ctx, id, community.Content{Text: text}); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "message request sent to %s\n", id)
		return nil
	})
}

func communityInbox(c *cli.Context) error {
	return withCommunity(c, func(ctx context.Context, cc *device.Community) error {
		out, err := cc.Inbox(ctx)
		if err != nil || c.Bool("json") {
			return orJSON(c, map[string]any{"messages": out}, err)
		}
		names := cc.Names()
		for _, m := range out {
			fmt.Fprintln(c.App.Writer, device.InboxLine(m, names))
		}
		if len(out) == 0 {
			fmt.Fprintln(c.App.Writer, "no message requests")
		}
		return nil
	})
}

func communityRoomAdd(c *cli.Context) error {
	token := c.Args().First()
	cc, err := dialDevnet(c)
	if err != nil {
		return err
	}
	if err := cc.AddRoom(c.Context, token, c.String("name")); err != nil {
		return errkind.AsInvalid(err)
	}
	fmt.Fprintf(c.App.Writer, "room %s created\n", token)
	return nil
}
