package main

import (
	"context"
	"fmt"
	"mime"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/community"
	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/devnet"
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
	return dirOf(c).Server(devnet.CommunityServer)
}

// communityClient starts a Session client for --as (default: the
// keystore's first identity) and a community client over it.
func communityClient(c *cli.Context) (*community.Client, *client.Client, func(), error) {
	srv, err := communityServer(c)
	if err != nil {
		return nil, nil, nil, err
	}
	name := c.String("as")
	if name == "" {
		all, err := keystore(c).List()
		if err != nil || len(all) == 0 {
			return nil, nil, nil, errkind.Invalidf("--as NAME is required")
		}
		name = all[0].Name
	}
	cl, _, err := startClient(c, name, "")
	if err != nil {
		return nil, nil, nil, err
	}
	cc, err := community.NewClient(cl, srv)
	if err != nil {
		cl.Close()
		return nil, nil, nil, err
	}
	return cc, cl, func() { cl.Close() }, nil
}

// withCommunity runs f with a community client and a minute to do its work.
func withCommunity(c *cli.Context, f func(ctx context.Context, cc *community.Client) error) error {
	return withCommunityClient(c, func(ctx context.Context, cc *community.Client, _ *client.Client) error { return f(ctx, cc) })
}

// withCommunityClient is withCommunity with the Session client too.
func withCommunityClient(c *cli.Context, f func(ctx context.Context, cc *community.Client, cl *client.Client) error) error {
	cc, cl, done, err := communityClient(c)
	if err != nil {
		return err
	}
	defer done()
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	return f(ctx, cc, cl)
}

