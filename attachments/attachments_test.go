package attachments

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/internal/errkind"
)

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
		got := SafeName(tc.name, tc.id)
		if got != tc.want || strings.ContainsAny(got, "/\\") || got == "" || got == "." || got == ".." {
			t.Errorf("SafeName(%q, %q) = %q, want %q", tc.name, tc.id, got, tc.want)
		}
	}
}

func TestSaveNewNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "target")
	os.WriteFile(outside, []byte("keep"), 0o600)
	os.Symlink(outside, filepath.Join(dir, "link.txt"))
	for i, want := range []string{"f.txt", "f (2).txt", "f (3).txt"} {
		p, existed, err := SaveNew(dir, "f.txt", []byte{byte(i)})
		if err != nil || filepath.Base(p) != want || existed {
			t.Fatalf("save %d: %s, %v, %v", i, p, existed, err)
		}
	}
	// The same bytes again: the file saved already, no copy.
	if p, existed, err := SaveNew(dir, "f.txt", []byte{1}); err != nil || filepath.Base(p) != "f (2).txt" || !existed {
		t.Fatalf("saved again: %s, %v, %v", p, existed, err)
	}
	// A link holding the same bytes is no file of ours.
	p, existed, err := SaveNew(dir, "link.txt", []byte("keep"))
	if err != nil || filepath.Base(p) != "link (2).txt" || existed {
		t.Fatalf("next to a link: %s %v %v", p, existed, err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "keep" {
		t.Fatal("a link was followed")
	}
}

// What cannot be had is reported and skipped, before any network is asked:
// a URL of a host that is not the devnet's.
func TestSaverSkipsForeignFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "inbox")
	var lines []string
	s := &Saver{Dir: dir, Report: func(l string) { lines = append(lines, l) },
		Servers: func() (client.ServerInfo, client.ServerInfo, error) {
			return client.ServerInfo{URL: "http://127.0.0.1:1"}, client.ServerInfo{}, nil
		}}
	msgs := []client.Message{{Attachments: []client.Attachment{{Name: "x\n.txt", URL: "http://evil.example/file/1"}}}}
	if err := s.Attachments(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], `attachment x\n.txt: `) || !strings.HasSuffix(lines[0], "; skipped") {
		t.Fatalf("reported %q", lines)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("the directory: %v %v", st, err)
	}
	// Nothing to save: no directory made, no server asked.
	s2 := &Saver{Dir: filepath.Join(t.TempDir(), "none"), Servers: func() (client.ServerInfo, client.ServerInfo, error) {
		t.Fatal("servers asked for nothing")
		return client.ServerInfo{}, client.ServerInfo{}, nil
	}}
	if err := s2.Attachments(context.Background(), []client.Message{{Text: "no files"}}); err != nil {
		t.Fatal(err)
	}
	if err := s2.Pictures(context.Background(), []client.Message{{Text: "no picture"}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s2.Dir); !os.IsNotExist(err) {
		t.Fatal("a directory made for nothing")
	}
	// A directory that cannot be made is the caller's to fix.
	file := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(file, nil, 0o600)
	s3 := &Saver{Dir: filepath.Join(file, "sub"), Servers: s.Servers}
	if err := s3.Attachments(context.Background(), msgs); !errors.Is(err, ErrDir) || errkind.Of(err) != errkind.Invalid {
		t.Fatalf("an impossible directory: %v", err)
	}
}

func TestPictureExt(t *testing.T) {
	for pic, want := range map[string]string{"\x89PNG\r\n\x1a\n....": ".png", "\xff\xd8\xff\xe0....": ".jpg", "GIF89a..": ".gif", "hello": ".bin"} {
		if got := PictureExt([]byte(pic)); got != want {
			t.Errorf("PictureExt(%q) = %s, want %s", pic, got, want)
		}
	}
}
