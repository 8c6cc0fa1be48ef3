package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sessionctl/sessionctl/device"
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
			{Name: "rooms", Usage: "the rooms", ArgsUsage: " ", Flags: f(jsonFlag), Action: withCommunity(func(ctx context.Context, c *cli.Context, x device.CommunityCmd) error { return x.Rooms(ctx) })},
			{Name: "post", Usage: "post to a room (a padded Content, as apps post, with the account's display name)", ArgsUsage: "ROOM TEXT", Flags: f(jsonFlag,
				&cli.StringSliceFlag{Name: "attach", Usage: "a file (`PATH`) to upload to the room and post with the message"}), Action: communityPost},
			{Name: "read", Usage: "a room's messages and reactions", ArgsUsage: "ROOM", Flags: f(jsonFlag, &cli.Int64Flag{Name: "since", Usage: "messages after sequence number `N`"}), Action: withCommunity(func(ctx context.Context, c *cli.Context, x device.CommunityCmd) error {
				return x.Read(ctx, c.Args().First(), c.Int64("since"))
			})},
			{Name: "react", Usage: "react to a message", ArgsUsage: "ROOM MESSAGE_ID EMOJI", Flags: f(&cli.BoolFlag{Name: "remove", Usage: "remove the reaction"}), Action: communityReact},
			{Name: "delete", Usage: "delete a message (its author or a moderator)", ArgsUsage: "ROOM MESSAGE_ID", Flags: f(), Action: withCommunity(func(ctx context.Context, c *cli.Context, x device.CommunityCmd) error {
				return x.Delete(ctx, c.Args().Get(0), c.Args().Get(1))
			})},
			{
				Name: "mod", Usage: "moderators",
				Subcommands: []*cli.Command{
					{Name: "add", Usage: "make a user a moderator of a room (admins)", ArgsUsage: "ROOM ID", Flags: f(&cli.BoolFlag{Name: "admin", Usage: "an admin, not only a moderator"}), Action: communityUser},
					{Name: "remove", Usage: "take a moderator's rights away (admins)", ArgsUsage: "ROOM ID", Flags: f(), Action: communityUser},
				},
			},
			{Name: "ban", Usage: "ban a user from a room (moderators)", ArgsUsage: "ROOM ID", Flags: f(), Action: communityUser},
			{Name: "unban", Usage: "lift a ban (moderators)", ArgsUsage: "ROOM ID", Flags: f(), Action: communityUser},
			{Name: "dm", Usage: "send a message request to a user of the server", ArgsUsage: "ID TEXT", Flags: f(), Action: withCommunity(func(ctx context.Context, c *cli.Context, x device.CommunityCmd) error {
				return x.DM(ctx, c.Args().Get(0), c.Args().Get(1))
			})},
			{Name: "inbox", Usage: "your message requests", ArgsUsage: " ", Flags: f(jsonFlag), Action: withCommunity(func(ctx context.Context, c *cli.Context, x device.CommunityCmd) error { return x.Inbox(ctx) })},
			{
				Name: "room", Usage: "rooms of the server (its operator's commands)",
				Subcommands: []*cli.Command{
					{Name: "add", Usage: "create a room", ArgsUsage: "TOKEN", Flags: []cli.Flag{&cli.StringFlag{Name: "name", Usage: "the room's `NAME`"}}, Action: communityRoomAdd},
				},
			},
		},
	}
}

// withCommunity is an action as --as (default: the keystore's first
// identity) on the devnet's community server, with a minute to do its work.
func withCommunity(do func(ctx context.Context, c *cli.Context, x device.CommunityCmd) error) cli.ActionFunc {
	return func(c *cli.Context) error {
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
		return do(ctx, c, device.CommunityCmd{C: cc, Out: output(c)})
	}
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
	return withCommunity(func(ctx context.Context, c *cli.Context, x device.CommunityCmd) error {
		return x.Post(ctx, room, text, files)
	})(c)
}

func communityReact(c *cli.Context) error {
	id, err := strconv.ParseInt(c.Args().Get(1), 10, 64)
	if err != nil {
		return errkind.Invalidf("MESSAGE_ID %q: want the number 'community read' shows after #", c.Args().Get(1))
	}
	return withCommunity(func(ctx context.Context, c *cli.Context, x device.CommunityCmd) error {
		return x.React(ctx, c.Args().Get(0), id, c.Args().Get(2), c.Bool("remove"))
	})(c)
}

// communityUser makes a user (ROOM ID) a moderator or not, or bans or
// unbans them, as the command's name says.
func communityUser(c *cli.Context) error {
	return withCommunity(func(ctx context.Context, c *cli.Context, x device.CommunityCmd) error {
		return x.SetUser(ctx, c.Command.Name, c.Args().Get(0), c.Args().Get(1), c.Bool("admin"))
	})(c)
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
