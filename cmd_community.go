package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/community"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/identity"
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
			{Name: "post", Usage: "post to a room", ArgsUsage: "ROOM TEXT", Flags: f(jsonFlag), Action: communityPost},
			{Name: "read", Usage: "a room's messages", ArgsUsage: "ROOM", Flags: f(jsonFlag, &cli.Int64Flag{Name: "since", Usage: "messages after sequence number `N`"}), Action: communityRead},
			{Name: "delete", Usage: "delete a message (its author or a moderator)", ArgsUsage: "ROOM MESSAGE_ID", Flags: f(), Action: communityDelete},
			{
				Name: "mod", Usage: "moderators",
				Subcommands: []*cli.Command{
					{Name: "add", Usage: "make a user a moderator of a room (admins)", ArgsUsage: "ROOM ID", Flags: f(&cli.BoolFlag{Name: "admin", Usage: "an admin, not only a moderator"}), Action: communityMod(true)},
					{Name: "remove", Usage: "take a moderator's rights away (admins)", ArgsUsage: "ROOM ID", Flags: f(), Action: communityMod(false)},
				},
			},
			{Name: "ban", Usage: "ban a user from a room (moderators)", ArgsUsage: "ROOM ID", Flags: f(), Action: communityBan(true)},
			{Name: "unban", Usage: "lift a ban (moderators)", ArgsUsage: "ROOM ID", Flags: f(), Action: communityBan(false)},
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

// communityServer returns the devnet's community server, from its manifest.
func communityServer(c *cli.Context) (client.ServerInfo, error) {
	m, err := devnet.ReadManifest(c.String(dirFlag.Name))
	if err != nil {
		return client.ServerInfo{}, notRunning(fmt.Errorf("no devnet is running under %s; start one with 'sessionctl devnet up'", c.String(dirFlag.Name)))
	}
	for _, s := range m.Servers {
		if s.Kind == "community" {
			k, err := hex.DecodeString(s.X25519Pubkey)
			if err != nil || len(k) != 32 {
				return client.ServerInfo{}, errors.New("the manifest's community server key is malformed")
			}
			return client.ServerInfo{URL: s.URL, X25519: [32]byte(k)}, nil
		}
	}
	return client.ServerInfo{}, errors.New("the devnet runs no community server")
}

// communityClient starts a Session client for --as (default: the
// keystore's first identity) and a community client over it.
func communityClient(c *cli.Context) (*community.Client, func(), error) {
	srv, err := communityServer(c)
	if err != nil {
		return nil, nil, err
	}
	name := c.String("as")
	if name == "" {
		all, err := keystore(c).List()
		if err != nil || len(all) == 0 {
			return nil, nil, usagef("--as NAME is required")
		}
		name = all[0].Name
	}
	cl, _, err := startClient(c, name, "")
	if err != nil {
		return nil, nil, err
	}
	cc, err := community.NewClient(cl, srv)
	if err != nil {
		cl.Close()
		return nil, nil, err
	}
	return cc, func() { cl.Close() }, nil
}

// communityError maps a community client's error: the server's refusal is
// a usage error (2), a network that does not answer 3.
func communityError(err error) error {
	var r *community.RefusedError
	if errors.As(err, &r) {
		return usageError(err)
	}
	return clientError(err)
}

// withCommunity runs f with a community client and a minute to do its work.
func withCommunity(c *cli.Context, f func(ctx context.Context, cc *community.Client) error) error {
	cc, done, err := communityClient(c)
	if err != nil {
		return err
	}
	defer done()
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	if err := f(ctx, cc); err != nil {
		var ex *exitError
		if errors.As(err, &ex) {
			return err
		}
		return communityError(err)
	}
	return nil
}

// blindedID reads an ID argument: a blinded ID, a Session ID (blinded for
// the server), or an identity of the keystore.
func blindedID(c *cli.Context, cc *community.Client, srv client.ServerInfo, arg string) (string, error) {
	if len(arg) == identity.AccountIDLen {
		id, err := identity.ParseAccountID(arg)
		if err != nil {
			return "", usageError(err)
		}
		bid, err := cc.BlindedID(id)
		if err != nil {
			return "", usageError(err)
		}
		return bid, nil
	}
	e, err := keystore(c).Get(arg)
	if err != nil {
		return "", keystoreError(err)
	}
	b, err := identity.Blind15(e.Keys, srv.X25519[:])
	if err != nil {
		return "", err
	}
	return b.ID(), nil
}

func communityRooms(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	return withCommunity(c, func(ctx context.Context, cc *community.Client) error {
		rooms, err := cc.Rooms(ctx)
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return printJSON(c.App.Writer, map[string]any{"rooms": rooms})
		}
		tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ROOM\tNAME\tMESSAGES\tMODERATORS\tYOU MODERATE")
		for _, r := range rooms {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%v\n", escapeText(r.Token), escapeText(r.Name), r.Seqno, len(r.Mods), r.Moderator)
		}
		return tw.Flush()
	})
}

func twoArgs(c *cli.Context, a, b string) (string, string, error) {
	if c.NArg() != 2 {
		return "", "", usagef("%s takes two arguments, %s and %s", c.Command.FullName(), a, b)
	}
	return c.Args().Get(0), c.Args().Get(1), nil
}

func communityPost(c *cli.Context) error {
	room, text, err := twoArgs(c, "ROOM", "TEXT")
	if err != nil {
		return err
	}
	return withCommunity(c, func(ctx context.Context, cc *community.Client) error {
		m, err := cc.Post(ctx, room, text)
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return printJSON(c.App.Writer, roomMessageJSON(m, room))
		}
		fmt.Fprintf(c.App.Writer, "posted message %d in %s as %s\n", m.ID, room, m.SessionID)
		return nil
	})
}

