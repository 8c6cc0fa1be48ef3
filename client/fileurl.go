package client

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Where an attachment (or a profile picture) is. Apps write the real file
// server's URL in the pointers they send: http://filev2.getsession.org/file/ID
// (session-desktop ts/session/apis/file_server_api, session.js), older
// ones https://filev2.getsession.org/file/ID, optionally with a fragment
// ("#p=<the server's key>&d" when the file is on another server or
// encrypted deterministically). A community's file is at
// <server>/room/<room>/file/<id>. A devnet client takes the real hosts for
// the devnet's own servers (a devnet has no other), and refuses any other
// host: the sender names a URL, but may not send the client anywhere.

// RealFileServer is the Session file server as apps write it in pointers;
// sessionctl writes it too (see Upload), so that apps which only download
// from this host (session.js) take the devnet's files.
const RealFileServer = "http://filev2.getsession.org"

// The real hosts that stand for the devnet's servers.
const (
	realFileHost      = "filev2.getsession.org"
	realCommunityHost = "open.getsession.org"
)

// The real file server's keys (session-desktop
// ts/session/apis/file_server_api/FileServerTarget.ts): a pointer's "p"
// fragment naming either is the default server.
const (
	realFileServerEd25519 = "b8eef9821445ae16e2e97ef8aa6fe782fd11ad5253cd6723b281341dba22e371"
	realFileServerX25519  = "09324794aa9c11948189762d198c618148e9136ac9582068180661208927ef34"
)

// Errors of LocateFile.
var (
	// ErrForeignFile is a file on a server that is not the devnet's.
	ErrForeignFile = errors.New("not on the devnet's file or community server")
	// ErrDeterministic is a file encrypted with libsession's deterministic
	// attachment encryption (a "d" in the URL's fragment), which this
	// client does not decrypt.
	ErrDeterministic = errors.New("encrypted deterministically (libsession's attachment encryption), which sessionctl does not decrypt")
)

// FileRef is where a file is.
type FileRef struct {
	// Community is set for a community room's file (Room names the room);
	// otherwise the file is on the file server.
	Community bool
	Room      string
	ID        string
}

// maxFileIDLen bounds a file id: the real file server's are 44 characters.
const maxFileIDLen = 64

// validFileID tells an id that is safe in a path: letters, digits, '-'
// and '_' (the devnet's server gives digits, the real one base64url).
func validFileID(id string) bool {
	if id == "" || len(id) > maxFileIDLen {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// LocateFile says where a pointer's URL points, for a devnet whose file
// server and community server are files and community (a zero
// ServerInfo: none). The real file server's URL (http or https, with or
// without the default server's key in the fragment) is the devnet's file
// server; the real community host is the devnet's community server.
func LocateFile(raw string, files, community ServerInfo) (FileRef, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return FileRef{}, fmt.Errorf("%w: %q is not a file URL", ErrForeignFile, raw)
	}
	frag, err := url.ParseQuery(u.Fragment)
	if err != nil {
		return FileRef{}, fmt.Errorf("%w: the URL's fragment %q does not parse", ErrForeignFile, u.Fragment)
	}
	host := strings.ToLower(u.Host)
	parts := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	switch {
	case host == realFileHost || host == realFileHost+":80" && u.Scheme == "http" || host == realFileHost+":443" && u.Scheme == "https" || sameServer(u, files):
		if len(parts) != 2 || parts[0] != "file" || !validFileID(parts[1]) {
			return FileRef{}, fmt.Errorf("%w: %q is not /file/ID", ErrForeignFile, u.Path)
		}
		if pk := frag.Get("p"); pk != "" && pk != realFileServerEd25519 && pk != realFileServerX25519 && pk != fmt.Sprintf("%x", files.X25519) {
			return FileRef{}, fmt.Errorf("%w: the URL names another file server (key %s)", ErrForeignFile, pk)
		}
		if frag.Has("d") {
			return FileRef{}, ErrDeterministic
		}
		return FileRef{ID: parts[1]}, nil
	case host == realCommunityHost || sameServer(u, community):
		if len(parts) != 4 || parts[0] != "room" || !validFileID(parts[1]) || parts[2] != "file" || !validFileID(parts[3]) {
			return FileRef{}, fmt.Errorf("%w: %q is not /room/ROOM/file/ID", ErrForeignFile, u.Path)
		}
		return FileRef{Community: true, Room: parts[1], ID: parts[3]}, nil
	}
	return FileRef{}, fmt.Errorf("%w (%s)", ErrForeignFile, u.Host)
}

// sameServer tells whether u is on srv (scheme, host and port).
func sameServer(u *url.URL, srv ServerInfo) bool {
	if srv.URL == "" {
		return false
	}
	s, err := url.Parse(srv.URL)
	return err == nil && s.Host != "" && strings.EqualFold(s.Host, u.Host) && s.Scheme == u.Scheme
}

// Locate says where an attachment is: by its URL, or, for a pointer
// without one, by its id on the file server.
func (a Attachment) Locate(files, community ServerInfo) (FileRef, error) {
	if a.URL == "" {
		if !validFileID(a.ID) {
			return FileRef{}, fmt.Errorf("%w: an attachment with no URL and the id %q", ErrForeignFile, a.ID)
		}
		return FileRef{ID: a.ID}, nil
	}
	return LocateFile(a.URL, files, community)
}
