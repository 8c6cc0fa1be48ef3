package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/device"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/cliargs"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/urfave/cli/v2"
)

// The messaging commands: each acts as an identity of the keystore, a
// device (package device), and prints what it did.

var asFlag = &cli.StringFlag{Name: "as", Usage: "the identity (`NAME`) acting"}

// openDevice starts identity name's device under --dir. No devnet says so
// first (exit 3): the identities a devnet makes do not exist before it runs.
func openDevice(c *cli.Context, name string) (*device.Device, error) {
	lc, err := ledgerClient(c)
	if err != nil {
		return nil, err
	}
	return device.Open(c.Context, dirOf(c), lc, name, logger(c))
}

// actAs runs do as the device of --as NAME, with five minutes to do it.
func actAs(c *cli.Context, do func(ctx context.Context, d *device.Device) error) error {
	name := c.String("as")
	if name == "" {
		return errkind.Invalidf("%s needs --as NAME", c.Command.FullName())
	}
	d, err := openDevice(c, name)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(c.Context, 5*time.Minute)
	defer cancel()
	return do(ctx, d)
}

// orJSON returns err, or prints v as JSON when err is nil. (v is made
// before err is looked at: it must not read a result that err leaves nil.)
func orJSON(c *cli.Context, v any, err error) error {
	if err != nil {
		return err
	}
	return display.JSON(c.App.Writer, v)
}

// senderNames names the keystore's accounts.
func senderNames(c *cli.Context) map[string]string { return device.AccountNames(keystore(c)) }

func sendCommand() *cli.Command {
	return &cli.Command{
		Name:      "send",
		Usage:     "send an end-to-end encrypted message through a 3-hop onion path",
		ArgsUsage: "TEXT",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "the sending identity (`NAME`)"},
			&cli.StringFlag{Name: "to", Usage: "the recipient: an `ACCOUNT_ID`, an identity of the keystore, or a session name"},
			&cli.StringSliceFlag{Name: "attach", Usage: "a file (`PATH`) to encrypt, upload to the file server and send with the message"},
			&cli.StringFlag{Name: "reply-to", Usage: "quote the message of this `HASH` (one this identity sent or read, as 'send' or 'fetch' showed it)"},
			ledgerURLFlag, jsonFlag,
		},
		Action: send,
	}
}

func send(c *cli.Context) error {
	text := c.Args().First()
	if c.String("from") == "" || c.String("to") == "" {
		return errkind.Invalidf("send needs --from NAME and --to RECIPIENT")
	}
	if strings.TrimSpace(text) == "" && len(c.StringSlice("attach")) == 0 {
		return errkind.Invalidf("an empty message: give some text or --attach a file")
	}
	d, err := openDevice(c, c.String("from")) // its state keeps what it sent: 'unsend' finds it there
	if err != nil {
		return err
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(c.Context, 5*time.Minute)
	defer cancel()
	res, err := d.Send(ctx, device.Message{To: c.String("to"), Text: text, Attach: c.StringSlice("attach"), ReplyTo: c.String("reply-to")})
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return display.JSON(c.App.Writer, sendOutput(c, res))
	}
	names, p := nodeNames(c), res.Path
	fmt.Fprintf(c.App.Writer, "sent %s to %s\n", res.Hash, res.To)
	fmt.Fprintf(c.App.Writer, "path: you -> %s (guard) -> %s (middle) -> %s (exit) -> %s (swarm %s); stored by %s\n",
		display.NodeName(names, p.Guard), display.NodeName(names, p.Middle), display.NodeName(names, p.Exit), display.NodeName(names, p.Destination), res.Swarm, display.Plural(res.Stored, "node"))
	return nil
}

// sendOut is a send's --json form: the path's nodes in the vocabulary,
// their name and their key.
type sendOut struct {
	*client.SendResult
	Path map[string]hop `json:"path"`
}

type hop struct {
	Node string `json:"node"`
	Key  string `json:"ed25519_pubkey"`
}

func sendOutput(c *cli.Context, res *client.SendResult) sendOut {
	names := nodeNames(c)
	h := func(k string) hop { return hop{Node: display.NodeName(names, k), Key: k} }
	return sendOut{res, map[string]hop{"guard": h(res.Path.Guard), "middle": h(res.Path.Middle), "exit": h(res.Path.Exit), "destination": h(res.Path.Destination)}}
}

func fetchCommand() *cli.Command {
	return &cli.Command{
		Name:      "fetch",
		Usage:     "fetch new messages through an onion path, checking every signature",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "as", Usage: "the identity (`NAME`) whose messages to fetch"},
			&cli.BoolFlag{Name: "follow", Usage: "keep fetching every second until interrupted"},
			&cli.StringFlag{Name: "save-dir", Usage: "download, decrypt and save attachments in `DIR`"},
			&cli.BoolFlag{Name: "requests", Usage: "also list every message request held (messages from accounts that are not contacts); with --save-dir, save their attachments too"},
			&cli.BoolFlag{Name: "receipts", Usage: "send read receipts for the messages shown (off by default, as in the apps)"},
			ledgerURLFlag, jsonFlag,
		},
		Action: fetch,
	}
}

