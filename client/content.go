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

// DecodeContent reads a padded protobuf Content into m's Text, SentAt,
// Kind, GroupUpdate and attachments; it says why when it cannot.
func DecodeContent(plain []byte, m *Message) string { return decodeContent(plain, m) }

// encodeContent turns content into the protobuf Content a Session client
// sends: a DataMessage with the body, timestamp, attachment pointers and
// a closed group's control message (and, for a sync copy, the recipient
// in syncTarget).
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
	if content.GroupUpdate != nil {
		if groupUpdateKind(content.GroupUpdate) == "" {
			return nil, fmt.Errorf("a closed group's control message that carries nothing")
		}
		dm.GroupUpdateMessage = content.GroupUpdate
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
		if u := dm.GetGroupUpdateMessage(); u != nil {
			if m.Kind = groupUpdateKind(u); m.Kind == "" {
				return "a closed group's control message that carries nothing"
			}
			m.GroupUpdate = u
			m.Data = groupUpdateSummary(u)
		} else if p := dm.GetSessionctl(); p != nil && p.GetKind() == "group_invite" {
			m.Kind = KindOldGroupInvite
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
