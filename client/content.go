package client

import (
	"encoding/json"
	"fmt"
	"mime"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sessionctl/sessionctl/sessionpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Message kinds other than text (Message.Kind), from the Content a real
// client sends. A kind the devnet cannot show is named (Message.Note),
// never read as an empty text.
const (
	KindReceipt                = "receipt"
	KindTyping                 = "typing"
	KindUnsend                 = "unsend"
	KindMessageRequestResponse = "message_request_response"
	KindDataExtraction         = "data_extraction"
	// KindReaction is a DataMessage.reaction: an emoji on a message.
	KindReaction = "reaction"
	// KindCall is WebRTC signalling (Content field 3); the devnet places
	// no calls.
	KindCall = "call"
	// KindCommunityInvite is an invitation to a community
	// (DataMessage.openGroupInvitation): Note names it.
	KindCommunityInvite = "community_invite"
	// KindExpirationTimer is a change of the conversation's disappearing
	// messages setting.
	KindExpirationTimer = "expiration_timer"
	// KindProfile is a DataMessage that carries only its sender's profile.
	KindProfile = "profile"
	// KindConfig is a config message (SharedConfigMessage) in the inbox.
	KindConfig = "config"
	// KindUnknown is a Content (or DataMessage) holding only fields this
	// client does not know: Note names their numbers.
	KindUnknown = "unknown"
)

// The kinds of a closed group's control messages (DataMessage field 120,
// GroupUpdateMessage): an invite and a promotion arrive one-to-one, the
// others in the group's swarm. Message.GroupUpdate holds the message.
const (
	KindGroupInvite         = "group_invite"
	KindGroupPromote        = "group_promote"
	KindGroupInfoChange     = "group_info_change"
	KindGroupMemberChange   = "group_member_change"
	KindGroupMemberLeft     = "group_member_left"
	KindGroupMemberLeftNote = "group_member_left_notification"
	KindGroupInviteResponse = "group_invite_response"
	KindGroupDeleteContent  = "group_delete_member_content"
	// KindOldGroupInvite is an invite to a closed group of the format
	// sessionctl used before libsession's, in a devnet-only field: read,
	// never joined.
	KindOldGroupInvite = "old_group_invite"
)

// groupUpdateKind names the message a GroupUpdateMessage carries ("" for
// none).
func groupUpdateKind(u *sessionpb.GroupUpdateMessage) string {
	switch {
	case u.InviteMessage != nil:
		return KindGroupInvite
	case u.PromoteMessage != nil:
		return KindGroupPromote
	case u.InfoChangeMessage != nil:
		return KindGroupInfoChange
	case u.MemberChangeMessage != nil:
		return KindGroupMemberChange
	case u.MemberLeftMessage != nil:
		return KindGroupMemberLeft
	case u.MemberLeftNotificationMessage != nil:
		return KindGroupMemberLeftNote
	case u.InviteResponse != nil:
		return KindGroupInviteResponse
	case u.DeleteMemberContent != nil:
		return KindGroupDeleteContent
	}
	return ""
}

// EncodeContent is the padded protobuf Content of content, as
// SendContent encrypts it (a closed group encrypts it its own way).
func EncodeContent(content Content) ([]byte, error) { return encodeContent(content, "") }

// DecodeContent reads a padded protobuf Content into m's fields (Text,
// SentAt, Kind, GroupUpdate, attachments, ...); it says why when it
// cannot.
func DecodeContent(plain []byte, m *Message) string { return decodeContent(plain, m) }

// Typing actions (Content.Typing, Message.Typing).
const (
	TypingStarted = "started"
	TypingStopped = "stopped"
)

// Profile is what a message says of its sender: DataMessage.profile (the
// display name, the picture's URL, when they changed) and profileKey (the
// picture's key). Apps send it with every visible message.
type Profile struct {
	Name   string `json:"name,omitempty"`
	PicURL string `json:"pic_url,omitempty"`
	PicKey []byte `json:"pic_key,omitempty"` // 32 bytes, with PicURL
	// UpdatedAt is when the sender last changed it, unix ms (the protocol
	// carries seconds); 0 when the sender does not say.
	UpdatedAt int64 `json:"updated_at,omitempty"`
}

// MessageRef names a message as Session messages name each other: by its
// author and the time it was sent. Hash and Text are filled in when this
// device has the message (Text shortened to maxSnippet bytes), or Text as
// a quote carries it.
type MessageRef struct {
	Author    string `json:"author"`
	Timestamp int64  `json:"timestamp"` // unix ms
	Hash      string `json:"hash,omitempty"`
	Text      string `json:"text,omitempty"`
}

// Reaction is an emoji put on (or taken off) a message.
type Reaction struct {
	MessageRef
	Emoji  string `json:"emoji"`
	Remove bool   `json:"remove,omitempty"`
}

// maxEmoji bounds a reaction's emoji, in bytes (an emoji with modifiers
// and joiners stays well under).
const maxEmoji = 64

// CheckEmoji checks an emoji to react with: a short run of printable
// characters, no spaces.
func CheckEmoji(e string) error {
	if e == "" || len(e) > maxEmoji || !utf8.ValidString(e) {
		return fmt.Errorf("emoji %q: want 1 to %d bytes of UTF-8", e, maxEmoji)
	}
	for _, r := range e {
		if r < 0x20 || r == 0x7f || r == ' ' || r >= 0x80 && r < 0xa0 {
			return fmt.Errorf("emoji %q: no spaces or control characters", e)
		}
	}
	return nil
}

// encodeContent turns content into the protobuf Content a Session client
// sends: a DataMessage with the body, timestamp and attachment pointers
// (and, for a sync copy, the recipient in syncTarget), the sender's
// profile, a quote, a reaction or a closed group's control message; or
// one of the control messages.
func encodeContent(content Content, syncTarget string) ([]byte, error) {
	c := &sessionpb.Content{SigTimestamp: proto.Uint64(uint64(content.SentAt))}
	switch {
	case content.Unsend != nil:
		u := content.Unsend
		c.UnsendRequest = &sessionpb.UnsendRequest{Timestamp: proto.Uint64(uint64(u.Timestamp)), Author: proto.String(u.Author)}
	case content.Approval:
		r := &sessionpb.MessageRequestResponse{IsApproved: proto.Bool(true)}
		r.Profile, r.ProfileKey = encodeProfile(content.Profile)
		c.MessageRequestResponse = r
	case content.Read != nil:
		ts := make([]uint64, len(content.Read))
		for i, t := range content.Read {
			ts[i] = uint64(t)
		}
		c.ReceiptMessage = &sessionpb.ReceiptMessage{Type: sessionpb.ReceiptMessage_READ.Enum(), Timestamp: ts}
	case content.Typing != "":
		action := sessionpb.TypingMessage_STARTED
		if content.Typing == TypingStopped {
			action = sessionpb.TypingMessage_STOPPED
		}
		c.TypingMessage = &sessionpb.TypingMessage{Timestamp: proto.Uint64(uint64(content.SentAt)), Action: action.Enum()}
	default:
		dm, err := encodeDataMessage(content, syncTarget)
		if err != nil {
			return nil, err
		}
		c.DataMessage = dm
	}
	b, err := proto.Marshal(c)
	if err != nil {
		return nil, err
	}
	return sessionpb.Pad(b), nil
}

func encodeDataMessage(content Content, syncTarget string) (*sessionpb.DataMessage, error) {
	dm := &sessionpb.DataMessage{Timestamp: proto.Uint64(uint64(content.SentAt))}
	if content.Text != "" {
		dm.Body = proto.String(content.Text)
	}
	for _, a := range content.Attachments {
		id, err := strconv.ParseUint(a.ID, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("attachment %q: the id is not decimal digits", a.Name)
		}
		ct := a.ContentType
		if ct == "" {
			if ct = mime.TypeByExtension(filepath.Ext(a.Name)); ct == "" {
				ct = "application/octet-stream"
			}
		}
		dm.Attachments = append(dm.Attachments, &sessionpb.AttachmentPointer{Id: proto.Uint64(id), ContentType: proto.String(ct),
			Key: a.Key, Size: proto.Uint32(uint32(a.Size)), Digest: a.Digest, FileName: proto.String(a.Name), Url: proto.String(a.URL)})
	}
	if q := content.Quote; q != nil {
		dm.Quote = &sessionpb.DataMessage_Quote{Id: proto.Uint64(uint64(q.Timestamp)), Author: proto.String(q.Author)}
		if q.Text != "" {
			dm.Quote.Text = proto.String(q.Text)
		}
	}
	if r := content.Reaction; r != nil {
		action := sessionpb.DataMessage_Reaction_REACT
		if r.Remove {
			action = sessionpb.DataMessage_Reaction_REMOVE
		}
		dm.Reaction = &sessionpb.DataMessage_Reaction{Id: proto.Uint64(uint64(r.Timestamp)), Author: proto.String(r.Author),
			Emoji: proto.String(r.Emoji), Action: action.Enum()}
	}
	dm.Profile, dm.ProfileKey = encodeProfile(content.Profile)
	if content.GroupUpdate != nil {
		if groupUpdateKind(content.GroupUpdate) == "" {
			return nil, fmt.Errorf("a closed group's control message that carries nothing")
		}
		dm.GroupUpdateMessage = content.GroupUpdate
	}
	if syncTarget != "" {
		dm.SyncTarget = proto.String(syncTarget)
	}
	return dm, nil
}

// encodeProfile writes a profile as apps do (session.js serializeProfile,
// session-desktop's OutgoingUserProfile): the name when set, the picture's
// URL with its key only when both are set.
func encodeProfile(p *Profile) (*sessionpb.LokiProfile, []byte) {
	if p == nil || p.Name == "" && p.PicURL == "" {
		return nil, nil
	}
	lp := &sessionpb.LokiProfile{}
	if p.Name != "" {
		lp.DisplayName = proto.String(p.Name)
	}
	var key []byte
	if p.PicURL != "" && len(p.PicKey) == ProfileKeySize {
		lp.ProfilePicture = proto.String(p.PicURL)
		key = p.PicKey
	}
	if p.UpdatedAt > 0 {
		lp.LastUpdateSeconds = proto.Uint64(uint64(p.UpdatedAt / 1000))
	}
	return lp, key
}

// decodeProfile reads a profile as apps do: the picture only with its
// 32-byte key. A name that is not UTF-8 or is over
// configmsg.MaxNameLength bytes is not taken (the message stands).
func decodeProfile(lp *sessionpb.LokiProfile, key []byte) *Profile {
	if lp == nil {
		return nil
	}
	p := &Profile{Name: lp.GetDisplayName()}
	if len(p.Name) > maxNameLength || !utf8.ValidString(p.Name) {
		p.Name = ""
	}
	if url := lp.GetProfilePicture(); url != "" && len(key) == ProfileKeySize && len(url) <= maxPicURL {
		p.PicURL, p.PicKey = url, key
	}
	if s := lp.GetLastUpdateSeconds(); s > 0 && s < 1<<40 {
		p.UpdatedAt = int64(s) * 1000
	}
	if p.Name == "" && p.PicURL == "" {
		return nil
	}
	return p
}

const (
	// maxNameLength is configmsg.MaxNameLength (libsession's limit).
	maxNameLength = 100
	// maxPicURL bounds a picture's URL.
	maxPicURL = 512
)

// decodeContent reads a padded protobuf Content into a Message's fields.
// It reports why, when the bytes are not a Content.
func decodeContent(plain []byte, m *Message) string {
	var c sessionpb.Content
	if err := proto.Unmarshal(sessionpb.Unpad(plain), &c); err != nil {
		return "the content is not a Session message: " + err.Error()
	}
	m.SentAt = int64(c.GetSigTimestamp())
	switch {
	case c.DataMessage != nil:
		return decodeDataMessage(&c, m)
	case c.ReceiptMessage != nil:
		m.Kind = KindReceipt
		if c.ReceiptMessage.GetType() == sessionpb.ReceiptMessage_READ {
			ts := c.ReceiptMessage.GetTimestamp()
			if len(ts) > maxReceiptTimestamps {
				ts = ts[:maxReceiptTimestamps]
			}
			m.Read = []MessageRef{}
			for _, t := range ts {
				m.Read = append(m.Read, MessageRef{Timestamp: int64(t)})
			}
		} else {
			m.Note = "delivery receipt"
		}
	case c.TypingMessage != nil:
		m.Kind = KindTyping
		m.Typing = TypingStarted
		if c.TypingMessage.GetAction() == sessionpb.TypingMessage_STOPPED {
			m.Typing = TypingStopped
		}
	case c.UnsendRequest != nil:
		m.Kind = KindUnsend
		m.Unsend = &Unsend{Timestamp: int64(c.UnsendRequest.GetTimestamp()), Author: c.UnsendRequest.GetAuthor()}
	case c.MessageRequestResponse != nil:
		m.Kind = KindMessageRequestResponse
		m.Data = json.RawMessage(fmt.Sprintf(`{"is_approved":%t}`, c.MessageRequestResponse.GetIsApproved()))
		m.Profile = decodeProfile(c.MessageRequestResponse.Profile, c.MessageRequestResponse.ProfileKey)
	case c.DataExtractionNotification != nil:
		m.Kind = KindDataExtraction
		m.Note = "took a screenshot"
		if c.DataExtractionNotification.GetType() == sessionpb.DataExtractionNotification_MEDIA_SAVED {
			m.Note = "saved a file you sent"
		}
	case c.CallMessage != nil:
		m.Kind = KindCall
		m.Note = "call " + callNames[c.CallMessage.GetType()]
	case c.SharedConfigMessage != nil:
		m.Kind = KindConfig
		m.Note = "config message (" + strings.ToLower(strings.ReplaceAll(c.SharedConfigMessage.GetKind().String(), "_", " ")) + ")"
	default:
		fields := unknownFields(c.ProtoReflect().GetUnknown())
		if len(fields) == 0 {
			return "the content is empty"
		}
		m.Kind = KindUnknown
		m.Note = "unknown content " + fieldList(fields)
		if what := retiredContent[fields[0]]; what != "" && len(fields) == 1 {
			m.Note += " (" + what + ")"
		}
	}
	return ""
}

// retiredContent names Content fields that apps sent once or send now and
// the devnet does not read (session-desktop protos/SignalService.proto).
var retiredContent = map[int]string{
	7:  "a legacy configuration message",
	16: "Session Pro data",
}

// maxReceiptTimestamps bounds the messages one receipt names.
const maxReceiptTimestamps = 1000

var callNames = map[sessionpb.CallMessage_Type]string{
	sessionpb.CallMessage_PRE_OFFER: "pre-offer", sessionpb.CallMessage_OFFER: "offer", sessionpb.CallMessage_ANSWER: "answer",
	sessionpb.CallMessage_PROVISIONAL_ANSWER: "provisional answer", sessionpb.CallMessage_ICE_CANDIDATES: "ICE candidates",
	sessionpb.CallMessage_END_CALL: "end",
}

func decodeDataMessage(c *sessionpb.Content, m *Message) string {
	dm := c.DataMessage
	m.Text = dm.GetBody()
	if ts := dm.GetTimestamp(); ts != 0 {
		m.SentAt = int64(ts)
	}
	m.SyncTarget = dm.GetSyncTarget()
	m.Profile = decodeProfile(dm.Profile, dm.ProfileKey)
	if p := dm.GetSessionctl(); p != nil && p.GetKind() == "group_invite" {
		m.Kind = KindOldGroupInvite
		m.Note = "an invite to a closed group of the old kind (an earlier sessionctl's), which this one does not join"
	}
	for _, a := range dm.Attachments {
		m.Attachments = append(m.Attachments, Attachment{ID: strconv.FormatUint(a.GetId(), 10), ContentType: a.GetContentType(),
			Key: a.GetKey(), Size: int(a.GetSize()), Digest: a.GetDigest(), Name: a.GetFileName(), URL: a.GetUrl()})
	}
	if q := dm.Quote; q != nil {
		m.Quote = &MessageRef{Author: q.GetAuthor(), Timestamp: int64(q.GetId()), Text: snippet(q.GetText())}
	}
	visible := m.Text != "" || len(m.Attachments) > 0
	switch {
	case m.Kind != "":
		// An old devnet-only invite.
	case dm.Reaction != nil && !visible:
		r := dm.Reaction
		m.Kind = KindReaction
		m.Reaction = &Reaction{MessageRef: MessageRef{Author: r.GetAuthor(), Timestamp: int64(r.GetId())}, Emoji: r.GetEmoji(),
			Remove: r.GetAction() == sessionpb.DataMessage_Reaction_REMOVE}
		if CheckEmoji(m.Reaction.Emoji) != nil && !m.Reaction.Remove {
			return "a reaction without a usable emoji"
		}
	case visible:
	case dm.GroupUpdateMessage != nil:
		u := dm.GroupUpdateMessage
		if m.Kind = groupUpdateKind(u); m.Kind == "" {
			return "a closed group's control message that carries nothing"
		}
		m.GroupUpdate = u
		m.Data = groupUpdateSummary(u)
		m.Note = "group update (" + groupUpdateName(u) + ")"
	case dm.OpenGroupInvitation != nil:
		inv := dm.OpenGroupInvitation
		m.Kind = KindCommunityInvite
		m.Note = fmt.Sprintf("an invitation to the community %q at %s", truncate(inv.GetName(), 100), truncate(inv.GetUrl(), 300))
	case dm.GetFlags()&uint32(sessionpb.DataMessage_EXPIRATION_TIMER_UPDATE) != 0:
		m.Kind = KindExpirationTimer
		m.Note = "disappearing messages off"
		if t := c.GetExpirationTimer(); t > 0 {
			after := "sent"
			if c.GetExpirationType() == sessionpb.Content_DELETE_AFTER_READ {
				after = "read"
			}
			m.Note = fmt.Sprintf("disappearing messages: %d s after %s", t, after)
		}
	case m.Profile != nil:
		m.Kind = KindProfile
		m.Note = "profile update"
	default:
		m.Kind = KindUnknown
		if fields := unknownFields(dm.ProtoReflect().GetUnknown()); len(fields) > 0 {
			m.Note = "unknown data message " + fieldList(fields)
		} else {
			m.Note = "an empty message"
		}
	}
	return ""
}

func groupUpdateName(g *sessionpb.GroupUpdateMessage) string {
	switch {
	case g.InviteMessage != nil:
		return "invite"
	case g.InfoChangeMessage != nil:
		return "info change"
	case g.MemberChangeMessage != nil:
		return "member change"
	case g.PromoteMessage != nil:
		return "promotion"
	case g.MemberLeftMessage != nil:
		return "member left"
	case g.InviteResponse != nil:
		return "invite response"
	case g.DeleteMemberContent != nil:
		return "deleted member content"
	case g.MemberLeftNotificationMessage != nil:
		return "member left notification"
	}
	return "unknown"
}

// unknownFields lists the field numbers in raw (a message's unknown
// fields), each once, in order.
func unknownFields(raw []byte) []int {
	var out []int
	for len(raw) > 0 && len(out) < 10 {
		num, _, n := protowire.ConsumeField(raw)
		if n < 0 {
			break
		}
		if !slices.Contains(out, int(num)) {
			out = append(out, int(num))
		}
		raw = raw[n:]
	}
	return out
}

func fieldList(fields []int) string {
	s := make([]string, len(fields))
	for i, f := range fields {
		s[i] = strconv.Itoa(f)
	}
	if len(s) == 1 {
		return "field " + s[0]
	}
	return "fields " + strings.Join(s, ", ")
}

// maxSnippet bounds the text a device keeps of a message (to show what a
// quote or reaction names), in bytes.
const maxSnippet = 100

// snippet shortens text to at most maxSnippet bytes, at a character
// boundary, marking a cut with "…".
func snippet(text string) string {
	if len(text) <= maxSnippet {
		return text
	}
	cut := maxSnippet - len("…")
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return text[:cut] + "…"
}

// groupUpdateSummary is what --json shows of a group control message: the
// group, its name and the members named (never the auth data or a key).
func groupUpdateSummary(u *sessionpb.GroupUpdateMessage) json.RawMessage {
	sum := map[string]any{}
	switch {
	case u.InviteMessage != nil:
		sum["group_id"], sum["name"] = u.InviteMessage.GetGroupSessionId(), u.InviteMessage.GetName()
	case u.PromoteMessage != nil:
		sum["name"] = u.PromoteMessage.GetName()
	case u.InfoChangeMessage != nil:
		sum["type"] = u.InfoChangeMessage.GetType().String()
		if n := u.InfoChangeMessage.UpdatedName; n != nil {
			sum["name"] = *n
		}
	case u.MemberChangeMessage != nil:
		sum["type"], sum["members"] = u.MemberChangeMessage.GetType().String(), u.MemberChangeMessage.GetMemberSessionIds()
	case u.InviteResponse != nil:
		sum["is_approved"] = u.InviteResponse.GetIsApproved()
	case u.DeleteMemberContent != nil:
		sum["members"], sum["hashes"] = u.DeleteMemberContent.GetMemberSessionIds(), u.DeleteMemberContent.GetMessageHashes()
	}
	b, _ := json.Marshal(sum)
	return b
}
