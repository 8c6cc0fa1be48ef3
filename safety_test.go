package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		if got := escapeText(in); got != want {
			t.Errorf("escapeText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSafeFileName(t *testing.T) {
	for _, tc := range []struct{ name, id, want string }{
		{"notes.txt", "1", "notes.txt"},
		{"../../x", "1", "x"},
		{"", "../../x", "attachment-_.._x"},
		{"..", "", "attachment"},
		{"a/b\\c", "", "c"},
		{".hidden", "", "hidden"},
		{"new\nline", "", "new_line"},
	} {
		got := safeFileName(tc.name, tc.id)
		if got != tc.want || strings.ContainsAny(got, "/\\") || got == "" || got == "." || got == ".." {
			t.Errorf("safeFileName(%q, %q) = %q, want %q", tc.name, tc.id, got, tc.want)
		}
	}
}

func TestSaveNewNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "target")
	os.WriteFile(outside, []byte("keep"), 0o600)
	os.Symlink(outside, filepath.Join(dir, "link.txt"))
	for i, want := range []string{"f.txt", "f (2).txt", "f (3).txt"} {
		p, existed, err := saveNew(dir, "f.txt", []byte{byte(i)})
		if err != nil || filepath.Base(p) != want || existed {
			t.Fatalf("save %d: %s, %v, %v", i, p, existed, err)
		}
	}
	// The same bytes again: the file saved already, no copy.
	if p, existed, err := saveNew(dir, "f.txt", []byte{1}); err != nil || filepath.Base(p) != "f (2).txt" || !existed {
		t.Fatalf("saved again: %s, %v, %v", p, existed, err)
	}
	// A link holding the same bytes is no file of ours.
	p, existed, err := saveNew(dir, "link.txt", []byte("keep"))
	if err != nil || filepath.Base(p) != "link (2).txt" || existed {
		t.Fatalf("next to a link: %s %v %v", p, existed, err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "keep" {
		t.Fatal("a link was followed")
	}
}
