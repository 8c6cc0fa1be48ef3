package community

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sessionctl/sessionctl/sessionpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// What a post's data (and a direct message, once decrypted) holds, as
// Session apps write it: a protobuf Content with a DataMessage, padded
// (sessionpb.Pad), signed as it is.

// Attachment is a file a post points to: for a community, a room file
// stored in the clear (community attachments are public), at
// URL = server/room/{token}/file/{id}.
type Attachment struct {
	ID          uint64 `json:"id"`
	URL         string `json:"url,omitempty"`
	Name        string `json:"name,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Size        uint32 `json:"size,omitempty"`
}

// Content is what sessionctl reads from, and writes into, a Content.
type Content struct {
	Text        string       `json:"text,omitempty"`
	Name        string       `json:"name,omitempty"` // the sender's display name (DataMessage.profile)
	SentAt      int64        `json:"sent_at,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	// Reaction is a DataMessage.reaction (apps react in communities with
	// the server's reaction endpoints; a post can still carry one).
	Reaction *ContentReaction `json:"reaction,omitempty"`
	// Kind names what the Content is when it is not a visible message
	// ("" for one): e.g. "[typing]", "[unknown content field 40]".
	Kind string `json:"kind,omitempty"`
	// Raw is set when the bytes are not a Content at all: they are shown
	// as bytes, and this says why.
	Raw string `json:"raw,omitempty"`
}

// ContentReaction is a reaction a Content carries.
type ContentReaction struct {
	Emoji     string `json:"emoji"`
	Author    string `json:"author"`
	Timestamp uint64 `json:"timestamp"`
	Remove    bool   `json:"remove,omitempty"`
}

// EncodeContent makes the padded Content of a visible message.
func EncodeContent(c Content) ([]byte, error) {
	dm := &sessionpb.DataMessage{Timestamp: proto.Uint64(uint64(c.SentAt))}
	if c.Text != "" {
		dm.Body = proto.String(c.Text)
	}
	if c.Name != "" {
		dm.Profile = &sessionpb.LokiProfile{DisplayName: proto.String(c.Name)}
	}
	for _, a := range c.Attachments {
		ap := &sessionpb.AttachmentPointer{Id: proto.Uint64(a.ID), Url: proto.String(a.URL)}
		if a.Name != "" {
			ap.FileName = proto.String(a.Name)
		}
		if a.ContentType != "" {
			ap.ContentType = proto.String(a.ContentType)
		}
		if a.Size > 0 {
			ap.Size = proto.Uint32(a.Size)
		}
		dm.Attachments = append(dm.Attachments, ap)
	}
	b, err := proto.Marshal(&sessionpb.Content{DataMessage: dm, SigTimestamp: proto.Uint64(uint64(c.SentAt))})
	if err != nil {
		return nil, err
	}
	return sessionpb.Pad(b), nil
}

// contentKinds name the Content fields that are not a visible message.
var contentKinds = map[protowire.Number]string{3: "[call]", 5: "[receipt]", 6: "[typing]", 8: "[data extraction notification]",
	9: "[unsend request]", 10: "[message request response]", 11: "[config message]"}

// DecodeContent reads what an app posted. Bytes that are not a Content
// come back with Raw set (and Text the bytes shown safely), never as an
// empty message.
func DecodeContent(data []byte) Content {
	var c sessionpb.Content
	plain := sessionpb.Unpad(data)
	if err := (proto.UnmarshalOptions{AllowPartial: true}).Unmarshal(plain, &c); err != nil || len(plain) == 0 {
		return rawContent(data, "not a Session Content")
	}
	out := Content{SentAt: int64(c.GetSigTimestamp())}
	dm := c.GetDataMessage()
	if dm == nil && len(plain) == len(data) {
		// Apps pad what they post: unpadded bytes that happen to parse
		// (short text often does) are not a Content.
		return rawContent(data, "not a Session Content")
	}
	if dm == nil {
		out.Kind = kindOf(plain)
		return out
	}
	if ts := dm.GetTimestamp(); ts != 0 {
		out.SentAt = int64(ts)
	}
	out.Text = dm.GetBody()
	out.Name = dm.GetProfile().GetDisplayName()
	for _, a := range dm.GetAttachments() {
		out.Attachments = append(out.Attachments, Attachment{ID: a.GetId(), URL: a.GetUrl(), Name: a.GetFileName(),
			ContentType: a.GetContentType(), Size: a.GetSize()})
	}
	if r := dm.GetReaction(); r != nil {
		out.Reaction = &ContentReaction{Emoji: r.GetEmoji(), Author: r.GetAuthor(), Timestamp: r.GetId(),
			Remove: r.GetAction() == sessionpb.DataMessage_Reaction_REMOVE}
	}
	if out.Text == "" && len(out.Attachments) == 0 && out.Reaction == nil {
		out.Kind = "[data message without text]"
		if dm.GetOpenGroupInvitation() != nil {
			out.Kind = "[community invitation]"
		} else if dm.GetQuote() != nil {
			out.Kind = "[quote]"
		}
	}
	return out
}

// kindOf names a Content without a DataMessage by its first field.
func kindOf(b []byte) string {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			break
		}
		if k, ok := contentKinds[num]; ok {
			return k
		}
		if num != 15 && num != 12 && num != 13 { // sigTimestamp, expiry: not a kind
			return fmt.Sprintf("[unknown content field %d]", num)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			break
		}
		b = b[n+m:]
	}
	return "[empty content]"
}

func rawContent(data []byte, why string) Content {
	c := Content{Raw: fmt.Sprintf("%s: %d bytes", why, len(data))}
	if utf8.Valid(data) && !strings.ContainsRune(string(data), 0) {
		c.Text = string(data)
	} else {
		n := min(len(data), 32)
		c.Text = fmt.Sprintf("%x", data[:n])
		if n < len(data) {
			c.Text += "..."
		}
	}
	return c
}

// Summary is one line for a person: the text, attachments and reaction,
// or what the Content is, or the bytes marked as such.
func (c Content) Summary() string {
	if c.Raw != "" {
		return "[" + c.Raw + "] " + c.Text
	}
	if c.Kind != "" {
		return c.Kind
	}
	parts := []string{}
	if c.Text != "" {
		parts = append(parts, c.Text)
	}
	for _, a := range c.Attachments {
		name := a.Name
		if name == "" {
			name = "file"
		}
		parts = append(parts, fmt.Sprintf("[attachment %s, %d bytes, %s]", name, a.Size, a.URL))
	}
	if r := c.Reaction; r != nil {
		verb := "reacted"
		if r.Remove {
			verb = "removed reaction"
		}
		parts = append(parts, fmt.Sprintf("[%s %s to %s's message of %d]", verb, r.Emoji, r.Author, r.Timestamp))
	}
	return strings.Join(parts, " ")
}
