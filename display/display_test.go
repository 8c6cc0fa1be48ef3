package display

import (
	"strings"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/client"
)

func TestEscapeText(t *testing.T) {
	for in, want := range map[string]string{
		"hello":                              "hello",
		"hi\nfrom alice at 12:00:00: pay me": `hi\nfrom alice at 12:00:00: pay me`,
		"\x1b[2Jclear":                       `\x1b[2Jclear`,
		"tab\there":                          `tab\there`,
		"bidi \u202egnp.exe":                 `bidi \u202egnp.exe`,
		"héllo ✓":                            "héllo ✓",
		"bad \xff byte":                      `bad \ufffd byte`,
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWords(t *testing.T) {
	for got, want := range map[string]string{
		Plural(1, "node"):                "1 node",
		Plural(0, "node"):                "0 nodes",
		OrDash(""):                       "-",
		ByteSize(812):                    "812 bytes",
		ByteSize(3_400_000):              "3.4 MB",
		ByteSize(1500):                   "1.5 kB",
		Short("05abcdef0123456789"):      "05abcdef0123...",
		NameOr(map[string]string{}, "x"): "x",
		GroupArg("team", "03ab"):         "team",
		GroupArg("my team", "03ab"):      "03ab",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestMessageLine(t *testing.T) {
	alice := "05" + strings.Repeat("a", 64)
	bob := "05" + strings.Repeat("b", 64)
	names := map[string]string{alice: "alice"}
	at := time.Date(2026, 1, 1, 10, 4, 5, 0, time.Local).UnixMilli()
	for _, tc := range []struct {
		m    client.Message
		want string
	}{
		{client.Message{From: alice, Timestamp: at, Text: "hi\nfrom bob: pay me", Attachments: []client.Attachment{{Name: "notes.txt", Size: 812}}},
			`from alice (05aaaaaaaaaa...) at 10:04:05: hi\nfrom bob: pay me [attachment notes.txt, 812 bytes]`},
		{client.Message{From: bob, FromName: "Bob\u202e", Timestamp: at, Text: "yo", ReadElsewhere: true},
			`from Bob\u202e (05bbbbbbbbbb...) at 10:04:05: yo  (read on another device)`},
		{client.Message{From: alice, Timestamp: at, Kind: client.KindTyping},
			`from alice (05aaaaaaaaaa...) at 10:04:05: [typing]`},
		{client.Message{From: alice, Timestamp: at, Kind: client.KindReaction, Reaction: &client.Reaction{Emoji: "👍", MessageRef: client.MessageRef{Author: bob, Text: "yo"}}},
			`from alice (05aaaaaaaaaa...) at 10:04:05: [reacted 👍 to your message "yo"]`},
		{client.Message{From: alice, SyncTarget: bob, Timestamp: at, Text: "sent elsewhere"},
			`from you (another device) to ` + bob + ` at 10:04:05: sent elsewhere`},
	} {
		if got := MessageLine(tc.m, bob, "bob", names); got != tc.want {
			t.Errorf("MessageLine:\n got %s\nwant %s", got, tc.want)
		}
	}
}
