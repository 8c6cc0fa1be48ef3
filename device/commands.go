package device

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/errkind"
)

// Cmd runs the command line's messaging commands as a device: each reads
// what it needs, acts, and shows what it did on Out (text for a person, or
// JSON in the README's vocabulary). The command line only parses its flags.
type Cmd struct {
	D   *Device
	Out display.Output
}

// names names the keystore's accounts.
func (x Cmd) names() map[string]string { return AccountNames(x.D.home.Keystore()) }

// sent is a message's --json form: the path's nodes in the vocabulary,
// their name and their key.
type sent struct {
	*client.SendResult
	Path map[string]hop `json:"path"`
}

type hop struct {
	Node string `json:"node"`
	Key  string `json:"ed25519_pubkey"`
}

func (x Cmd) sent(res *client.SendResult) sent {
	names := x.D.home.NodeNames()
	h := func(k string) hop { return hop{Node: display.NodeName(names, k), Key: k} }
	return sent{res, map[string]hop{"guard": h(res.Path.Guard), "middle": h(res.Path.Middle), "exit": h(res.Path.Exit), "destination": h(res.Path.Destination)}}
}

// Send sends m and shows its path.
func (x Cmd) Send(ctx context.Context, m Message) error {
	res, err := x.D.Send(ctx, m)
	if err != nil {
		return err
	}
	if s, ok := x.D.home.(SentShower); ok {
		if err := s.ShowSent(ctx, x.D.Name, res); err != nil {
			x.D.log.Debug().Err(err).Msg("the send is not shown on the dashboard")
		}
	}
	return x.Out.Show(x.sent(res), func(w io.Writer) error {
		names, p := x.D.home.NodeNames(), res.Path
		name := func(k string) string { return display.NodeName(names, k) }
		fmt.Fprintf(w, "sent %s to %s\n", res.Hash, res.To)
		_, err := fmt.Fprintf(w, "path: you -> %s (guard) -> %s (middle) -> %s (exit) -> %s (swarm %s); stored by %s\n",
			name(p.Guard), name(p.Middle), name(p.Exit), name(p.Destination), res.Swarm, display.Plural(res.Stored, "node"))
		return err
	})
}

// Unsend takes back a message this device sent (hash; "" the newest).
func (x Cmd) Unsend(ctx context.Context, hash string) error {
	var err error
	if hash == "" {
		if hash, err = x.D.Client.LastSent(ctx); err != nil {
			return errkind.AsInvalid(err)
		}
	}
	res, err := x.D.Client.Unsend(ctx, hash)
	if err != nil {
		return err
	}
	return x.Out.Show(res, func(w io.Writer) error {
		fmt.Fprintf(w, "unsent %s: the recipient %s... is asked to delete it (request %s)", res.Hash, res.To[:12], res.Request)
		if res.SyncDeleted {
			fmt.Fprint(w, "; your copy for your other devices is deleted")
		}
		_, err := fmt.Fprintln(w)
		return err
	})
}

// DeleteAll deletes every message of the account's inbox from its swarm.
func (x Cmd) DeleteAll(ctx context.Context) error {
	n, err := x.D.Client.DeleteAll(ctx)
	if err != nil {
		return err
	}
	return x.Out.Show(map[string]int{"deleted": n}, func(io.Writer) error {
		return x.Out.Printf("deleted %s from %s's inbox\n", display.Plural(n, "message"), x.D.Name)
	})
}

// React puts emoji on the message hash (or takes it off).
func (x Cmd) React(ctx context.Context, hash, emoji string, remove bool) error {
	res, target, err := x.D.Client.React(ctx, hash, emoji, remove)
	if err != nil {
		return err
	}
	return x.Out.Show(struct {
		sent
		Reaction client.Reaction `json:"reaction"`
	}{x.sent(res), client.Reaction{MessageRef: *target, Emoji: emoji, Remove: remove}}, func(io.Writer) error {
		verb := "reacted " + emoji + " to"
		if remove {
			verb = "took " + emoji + " off"
		}
		return x.Out.Printf("%s %q: reaction %s sent to %s\n", verb, display.Escape(target.Text), res.Hash, display.SenderLabel(x.names(), res.To, ""))
	})
}

// Typing tells to that the device's account is typing (or stopped).
func (x Cmd) Typing(ctx context.Context, to string, stop bool) error {
	id, err := x.D.Resolve(ctx, to)
	if err != nil {
		return err
	}
	if id.Prefix != identity.PrefixSession || id == x.D.AccountID() {
		return errkind.Invalidf("%s: typing goes to another Session account (05...)", to)
	}
	res, err := x.D.Client.SendTyping(ctx, id, !stop)
	if err != nil {
		return err
	}
	return x.Out.Show(map[string]any{"hash": res.Hash, "to": res.To, "typing": !stop}, func(io.Writer) error {
		what := "typing"
		if stop {
			what = "stopped typing"
		}
		return x.Out.Printf("told %s: %s (it lasts %s in the swarm)\n", display.SenderLabel(x.names(), res.To, ""), what, client.TypingTTL)
	})
}

