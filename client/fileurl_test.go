package client

import (
	"errors"
	"strings"
	"testing"
)

// TestLocateFile: the URLs apps write (session-desktop's
// FileServerApi.ts: http://filev2.getsession.org/file/ID with an optional
// "#p=<key>&d" fragment; the older https form; a community's
// /room/ROOM/file/ID) are the devnet's servers; any other host, path or
// key is refused.
func TestLocateFile(t *testing.T) {
	files := ServerInfo{URL: "http://127.0.0.1:4100", X25519: [32]byte{1}}
	community := ServerInfo{URL: "http://127.0.0.1:4200"}
	for raw, want := range map[string]FileRef{
		"http://filev2.getsession.org/file/123":     {ID: "123"},
		"https://filev2.getsession.org/file/123":    {ID: "123"},
		"http://FILEV2.getsession.org:80/file/123":  {ID: "123"},
		"http://127.0.0.1:4100/file/42":             {ID: "42"},
		"http://filev2.getsession.org/file/abc-_9Z": {ID: "abc-_9Z"},
		"http://filev2.getsession.org/file/7#p=b8eef9821445ae16e2e97ef8aa6fe782fd11ad5253cd6723b281341dba22e371": {ID: "7"},
		"http://filev2.getsession.org/file/7#p=0100000000000000000000000000000000000000000000000000000000000000": {ID: "7"},
		"http://open.getsession.org/room/lobby/file/9":                                                           {Community: true, Room: "lobby", ID: "9"},
		"https://open.getsession.org/room/lobby/file/9":                                                          {Community: true, Room: "lobby", ID: "9"},
		"http://127.0.0.1:4200/room/session-dev/file/10":                                                         {Community: true, Room: "session-dev", ID: "10"},
	} {
		got, err := LocateFile(raw, files, community)
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v; want %+v", raw, got, err, want)
		}
	}
	for _, raw := range []string{
		"http://evil.example/file/1",
		"http://filev2.getsession.org.evil.example/file/1",
		"http://127.0.0.1:4101/file/1",
		"https://127.0.0.1:4100/file/1",
		"http://user@filev2.getsession.org/file/1",
		"ftp://filev2.getsession.org/file/1",
		"http://filev2.getsession.org/file/1?x=2",
		"http://filev2.getsession.org/file/../etc",
		"http://filev2.getsession.org/file/a%2Fb",
		"http://filev2.getsession.org/files/1",
		"http://filev2.getsession.org/file/1/info",
		"http://filev2.getsession.org/file/" + strings.Repeat("1", 65),
		"http://filev2.getsession.org/file/1#p=ff86dcd4b26d1bfec944c59859494248626d6428efc12168749d65a1b92f5e28",
		"http://open.getsession.org/file/1",
		"http://open.getsession.org/room/lo%2Fbby/file/1",
		"http://127.0.0.1:4100/room/lobby/file/1",
		"not a url",
		"",
	} {
		if got, err := LocateFile(raw, files, community); !errors.Is(err, ErrForeignFile) {
			t.Errorf("%q: %+v, %v", raw, got, err)
		}
	}
	if _, err := LocateFile("http://filev2.getsession.org/file/1#d", files, community); !errors.Is(err, ErrDeterministic) {
		t.Errorf("deterministic encryption: %v", err)
	}
	// Without a URL, the pointer's id on the file server.
	if ref, err := (Attachment{ID: "5"}).Locate(files, community); err != nil || ref != (FileRef{ID: "5"}) {
		t.Errorf("by id: %+v %v", ref, err)
	}
	if _, err := (Attachment{ID: "../5"}).Locate(files, community); err == nil {
		t.Error("an id with a path was taken")
	}
}

func FuzzLocateFile(f *testing.F) {
	f.Add("http://filev2.getsession.org/file/123#p=00&d")
	f.Add("http://127.0.0.1:4200/room/lobby/file/10")
	f.Fuzz(func(t *testing.T, raw string) {
		ref, err := LocateFile(raw, ServerInfo{URL: "http://127.0.0.1:1"}, ServerInfo{URL: "http://127.0.0.1:2"})
		if err == nil && (!validFileID(ref.ID) || ref.Community && !validFileID(ref.Room)) {
			t.Fatalf("%q located as %+v", raw, ref)
		}
	})
}
