package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/identity"
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
			{
				Name:      "show",
				Usage:     "show the profile as the account's swarm holds it",
				ArgsUsage: " ",
				Flags:     []cli.Flag{asFlag, ledgerURLFlag, jsonFlag},
				Action:    profileShow,
			},
		},
	}
}

func profileSet(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
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
	var picture []byte
	if pic != "" {
		var err error
		if picture, err = readAvatar(pic); err != nil {
			return err
		}
	}
	var srv client.ServerInfo
	if picture != nil {
		var err error
		if srv, err = fileServer(c); err != nil {
			return err
		}
	}
	cl, ctx, done, err := clientAs(c)
	if err != nil {
		return err
	}
	defer done()
	ch := client.ProfileChange{Avatar: picture, RemoveAvatar: c.Bool("remove-avatar")}
	if setName {
		ch.Name = &name
	}
	res, err := cl.UpdateProfile(ctx, srv, ch, c.Duration("ttl"))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, res)
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
}

// readAvatar reads a picture for --avatar: a file of 1 byte to the file
// server's limit.
func readAvatar(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, errkind.Invalidf("--avatar: %v", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, errkind.Invalidf("--avatar %s: not a regular file", path)
	}
	if fi.Size() > client.MaxAvatarSize {
		return nil, errkind.Invalidf("--avatar %s: %s; a profile picture is at most 10 MB (%d bytes)", path, display.ByteSize(int(fi.Size())), client.MaxAvatarSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errkind.Invalidf("--avatar: %v", err)
	}
	if len(data) == 0 {
		return nil, errkind.Invalidf("--avatar %s: an empty file", path)
	}
	if len(data) > client.MaxAvatarSize {
		return nil, errkind.Invalidf("--avatar %s: it grew past 10 MB while read", path)
	}
	return data, nil
}

// actAs runs do as the client of --as NAME, for a command that takes no
// arguments.
func actAs(c *cli.Context, do func(*client.Client, context.Context) error) error {
	if err := noArgs(c); err != nil {
		return err
	}
	cl, ctx, done, err := clientAs(c)
	if err != nil {
		return err
	}
	defer done()
	return do(cl, ctx)
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
		return printJSON(c.App.Writer, push)
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
	return actAs(c, func(cl *client.Client, ctx context.Context) error {
		cfg, err := cl.LoadConfig(ctx, configmsg.UserProfile)
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
			return printJSON(c.App.Writer, out)
		}
		if cfg.Message == nil {
			fmt.Fprintf(c.App.Writer, "%s's swarm holds no profile: never set, or it expired with no device online to extend it\n", c.String("as"))
			return nil
		}
		name := p.Name
		if name == "" {
			name = "(none)"
		}
		fmt.Fprintf(c.App.Writer, "display name: %s\n", display.Escape(name))
		if p.PicURL != "" {
			fmt.Fprintf(c.App.Writer, "picture:      %s\n", display.Escape(p.PicURL))
		}
		fmt.Fprintf(c.App.Writer, "seqno:        %d", cfg.Message.Seqno())
		if cfg.Expiry > 0 {
			fmt.Fprintf(c.App.Writer, ", expires %s", time.UnixMilli(cfg.Expiry).Format("2006-01-02 15:04:05"))
		}
		fmt.Fprintln(c.App.Writer)
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
	arg, err := oneArg(c, "the ACCOUNT")
	if err != nil {
		return err
	}
	if err := configmsg.SetContact(configmsg.Dict{}, configmsg.Contact{ID: "05" + fmt.Sprintf("%064x", 0), Nickname: c.String("nickname")}); err != nil {
		return errkind.AsInvalid(err)
	}
	if err := checkTTL(c); err != nil {
		return err
	}
	cl, lc, ctx, done, err := clientAndLedgerAs(c)
	if err != nil {
		return err
	}
	defer done()
	id, err := resolveAccount(c, lc, arg)
	if err != nil {
		return err
	}
	if id == cl.AccountID() {
		return errkind.Invalidf("%s is %s itself", arg, c.String("as"))
	}
	push, err := cl.EditContact(ctx, id, c.Duration("ttl"), func(ct *configmsg.Contact) { change(c, ct) })
	if err != nil {
		return err
	}
	verb := map[string]string{"add": "approved", "block": "blocked", "unblock": "unblocked"}[c.Command.Name]
	return printPush(c, push, fmt.Sprintf("%s %s", verb, arg))
}

func contactsList(c *cli.Context) error {
	return actAs(c, func(cl *client.Client, ctx context.Context) error {
		cfg, err := cl.LoadConfig(ctx, configmsg.Contacts)
		if err != nil {
			return err
		}
		all := configmsg.ListContacts(cfg.Data())
		if c.Bool("json") {
			if all == nil {
				all = []configmsg.Contact{}
			}
			return printJSON(c.App.Writer, all)
		}
		if len(all) == 0 {
			fmt.Fprintf(c.App.Writer, "%s has no contacts\n", c.String("as"))
			return nil
		}
		names := senderNames(c)
		tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CONTACT\tNICKNAME\tAPPROVED\tAPPROVED YOU\tBLOCKED")
		yes := func(b bool) string {
			if b {
				return "yes"
			}
			return "-"
		}
		for _, ct := range all {
			nick := ct.Nickname
			if nick == "" {
				nick = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", display.NameOr(names, ct.ID), display.Escape(nick), yes(ct.Approved), yes(ct.ApprovedMe), yes(ct.Blocked))
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
					ledgerURLFlag, jsonFlag}, Action: requestAccept},
			{Name: "decline", Usage: "decline an account's request: its messages are deleted", ArgsUsage: "ACCOUNT",
				Flags: []cli.Flag{asFlag, &cli.BoolFlag{Name: "block", Usage: "block the account too"}, ledgerURLFlag, jsonFlag}, Action: requestDecline},
		},
	}
}

// printMessages prints messages as fetch does.
func printMessages(c *cli.Context, msgs []client.Message, prefix string) {
	names := senderNames(c)
	me := ""
	if e, err := keystore(c).Get(c.String("as")); err == nil {
		me = e.Keys.AccountID().String()
	}
	for _, m := range msgs {
		fmt.Fprintf(c.App.Writer, "%s%s\n", prefix, display.MessageLine(m, me, c.String("as"), names))
	}
}

func requestList(c *cli.Context) error {
	return actAs(c, func(cl *client.Client, ctx context.Context) error {
		held, err := cl.Requests(ctx)
		if err != nil {
			return err
		}
		return printRequests(c, held)
	})
}

func printRequests(c *cli.Context, held []client.Message) error {
	if c.Bool("json") {
		if held == nil {
			held = []client.Message{}
		}
		return printJSON(c.App.Writer, map[string]any{"requests": held})
	}
	if len(held) == 0 {
		fmt.Fprintln(c.App.Writer, "no message requests")
		return nil
	}
	printMessages(c, held, "request ")
	return nil
}

func requestAccount(c *cli.Context) (*client.Client, identity.AccountID, func(), error) {
	arg, err := oneArg(c, "the ACCOUNT whose request it is")
	if err != nil {
		return nil, identity.AccountID{}, nil, err
	}
	cl, lc, _, done, err := clientAndLedgerAs(c)
	if err != nil {
		return nil, identity.AccountID{}, nil, err
	}
	id, err := resolveAccount(c, lc, arg)
	if err != nil {
		done()
		return nil, identity.AccountID{}, nil, err
	}
	return cl, id, done, nil
}

func requestAccept(c *cli.Context) error {
	cl, id, done, err := requestAccount(c)
	if err != nil {
		return err
	}
	defer done()
	if dir := c.String("save-dir"); dir != "" {
		// Saved before anything is accepted: a failure accepts nothing.
		held, err := cl.Requests(c.Context)
		if err != nil {
			return err
		}
		held = slices.DeleteFunc(held, func(m client.Message) bool { return m.From != id.String() })
		if err := saveFiles(c.Context, c, cl, dir, held); err != nil {
			return err
		}
	}
	msgs, err := cl.AcceptRequest(c.Context, id)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		if msgs == nil {
			msgs = []client.Message{}
		}
		return printJSON(c.App.Writer, map[string]any{"accepted": id.String(), "messages": msgs})
	}
	printMessages(c, msgs, "")
	fmt.Fprintf(c.App.Writer, "accepted %s's message request: %s is a contact now, and is told so\n", c.Args().First(), c.Args().First())
	return nil
}

func requestDecline(c *cli.Context) error {
	cl, id, done, err := requestAccount(c)
	if err != nil {
		return err
	}
	defer done()
	n, err := cl.DeclineRequest(c.Context, id, c.Bool("block"))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, map[string]any{"declined": id.String(), "deleted": n, "blocked": c.Bool("block")})
	}
	fmt.Fprintf(c.App.Writer, "declined %s's message request: %s deleted", c.Args().First(), display.Plural(n, "message"))
	if c.Bool("block") {
		fmt.Fprintf(c.App.Writer, "; %s is blocked", c.Args().First())
	}
	fmt.Fprintln(c.App.Writer)
	return nil
}
