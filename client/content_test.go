package client

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sessionctl/sessionctl/sessionpb"
	"google.golang.org/protobuf/encoding/protowire"
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
	// A text with an attachment, and a group invite, both ways.
	in := Content{Text: "hi", SentAt: 42,
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
	if m.Text != "hi" || m.SentAt != 42 || m.Kind != "" || m.SyncTarget != "05cd" ||
		a.ID != "7" || a.ContentType != "image/png" || a.Size != 3 || a.Name != "a.png" || a.URL != "http://x/file/7" {
		t.Fatalf("decoded %+v", m)
	}
	invite := &sessionpb.GroupUpdateMessage{InviteMessage: &sessionpb.GroupUpdateInviteMessage{GroupSessionId: proto.String("03ab"),
		Name: proto.String("team"), MemberAuthData: make([]byte, 100), AdminSignature: make([]byte, 64)}}
	if plain, err = encodeContent(Content{SentAt: 43, GroupUpdate: invite}, ""); err != nil {
		t.Fatal(err)
	}
	m = Message{}
	if why := decodeContent(plain, &m); why != "" || m.SentAt != 43 || m.Kind != KindGroupInvite || string(m.Data) != `{"group_id":"03ab","name":"team"}` ||
		!proto.Equal(m.GroupUpdate, invite) || m.Note != "group update (invite)" {
		t.Fatalf("an invite decoded %+v (%s)", m, why)
	}
	if _, err := encodeContent(Content{Attachments: []Attachment{{ID: "x1"}}}, ""); err == nil {
		t.Fatal("an attachment id of letters was encoded")
	}
	if _, err := encodeContent(Content{GroupUpdate: &sessionpb.GroupUpdateMessage{}}, ""); err == nil {
		t.Fatal("an empty group control message was encoded")
	}
	// An invite of the old format (a devnet-only field) is named, not read.
	old, _ := proto.Marshal(&sessionpb.Content{DataMessage: &sessionpb.DataMessage{Sessionctl: &sessionpb.SessionctlPayload{Kind: proto.String("group_invite"), Data: []byte("{}")}}})
	m = Message{}
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
	react, _ := encodeContent(Content{Reaction: &Reaction{MessageRef: MessageRef{Author: "05ab", Timestamp: 1}, Emoji: "x"},
		Profile: &Profile{Name: "n", PicURL: "u", PicKey: make([]byte, 32)}}, "05cd")
	f.Add(react)
	f.Add(contentBytes(field(16, str(1, "x"))))
	f.Add(contentBytes(field(5, varint(1, 1), varint(2, 1))))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Message
		decodeContent(data, &m)
	})
}

// contentBytes builds a Content's bytes field by field, as an app's
// protobuf library would (protowire, not our generated code), padded.
func contentBytes(fields ...[]byte) []byte {
	var b []byte
	for _, f := range fields {
		b = append(b, f...)
	}
	return sessionpb.Pad(b)
}

func field(num protowire.Number, msg ...[]byte) []byte {
	var inner []byte
	for _, m := range msg {
		inner = append(inner, m...)
	}
	return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), inner)
}

func varint(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
}

func str(num protowire.Number, s string) []byte { return field(num, []byte(s)) }

