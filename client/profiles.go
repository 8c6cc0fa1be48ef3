package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/sessionctl/sessionctl/configmsg"
)

// Profiles, as Session apps carry them:
//
//   - An account's profile (display name, picture) lives in its user
//     profile config, for all its devices (config.go); "t" says when it
//     last changed.
//   - Every visible message carries it (DataMessage.profile and
//     profileKey; a MessageRequestResponse too), with that time in
//     lastProfileUpdateSeconds: a receiver takes a profile only when it is
//     newer than the one it holds (session-desktop ts/models/profile.ts).
//   - A device shows a sender by the nickname the account gave them, or
//     else by the name their messages carry (Message.FromName), and notes
//     a picture it has not seen (Message.AvatarChanged) for the caller to
//     download (DownloadAvatar).

// peerProfile is another account's profile as its messages carried it.
type peerProfile struct {
	Profile
	Seen int64 `json:"seen"` // unix ms of the last message that carried it
}

// maxPeers bounds the profiles a device keeps (the least recently seen
// go first).
const maxPeers = maxContacts

// trimPeers drops the least recently seen profiles beyond maxPeers.
func (s *state) trimPeers() {
	for len(s.Peers) > maxPeers {
		oldest, at := "", int64(0)
		for id, p := range s.Peers {
			if oldest == "" || p.Seen < at {
				oldest, at = id, p.Seen
			}
		}
		delete(s.Peers, oldest)
	}
}

// newer tells whether an incoming profile replaces the one held: when it
// is newer, or neither says when it changed (session-desktop's
// shouldApplyChange).
func newer(in *Profile, held peerProfile, ok bool) bool {
	return !ok || in.UpdatedAt > held.UpdatedAt || in.UpdatedAt == 0 && held.UpdatedAt == 0
}

// settleProfiles takes the profiles f's messages carry (from other
// accounts), marks the pictures not seen before, and names every sender.
func (c *Client) settleProfiles(f *Fetched) {
	me := c.AccountID().String()
	now := c.cfg.Now().UnixMilli()
	if f.st.Peers == nil {
		f.st.Peers = map[string]peerProfile{}
	}
	for i := range f.Messages {
		m := &f.Messages[i]
		if m.Profile == nil || m.From == me {
			continue
		}
		held, ok := f.st.Peers[m.From]
		if !newer(m.Profile, held, ok) {
			continue
		}
		if m.Profile.PicURL != "" && (m.Profile.PicURL != held.PicURL || !bytes.Equal(m.Profile.PicKey, held.PicKey)) {
			m.AvatarChanged = true
		}
		f.st.Peers[m.From] = peerProfile{Profile: *m.Profile, Seen: now}
	}
	f.st.trimPeers()
	changed := map[string]bool{}
	for i := range f.Messages {
		f.Messages[i].FromName = f.st.nameOf(f.Messages[i].From, me)
		if f.Messages[i].AvatarChanged {
			changed[f.Messages[i].Hash] = true
		}
	}
	// The requests held now (those of this fetch among them).
	for i := range f.st.Requests {
		r := &f.st.Requests[i]
		r.FromName = f.st.nameOf(r.From, me)
		r.AvatarChanged = r.AvatarChanged || changed[r.Hash]
	}
}

// nameOf is what an account is called: its nickname, or the name its
// messages carry ("" for this account itself, and for one that gave none).
func (s *state) nameOf(id, me string) string {
	if id == me {
		return ""
	}
	if n := s.Nicknames[id]; n != "" {
		return n
	}
	return s.Peers[id].Name
}