// blindedID reads an ID argument: a blinded ID, a Session ID (blinded for
// the server), or an identity of the keystore.
func blindedID(c *cli.Context, cc *community.Client, srv client.ServerInfo, arg string) (string, error) {
	if len(arg) == identity.AccountIDLen {
		id, err := identity.ParseAccountID(arg)
		if err != nil {
			return "", errkind.AsInvalid(err)
		}
		bid, err := cc.BlindedID(id)
		if err != nil {
			return "", errkind.AsInvalid(err)
		}
		return bid, nil
	}
	e, err := keystore(c).Get(arg)
	if err != nil {
		return "", err
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
		type roomJSON struct {
			community.RoomInfo
			JoinURL string `json:"join_url"`
		}
		if c.Bool("json") {
			out := []roomJSON{}
			for _, r := range rooms {
				out = append(out, roomJSON{r, cc.JoinURL(r.Token)})
			}
			return printJSON(c.App.Writer, map[string]any{"rooms": out})
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

func twoArgs(c *cli.Context, a, b string) (string, string, error) {
	if c.NArg() != 2 {
		return "", "", errkind.Invalidf("%s takes two arguments, %s and %s", c.Command.FullName(), a, b)
	}
	return c.Args().Get(0), c.Args().Get(1), nil
}

func communityPost(c *cli.Context) error {
	room, text, err := twoArgs(c, "ROOM", "TEXT")
	if err != nil {
		return err
	}
	if strings.TrimSpace(text) == "" && len(c.StringSlice("attach")) == 0 {
		return errkind.Invalidf("an empty message: give some text or --attach a file")
	}
	type file struct {
		name string
		data []byte
	}
	var files []file
	for _, path := range c.StringSlice("attach") {
		data, err := os.ReadFile(path)
		if err != nil {
			return errkind.Invalidf("--attach: %v", err)
		}
		if len(data) == 0 || len(data) > 10_000_000 {
			return errkind.Invalidf("--attach %s: a room file is 1 byte to 10 MB (10,000,000 bytes)", path)
		}
		files = append(files, file{filepath.Base(path), data})
	}
	return withCommunityClient(c, func(ctx context.Context, cc *community.Client, cl *client.Client) error {
		content := community.Content{Text: text, Name: displayName(ctx, cl)}
		for _, f := range files {
			ct := mime.TypeByExtension(filepath.Ext(f.name))
			if ct == "" {
				ct = "application/octet-stream"
			}
			a, err := cc.UploadFile(ctx, room, f.name, ct, f.data)
			if err != nil {
				return err
			}
			content.Attachments = append(content.Attachments, a)
		}
		m, err := cc.Post(ctx, room, content)
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

// displayName is the account's display name as its profile config holds
// it ("" when it has none or the swarm does not answer in time): apps put
// it in every message they post.
func displayName(ctx context.Context, cl *client.Client) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cfg, err := cl.LoadConfig(ctx, configmsg.UserProfile)
	if err != nil || cfg.Message == nil {
		return ""
	}
	return configmsg.ReadProfile(cfg.Data()).Name
}

// roomMessage is a community message in the CLI's vocabulary (README,
// "Output"): the sender's ID as from, plain text, times in unix ms. A
// reaction-only update has only id, seqno and reactions.
type roomMessage struct {
	ID          int64                         `json:"id"`
	Room        string                        `json:"room"`
	Seqno       int64                         `json:"seqno"`
	From        string                        `json:"from,omitempty"`
	FromName    string                        `json:"from_name,omitempty"`
	Text        string                        `json:"text"`
	Kind        string                        `json:"kind,omitempty"`
	Raw         string                        `json:"raw,omitempty"`
	Attachments []community.Attachment        `json:"attachments,omitempty"`
	Reactions   map[string]community.Reaction `json:"reactions,omitempty"`
	PostedAt    int64                         `json:"posted_at,omitempty"`
	Deleted     bool                          `json:"deleted,omitempty"`
}

func roomMessageJSON(m *community.Message, room string) roomMessage {
	out := roomMessage{ID: m.ID, Room: room, Seqno: m.Seqno, From: m.SessionID, PostedAt: int64(m.Posted * 1000), Deleted: m.Deleted}
	if m.Reactions != nil {
		out.Reactions = *m.Reactions
	}
	if m.Data != nil {
		ct := m.Content()
		out.FromName, out.Text, out.Kind, out.Raw, out.Attachments = ct.Name, ct.Text, ct.Kind, ct.Raw, ct.Attachments
	}
	return out
}

// reactionsText is a message's reactions for a person: " [👍 2, ❤ 1]".
func reactionsText(m *community.Message) string {
	if m.Reactions == nil || len(*m.Reactions) == 0 {
		return ""
	}
	list := make([]string, len(*m.Reactions))
	for emoji, r := range *m.Reactions {
		if r.Index >= 0 && r.Index < len(list) {
			list[r.Index] = fmt.Sprintf("%s %d", display.Escape(emoji), r.Count)
		}
	}
	return " [" + strings.Join(list, ", ") + "]"
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
		for i := range msgs {
			m := &msgs[i]
			switch {
			case m.Deleted:
				fmt.Fprintf(c.App.Writer, "#%d (deleted)\n", m.ID)
			case m.Data == nil:
				fmt.Fprintf(c.App.Writer, "#%d reactions now:%s\n", m.ID, orNone(reactionsText(m)))
			default:
				ct := m.Content()
				who := display.NameOr(names, m.SessionID)
				if ct.Name != "" && ct.Name != who {
					who += " (" + display.Escape(ct.Name) + ")"
				}
				fmt.Fprintf(c.App.Writer, "#%d %s: %s%s\n", m.ID, who, display.Escape(ct.Summary()), reactionsText(m))
			}
		}
		if len(msgs) == 0 {
			fmt.Fprintln(c.App.Writer, "no messages")
		}
		return nil
	})
}

func orNone(s string) string {
	if s == "" {
		return " none"
	}
	return s
}

func communityReact(c *cli.Context) error {
	if c.NArg() != 3 {
		return errkind.Invalidf("community react takes ROOM, MESSAGE_ID and EMOJI")
	}
	room, emoji := c.Args().Get(0), c.Args().Get(2)
	id, err := strconv.ParseInt(c.Args().Get(1), 10, 64)
	if err != nil {
		return errkind.Invalidf("MESSAGE_ID %q: want the number 'community read' shows after #", c.Args().Get(1))
	}
	return withCommunity(c, func(ctx context.Context, cc *community.Client) error {
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

// blindedNames maps the keystore identities' blinded IDs (and Session
// IDs) to their names.
func blindedNames(c *cli.Context, srv client.ServerInfo) map[string]string {
	out := map[string]string{}
	if all, err := keystore(c).List(); err == nil {
		for _, e := range all {
			if b, err := identity.Blind15(e.Keys, srv.X25519[:]); err == nil {
				out[b.ID()] = e.Name
			}
			out[e.Keys.AccountID().String()] = e.Name
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
			if aid, err := identity.ParseAccountID(who); err == nil && aid.Prefix == identity.PrefixSession {
				id = who // the server resolves a Session ID to the blinded ID it has seen
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
		if err := cc.SendDM(ctx, id, community.Content{Text: text}); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "message request sent to %s\n", id)
		return nil
	})
}

// inboxMessage is a message request in the CLI's vocabulary.
type inboxMessage struct {
	ID        int64  `json:"id"`
	From      string `json:"from"`                      // the sender's blinded ID
	FromID    string `json:"from_session_id,omitempty"` // their Session ID, from inside the message
	FromName  string `json:"from_name,omitempty"`
	To        string `json:"to"`
	Text      string `json:"text"`
	Raw       string `json:"raw,omitempty"`
	PostedAt  int64  `json:"posted_at"`
	ExpiresAt int64  `json:"expires_at"`
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
		out := []inboxMessage{}
		for i := range dms {
			d := &dms[i]
			ct, sid, _ := cc.Open(d)
			text := ct.Text
			if ct.Raw == "" {
				text = ct.Summary()
			}
			out = append(out, inboxMessage{ID: d.ID, From: d.Sender, FromID: sid, FromName: ct.Name, To: d.Recipient, Text: text, Raw: ct.Raw,
				PostedAt: int64(d.Posted * 1000), ExpiresAt: int64(d.Expires * 1000)})
		}
		if c.Bool("json") {
			return printJSON(c.App.Writer, map[string]any{"messages": out})
		}
		srv, _ := communityServer(c)
		names := blindedNames(c, srv)
		for _, m := range out {
			who := display.NameOr(names, m.From)
			if who == m.From && m.FromID != "" {
				who = display.NameOr(names, m.FromID)
			}
			text := display.Escape(m.Text)
			if m.Raw != "" {
				text = "[" + m.Raw + "]"
			}
			fmt.Fprintf(c.App.Writer, "from %s: %s\n", who, text)
		}
		if len(out) == 0 {
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
		return errkind.AsInvalid(err)
	}
	fmt.Fprintf(c.App.Writer, "room %s created\n", token)
	return nil
}
