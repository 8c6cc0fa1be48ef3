package main

import (
	"context"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/device"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/internal/cliargs"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/urfave/cli/v2"
)

// The messaging commands: each acts as an identity of the keystore, a
// device, whose commands (device.Cmd) act and show what they did.

var asFlag = &cli.StringFlag{Name: "as", Usage: "the identity (`NAME`) acting"}

// output is where a command shows its results: --json or text.
func output(c *cli.Context) display.Output {
	return display.Output{W: c.App.Writer, Err: c.App.ErrWriter, JSON: c.Bool("json")}
}

// openDevice starts identity name's device under --dir. No devnet says so
// first (exit 3): the identities a devnet makes do not exist before it runs.
func openDevice(c *cli.Context, name string) (*device.Device, error) {
	lc, err := ledgerClient(c)
	if err != nil {
		return nil, err
	}
	return device.Open(c.Context, dirOf(c), lc, name, logger(c))
}

// runAs runs do as the device of name, with five minutes to do it.
func runAs(c *cli.Context, name string, do func(ctx context.Context, c *cli.Context, x device.Cmd) error) error {
	d, err := openDevice(c, name)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(c.Context, 5*time.Minute)
	defer cancel()
	return do(ctx, c, device.Cmd{D: d, Out: output(c)})
}

// cmdAs is an action as the device of --as NAME.
func cmdAs(do func(ctx context.Context, c *cli.Context, x device.Cmd) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		if c.String("as") == "" {
			return errkind.Invalidf("%s needs --as NAME", c.Command.FullName())
		}
		return runAs(c, c.String("as"), do)
	}
}

// orJSON returns err, or prints v as JSON (v must not read what err leaves nil).
func orJSON(c *cli.Context, v any, err error) error {
	if err != nil {
		return err
	}
	return display.JSON(c.App.Writer, v)
}

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

func deleteAllCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete-all",
		Usage:     "delete every message of an identity's inbox from its swarm (signed by it)",
		ArgsUsage: " ",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "as", Usage: "the identity (`NAME`) whose inbox to clear"}, ledgerURLFlag, jsonFlag},
		Action:    cmdAs(func(ctx context.Context, c *cli.Context, x device.Cmd) error { return x.DeleteAll(ctx) }),
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

func send(c *cli.Context) error {
	text := c.Args().First()
	if c.String("from") == "" || c.String("to") == "" {
		return errkind.Invalidf("send needs --from NAME and --to RECIPIENT")
	}
	if strings.TrimSpace(text) == "" && len(c.StringSlice("attach")) == 0 {
		return errkind.Invalidf("an empty message: give some text or --attach a file")
	}
	// The sender's state keeps what it sent: 'unsend' finds it there.
	return runAs(c, c.String("from"), func(ctx context.Context, c *cli.Context, x device.Cmd) error {
		return x.Send(ctx, device.Message{To: c.String("to"), Text: text, Attach: c.StringSlice("attach"), ReplyTo: c.String("reply-to")})
	})
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
	x := device.Cmd{D: d, Out: output(c)}
	opts := device.FetchOptions{SaveDir: c.String("save-dir"), Requests: c.Bool("requests"), Receipts: c.Bool("receipts")}
	text := device.TextOptions{As: name, Follow: c.Bool("follow"), Held: c.Bool("requests")}
	for {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		err := x.FetchOnce(fctx, opts, text)
		cancel()
		if err != nil || !c.Bool("follow") {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func fileUpload(c *cli.Context) error {
	if c.String("as") == "" {
		return errkind.Invalidf("--as NAME is required")
	}
	return runAs(c, c.String("as"), func(ctx context.Context, c *cli.Context, x device.Cmd) error { return x.Upload(ctx, c.Args().First()) })
}

func fileDownload(c *cli.Context) error {
	a, err := device.FileRef(c.Args().First(), c.String("key"), c.String("digest"), c.Int("size"))
	if err != nil {
		return err
	}
	name := c.String("as")
	if name == "" {
		all, err := keystore(c).List()
		if err != nil || len(all) == 0 {
			return errkind.Invalidf("--as NAME is required: no identity in the keystore")
		}
		name = all[0].Name
	}
	// Its state knows the sizes of the pointers it saw.
	return runAs(c, name, func(ctx context.Context, c *cli.Context, x device.Cmd) error {
		return x.Download(c.Context, a, c.IsSet("size"), c.String("output"))
	})
}

func unsend(c *cli.Context) error {
	if c.Bool("last") {
		if err := cliargs.Count(c, 0); err != nil {
			return err
		}
	} else if err := cliargs.Count(c, 1); err != nil {
		return err
	}
	return cmdAs(func(ctx context.Context, c *cli.Context, x device.Cmd) error { return x.Unsend(ctx, c.Args().First()) })(c)
}

func react(c *cli.Context) error {
	if err := client.CheckEmoji(c.Args().Get(1)); err != nil {
		return errkind.AsInvalid(err)
	}
	return cmdAs(func(ctx context.Context, c *cli.Context, x device.Cmd) error {
		return x.React(ctx, c.Args().Get(0), c.Args().Get(1), c.Bool("remove"))
	})(c)
}

func typing(c *cli.Context) error {
	if c.String("to") == "" {
		return errkind.Invalidf("typing needs --to RECIPIENT")
	}
	return cmdAs(func(ctx context.Context, c *cli.Context, x device.Cmd) error {
		return x.Typing(ctx, c.String("to"), c.Bool("stop"))
	})(c)
}
