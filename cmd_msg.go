package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sessionctl/sessionctl/attachments"
	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/fileserver"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
	"github.com/urfave/cli/v2"
)

// resolveAccount reads an Account ID, an identity of the keystore, or a
// session name registered on the ledger.
func resolveAccount(c *cli.Context, lc *ledgerrpc.Client, arg string) (identity.AccountID, error) {
	id, err := dirOf(c).ResolveAccount(c.Context, lc, arg)
	return id, err
}

func startClient(c *cli.Context, name string, statePath string) (*client.Client, *ledgerrpc.Client, error) {
	// No devnet says so first (exit 3): the identities a devnet makes do
	// not exist before it runs.
	lc, err := ledgerClient(c)
	if err != nil {
		return nil, nil, err
	}
	cl, err := dirOf(c).StartClient(c.Context, lc, name, statePath, logger(c))
	if err != nil {
		return nil, nil, err
	}
	return cl, lc, nil
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

func send(c *cli.Context) error {
	text, err := oneArg(c, "the message TEXT")
	if err != nil {
		return err
	}
	if c.String("from") == "" || c.String("to") == "" {
		return errkind.Invalidf("send needs --from NAME and --to RECIPIENT")
	}
	if strings.TrimSpace(text) == "" && len(c.StringSlice("attach")) == 0 {
		return errkind.Invalidf("an empty message: give some text or --attach a file")
	}
	// The identity's state keeps what it sent: 'unsend' finds it there.
	// (startClient finds the name in the keystore, which checks it, before
	// the path is used.)
	cl, lc, err := startClient(c, c.String("from"), clientStatePath(c, c.String("from")))
	if err != nil {
		return err
	}
	defer cl.Close()
	to, err := resolveAccount(c, lc, c.String("to"))
	if err != nil {
		return err
	}
	if to.Prefix != identity.PrefixSession {
		return errkind.Invalidf("%s is not a Session account (05...)", to)
	}
	ctx, cancel := context.WithTimeout(c.Context, 5*time.Minute)
	defer cancel()
	content := client.Content{Text: text}
	if h := c.String("reply-to"); h != "" {
		ref, with, err := cl.Lookup(ctx, h)
		if errors.Is(err, client.ErrUnknownMessage) {
			return errkind.AsInvalid(err)
		}
		if err != nil {
			return err
		}
		if with != to {
			return errkind.Invalidf("--reply-to %s: that message is in the conversation with %s, not %s", h, with.String()[:12]+"...", c.String("to"))
		}
		content.Quote = &ref
	}
	for _, path := range c.StringSlice("attach") {
		data, err := os.ReadFile(path)
		if err != nil {
			return errkind.Invalidf("--attach: %v", err)
		}
		srv, err := fileServer(c)
		if err != nil {
			return err
		}
		if len(data) > fileserver.MaxFileSize {
			return errkind.Invalidf("--attach %s: %s; an attachment is at most 10 MB (%d bytes)", path, display.ByteSize(len(data)), fileserver.MaxFileSize)
		}
		att, err := cl.Upload(ctx, srv, filepath.Base(path), data)
		if err != nil {
			return err
		}
		content.Attachments = append(content.Attachments, *att)
	}
	res, err := cl.SendContent(ctx, to, content)
	if err != nil {
		return err
	}
	names := nodeNames(c)
	if c.Bool("json") {
		return printJSON(c.App.Writer, sendOutput(c, res))
	}
	p := res.Path
	fmt.Fprintf(c.App.Writer, "sent %s to %s\n", res.Hash, res.To)
	fmt.Fprintf(c.App.Writer, "path: you -> %s (guard) -> %s (middle) -> %s (exit) -> %s (swarm %s); stored by %s\n",
		nameOf(names, p.Guard), nameOf(names, p.Middle), nameOf(names, p.Exit), nameOf(names, p.Destination), res.Swarm, display.Plural(res.Stored, "node"))
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
	h := func(k string) hop { return hop{Node: nameOf(names, k), Key: k} }
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

// clientStatePath is where identity name's client state lives; it is used
// only once the keystore has found name (a valid name).
func clientStatePath(c *cli.Context, name string) string { return dirOf(c).ClientState(name) }

func fetch(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	name := c.String("as")
	if name == "" {
		return errkind.Invalidf("fetch needs --as NAME")
	}
	if c.Bool("requests") && c.Bool("follow") {
		return errkind.Invalidf("--requests lists the requests held once; it does not go with --follow (which shows each new request as it comes)")
	}
	if err := identity.ValidName(name); err != nil {
		return errkind.AsInvalid(err)
	}
	cl, _, err := startClient(c, name, clientStatePath(c, name))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	senders := senderNames(c)
	for {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		err := fetchOnce(fctx, c, cl, name, senders)
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

// fetchOnce fetches, delivers (saves attachments, prints) and only then
// marks the messages read: a failure on the way leaves them unread.
func fetchOnce(ctx context.Context, c *cli.Context, cl *client.Client, name string, senders map[string]string) error {
	f, err := cl.FetchPending(ctx)
	if err != nil {
		return err
	}
	defer f.Abort() // no-op once committed
	// Message requests (strangers' messages) are held, not shown: a line
	// per sender says so; --requests lists every one held.
	var msgs, requests []client.Message
	for _, m := range f.Messages {
		if m.Request {
			requests = append(requests, m)
		} else {
			msgs = append(msgs, m)
		}
	}
	rejected := f.Rejected
	if dir := c.String("save-dir"); dir != "" {
		save := msgs
		if c.Bool("requests") {
			save = append(slices.Clone(msgs), f.Held...)
		}
		if err := saveFiles(ctx, c, cl, dir, save); err != nil {
			return err
		}
	}
	var receipts []client.ReceiptResult
	if c.Bool("receipts") {
		receipts = sendReceipts(ctx, c, cl, msgs)
	}
	me := cl.AccountID().String()
	if c.Bool("json") {
		if msgs == nil {
			msgs = []client.Message{}
		}
		out := struct {
			Messages []client.Message       `json:"messages"`
			Rejected []client.Rejected      `json:"rejected,omitempty"`
			Unsent   []string               `json:"unsent,omitempty"`
			Requests []client.Message       `json:"requests,omitempty"`
			Blocked  int                    `json:"blocked,omitempty"`
			Receipts []client.ReceiptResult `json:"receipts,omitempty"`
		}{msgs, rejected, f.Unsent, requests, f.Blocked, receipts}
		if c.Bool("requests") {
			out.Requests = f.Held
			if out.Requests == nil {
				out.Requests = []client.Message{}
			}
		}
		if c.Bool("follow") {
			if len(msgs) > 0 || len(rejected) > 0 || len(requests) > 0 {
				printJSONLine(c.App.Writer, out)
			}
		} else if err := printJSON(c.App.Writer, out); err != nil {
			return err
		}
	} else {
		for _, m := range msgs {
			// What the sender wrote is shown escaped: a newline cannot
			// forge a second message, nor an escape sequence reach the
			// terminal.
			if _, err := fmt.Fprintln(c.App.Writer, display.MessageLine(m, me, name, senders)); err != nil {
				return err
			}
		}
		for _, h := range f.Unsent {
			fmt.Fprintf(c.App.Writer, "unsent by its author: %s (deleted)\n", h)
		}
		for _, r := range rejected {
			fmt.Fprintf(c.App.ErrWriter, "rejected %s: %s\n", r.Hash, display.Escape(r.Reason))
		}
		from := map[string]int{}
		var order []string
		calls := map[string]string{} // the name each sender gives itself
		for _, m := range requests {
			if from[m.From] == 0 {
				order = append(order, m.From)
			}
			from[m.From]++
			calls[m.From] = m.FromName
		}
		for _, id := range order {
			who := display.NameOr(senders, id)
			fmt.Fprintf(c.App.Writer, "message request from %s: %s held ('sessionctl request accept %s --as %s' accepts it; 'fetch --requests' shows it)\n",
				display.SenderLabel(senders, id, calls[id]), display.Plural(from[id], "message"), who, name)
		}
		if f.Blocked > 0 {
			fmt.Fprintf(c.App.Writer, "dropped %s from blocked accounts\n", display.Plural(f.Blocked, "message"))
		}
		if len(msgs) == 0 && len(f.Unsent) == 0 && len(requests) == 0 && f.Blocked == 0 && !c.Bool("follow") && !c.Bool("requests") {
			fmt.Fprintln(c.App.Writer, "no new messages")
		}
	}
	if c.Bool("requests") && !c.Bool("json") {
		if len(f.Held) == 0 {
			fmt.Fprintln(c.App.Writer, "no message requests")
		}
		printMessages(c, f.Held, "request ")
	}
	return f.Commit()
}

// saveFiles saves the attachments and the new profile pictures of msgs in
// dir (package attachments), saying on stderr what it saved.
func saveFiles(ctx context.Context, c *cli.Context, cl *client.Client, dir string, msgs []client.Message) error {
	s := &attachments.Saver{Client: cl, Dir: dir, Report: func(line string) { fmt.Fprintln(c.App.ErrWriter, line) },
		Servers: func() (client.ServerInfo, client.ServerInfo, error) {
			files, err := fileServer(c)
			comm, _ := communityServer(c) // none: its files are skipped
			return files, comm, err
		}}
	if err := s.Attachments(ctx, msgs); err != nil {
		return err
	}
	return s.Pictures(ctx, msgs, senderNames(c))
}

// fileServer returns the devnet's file server, from its manifest.
func fileServer(c *cli.Context) (client.ServerInfo, error) { return dirOf(c).Server(devnet.FileServer) }

func fileCommand() *cli.Command {
	return &cli.Command{
		Name:  "file",
		Usage: "upload and download encrypted files on the devnet's file server, through onion requests",
		Subcommands: []*cli.Command{
			{
				Name: "upload", Usage: "encrypt a file and upload it; prints its id, key, size and digest", ArgsUsage: "PATH",
				Flags: []cli.Flag{asFlag, ledgerURLFlag, jsonFlag},
				Action: func(c *cli.Context) error {
					path, err := oneArg(c, "PATH")
					if err != nil {
						return err
					}
					data, err := os.ReadFile(path)
					if err != nil {
						return errkind.AsInvalid(err)
					}
					if len(data) > fileserver.MaxFileSize {
						return errkind.Invalidf("%s: %s; a file is at most 10 MB (%d bytes)", path, display.ByteSize(len(data)), fileserver.MaxFileSize)
					}
					if c.String("as") == "" {
						return errkind.Invalidf("--as NAME is required")
					}
					// The identity's state records the upload's size, for a
					// later download by id alone.
					cl, _, err := startClient(c, c.String("as"), clientStatePath(c, c.String("as")))
					if err != nil {
						return err
					}
					defer cl.Close()
					srv, err := fileServer(c)
					if err != nil {
						return err
					}
					att, err := cl.Upload(c.Context, srv, filepath.Base(path), data)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c.App.Writer, att)
					}
					fmt.Fprintf(c.App.Writer, "id:     %s\nkey:    %s\nsize:   %d\ndigest: %s\n", att.ID,
						base64.StdEncoding.EncodeToString(att.Key), att.Size, base64.StdEncoding.EncodeToString(att.Digest))
					return nil
				},
			},
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

func fileDownload(c *cli.Context) error {
	arg, err := oneArg(c, "the file ID (or its URL)")
	if err != nil {
		return err
	}
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
	// The identity's state knows the sizes of the pointers it saw.
	cl, _, err := startClient(c, name, clientStatePath(c, name))
	if err != nil {
		return err
	}
	defer cl.Close()
	srv, err := fileServer(c)
	if err != nil {
		return err
	}
	comm, _ := communityServer(c)
	ref, err := a.Locate(srv, comm)
	if err != nil {
		return errkind.AsInvalid(err)
	}
	if !c.IsSet("size") {
		n, ok, err := cl.FileSize(c.Context, ref.ID)
		if err != nil {
			return err
		}
		if ok {
			a.Size = n
		} else {
			fmt.Fprintf(c.App.ErrWriter, "the size of file %s is not known (no pointer %s uploaded or read gives it): written with its padding; --size N cuts it\n", ref.ID, name)
		}
	}
	data, err := attachments.Download(c.Context, cl, srv, comm, a)
	switch {
	case errors.Is(err, client.ErrAttachment):
		return errkind.AsInvalid(err)
	case errors.Is(err, client.ErrNoFile):
		return errkind.Invalidf("no file %q on the devnet's servers (or it expired)", ref.ID)
	case errors.Is(err, client.ErrAttachmentSize):
		return errkind.AsInvalid(err)
	case err != nil:
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
		var err error
		if hash, err = oneArg(c, "the HASH of the message (or --last)"); err != nil {
			return err
		}
	}
	cl, ctx, done, err := clientAs(c)
	if err != nil {
		return err
	}
	defer done()
	if c.Bool("last") {
		if hash, err = cl.LastSent(ctx); err != nil {
			return errkind.AsInvalid(err)
		}
	}
	res, err := cl.Unsend(ctx, hash)
	if errors.Is(err, client.ErrNotSent) {
		return errkind.AsInvalid(err)
	}
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, res)
	}
	fmt.Fprintf(c.App.Writer, "unsent %s: the recipient %s... is asked to delete it (request %s)", res.Hash, res.To[:12], res.Request)
	if res.SyncDeleted {
		fmt.Fprint(c.App.Writer, "; your copy for your other devices is deleted")
	}
	fmt.Fprintln(c.App.Writer)
	return nil
}

// clientAs starts the client of --as NAME, with its state, for a command
// that acts as it; done closes it.
func clientAs(c *cli.Context) (*client.Client, context.Context, func(), error) {
	cl, _, ctx, done, err := clientAndLedgerAs(c)
	return cl, ctx, done, err
}

// clientAndLedgerAs is clientAs with the ledger client too (which resolves
// session names).
func clientAndLedgerAs(c *cli.Context) (*client.Client, *ledgerrpc.Client, context.Context, func(), error) {
	name := c.String("as")
	if name == "" {
		return nil, nil, nil, nil, errkind.Invalidf("%s needs --as NAME", c.Command.FullName())
	}
	if err := identity.ValidName(name); err != nil {
		return nil, nil, nil, nil, errkind.AsInvalid(err)
	}
	cl, lc, err := startClient(c, name, clientStatePath(c, name))
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(c.Context, 5*time.Minute)
	return cl, lc, ctx, func() { cancel(); cl.Close() }, nil
}

func deleteAllCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete-all",
		Usage:     "delete every message of an identity's inbox from its swarm (signed by it)",
		ArgsUsage: " ",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "as", Usage: "the identity (`NAME`) whose inbox to clear"}, ledgerURLFlag, jsonFlag},
		Action:    deleteAll,
	}
}

func deleteAll(c *cli.Context) error {
	return actAs(c, func(cl *client.Client, ctx context.Context) error {
		n, err := cl.DeleteAll(ctx)
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return printJSON(c.App.Writer, map[string]int{"deleted": n})
		}
		fmt.Fprintf(c.App.Writer, "deleted %s from %s's inbox\n", display.Plural(n, "message"), c.String("as"))
		return nil
	})
}
