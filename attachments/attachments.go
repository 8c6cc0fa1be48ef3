// Package attachments fetches the files that messages carry (attachments
// and profile pictures) and saves them in a directory. Only the devnet's
// servers are asked: a sender names a URL, but may not send the client
// elsewhere (the real file server's and community host's URLs stand for
// the devnet's; any other is refused). Names from the network are reduced
// to a plain file name, nothing is ever overwritten, no link is followed.
//
//	s := attachments.Saver{Client: cl, Servers: servers, Dir: "inbox", Report: log}
//	err := s.Attachments(ctx, msgs)   // inbox/notes.txt, inbox/notes (2).txt, ...
//	err = s.Pictures(ctx, msgs, names) // inbox/avatar-alice.png
package attachments

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/community"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/internal/errkind"
)

// ErrNoCommunity is a community's file where no community server is known.
var ErrNoCommunity = errors.New("a community's file, and the devnet runs no community server")

// Download fetches and decrypts an attachment from the file server files
// or, for a community's file, the community server comm (zero: none).
func Download(ctx context.Context, cl *client.Client, files, comm client.ServerInfo, a client.Attachment) ([]byte, error) {
	ref, err := a.Locate(files, comm)
	if err != nil {
		return nil, err
	}
	if !ref.Community {
		return cl.Download(ctx, files, a)
	}
	if comm.URL == "" {
		return nil, ErrNoCommunity
	}
	cc, err := community.NewClient(cl, comm)
	if err != nil {
		return nil, err
	}
	code, blob, err := cc.Do(ctx, "GET", "/room/"+ref.Room+"/file/"+ref.ID, nil)
	switch {
	case err != nil:
		return nil, err
	case code == 404:
		return nil, fmt.Errorf("%w: room %s, file %s", client.ErrNoFile, ref.Room, ref.ID)
	case code != 200:
		return nil, fmt.Errorf("the community server refused the download (%d)", code)
	}
	return client.DecryptAttachment(blob, a.Key, a.Digest, a.Size)
}

// Saver saves what messages carry into Dir (made 0700 when there is
// something to save).
type Saver struct {
	Client *client.Client
	// Servers finds the file server and the community server (zero:
	// none, and its files are skipped), once there is something to fetch.
	Servers func() (files, community client.ServerInfo, err error)
	Dir     string
	// Report is told, a line for a person, each file saved, found saved
	// already, or skipped (and why).
	Report func(line string)

	files, comm client.ServerInfo
	found       bool
}

// servers finds the servers once.
func (s *Saver) servers() error {
	if s.found {
		return nil
	}
	files, comm, err := s.Servers()
	if err != nil {
		return err
	}
	s.files, s.comm, s.found = files, comm, true
	return nil
}

// ErrDir is a directory to save in that cannot be made.
var ErrDir = errors.New("cannot create it")

func (s *Saver) mkdir() error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return errkind.AsInvalid(fmt.Errorf("%s: %w: %v", s.Dir, ErrDir, errors.Unwrap(err)))
	}
	return nil
}

func (s *Saver) report(format string, args ...any) {
	if s.Report != nil {
		s.Report(fmt.Sprintf(format, args...))
	}
}

// Attachments downloads each message's attachments into Dir. One that
// cannot be had is reported and skipped; a failure to write stops.
func (s *Saver) Attachments(ctx context.Context, msgs []client.Message) error {
	var todo []client.Attachment
	for _, m := range msgs {
		todo = append(todo, m.Attachments...)
	}
	if len(todo) == 0 {
		return nil
	}
	if err := s.mkdir(); err != nil {
		return err
	}
	if err := s.servers(); err != nil {
		return err
	}
	for _, a := range todo {
		data, err := Download(ctx, s.Client, s.files, s.comm, a)
		if err != nil {
			s.report("attachment %s: %s; skipped", display.Escape(a.Name), display.Escape(err.Error()))
			continue
		}
		path, existed, err := SaveNew(s.Dir, SafeName(a.Name, a.ID), data)
		if err != nil {
			return fmt.Errorf("save attachment %s: %w", display.Escape(a.Name), err)
		}
		if existed {
			s.report("%s is saved already (%d bytes)", path, len(data))
		} else {
			s.report("saved %s (%d bytes)", path, len(data))
		}
	}
	return nil
}