// TestAppContent: what apps send, read as they mean it. The values are
// session-desktop's own tests': a read receipt of 987654321 and 123456789
// (ts/test/session/unit/messages/ReceiptMessage_test.ts), a quote of id
// 1234 by "author" (ChatMessage_test.ts), Jane's profile with
// http://filev2.getsession.org/file/abcdefghijklmnop and the key
// 0102...0304, updated at second 1 (MessageRequestResponse_test.ts); field
// numbers from its protos/SignalService.proto.
func TestAppContent(t *testing.T) {
	janeKey, _ := hex.DecodeString("0102030405060102030405060102030401020304050601020304050601020304")
	jane := field(101, str(1, "Jane"), str(2, "http://filev2.getsession.org/file/abcdefghijklmnop"), varint(3, 1))
	for name, c := range map[string]struct {
		plain []byte
		check func(m Message) bool
	}{
		"read receipt": {contentBytes(field(5, varint(1, 1), varint(2, 987654321), varint(2, 123456789))), func(m Message) bool {
			return m.Kind == KindReceipt && len(m.Read) == 2 && m.Read[0].Timestamp == 987654321 && m.Read[1].Timestamp == 123456789
		}},
		"quote": {contentBytes(field(1, str(1, "a reply"), field(8, varint(1, 1234), str(2, "author")))), func(m Message) bool {
			return m.Kind == "" && m.Text == "a reply" && m.Quote != nil && m.Quote.Timestamp == 1234 && m.Quote.Author == "author"
		}},
		"profile": {contentBytes(field(1, str(1, "hi"), field(6, janeKey), jane)), func(m Message) bool {
			p := m.Profile
			return p != nil && p.Name == "Jane" && p.PicURL == "http://filev2.getsession.org/file/abcdefghijklmnop" &&
				bytes.Equal(p.PicKey, janeKey) && p.UpdatedAt == 1000
		}},
		"request response with profile": {contentBytes(field(10, varint(1, 1), field(2, janeKey), field(3, str(1, "Jane")))), func(m Message) bool {
			return m.Kind == KindMessageRequestResponse && m.Profile != nil && m.Profile.Name == "Jane"
		}},
		"picture without its key": {contentBytes(field(1, str(1, "hi"), field(101, str(2, "http://filev2.getsession.org/file/x")))), func(m Message) bool {
			return m.Profile == nil
		}},
		"reaction": {contentBytes(field(1, field(11, varint(1, 1700000000123), str(2, "05ab"), str(3, "👍"), varint(4, 0)))), func(m Message) bool {
			r := m.Reaction
			return m.Kind == KindReaction && m.Text == "" && r != nil && r.Emoji == "👍" && !r.Remove && r.Author == "05ab" && r.Timestamp == 1700000000123
		}},
		"reaction removed": {contentBytes(field(1, field(11, varint(1, 5), str(2, "05ab"), str(3, "👍"), varint(4, 1)))), func(m Message) bool {
			return m.Kind == KindReaction && m.Reaction.Remove
		}},
		"typing stopped": {contentBytes(field(6, varint(1, 5), varint(2, 1))), func(m Message) bool {
			return m.Kind == KindTyping && m.Typing == TypingStopped
		}},
		"call offer": {contentBytes(field(3, varint(1, 1), str(5, "uuid"))), func(m Message) bool {
			return m.Kind == KindCall && m.Note == "call offer"
		}},
		"pro message only": {contentBytes(field(16, str(1, "x")), varint(15, 7)), func(m Message) bool {
			return m.Kind == KindUnknown && m.Note == "unknown content field 16 (Session Pro data)" && m.SentAt == 7
		}},
		"legacy configuration message": {contentBytes(field(7, str(1, "x"))), func(m Message) bool {
			return m.Kind == KindUnknown && m.Note == "unknown content field 7 (a legacy configuration message)"
		}},
		"two unknown fields": {contentBytes(field(40, str(1, "x")), field(41)), func(m Message) bool {
			return m.Kind == KindUnknown && m.Note == "unknown content fields 40, 41"
		}},
		"unknown data message field": {contentBytes(field(1, str(999, "x"))), func(m Message) bool {
			return m.Kind == KindUnknown && m.Note == "unknown data message field 999"
		}},
		"empty data message": {contentBytes(field(1)), func(m Message) bool {
			return m.Kind == KindUnknown && m.Note == "an empty message"
		}},
		"profile only": {contentBytes(field(1, jane)), func(m Message) bool {
			return m.Kind == KindProfile && m.Profile.Name == "Jane"
		}},
		"group invite": {contentBytes(field(1, field(120, field(1, str(1, "03ab"), str(2, "g"), field(3, []byte{1}), field(4, []byte{2}))))), func(m Message) bool {
			return m.Kind == KindGroupInvite && m.Note == "group update (invite)" && m.GroupUpdate.GetInviteMessage().GetGroupSessionId() == "03ab"
		}},
		"community invitation": {contentBytes(field(1, field(102, str(1, "http://open.getsession.org/lobby?public_key=ab"), str(3, "Lobby")))), func(m Message) bool {
			return m.Kind == KindCommunityInvite && strings.Contains(m.Note, `"Lobby"`)
		}},
		"disappearing messages": {contentBytes(field(1, varint(4, 2)), varint(12, 1), varint(13, 300)), func(m Message) bool {
			return m.Kind == KindExpirationTimer && m.Note == "disappearing messages: 300 s after read"
		}},
	} {
		var m Message
		if why := decodeContent(c.plain, &m); why != "" || !c.check(m) {
			t.Errorf("%s: %s %+v", name, why, m)
		}
	}
	for name, plain := range map[string][]byte{
		"a name over 100 bytes": contentBytes(field(1, str(1, "hi"), field(101, str(1, strings.Repeat("n", 101))))),
		"a name not UTF-8":      contentBytes(field(1, str(1, "hi"), field(101, str(1, "\xff")))),
	} {
		var m Message
		if why := decodeContent(plain, &m); why != "" || m.Text != "hi" || m.Profile != nil {
			t.Errorf("%s: %s, profile %+v", name, why, m.Profile)
		}
	}
	// A reaction whose required fields are missing is no message.
	var m Message
	if why := decodeContent(contentBytes(field(1, field(11, str(3, "👍")))), &m); why == "" {
		t.Errorf("a reaction without its target: %+v", m)
	}
	if why := decodeContent(contentBytes(field(1, field(11, varint(1, 5), str(2, "05ab"), str(3, "a b"), varint(4, 0)))), &m); why == "" {
		t.Errorf("a reaction with a spaced emoji: %+v", m.Reaction)
	}
}