// Upload uploads the file at path and shows how to download it.
func (x Cmd) Upload(ctx context.Context, path string) error {
	att, err := x.D.Upload(ctx, path)
	if err != nil {
		return err
	}
	return x.Out.Show(att, func(io.Writer) error {
		return x.Out.Printf("id:     %s\nkey:    %s\nsize:   %d\ndigest: %s\n", att.ID,
			base64.StdEncoding.EncodeToString(att.Key), att.Size, base64.StdEncoding.EncodeToString(att.Digest))
	})
}

// FileRef reads a file download's arguments: ID or URL, its key and digest
// (base64), and its size (sized: given).
func FileRef(arg, key, digest string, size int) (client.Attachment, error) {
	if key == "" {
		return client.Attachment{}, errkind.Invalidf("file download needs --key KEY (and -o PATH, or the file goes to stdout)")
	}
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(k) != client.AttachmentKeySize {
		return client.Attachment{}, errkind.Invalidf("--key: want %d bytes in base64", client.AttachmentKeySize)
	}
	d, err := base64.StdEncoding.DecodeString(digest)
	if err != nil {
		return client.Attachment{}, errkind.Invalidf("--digest: want base64")
	}
	if size < 0 {
		return client.Attachment{}, errkind.Invalidf("--size: want a number of bytes")
	}
	a := client.Attachment{ID: arg, Key: k, Digest: d, Size: size}
	if strings.Contains(arg, "://") {
		a.ID, a.URL = "", arg
	}
	return a, nil
}

// Download downloads a (sized: its size given) into the file output ("" or
// "-": Out).
func (x Cmd) Download(ctx context.Context, a client.Attachment, sized bool, output string) error {
	data, unsized, err := x.D.Download(ctx, a, sized)
	if unsized != "" {
		x.Out.Notef("the size of file %s is not known (no pointer %s uploaded or read gives it): written with its padding; --size N cuts it\n", unsized, x.D.Name)
	}
	if err != nil {
		return err
	}
	if output == "" || output == "-" {
		_, err := x.Out.W.Write(data)
		return err
	}
	if err := os.WriteFile(output, data, 0o600); err != nil {
		return err
	}
	x.Out.Notef("wrote %s (%d bytes)\n", output, len(data))
	return nil
}

// SetProfile changes the account's profile (its picture uploaded first).
func (x Cmd) SetProfile(ctx context.Context, ch client.ProfileChange, ttl time.Duration) error {
	var srv client.ServerInfo
	if ch.Avatar != nil {
		var err error
		if srv, err = x.D.home.FileServer(); err != nil {
			return err
		}
	}
	res, err := x.D.Client.UpdateProfile(ctx, srv, ch, ttl)
	if err != nil {
		return err
	}
	if x.Out.JSON {
		return display.JSON(x.Out.W, res)
	}
	var what []string
	if ch.Name != nil {
		what = append(what, fmt.Sprintf("%s's display name is %q", x.D.Name, *ch.Name))
	}
	switch {
	case res.Avatar != nil:
		what = append(what, fmt.Sprintf("the profile picture is %s (%s, encrypted)", res.Avatar.URL, display.ByteSize(res.Avatar.Size)))
	case ch.RemoveAvatar:
		what = append(what, fmt.Sprintf("%s has no profile picture", x.D.Name))
	}
	return x.pushed(res.ConfigPush, strings.Join(what, "; "))
}

// pushed shows a config pushed to the account's swarm.
func (x Cmd) pushed(push *client.ConfigPush, what string) error {
	return x.Out.Show(push, func(w io.Writer) error {
		if push.Hash == "" {
			_, err := fmt.Fprintf(w, "%s: unchanged (seqno %d)\n", what, push.Seqno)
			return err
		}
		fmt.Fprintf(w, "%s: %s config seqno %d, in the account's swarm for all its devices until %s",
			what, push.Kind, push.Seqno, time.UnixMilli(push.ExpiresAt).Format("2006-01-02 15:04:05"))
		if push.Replaced > 0 {
			fmt.Fprintf(w, " (replacing %s)", display.Plural(push.Replaced, "older message"))
		}
		_, err := fmt.Fprintln(w)
		return err
	})
}

// ShowProfile shows the profile as the account's swarm holds it.
func (x Cmd) ShowProfile(ctx context.Context) error {
	cfg, err := x.D.Client.LoadConfig(ctx, configmsg.UserProfile)
	if err != nil {
		return err
	}
	p := configmsg.ReadProfile(cfg.Data())
	out := struct {
		configmsg.Profile
		Seqno     int64 `json:"seqno"`
		ExpiresAt int64 `json:"expires_at,omitempty"`
		Found     bool  `json:"found"`
	}{Profile: p, Found: cfg.Message != nil, ExpiresAt: cfg.Expiry}
	if cfg.Message != nil {
		out.Seqno = cfg.Message.Seqno()
	}
	return x.Out.Show(out, func(w io.Writer) error {
		if cfg.Message == nil {
			_, err := fmt.Fprintf(w, "%s's swarm holds no profile: never set, or it expired with no device online to extend it\n", x.D.Name)
			return err
		}
		fmt.Fprintf(w, "display name: %s\n", display.Escape(cmp.Or(p.Name, "(none)")))
		if p.PicURL != "" {
			fmt.Fprintf(w, "picture:      %s\n", display.Escape(p.PicURL))
		}
		fmt.Fprintf(w, "seqno:        %d", out.Seqno)
		if cfg.Expiry > 0 {
			fmt.Fprintf(w, ", expires %s", time.UnixMilli(cfg.Expiry).Format("2006-01-02 15:04:05"))
		}
		_, err := fmt.Fprintln(w)
		return err
	})
}

