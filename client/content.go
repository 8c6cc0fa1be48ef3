package client

import (
	"encoding/json"
	"fmt"
	"mime"
	"path/filepath"
	"strconv"

	"github.com/sessionctl/sessionctl/sessionpb"
	"google.golang.org/protobuf/proto"
)

// Message kinds other than text (Message.Kind), from the Content a real
// client sends.
const (
	KindReceipt                = "receipt"
	KindTyping                 = "typing"
	KindUnsend                 = "unsend"
	KindMessageRequestResponse = "message_request_response"
	KindDataExtraction         = "data_extraction"
)

// encodeContent turns content into the protobuf Content a Session client
// sends: a DataMessage with the body, timestamp and attachment pointers
// (and, for a sync copy, the recipient in syncTarget). A devnet-only kind
// (a closed-group invite) travels in a field real clients skip.
func encodeContent(content Content, syncTarget string) ([]byte, error) {
	if u := content.Unsend; u != nil {
		b, err := proto.Marshal(&sessionpb.Content{UnsendRequest: &sessionpb.UnsendRequest{Timestamp: proto.Uint64(uint64(u.Timestamp)), Author: proto.String(u.Author)},
			SigTimestamp: proto.Uint64(uint64(content.SentAt))})
		if err != nil {
			return nil, err
		}
		return sessionpb.Pad(b), nil
	}
	if content.Approval {
		b, err := proto.Marshal(&sessionpb.Content{MessageRequestResponse: &sessionpb.MessageRequestResponse{IsApproved: proto.Bool(true)},
			SigTimestamp: proto.Uint64(uint64(content.SentAt))})
		if err != nil {
			return nil, err
		}
		return sessionpb.Pad(b), nil
	}
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
	if content.Kind != "" {
		dm.Sessionctl = &sessionpb.SessionctlPayload{Kind: proto.String(content.Kind), Data: content.Data}
	}
	if syncTarget != "" {
		dm.SyncTarget = proto.String(syncTarget)
	}
	b, err := proto.Marshal(&sessionpb.Content{DataMessage: dm, SigTimestamp: proto.Uint64(uint64(content.SentAt))})
	if err != nil {
		return nil, err
	}
	return sessionpb.Pad(b), nil
}

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
		dm := c.DataMessage
		m.Text = dm.GetBody()
		if ts := dm.GetTimestamp(); ts != 0 {
			m.SentAt = int64(ts)
		}
		m.SyncTarget = dm.GetSyncTarget()
		if p := dm.GetSessionctl(); p != nil {
			m.Kind, m.Data = p.GetKind(), json.RawMessage(p.GetData())
			if len(m.Data) > 0 && !json.Valid(m.Data) {
				return "the devnet payload is not JSON"
			}
		}
		for _, a := range dm.Attachments {
			m.Attachments = append(m.Attachments, Attachment{ID: strconv.FormatUint(a.GetId(), 10), ContentType: a.GetContentType(),
				Key: a.GetKey(), Size: int(a.GetSize()), Digest: a.GetDigest(), Name: a.GetFileName(), URL: a.GetUrl()})
		}
	case c.ReceiptMessage != nil:
		m.Kind = KindReceipt
	case c.TypingMessage != nil:
		m.Kind = KindTyping
	case c.UnsendRequest != nil:
		m.Kind = KindUnsend
		m.Unsend = &Unsend{Timestamp: int64(c.UnsendRequest.GetTimestamp()), Author: c.UnsendRequest.GetAuthor()}
	case c.MessageRequestResponse != nil:
		m.Kind = KindMessageRequestResponse
		m.Data = json.RawMessage(fmt.Sprintf(`{"is_approved":%t}`, c.MessageRequestResponse.GetIsApproved()))
	case c.DataExtractionNotification != nil:
		m.Kind = KindDataExtraction
	default:
		return "the content carries no message Session knows"
	}
	return ""
}
