package device

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/sessionctl/sessionctl/attachments"
	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/identity"
)

// FetchOptions are what Fetch does beside fetching.
type FetchOptions struct {
	// SaveDir, if set, is where the messages' attachments and new profile
	// pictures are saved (package attachments).
	SaveDir string
	// Requests saves the held requests' files too (with SaveDir).
	Requests bool
	// Receipts sends read receipts for the messages shown.
	Receipts bool
	// Report is told, a line for a person, what was saved and what not.
	Report func(line string)
}

// Delivery is what a fetch brought, delivered (files saved, receipts
// sent) but not yet read: Commit marks it read, Abort (or nothing) leaves
// it unread for the next fetch.
type Delivery struct {
	*client.Fetched
	// Shown are the messages to show: from contacts, or answers to this
	// account; Requests are strangers' messages, held (Fetched.Held has
	// every request held, these and earlier ones).
	Shown, Requests []client.Message
	// Receipts are the read receipts sent (FetchOptions.Receipts).
	Receipts []client.ReceiptResult
	me       string // the device's account
}

// Fetch fetches the device's new messages and delivers them: saves their
// files and sends read receipts as o asks. The caller shows them, then
// commits: a failure on the way leaves them unread.
func (d *Device) Fetch(ctx context.Context, o FetchOptions) (*Delivery, error) {
	f, err := d.Client.FetchPending(ctx)
	if err != nil {
		return nil, err
	}
	out := &Delivery{Fetched: f, me: d.AccountID().String()}
	for _, m := range f.Messages {
		if m.Request {
			out.Requests = append(out.Requests, m)
		} else {
			out.Shown = append(out.Shown, m)
		}
	}
	if o.SaveDir != "" {
		save := out.Shown
		if o.Requests {
			save = append(slices.Clone(out.Shown), f.Held...)
		}
		if err := d.SaveFiles(ctx, o.SaveDir, save, o.Report); err != nil {
			f.Abort()
			return nil, err
		}
	}
	if o.Receipts {
		// Not for those read on another device: its receipts are its own.
		var fresh []client.Message
		for _, m := range out.Shown {
			if !m.ReadElsewhere {
				fresh = append(fresh, m)
			}
		}
		out.Receipts = d.Client.SendReadReceipts(ctx, fresh)
	}
	return out, nil
}

// SaveFiles saves the attachments and the new profile pictures of msgs in
// dir (package attachments), telling report what it saved.
func (d *Device) SaveFiles(ctx context.Context, dir string, msgs []client.Message, report func(string)) error {
	s := &attachments.Saver{Client: d.Client, Dir: dir, Report: report,
		Servers: func() (client.ServerInfo, client.ServerInfo, error) {
			files, err := d.home.FileServer()
			comm, _ := d.home.CommunityServer() // none: its files are skipped
			return files, comm, err
		}}
	if err := s.Attachments(ctx, msgs); err != nil {
		return err
	}
	return s.Pictures(ctx, msgs, AccountNames(d.home.Keystore()))
}

// AcceptRequest accepts from's message request: the held messages' files
// are saved first in saveDir (if set: a failure accepts nothing), then
// from is made a contact and told; it returns the messages held.
func (d *Device) AcceptRequest(ctx context.Context, from identity.AccountID, saveDir string, report func(string)) ([]client.Message, error) {
	if saveDir != "" {
		held, err := d.Client.Requests(ctx)
		if err != nil {
			return nil, err
		}
		held = slices.DeleteFunc(held, func(m client.Message) bool { return m.From != from.String() })
		if err := d.SaveFiles(ctx, saveDir, held, report); err != nil {
			return nil, err
		}
	}
	return d.Client.AcceptRequest(ctx, from)
}

// FetchJSON is a fetch's --json form.
type FetchJSON struct {
	Messages []client.Message       `json:"messages"`
	Rejected []client.Rejected      `json:"rejected,omitempty"`
	Unsent   []string               `json:"unsent,omitempty"`
	Requests []client.Message       `json:"requests,omitempty"`
	Blocked  int                    `json:"blocked,omitempty"`
	Receipts []client.ReceiptResult `json:"receipts,omitempty"`
}