// roomMessage is a community message in the CLI's vocabulary (README,
// "Output"): the sender's ID as from, plain text, times in unix ms.
type roomMessage struct {
	ID       int64  `json:"id"`
	Room     string `json:"room"`
	Seqno    int64  `json:"seqno"`
	From     string `json:"from"`
	Text     string `json:"text"`
	PostedAt int64  `json:"posted_at"`
	Deleted  bool   `json:"deleted,omitempty"`
}

func roomMessageJSON(m *community.Message, room string) roomMessage {
	return roomMessage{ID: m.ID, Room: room, Seqno: m.Seqno, From: m.SessionID, Text: m.Text(),
		PostedAt: int64(m.Posted * 1000), Deleted: m.Deleted}
}

func communityRead(c *cli.Context) error {
	room, err := oneArg(c, "ROOM")
	if err != nil {
		return err
	}
	return withCommunity(c, func(ctx context.Context, cc *community.Client) error {
		msgs, err := cc.Read(ctx, room, c.Int64("since"))
		if err != nil {
			return err
		}
		if c.Bool("json") {
			out := []roomMessage{}
			for i := range msgs {
				out = append(out, roomMessageJSON(&msgs[i], room))
			}
			return printJSON(c.App.Writer, map[string]any{"messages": out})
		}
		srv, _ := communityServer(c)
		names := blindedNames(c, srv)
		for _, m := range msgs {
			if m.Deleted {
				fmt.Fprintf(c.App.Writer, "#%d (deleted)\n", m.ID)
				continue
			}
			fmt.Fprintf(c.App.Writer, "#%d %s: %s\n", m.ID, nameOr(names, m.SessionID), escapeText(m.Text()))
		}
		if len(msgs) == 0 {
			fmt.Fprintln(c.App.Writer, "no messages")
		}
		return nil
	})
}

// blindedNames maps the keystore identities' blinded IDs to their names.
func blindedNames(c *cli.Context, srv client.ServerInfo) map[string]string {
	out := map[string]string{}
	if all, err := keystore(c).List(); err == nil {
		for _, e := range all {
			if b, err := identity.Blind15(e.Keys, srv.X25519[:]); err == nil {
				out[b.ID()] = e.Name
			}
		}
	}
	return out
}

func communityDelete(c *cli.Context) error {
	room, id, err := twoArgs(c, "ROOM", "MESSAGE_ID")
	if err != nil {
		return err
	}
	return withCommunity(c, func(ctx context.Context, cc *community.Client) error {
		if err := cc.Delete(ctx, room, id); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "deleted message %s from %s\n", id, room)
		return nil
	})
}

// communityUserAct is a command on ROOM and a user's ID: act, then print
// done(id).
func communityUserAct(act func(ctx context.Context, c *cli.Context, cc *community.Client, room, id string) error, done func(id, room string) string) cli.ActionFunc {
	return func(c *cli.Context) error {
		room, who, err := twoArgs(c, "ROOM", "ID")
		if err != nil {
			return err
		}
		return withCommunity(c, func(ctx context.Context, cc *community.Client) error {
			srv, err := communityServer(c)
			if err != nil {
				return err
			}
			id, err := blindedID(c, cc, srv, who)
			if err != nil {
				return err
			}
			if err := act(ctx, c, cc, room, id); err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, done(id, room))
			return nil
		})
	}
}

func communityMod(add bool) cli.ActionFunc {
	return communityUserAct(
		func(ctx context.Context, c *cli.Context, cc *community.Client, room, id string) error {
			return cc.SetModerator(ctx, room, id, add, c.Bool("admin"))
		},
		func(id, room string) string { return fmt.Sprintf("%s: moderator of %s: %v", id, room, add) })
}

func communityBan(on bool) cli.ActionFunc {
	return communityUserAct(
		func(ctx context.Context, _ *cli.Context, cc *community.Client, room, id string) error {
			return cc.Ban(ctx, room, id, on)
		},
		func(id, room string) string { return fmt.Sprintf("%s: banned from %s: %v", id, room, on) })
}

func communityDM(c *cli.Context) error {
	who, text, err := twoArgs(c, "ID", "TEXT")
	if err != nil {
		return err
	}
	return withCommunity(c, func(ctx context.Context, cc *community.Client) error {
		srv, err := communityServer(c)
		if err != nil {
			return err
		}
		id, err := blindedID(c, cc, srv, who)
		if err != nil {
			return err
		}
		if err := cc.SendDM(ctx, id, text); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "message request sent to %s\n", id)
		return nil
	})
}

func communityInbox(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	return withCommunity(c, func(ctx context.Context, cc *community.Client) error {
		dms, err := cc.Inbox(ctx)
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return printJSON(c.App.Writer, map[string]any{"messages": dms})
		}
		srv, _ := communityServer(c)
		names := blindedNames(c, srv)
		for _, d := range dms {
			fmt.Fprintf(c.App.Writer, "from %s: %s\n", nameOr(names, d.Sender), escapeText(d.Text()))
		}
		if len(dms) == 0 {
			fmt.Fprintln(c.App.Writer, "no message requests")
		}
		return nil
	})
}

func communityRoomAdd(c *cli.Context) error {
	token, err := oneArg(c, "the room TOKEN")
	if err != nil {
		return err
	}
	cc, err := dialDevnet(c)
	if err != nil {
		return err
	}
	if err := cc.AddRoom(c.Context, token, c.String("name")); err != nil {
		return usageError(err)
	}
	fmt.Fprintf(c.App.Writer, "room %s created\n", token)
	return nil
}