// TestEncodeForApps: what sessionctl sends is what apps read: the profile
// (name, picture with its key, update time in seconds), a quote, a
// reaction, a receipt, a typing indicator, field by field.
func TestEncodeForApps(t *testing.T) {
	key := bytes.Repeat([]byte{3}, 32)
	prof := &Profile{Name: "Jane", PicURL: "http://filev2.getsession.org/file/1", PicKey: key, UpdatedAt: 1700000000999}
	plain, err := encodeContent(Content{Text: "yes", SentAt: 9, Profile: prof,
		Quote: &MessageRef{Author: "05ab", Timestamp: 1234, Text: "lunch?"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	var c sessionpb.Content
	if err := proto.Unmarshal(sessionpb.Unpad(plain), &c); err != nil {
		t.Fatal(err)
	}
	dm := c.DataMessage
	if dm.GetProfile().GetDisplayName() != "Jane" || dm.GetProfile().GetProfilePicture() != prof.PicURL ||
		dm.GetProfile().GetLastUpdateSeconds() != 1700000000 || !bytes.Equal(dm.ProfileKey, key) ||
		dm.GetQuote().GetId() != 1234 || dm.GetQuote().GetAuthor() != "05ab" || dm.GetQuote().GetText() != "lunch?" {
		t.Fatalf("encoded %v", dm)
	}
	// A name alone: no picture, no key (MessageRequestResponse_test.ts:
	// "profileKey not included if profileUrl not set").
	plain, _ = encodeContent(Content{Approval: true, SentAt: 9, Profile: &Profile{Name: "Jane", PicKey: key}}, "")
	c.Reset()
	proto.Unmarshal(sessionpb.Unpad(plain), &c)
	if r := c.MessageRequestResponse; r.GetProfile().GetDisplayName() != "Jane" || r.GetProfile().ProfilePicture != nil || r.ProfileKey != nil {
		t.Fatalf("request response %v", r)
	}
	for name, in := range map[string]Content{
		"reaction": {SentAt: 9, Reaction: &Reaction{MessageRef: MessageRef{Author: "05ab", Timestamp: 7}, Emoji: "🎉", Remove: true}},
		"receipt":  {SentAt: 9, Read: []int64{987654321, 123456789}},
		"typing":   {SentAt: 9, Typing: TypingStarted},
	} {
		plain, err := encodeContent(in, "05cd")
		if err != nil {
			t.Fatal(err)
		}
		var m Message
		if why := decodeContent(plain, &m); why != "" {
			t.Fatalf("%s: %s", name, why)
		}
		switch name {
		case "reaction":
			if m.Kind != KindReaction || m.Reaction.Emoji != "🎉" || !m.Reaction.Remove || m.Reaction.Timestamp != 7 || m.SyncTarget != "05cd" {
				t.Errorf("reaction: %+v %+v", m, m.Reaction)
			}
		case "receipt":
			if m.Kind != KindReceipt || len(m.Read) != 2 || m.Read[0].Timestamp != 987654321 {
				t.Errorf("receipt: %+v", m)
			}
		case "typing":
			if m.Kind != KindTyping || m.Typing != TypingStarted {
				t.Errorf("typing: %+v", m)
			}
		}
	}
}

func TestSnippet(t *testing.T) {
	if s := snippet("short"); s != "short" {
		t.Fatal(s)
	}
	long := strings.Repeat("é", 80) // 160 bytes
	s := snippet(long)
	if len(s) > maxSnippet || !utf8.ValidString(s) || !strings.HasSuffix(s, "…") {
		t.Fatalf("%q (%d bytes)", s, len(s))
	}
}