// JSON is the delivery's --json form: the requests fetched now, or with
// held every one held.
func (d *Delivery) JSON(held bool) FetchJSON {
	out := FetchJSON{Messages: d.Shown, Rejected: d.Rejected, Unsent: d.Unsent, Requests: d.Requests, Blocked: d.Blocked, Receipts: d.Receipts}
	if out.Messages == nil {
		out.Messages = []client.Message{}
	}
	if held {
		out.Requests = d.Held
		if out.Requests == nil {
			out.Requests = []client.Message{}
		}
	}
	return out
}

// News reports whether the delivery brought anything to show.
func (d *Delivery) News() bool { return len(d.Shown) > 0 || len(d.Rejected) > 0 || len(d.Requests) > 0 }

// TextOptions are how WriteText writes a delivery.
type TextOptions struct {
	As    string            // the identity fetching
	Names map[string]string // Account IDs' names (AccountNames)
	// Follow is a fetch that goes on: no "no new messages" each time.
	Follow bool
	// Held lists every request held too.
	Held bool
}

// WriteText writes the delivery for a person: the messages shown and what
// was unsent to w, a line per sender of requests held, and what was
// refused and the read receipts sent to errw. What the network sent is
// escaped: a newline cannot forge a second message, nor an escape
// sequence reach the terminal.
func (d *Delivery) WriteText(w, errw io.Writer, o TextOptions) error {
	for _, r := range d.Receipts {
		if r.Error != "" {
			fmt.Fprintf(errw, "read receipt to %s not sent: %s\n", display.SenderLabel(o.Names, r.To, ""), r.Error)
		} else {
			fmt.Fprintf(errw, "sent %s a read receipt for %s\n", display.SenderLabel(o.Names, r.To, ""), display.Plural(r.Messages, "message"))
		}
	}
	me := d.me
	if err := WriteMessages(w, d.Shown, "", me, o.As, o.Names); err != nil {
		return err
	}
	for _, h := range d.Unsent {
		fmt.Fprintf(w, "unsent by its author: %s (deleted)\n", h)
	}
	for _, r := range d.Rejected {
		fmt.Fprintf(errw, "rejected %s: %s\n", r.Hash, display.Escape(r.Reason))
	}
	count := map[string]int{}
	var order []string
	calls := map[string]string{} // the name each sender gives itself
	for _, m := range d.Requests {
		if count[m.From] == 0 {
			order = append(order, m.From)
		}
		count[m.From]++
		calls[m.From] = m.FromName
	}
	for _, id := range order {
		fmt.Fprintf(w, "message request from %s: %s held ('sessionctl request accept %s --as %s' accepts it; 'fetch --requests' shows it)\n",
			display.SenderLabel(o.Names, id, calls[id]), display.Plural(count[id], "message"), display.NameOr(o.Names, id), o.As)
	}
	if d.Blocked > 0 {
		fmt.Fprintf(w, "dropped %s from blocked accounts\n", display.Plural(d.Blocked, "message"))
	}
	if len(d.Shown) == 0 && len(d.Unsent) == 0 && len(d.Requests) == 0 && d.Blocked == 0 && !o.Follow && !o.Held {
		fmt.Fprintln(w, "no new messages")
	}
	if o.Held {
		if len(d.Held) == 0 {
			fmt.Fprintln(w, "no message requests")
		}
		return WriteMessages(w, d.Held, "request ", me, o.As, o.Names)
	}
	return nil
}

// WriteMessages writes msgs a line each (display.MessageLine), after
// prefix, for the identity as (Account ID me).
func WriteMessages(w io.Writer, msgs []client.Message, prefix, me, as string, names map[string]string) error {
	for _, m := range msgs {
		if _, err := fmt.Fprintf(w, "%s%s\n", prefix, display.MessageLine(m, me, as, names)); err != nil {
			return err
		}
	}
	return nil
}