func fetch(c *cli.Context) error {
	name := c.String("as")
	if name == "" {
		return errkind.Invalidf("fetch needs --as NAME")
	}
	if c.Bool("requests") && c.Bool("follow") {
		return errkind.Invalidf("--requests lists the requests held once; it does not go with --follow (which shows each new request as it comes)")
	}
	d, err := openDevice(c, name)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := device.FetchOptions{SaveDir: c.String("save-dir"), Requests: c.Bool("requests"), Receipts: c.Bool("receipts"),
		Report: func(line string) { fmt.Fprintln(c.App.ErrWriter, line) }}
	text := device.TextOptions{As: name, Names: senderNames(c), Follow: c.Bool("follow"), Held: c.Bool("requests")}
	for {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		err := fetchOnce(fctx, c, d, opts, text)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if !c.Bool("follow") {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// fetchOnce fetches, delivers (saves files, prints) and only then marks
// the messages read: a failure on the way leaves them unread.
func fetchOnce(ctx context.Context, c *cli.Context, d *device.Device, opts device.FetchOptions, text device.TextOptions) error {
	got, err := d.Fetch(ctx, opts)
	if err != nil {
		return err
	}
	defer got.Abort() // no-op once committed
	switch {
	case c.Bool("json") && c.Bool("follow"):
		if got.News() {
			display.JSONLine(c.App.Writer, got.JSON(false))
		}
	case c.Bool("json"):
		err = display.JSON(c.App.Writer, got.JSON(c.Bool("requests")))
	default:
		err = got.WriteText(c.App.Writer, c.App.ErrWriter, text)
	}
	if err != nil {
		return err
	}
	return got.Commit()
}

func fileCommand() *cli.Command {
	return &cli.Command{
		Name:  "file",
		Usage: "upload and download encrypted files on the devnet's file server, through onion requests",
		Subcommands: []*cli.Command{
			{Name: "upload", Usage: "encrypt a file and upload it; prints its id, key, size and digest", ArgsUsage: "PATH",
				Flags: []cli.Flag{asFlag, ledgerURLFlag, jsonFlag}, Action: fileUpload},
			{
				Name: "download", Usage: "download a file and decrypt it", ArgsUsage: "ID|URL",
				Description: "ID is the file server's id; a URL as pointers carry it (http://filev2.getsession.org/file/ID, a\n" +
					"community's /room/ROOM/file/ID) names a file of the devnet's servers. Without --size, the size a pointer\n" +
					"this identity uploaded or read gives cuts the padding off.",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "key", Usage: "the file's `KEY` (64 bytes, base64)"},
					&cli.IntFlag{Name: "size", Usage: "the file's `SIZE` before padding (default: as a pointer this identity knows says; else the padding stays)"},
					&cli.StringFlag{Name: "digest", Usage: "the upload's SHA-256 `DIGEST` (base64), checked when given"},
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "where to write it (`PATH`; default stdout)"},
					asFlag, ledgerURLFlag,
				},
				Action: fileDownload,
			},
		},
	}
}

func fileUpload(c *cli.Context) error {
	path := c.Args().First()
	if c.String("as") == "" {
		return errkind.Invalidf("--as NAME is required")
	}
	return actAs(c, func(ctx context.Context, d *device.Device) error {
		att, err := d.Upload(ctx, path)
		if err != nil || c.Bool("json") {
			return orJSON(c, att, err)
		}
		fmt.Fprintf(c.App.Writer, "id:     %s\nkey:    %s\nsize:   %d\ndigest: %s\n", att.ID,
			base64.StdEncoding.EncodeToString(att.Key), att.Size, base64.StdEncoding.EncodeToString(att.Digest))
		return nil
	})
}