// ownProfile is this account's profile, to send with a message. A device
// (Config.KeepConfigs) reads it from the account's swarm first, since
// another device may have changed it; if that fails, or for a client that
// is not a device, it is the one this client last read or set.
func (c *Client) ownProfile(ctx context.Context) *Profile {
	if c.cfg.KeepConfigs {
		cfg, err := c.LoadConfig(ctx, configmsg.UserProfile)
		if err == nil {
			p := profileOf(cfg)
			if err := c.updateState(ctx, func(st *state) error { st.Own = p; return nil }); err != nil {
				c.log.Warn().Err(err).Msg("the profile read was not recorded")
			}
			return p
		}
		c.log.Warn().Err(err).Msg("the profile was not read: messages carry the one this device last saw")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == nil {
		return nil
	}
	return c.state.Own
}

// profileOf is the profile a user profile config holds (nil for none).
func profileOf(cfg *AccountConfig) *Profile {
	p := configmsg.ReadProfile(cfg.Data())
	if p.Name == "" && p.PicURL == "" {
		return nil
	}
	return &Profile{Name: p.Name, PicURL: p.PicURL, PicKey: p.PicKey, UpdatedAt: p.UpdatedAt}
}

// SetProfile sets this account's display name ("" removes it), for all
// its devices, and notes when it changed.
func (c *Client) SetProfile(ctx context.Context, name string, ttl time.Duration) (*ConfigPush, error) {
	return c.editProfile(ctx, ttl, func(d configmsg.Dict) error {
		if configmsg.ReadProfile(d).Name == name {
			return nil
		}
		if err := configmsg.SetProfileName(d, name); err != nil {
			return err
		}
		configmsg.SetProfileUpdated(d, c.cfg.Now())
		return nil
	})
}

// AvatarResult is what SetAvatar did.
type AvatarResult struct {
	*ConfigPush
	URL  string `json:"url"`
	Size int    `json:"size"` // of the picture, in bytes
}

// SetAvatar encrypts a picture as apps do (EncryptAvatar), uploads it to
// the file server srv, and makes it this account's profile picture for all
// its devices. Nothing changes when the upload fails.
func (c *Client) SetAvatar(ctx context.Context, srv ServerInfo, pic []byte, ttl time.Duration) (*AvatarResult, error) {
	blob, key, err := EncryptAvatar(rand.Reader, pic)
	if err != nil {
		return nil, err
	}
	id, err := c.uploadBlob(ctx, srv, blob)
	if err != nil {
		return nil, fmt.Errorf("upload the picture: %w", err)
	}
	url := RealFileServer + "/file/" + id
	push, err := c.editProfile(ctx, ttl, func(d configmsg.Dict) error {
		if err := configmsg.SetProfilePic(d, url, key); err != nil {
			return err
		}
		configmsg.SetProfileUpdated(d, c.cfg.Now())
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &AvatarResult{ConfigPush: push, URL: url, Size: len(pic)}, nil
}

// RemoveAvatar removes this account's profile picture.
func (c *Client) RemoveAvatar(ctx context.Context, ttl time.Duration) (*ConfigPush, error) {
	return c.editProfile(ctx, ttl, func(d configmsg.Dict) error {
		if configmsg.ReadProfile(d).PicURL == "" {
			return nil
		}
		if err := configmsg.SetProfilePic(d, "", nil); err != nil {
			return err
		}
		configmsg.SetProfileUpdated(d, c.cfg.Now())
		return nil
	})
}

// editProfile changes the user profile config and records the result as
// this device's own profile.
func (c *Client) editProfile(ctx context.Context, ttl time.Duration, change func(configmsg.Dict) error) (*ConfigPush, error) {
	push, cfg, err := c.UpdateConfig(ctx, configmsg.UserProfile, ttl, change)
	if err != nil {
		return nil, err
	}
	p := profileOf(cfg)
	return push, c.updateState(ctx, func(st *state) error { st.Own = p; return nil })
}

// DownloadAvatar fetches a profile picture from the file server srv (its
// URL as a message carries it: the real file server's is srv's) and opens
// it with its key.
func (c *Client) DownloadAvatar(ctx context.Context, srv ServerInfo, p *Profile) ([]byte, error) {
	if p == nil || p.PicURL == "" {
		return nil, fmt.Errorf("%w: no picture", ErrNoFile)
	}
	ref, err := LocateFile(p.PicURL, srv, ServerInfo{})
	if err != nil {
		return nil, err
	}
	if ref.Community {
		return nil, fmt.Errorf("%w: a community's file, not the file server's", ErrForeignFile)
	}
	blob, err := c.downloadBlob(ctx, srv, ref.ID)
	if err != nil {
		return nil, err
	}
	return DecryptAvatar(blob, p.PicKey)
}
