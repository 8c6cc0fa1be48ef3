// Package display writes what sessionctl shows a person: a fetched
// message on one line, senders named, text from the network escaped, and
// the small words of tables and summaries (plurals, sizes, dashes). It
// holds no state; --json output does not go through it.
//
//	fmt.Fprintln(w, display.MessageLine(m, me, "bob", names))
//	// from alice (05ab12cd34ef...) at 10:04:05: hi [attachment notes.txt, 812 bytes]
package display

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sessionctl/sessionctl/client"
)

// Escape makes text from the network safe to print on one line: control
// characters (newlines, escape sequences, bidi overrides included) are
// shown as Go escapes; the rest is printed as it is.
func Escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029':
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Plural is "1 node", "2 nodes".
func Plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// OrDash is s, or "-" for nothing.
func OrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ByteSize says a size in plain units: 812 bytes, 3.4 MB.
func ByteSize(n int) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d bytes", n)
	case n < 1_000_000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

// Short is an ID's start, "05ab12cd34ef...", for a line a person reads.
func Short(id string) string {
	if len(id) > 12 {
		return id[:12] + "..."
	}
	return id
}

// NameOr is the name of id in names, else its start (Short).
func NameOr(names map[string]string, id string) string {
	if n, ok := names[id]; ok {
		return n
	}
	return Short(id)
}

// Clock is a unix-ms time as the time of day.
func Clock(ms int64) string { return time.UnixMilli(ms).Format("15:04:05") }

// SenderLabel names an account for a line of output: the name it is
// called by (display: a nickname or the name its messages carry, escaped:
// it comes from the network), its keystore name, and the start of its ID.
func SenderLabel(names map[string]string, id, display string) string {
	n, known := names[id]
	switch {
	case display != "" && known:
		return Escape(display) + " (" + n + ", " + Short(id) + ")"
	case display != "":
		return Escape(display) + " (" + Short(id) + ")"
	case known:
		return n + " (" + Short(id) + ")"
	}
	return id
}

// GroupArg is how a command names a group: by its name when that is a
// plain word, else by its ID.
func GroupArg(name, id string) string {
	if name != "" && !strings.ContainsAny(name, " \t'\"\\$`") && utf8.ValidString(name) {
		return name
	}
	return id
}

// MessageLine is a fetched message as fetch prints it, for the identity as
// (Account ID me).
func MessageLine(m client.Message, me, as string, names map[string]string) string {
	from := SenderLabel(names, m.From, m.FromName)
	if m.SyncTarget != "" {
		from = "you (another device) to " + SenderLabel(names, m.SyncTarget, "")
	}
	seen := ""
	if m.ReadElsewhere {
		seen = "  (read on another device)"
	}
	return fmt.Sprintf("from %s at %s: %s%s", from, Clock(m.Timestamp), Describe(m, me, as, names), seen)
}

// Describe is what a message shows, on one line (what came from the
// network escaped): its text, or for another kind what it is.
func Describe(m client.Message, me, as string, names map[string]string) string {
	partner := m.From
	if m.SyncTarget != "" {
		partner = m.SyncTarget
	}
	whose := func(ref client.MessageRef) string {
		switch {
		case ref.Author == me:
			return "your message"
		case ref.Author == partner:
			return "their message"
		}
		return SenderLabel(names, ref.Author, "") + "'s message"
	}
	about := func(ref client.MessageRef) string {
		switch {
		case ref.Text != "":
			return fmt.Sprintf("%s %q", whose(ref), ref.Text)
		case ref.Hash != "":
			return fmt.Sprintf("%s %s", whose(ref), ref.Hash)
		}
		return fmt.Sprintf("%s sent at %s, which this device does not have", whose(ref), Clock(ref.Timestamp))
	}
	switch m.Kind {
	case "":
		text := Escape(m.Text)
		for _, a := range m.Attachments {
			text += Escape(fmt.Sprintf(" [attachment %s, %d bytes]", a.Name, a.Size))
		}
		if m.Quote != nil {
			text = "[replying to " + Escape(about(*m.Quote)) + "] " + text
		}
		return text
	case client.KindGroupInvite:
		inv := m.GroupUpdate.GetInviteMessage()
		return Escape(fmt.Sprintf("[an invite to closed group %q (%s); 'sessionctl group join %s --as %s' accepts it]",
			inv.GetName(), inv.GetGroupSessionId(), GroupArg(inv.GetName(), inv.GetGroupSessionId()), as))
	case client.KindGroupPromote:
		return Escape(fmt.Sprintf("[made an admin of closed group %q; 'sessionctl group ls --as %s' takes the group's key]",
			m.GroupUpdate.GetPromoteMessage().GetName(), as))
	case client.KindUnsend:
		if m.Unsend != nil {
			return "[took back a message sent at " + Clock(m.Unsend.Timestamp) + "]"
		}
		return "[took back a message]"
	case client.KindReaction:
		r := m.Reaction
		if r.Remove {
			return "[took the reaction " + Escape(r.Emoji) + " off " + Escape(about(r.MessageRef)) + "]"
		}
		return "[reacted " + Escape(r.Emoji) + " to " + Escape(about(r.MessageRef)) + "]"
	case client.KindReceipt:
		switch {
		case len(m.Read) == 1 && m.Read[0].Hash != "":
			return "[read " + Escape(about(m.Read[0])) + "]"
		case len(m.Read) == 1:
			return "[read your message sent at " + Clock(m.Read[0].Timestamp) + "]"
		case m.Read != nil:
			return fmt.Sprintf("[read %d of your messages]", len(m.Read))
		}
	case client.KindTyping:
		if m.Typing == client.TypingStopped {
			return "[stopped typing]"
		}
		return "[typing]"
	}
	if m.Note != "" {
		return "[" + Escape(m.Note) + "]"
	}
	return "[" + Escape(strings.ReplaceAll(m.Kind, "_", " ")) + "]"
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
