package client

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sessionctl/sessionctl/sessionpb"
	"google.golang.org/protobuf/proto"
)

// TestContentKinds: the content kinds real clients send besides text are
// read as such, and what is not a Content is refused with a reason.
func TestContentKinds(t *testing.T) {
	for kind, c := range map[string]*sessionpb.Content{
		KindReceipt:                {ReceiptMessage: &sessionpb.ReceiptMessage{Type: sessionpb.ReceiptMessage_READ.Enum(), Timestamp: []uint64{1}}},
		KindTyping:                 {TypingMessage: &sessionpb.TypingMessage{Timestamp: proto.Uint64(1), Action: sessionpb.TypingMessage_STARTED.Enum()}},
		KindUnsend:                 {UnsendRequest: &sessionpb.UnsendRequest{Timestamp: proto.Uint64(1), Author: proto.String("05ab")}},
		KindMessageRequestResponse: {MessageRequestResponse: &sessionpb.MessageRequestResponse{IsApproved: proto.Bool(true)}},
		KindDataExtraction:         {DataExtractionNotification: &sessionpb.DataExtractionNotification{Type: sessionpb.DataExtractionNotification_SCREENSHOT.Enum()}},
	} {
		b, err := proto.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var m Message
		if why := decodeContent(sessionpb.Pad(b), &m); why != "" || m.Kind != kind {
			t.Errorf("%s: kind %q, %s", kind, m.Kind, why)
		}
	}
	for name, plain := range map[string][]byte{
		"not protobuf": sessionpb.Pad([]byte{0xff, 0xff, 0xff}),
		"empty":        sessionpb.Pad(nil),
		// A receipt without its required type.
		"missing required": sessionpb.Pad([]byte{0x2a, 0x00}),
	} {
		var m Message
		if why := decodeContent(plain, &m); why == "" {
			t.Errorf("%s: accepted as %+v", name, m)
		}
	}
	// A text with an attachment and a group invite, both ways.
	invite := &sessionpb.GroupUpdateMessage{InviteMessage: &sessionpb.GroupUpdateInviteMessage{GroupSessionId: proto.String("03ab"),
		Name: proto.String("team"), MemberAuthData: make([]byte, 100), AdminSignature: make([]byte, 64)}}
	in := Content{Text: "hi", SentAt: 42, GroupUpdate: invite,
		Attachments: []Attachment{{ID: "7", Key: bytes.Repeat([]byte{1}, 64), Size: 3, Digest: []byte{2}, Name: "a.png", URL: "http://x/file/7"}}}
	plain, err := encodeContent(in, "05cd")
	if err != nil {
		t.Fatal(err)
	}
	if len(plain)%160 != 159 {
		t.Fatalf("padded to %d bytes", len(plain))
	}
	var m Message
	if why := decodeContent(plain, &m); why != "" {
		t.Fatal(why)
	}
	a := m.Attachments[0]
	if m.Text != "hi" || m.SentAt != 42 || m.Kind != KindGroupInvite || string(m.Data) != `{"group_id":"03ab","name":"team"}` ||
		!proto.Equal(m.GroupUpdate, invite) || m.SyncTarget != "05cd" ||
		a.ID != "7" || a.ContentType != "image/png" || a.Size != 3 || a.Name != "a.png" || a.URL != "http://x/file/7" {
		t.Fatalf("decoded %+v", m)
	}
	if _, err := encodeContent(Content{Attachments: []Attachment{{ID: "x1"}}}, ""); err == nil {
		t.Fatal("an attachment id of letters was encoded")
	}
	if _, err := encodeContent(Content{GroupUpdate: &sessionpb.GroupUpdateMessage{}}, ""); err == nil {
		t.Fatal("an empty group control message was encoded")
	}
	// An invite of the old format (a devnet-only field) is named, not read.
	old, _ := proto.Marshal(&sessionpb.Content{DataMessage: &sessionpb.DataMessage{Sessionctl: &sessionpb.SessionctlPayload{Kind: proto.String("group_invite"), Data: []byte("{}")}}})
	if why := decodeContent(sessionpb.Pad(old), &m); why != "" || m.Kind != KindOldGroupInvite {
		t.Fatalf("an old invite: %q %s", m.Kind, why)
	}
}

// TestUnsendContent: an UnsendRequest travels as Content field 9
// (session.proto: UnsendRequest unsendRequest = 9, its timestamp field 1
// and author field 2) and reads back as what it names.
func TestUnsendContent(t *testing.T) {
	author := "05" + strings.Repeat("ab", 32)
	plain, err := encodeContent(Content{SentAt: 7, Unsend: &Unsend{Timestamp: 1700000000123, Author: author}}, "05cd")
	if err != nil {
		t.Fatal(err)
	}
	b := sessionpb.Unpad(plain)
	// 0x4a: field 9, length-delimited; inside, 0x08 the timestamp (varint)
	// and 0x12 the author (66 bytes); no DataMessage (field 1), so no
	// syncTarget either.
	if b[0] != 0x4a || b[2] != 0x08 || !bytes.Contains(b, append([]byte{0x12, 66}, author...)) || bytes.Contains(b, []byte("05cd")) {
		t.Fatalf("encoded % x", b)
	}
	var m Message
	if why := decodeContent(plain, &m); why != "" {
		t.Fatal(why)
	}
	if m.Kind != KindUnsend || m.Unsend == nil || m.Unsend.Timestamp != 1700000000123 || m.Unsend.Author != author || m.SentAt != 7 {
		t.Fatalf("decoded %+v %+v", m, m.Unsend)
	}
}

func FuzzDecodeContent(f *testing.F) {
	plain, _ := encodeContent(Content{Text: "seed", Attachments: []Attachment{{ID: "1"}}}, "")
	f.Add(plain)
	unsend, _ := encodeContent(Content{Unsend: &Unsend{Timestamp: 1, Author: "05ab"}}, "")
	f.Add(unsend)
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Message
		decodeContent(data, &m)
	})
}
