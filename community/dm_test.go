package community_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/sessionctl/sessionctl/community"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/sessionpb"
	"google.golang.org/protobuf/proto"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBlindedDMLibsession: the accounts, server key and cases of
// libsession-util tests/test_session_encrypt.cpp, "Session blinding
// protocol encryption": what one account encrypts for the other's 15- or
// 25-blinded ID, the recipient and the sender open, learning the sender's
// Session ID; swapped IDs, a flipped byte of the nonce, and IDs of mixed
// blinding fail. (libsession's nonces are random, so its test checks
// these properties, not bytes.)
func TestBlindedDMLibsession(t *testing.T) {
	server := [32]byte(mustHex(t, "1d7e7f92b1ed3643855c98ecac02fc7274033a3467653f047d6e433540c03f17"))
	a := identity.KeysFromEd25519Seed([32]byte(mustHex(t, "0123456789abcdef0123456789abcdef00000000000000000000000000000000")))
	b := identity.KeysFromEd25519Seed([32]byte(mustHex(t, "00112233445566778899aabbccddeeff00000000000000000000000000000000")))
	if hex.EncodeToString(a.Ed25519Public()) != "4cb76fdc6d32278e3f83dbf608360ecc6b65727934b85d2fb86862ff98c46ab7" ||
		a.AccountID().String() != "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72" ||
		b.AccountID().String() != "05aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74" {
		t.Fatal("the accounts differ from libsession's")
	}
	lorem := []byte("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor " +
		"incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis " +
		"nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. " +
		"Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu " +
		"fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in " +
		"culpa qui officia deserunt mollit anim id est laborum.")
	for _, blind := range []func(*identity.Keys, []byte) (*identity.Blinded, error){identity.Blind15, identity.Blind25} {
		ab, _ := blind(a, server[:])
		bb, _ := blind(b, server[:])
		for _, msg := range [][]byte{[]byte("hello"), lorem} {
			enc, err := community.EncryptDM(nil, a, server, bb.ID(), msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(enc) != 1+len(msg)+32+16+24 || enc[0] != 0 || bytes.Contains(enc, []byte("dolore magna")) {
				t.Fatalf("%s: %d bytes, version %d", ab.ID()[:2], len(enc), enc[0])
			}
			for who, k := range map[string]*identity.Keys{"recipient": b, "sender": a} {
				got, sid, err := community.DecryptDM(k, server, ab.ID(), bb.ID(), enc)
				if err != nil || !bytes.Equal(got, msg) || sid != a.AccountID().String() {
					t.Errorf("%s, %s decrypts: %v %q %s", ab.ID()[:2], who, err, got, sid)
				}
			}
			if _, _, err := community.DecryptDM(b, server, bb.ID(), ab.ID(), enc); err == nil {
				t.Errorf("%s: swapped IDs decrypt", ab.ID()[:2])
			}
			broken := bytes.Clone(enc)
			broken[len(broken)-23] ^= 0x80 // in the nonce
			if _, _, err := community.DecryptDM(b, server, ab.ID(), bb.ID(), broken); err == nil {
				t.Errorf("%s: a broken nonce decrypts", ab.ID()[:2])
			}
		}
	}
	a15, _ := identity.Blind15(a, server[:])
	b25, _ := identity.Blind25(b, server[:])
	if _, _, err := community.DecryptDM(b, server, a15.ID(), b25.ID(), make([]byte, 100)); err == nil {
		t.Error("mixed blinding accepted")
	}
	// A third account cannot open it, nor claim to have written it.
	c := identity.KeysFromEd25519Seed([32]byte{9})
	c15, _ := identity.Blind15(c, server[:])
	b15, _ := identity.Blind15(b, server[:])
	enc, _ := community.EncryptDM(nil, a, server, b15.ID(), []byte("x"))
	if _, _, err := community.DecryptDM(c, server, a15.ID(), b15.ID(), enc); err == nil {
		t.Error("a third account opens it")
	}
	if _, _, err := community.DecryptDM(b, server, c15.ID(), b15.ID(), enc); err == nil {
		t.Error("a message opens as another sender's")
	}
}

// TestContent: what apps post decodes to text, name and attachments;
// anything else is shown as what it is.
func TestContent(t *testing.T) {
	in := community.Content{Text: "hi", Name: "Alice", SentAt: 1700000000000,
		Attachments: []community.Attachment{{ID: 7, URL: "http://127.0.0.1:1/room/lobby/file/7", Name: "a.txt", ContentType: "text/plain", Size: 3}}}
	b, err := community.EncodeContent(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(b)%160 != 159 {
		t.Errorf("not padded: %d bytes", len(b))
	}
	out := community.DecodeContent(b)
	if out.Text != "hi" || out.Name != "Alice" || out.SentAt != in.SentAt || len(out.Attachments) != 1 || out.Attachments[0] != in.Attachments[0] || out.Raw != "" {
		t.Errorf("decoded %+v", out)
	}
	react, _ := proto.Marshal(&sessionpb.Content{DataMessage: &sessionpb.DataMessage{Reaction: &sessionpb.DataMessage_Reaction{
		Id: proto.Uint64(5), Author: proto.String("05ab"), Emoji: proto.String("👍"), Action: sessionpb.DataMessage_Reaction_REACT.Enum()}}})
	typing, _ := proto.Marshal(&sessionpb.Content{TypingMessage: &sessionpb.TypingMessage{Timestamp: proto.Uint64(1), Action: sessionpb.TypingMessage_STARTED.Enum()}})
	unknown := sessionpb.Pad([]byte{0xc2, 0x02, 0x01, 0x00}) // field 40, 1 byte
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"reaction", sessionpb.Pad(react), "[reacted 👍 to 05ab's message of 5]"},
		{"typing", sessionpb.Pad(typing), "[typing]"},
		{"unknown field", unknown, "[unknown content field 40]"},
		{"plain text", []byte("hello everyone"), "[not a Session Content: 14 bytes] hello everyone"},
		{"short text that parses", []byte("hi"), "[not a Session Content: 2 bytes] hi"},
		{"binary", []byte{0xff, 0xfe, 0x00}, "[not a Session Content: 3 bytes] fffe00"},
		{"empty", nil, "[not a Session Content: 0 bytes] "},
	} {
		if got := community.DecodeContent(c.data).Summary(); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// FuzzDecodeContent: any bytes decode to something shown, never a panic
// or an empty line.
func FuzzDecodeContent(f *testing.F) {
	b, _ := community.EncodeContent(community.Content{Text: "seed", Name: "n", Attachments: []community.Attachment{{ID: 1, URL: "u"}}})
	f.Add(b)
	f.Add([]byte("plain"))
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00, 0x80, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := community.DecodeContent(data)
		if strings.TrimSpace(c.Summary()) == "" && c.Reaction == nil && len(c.Attachments) == 0 {
			t.Fatalf("%x shows as nothing: %+v", data, c)
		}
	})
}

// FuzzDecryptDM: any bytes, any IDs: an error or a message, never a panic.
func FuzzDecryptDM(f *testing.F) {
	server := [32]byte{1}
	a := identity.KeysFromEd25519Seed([32]byte{2})
	b := identity.KeysFromEd25519Seed([32]byte{3})
	a15, _ := identity.Blind15(a, server[:])
	b15, _ := identity.Blind15(b, server[:])
	enc, _ := community.EncryptDM(nil, a, server, b15.ID(), []byte("seed"))
	f.Add(a15.ID(), b15.ID(), enc)
	f.Add("15"+strings.Repeat("00", 32), b15.ID(), []byte{0})
	f.Fuzz(func(t *testing.T, sender, recipient string, data []byte) {
		msg, sid, err := community.DecryptDM(b, server, sender, recipient, data)
		if err == nil && (sid == "" || len(msg) > len(data)) {
			t.Fatalf("opened without a sender: %q %q", msg, sid)
		}
	})
}