// Pictures downloads the new profile pictures msgs carry into Dir, as
// avatar-NAME.EXT (NAME: the sender's name in names, else the start of its
// Account ID). One that cannot be had is reported and skipped.
func (s *Saver) Pictures(ctx context.Context, msgs []client.Message, names map[string]string) error {
	made := false
	for _, m := range msgs {
		if !m.AvatarChanged || m.Profile == nil {
			continue
		}
		if !made {
			if err := s.servers(); err != nil {
				return err
			}
			if err := s.mkdir(); err != nil {
				return err
			}
			made = true
		}
		who := names[m.From]
		if who == "" {
			who = m.From[:min(16, len(m.From))]
		}
		label := display.SenderLabel(names, m.From, m.FromName)
		pic, err := s.Client.DownloadAvatar(ctx, s.files, m.Profile)
		if err != nil {
			s.report("profile picture of %s: %s; skipped", label, display.Escape(err.Error()))
			continue
		}
		path, existed, err := SaveNew(s.Dir, SafeName("avatar-"+who+PictureExt(pic), ""), pic)
		if err != nil {
			return fmt.Errorf("save the profile picture of %s: %w", who, err)
		}
		if !existed {
			s.report("saved %s (%d bytes): the profile picture of %s", path, len(pic), label)
		}
	}
	return nil
}

// PictureExt is a picture's file extension, from its bytes.
func PictureExt(pic []byte) string {
	switch http.DetectContentType(pic) {
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	case "image/gif":
		return ".gif"
	case "image/webp":
		return ".webp"
	case "image/bmp":
		return ".bmp"
	}
	return ".bin"
}

// SafeName turns a name from the network into a plain file name: its last
// path element, without control characters, never "", "." or ".." (then
// "attachment-<id>", the id reduced the same way).
func SafeName(name, id string) string {
	clean := func(s string) string {
		s = strings.Map(func(r rune) rune {
			if r == '/' || r == '\\' || r == 0 || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
				return '_'
			}
			return r
		}, s)
		s = strings.TrimLeft(strings.TrimSpace(s), ".")
		if len(s) > 200 {
			s = s[:200]
		}
		return s
	}
	if i := strings.LastIndexAny(name, "/\\"); i >= 0 {
		name = name[i+1:]
	}
	if n := clean(name); n != "" {
		return n
	}
	if n := clean(id); n != "" {
		return "attachment-" + n
	}
	return "attachment"
}

// SaveNew writes data to a new file in dir named name, or name (2), (3)...
// when taken; it never replaces a file nor follows a link. A file of the
// name holding these very bytes is the file saved already (existed):
// saving the same thing twice makes no copy.
func SaveNew(dir, name string, data []byte) (path string, existed bool, err error) {
	ext := filepath.Ext(name)
	base := strings.TrimSuffix(name, ext)
	for i := 1; i <= 1000; i++ {
		n := name
		if i > 1 {
			n = fmt.Sprintf("%s (%d)%s", base, i, ext)
		}
		path := filepath.Join(dir, n)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|openNoFollow, 0o600)
		if errors.Is(err, os.ErrExist) {
			if sameFile(path, data) {
				return path, true, nil
			}
			continue
		}
		if err != nil {
			return "", false, err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			os.Remove(path)
			return "", false, err
		}
		return path, false, f.Close()
	}
	return "", false, fmt.Errorf("%s: 1,000 files of that name already", name)
}

// sameFile tells whether path is a regular file (not a link) holding data.
func sameFile(path string, data []byte) bool {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != int64(len(data)) {
		return false
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openNoFollow, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	have, err := io.ReadAll(io.LimitReader(f, int64(len(data))+1))
	return err == nil && bytes.Equal(have, data)
}
