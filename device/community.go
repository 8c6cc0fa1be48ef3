package device

import (
	"context"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/community"
	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
)

// Community is a device's view of the devnet's community server: a
// community client over the device's onion paths.
type Community struct {
	*community.Client
	Device *Device
	Server client.ServerInfo
}

// OpenCommunity starts a client for identity name (with no state: the
// server keeps what a user read) and a community client over it.
func OpenCommunity(ctx context.Context, home Home, lc *ledgerrpc.Client, name string, log zerolog.Logger) (*Community, error) {
	srv, err := home.CommunityServer()
	if err != nil {
		return nil, err
	}
	d, err := OpenWithState(ctx, home, lc, name, "", log)
	if err != nil {
		return nil, err
	}
	cc, err := community.NewClient(d.Client, srv)
	if err != nil {
		d.Close()
		return nil, err
	}
	return &Community{Client: cc, Device: d, Server: srv}, nil
}

// Close stops the client.
func (c *Community) Close() error { return c.Device.Close() }

// UserID reads a user argument: a Session ID (blinded for the server), an
// identity of the keystore (blinded), or a blinded ID.
func (c *Community) UserID(arg string) (string, error) {
	if len(arg) == identity.AccountIDLen {
		id, err := identity.ParseAccountID(arg)
		if err != nil {
			return "", err
		}
		bid, err := c.BlindedID(id)
		return bid, errkind.AsInvalid(err)
	}
	e, err := c.Device.home.Keystore().Get(arg)
	if err != nil {
		return "", err
	}
	b, err := identity.Blind15(e.Keys, c.Server.X25519[:])
	if err != nil {
		return "", err
	}
	return b.ID(), nil
}

// Names maps the keystore identities' blinded IDs on this server (and
// their Session IDs) to their names.
func (c *Community) Names() map[string]string {
	out := map[string]string{}
	if all, err := c.Device.home.Keystore().List(); err == nil {
		for _, e := range all {
			if b, err := identity.Blind15(e.Keys, c.Server.X25519[:]); err == nil {
				out[b.ID()] = e.Name
			}
			out[e.Keys.AccountID().String()] = e.Name
		}
	}
	return out
}

// RoomFile is a file to post to a room.
type RoomFile struct {
	Name string
	Data []byte
}

// ReadRoomFiles reads files to post: each 1 byte to 10 MB.
func ReadRoomFiles(paths []string) ([]RoomFile, error) {
	var out []RoomFile
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, errkind.Invalidf("--attach: %v", err)
		}
		if len(data) == 0 || len(data) > 10_000_000 {
			return nil, errkind.Invalidf("--attach %s: a room file is 1 byte to 10 MB (10,000,000 bytes)", path)
		}
		out = append(out, RoomFile{filepath.Base(path), data})
	}
	return out, nil
}