// EditContact changes what the contacts config says of account (verb:
// what the change is, as "approved").
func (x Cmd) EditContact(ctx context.Context, account, verb string, ttl time.Duration, change func(*configmsg.Contact)) error {
	id, err := x.D.Resolve(ctx, account)
	if err != nil {
		return err
	}
	if id == x.D.AccountID() {
		return errkind.Invalidf("%s is %s itself", account, x.D.Name)
	}
	push, err := x.D.Client.EditContact(ctx, id, ttl, change)
	if err != nil {
		return err
	}
	return x.pushed(push, verb+" "+account)
}

// Contacts lists the contacts config.
func (x Cmd) Contacts(ctx context.Context) error {
	cfg, err := x.D.Client.LoadConfig(ctx, configmsg.Contacts)
	if err != nil {
		return err
	}
	all := configmsg.ListContacts(cfg.Data())
	if all == nil {
		all = []configmsg.Contact{}
	}
	return x.Out.Show(all, func(w io.Writer) error {
		if len(all) == 0 {
			return x.Out.Printf("%s has no contacts\n", x.D.Name)
		}
		names := x.names()
		yes := map[bool]string{true: "yes", false: "-"}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CONTACT\tNICKNAME\tAPPROVED\tAPPROVED YOU\tBLOCKED")
		for _, ct := range all {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", display.NameOr(names, ct.ID), display.Escape(display.OrDash(ct.Nickname)), yes[ct.Approved], yes[ct.ApprovedMe], yes[ct.Blocked])
		}
		return tw.Flush()
	})
}

// writeMessages writes msgs as fetch does.
func (x Cmd) writeMessages(msgs []client.Message, prefix string) error {
	return WriteMessages(x.Out.W, msgs, prefix, x.D.AccountID().String(), x.D.Name, x.names())
}

// Requests lists the message requests held.
func (x Cmd) Requests(ctx context.Context) error {
	held, err := x.D.Client.Requests(ctx)
	if err != nil {
		return err
	}
	return x.Out.Show(map[string]any{"requests": nonNil(held)}, func(io.Writer) error {
		if len(held) == 0 {
			return x.Out.Printf("no message requests\n")
		}
		return x.writeMessages(held, "request ")
	})
}

// Accept accepts account's message request (its files saved in saveDir
// first, if set) and shows its messages.
func (x Cmd) Accept(ctx context.Context, account, saveDir string) error {
	id, err := x.D.Resolve(ctx, account)
	if err != nil {
		return err
	}
	msgs, err := x.D.AcceptRequest(ctx, id, saveDir, x.Out.Note)
	if err != nil {
		return err
	}
	return x.Out.Show(map[string]any{"accepted": id.String(), "messages": nonNil(msgs)}, func(io.Writer) error {
		if err := x.writeMessages(msgs, ""); err != nil {
			return err
		}
		return x.Out.Printf("accepted %s's message request: %s is a contact now, and is told so\n", account, account)
	})
}

// Decline declines account's message request (and blocks it, with block).
func (x Cmd) Decline(ctx context.Context, account string, block bool) error {
	id, err := x.D.Resolve(ctx, account)
	if err != nil {
		return err
	}
	n, err := x.D.Client.DeclineRequest(ctx, id, block)
	if err != nil {
		return err
	}
	return x.Out.Show(map[string]any{"declined": id.String(), "deleted": n, "blocked": block}, func(w io.Writer) error {
		fmt.Fprintf(w, "declined %s's message request: %s deleted", account, display.Plural(n, "message"))
		if block {
			fmt.Fprintf(w, "; %s is blocked", account)
		}
		_, err := fmt.Fprintln(w)
		return err
	})
}

// FetchOnce fetches, delivers (saves files, shows) and only then marks the
// messages read: a failure on the way leaves them unread. Following, JSON
// is a line a fetch, and only when it brought something.
func (x Cmd) FetchOnce(ctx context.Context, o FetchOptions, text TextOptions) error {
	o.Report = x.Out.Note
	got, err := x.D.Fetch(ctx, o)
	if err != nil {
		return err
	}
	defer got.Abort() // no-op once committed
	switch {
	case x.Out.JSON && text.Follow:
		if got.News() {
			err = display.JSONLine(x.Out.W, got.JSON(false))
		}
	case x.Out.JSON:
		err = display.JSON(x.Out.W, got.JSON(text.Held))
	default:
		text.Names = x.names()
		err = got.WriteText(x.Out.W, x.Out.Err, text)
	}
	if err != nil {
		return err
	}
	return got.Commit()
}

// nonNil is s, or an empty slice for nil: JSON's [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