func fileDownload(c *cli.Context) error {
	arg := c.Args().First()
	if c.String("key") == "" {
		return errkind.Invalidf("file download needs --key KEY (and -o PATH, or the file goes to stdout)")
	}
	key, err := base64.StdEncoding.DecodeString(c.String("key"))
	if err != nil || len(key) != client.AttachmentKeySize {
		return errkind.Invalidf("--key: want %d bytes in base64", client.AttachmentKeySize)
	}
	digest, err := base64.StdEncoding.DecodeString(c.String("digest"))
	if err != nil {
		return errkind.Invalidf("--digest: want base64")
	}
	if c.Int("size") < 0 {
		return errkind.Invalidf("--size: want a number of bytes")
	}
	a := client.Attachment{ID: arg, Key: key, Digest: digest, Size: c.Int("size")}
	if strings.Contains(arg, "://") {
		a.ID, a.URL = "", arg
	}
	name := c.String("as")
	if name == "" {
		all, err := keystore(c).List()
		if err != nil || len(all) == 0 {
			return errkind.Invalidf("--as NAME is required: no identity in the keystore")
		}
		name = all[0].Name
	}
	d, err := openDevice(c, name) // its state knows the sizes of the pointers it saw
	if err != nil {
		return err
	}
	defer d.Close()
	data, unsized, err := d.Download(c.Context, a, c.IsSet("size"))
	if unsized != "" {
		fmt.Fprintf(c.App.ErrWriter, "the size of file %s is not known (no pointer %s uploaded or read gives it): written with its padding; --size N cuts it\n", unsized, name)
	}
	if err != nil {
		return err
	}
	if c.String("output") == "" || c.String("output") == "-" {
		_, err := c.App.Writer.Write(data)
		return err
	}
	if err := os.WriteFile(c.String("output"), data, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(c.App.ErrWriter, "wrote %s (%d bytes)\n", c.String("output"), len(data))
	return nil
}

func unsendCommand() *cli.Command {
	return &cli.Command{
		Name:      "unsend",
		Usage:     "delete a message you sent for everyone: an UnsendRequest to its recipient, and your own copy deleted",
		ArgsUsage: "HASH|--last",
		Description: "HASH is what 'send' printed; --last takes back the newest message this identity sent.\n" +
			"The recipient's devices delete the message when they next fetch; this identity's copy for its\n" +
			"other devices is deleted from its swarm now.",
		Flags: []cli.Flag{&cli.StringFlag{Name: "as", Usage: "the identity (`NAME`) that sent it"},
			&cli.BoolFlag{Name: "last", Usage: "the newest message this identity sent"}, ledgerURLFlag, jsonFlag},
		Action: unsend,
	}
}

func unsend(c *cli.Context) error {
	var hash string
	if c.Bool("last") {
		if err := noArgs(c); err != nil {
			return err
		}
	} else {
		if err := cliargs.Count(c, 1); err != nil {
			return err
		}
		hash = c.Args().First()
	}
	return actAs(c, func(ctx context.Context, d *device.Device) error {
		var err error
		if c.Bool("last") {
			if hash, err = d.Client.LastSent(ctx); err != nil {
				return errkind.AsInvalid(err)
			}
		}
		res, err := d.Client.Unsend(ctx, hash)
		if err != nil || c.Bool("json") {
			return orJSON(c, res, err)
		}
		fmt.Fprintf(c.App.Writer, "unsent %s: the recipient %s... is asked to delete it (request %s)", res.Hash, res.To[:12], res.Request)
		if res.SyncDeleted {
			fmt.Fprint(c.App.Writer, "; your copy for your other devices is deleted")
		}
		fmt.Fprintln(c.App.Writer)
		return nil
	})
}

func deleteAllCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete-all",
		Usage:     "delete every message of an identity's inbox from its swarm (signed by it)",
		ArgsUsage: " ",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "as", Usage: "the identity (`NAME`) whose inbox to clear"}, ledgerURLFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			return actAs(c, func(ctx context.Context, d *device.Device) error {
				n, err := d.Client.DeleteAll(ctx)
				if err != nil || c.Bool("json") {
					return orJSON(c, map[string]int{"deleted": n}, err)
				}
				fmt.Fprintf(c.App.Writer, "deleted %s from %s's inbox\n", display.Plural(n, "message"), c.String("as"))
				return nil
			})
		},
	}
}

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
	hash, emoji, remove := c.Args().Get(0), c.Args().Get(1), c.Bool("remove")
	if err := client.CheckEmoji(emoji); err != nil {
		return errkind.AsInvalid(err)
	}
	return actAs(c, func(ctx context.Context, d *device.Device) error {
		res, target, err := d.Client.React(ctx, hash, emoji, remove)
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return display.JSON(c.App.Writer, struct {
				sendOut
				Reaction client.Reaction `json:"reaction"`
			}{sendOutput(c, res), client.Reaction{MessageRef: *target, Emoji: emoji, Remove: remove}})
		}
		verb := "reacted " + emoji + " to"
		if remove {
			verb = "took " + emoji + " off"
		}
		fmt.Fprintf(c.App.Writer, "%s %q: reaction %s sent to %s\n", verb, display.Escape(target.Text), res.Hash, display.SenderLabel(senderNames(c), res.To, ""))
		return nil
	})
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
	if c.String("to") == "" {
		return errkind.Invalidf("typing needs --to RECIPIENT")
	}
	return actAs(c, func(ctx context.Context, d *device.Device) error {
		to, err := d.Resolve(ctx, c.String("to"))
		if err != nil {
			return err
		}
		if to.Prefix != identity.PrefixSession || to == d.AccountID() {
			return errkind.Invalidf("%s: typing goes to another Session account (05...)", c.String("to"))
		}
		res, err := d.Client.SendTyping(ctx, to, !c.Bool("stop"))
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return display.JSON(c.App.Writer, map[string]any{"hash": res.Hash, "to": res.To, "typing": !c.Bool("stop")})
		}
		what := "typing"
		if c.Bool("stop") {
			what = "stopped typing"
		}
		fmt.Fprintf(c.App.Writer, "told %s: %s (it lasts %s in the swarm)\n", display.SenderLabel(senderNames(c), res.To, ""), what, client.TypingTTL)
		return nil
	})
}