// Post posts text and files to a room as apps post: a padded Content with
// the account's display name, the files uploaded to the room first.
func (c *Community) Post(ctx context.Context, room, text string, files []RoomFile) (*community.Message, error) {
	content := community.Content{Text: text, Name: DisplayName(ctx, c.Device.Client)}
	for _, f := range files {
		ct := mime.TypeByExtension(filepath.Ext(f.Name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		a, err := c.UploadFile(ctx, room, f.Name, ct, f.Data)
		if err != nil {
			return nil, err
		}
		content.Attachments = append(content.Attachments, a)
	}
	return c.Client.Post(ctx, room, content)
}

// DisplayName is the account's display name as its profile config holds
// it ("" when it has none or the swarm does not answer in time): apps put
// it in every message they post.
func DisplayName(ctx context.Context, cl *client.Client) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cfg, err := cl.LoadConfig(ctx, configmsg.UserProfile)
	if err != nil || cfg.Message == nil {
		return ""
	}
	return configmsg.ReadProfile(cfg.Data()).Name
}

// RoomMessage is a community message in the command line's vocabulary
// (README, "Output"): the sender's ID as from, plain text, times in unix
// ms. A reaction-only update has only id, seqno and reactions.
type RoomMessage struct {
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

// RoomMessageOf is m, of room, in the vocabulary.
func RoomMessageOf(m *community.Message, room string) RoomMessage {
	out := RoomMessage{ID: m.ID, Room: room, Seqno: m.Seqno, From: m.SessionID, PostedAt: int64(m.Posted * 1000), Deleted: m.Deleted}
	if m.Reactions != nil {
		out.Reactions = *m.Reactions
	}
	if m.Data != nil {
		ct := m.Content()
		out.FromName, out.Text, out.Kind, out.Raw, out.Attachments = ct.Name, ct.Text, ct.Kind, ct.Raw, ct.Attachments
	}
	return out
}

// RoomLine is a room's message as 'community read' shows it, senders
// named by names (Names).
func RoomLine(m *community.Message, names map[string]string) string {
	switch {
	case m.Deleted:
		return fmt.Sprintf("#%d (deleted)", m.ID)
	case m.Data == nil:
		r := reactionsText(m)
		if r == "" {
			r = " none"
		}
		return fmt.Sprintf("#%d reactions now:%s", m.ID, r)
	}
	ct := m.Content()
	who := display.NameOr(names, m.SessionID)
	if ct.Name != "" && ct.Name != who {
		who += " (" + display.Escape(ct.Name) + ")"
	}
	return fmt.Sprintf("#%d %s: %s%s", m.ID, who, display.Escape(ct.Summary()), reactionsText(m))
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

// InboxMessage is a message request of the server's inbox in the
// vocabulary.
type InboxMessage struct {
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

// Inbox reads the user's message requests on the server, opened.
func (c *Community) Inbox(ctx context.Context) ([]InboxMessage, error) {
	dms, err := c.Client.Inbox(ctx)
	if err != nil {
		return nil, err
	}
	out := []InboxMessage{}
	for i := range dms {
		d := &dms[i]
		ct, sid, _ := c.Open(d)
		text := ct.Text
		if ct.Raw == "" {
			text = ct.Summary()
		}
		out = append(out, InboxMessage{ID: d.ID, From: d.Sender, FromID: sid, FromName: ct.Name, To: d.Recipient, Text: text, Raw: ct.Raw,
			PostedAt: int64(d.Posted * 1000), ExpiresAt: int64(d.Expires * 1000)})
	}
	return out, nil
}

// InboxLine is a message request as 'community inbox' shows it.
func InboxLine(m InboxMessage, names map[string]string) string {
	who := display.NameOr(names, m.From)
	if who == m.From && m.FromID != "" {
		who = display.NameOr(names, m.FromID)
	}
	text := display.Escape(m.Text)
	if m.Raw != "" {
		text = "[" + m.Raw + "]"
	}
	return fmt.Sprintf("from %s: %s", who, text)
}

// CommunityCmd runs the command line's community commands as a device on
// the devnet's community server, showing what they did on Out.
type CommunityCmd struct {
	C   *Community
	Out display.Output
}

// Rooms lists the server's rooms, with their join links.
func (x CommunityCmd) Rooms(ctx context.Context) error {
	rooms, err := x.C.Rooms(ctx)
	if err != nil {
		return err
	}
	// Its posts: not message_sequence, which a deletion raises too.
	type roomJSON struct {
		community.RoomInfo
		Posts     *int   `json:"posts,omitempty"`      // nil: the room could not be read
		MorePosts bool   `json:"more_posts,omitempty"` // more than Posts (not all were counted)
		JoinURL   string `json:"join_url"`
	}
	out, posts := []roomJSON{}, make([]string, len(rooms))
	for i, r := range rooms {
		rj := roomJSON{RoomInfo: r, JoinURL: x.C.JoinURL(r.Token)}
		posts[i] = "-"
		if n, more, err := x.C.CountPosts(ctx, r.Token, maxCountedPosts); err == nil {
			rj.Posts, rj.MorePosts, posts[i] = &n, more, fmt.Sprint(n)+map[bool]string{true: "+"}[more]
		}
		out = append(out, rj)
	}
	if x.Out.JSON {
		return display.JSON(x.Out.W, map[string]any{"rooms": out})
	}
	tw := tabwriter.NewWriter(x.Out.W, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROOM\tNAME\tPOSTS\tACTIVE\tMODERATORS\tYOU MODERATE\tJOIN LINK")
	for i, r := range rooms {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%v\t%s\n", display.Escape(r.Token), display.Escape(r.Name), posts[i], r.ActiveUsers,
			len(r.Moderators)+len(r.Admins)+len(r.HiddenModerators)+len(r.HiddenAdmins), r.Moderator, x.C.JoinURL(r.Token))
	}
	return tw.Flush()
}

// maxCountedPosts bounds what 'community rooms' reads of a room to count
// its posts.
const maxCountedPosts = 2560

// Post posts text and files to room.
func (x CommunityCmd) Post(ctx context.Context, room, text string, files []RoomFile) error {
	m, err := x.C.Post(ctx, room, text, files)
	if err != nil {
		return err
	}
	return x.Out.Show(RoomMessageOf(m, room), func(io.Writer) error {
		return x.Out.Printf("posted message %d in %s as %s\n", m.ID, room, m.SessionID)
	})
}

// Read shows room's messages after sequence number since.
func (x CommunityCmd) Read(ctx context.Context, room string, since int64) error {
	msgs, err := x.C.Read(ctx, room, since)
	if err != nil {
		return err
	}
	out := []RoomMessage{}
	for i := range msgs {
		out = append(out, RoomMessageOf(&msgs[i], room))
	}
	return x.Out.Show(map[string]any{"messages": out}, func(w io.Writer) error {
		names := x.C.Names()
		for i := range msgs {
			fmt.Fprintln(w, RoomLine(&msgs[i], names))
		}
		if len(msgs) == 0 {
			fmt.Fprintln(w, "no messages")
		}
		return nil
	})
}

// React puts emoji on message id of room (or takes it off).
func (x CommunityCmd) React(ctx context.Context, room string, id int64, emoji string, remove bool) error {
	if err := x.C.Client.React(ctx, room, id, emoji, !remove); err != nil {
		return err
	}
	verb := "reacted"
	if remove {
		verb = "removed the reaction"
	}
	return x.Out.Printf("%s %s to message %d in %s\n", verb, emoji, id, room)
}

// Delete deletes message id of room.
func (x CommunityCmd) Delete(ctx context.Context, room, id string) error {
	if err := x.C.Client.Delete(ctx, room, id); err != nil {
		return err
	}
	return x.Out.Printf("deleted message %s from %s\n", id, room)
}

// SetUser makes user a moderator of room or not (what "add", "remove"; an
// admin with admin), or bans or unbans them ("ban", "unban").
func (x CommunityCmd) SetUser(ctx context.Context, what, room, user string, admin bool) error {
	id, err := x.C.UserID(user)
	if err != nil {
		return err
	}
	if aid, err := identity.ParseAccountID(user); err == nil && aid.Prefix == identity.PrefixSession {
		id = user // the server resolves a Session ID to the blinded ID it has seen
	}
	switch what {
	case "add", "remove":
		err = x.C.SetModerator(ctx, room, id, what == "add", admin)
	default:
		err = x.C.Ban(ctx, room, id, what == "ban")
	}
	if err != nil {
		return err
	}
	who := user // as given, with the ID the server knows when that is another
	if id != user {
		who = fmt.Sprintf("%s (%s)", user, id)
	}
	role := "a moderator"
	if admin {
		role = "an admin"
	}
	return x.Out.Printf("%s %s\n", who, map[string]string{"add": "is now " + role + " of " + room, "remove": "is no longer a moderator of " + room,
		"ban": "is banned from " + room, "unban": "is no longer banned from " + room}[what])
}

// DM sends a message request to user.
func (x CommunityCmd) DM(ctx context.Context, user, text string) error {
	id, err := x.C.UserID(user)
	if err != nil {
		return err
	}
	if err := x.C.SendDM(ctx, id, community.Content{Text: text}); err != nil {
		return err
	}
	return x.Out.Printf("message request sent to %s\n", id)
}

// Inbox shows the user's message requests.
func (x CommunityCmd) Inbox(ctx context.Context) error {
	out, err := x.C.Inbox(ctx)
	if err != nil {
		return err
	}
	return x.Out.Show(map[string]any{"messages": out}, func(w io.Writer) error {
		names := x.C.Names()
		for _, m := range out {
			fmt.Fprintln(w, InboxLine(m, names))
		}
		if len(out) == 0 {
			fmt.Fprintln(w, "no message requests")
		}
		return nil
	})
}
