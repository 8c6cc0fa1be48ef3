package client

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"strings"
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
	if len(s.Peers) <= maxPeers {
		return
	}
	ids := slices.Collect(maps.Keys(s.Peers))
	slices.SortFunc(ids, func(a, b string) int {
		return cmp.Or(cmp.Compare(s.Peers[a].Seen, s.Peers[b].Seen), strings.Compare(a, b))
	})
	for _, id := range ids[:len(ids)-maxPeers] {
		delete(s.Peers, id)
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

// ProfileChange is a change of this account's profile: a name to set
// ("" removes it), a picture to upload, or the picture removed.
type ProfileChange struct {
	Name         *string
	Avatar       []byte
	RemoveAvatar bool
}

// ProfileResult is what UpdateProfile did: the config push, and the
// picture uploaded (if any).
type ProfileResult struct {
	*ConfigPush
	Avatar *AvatarResult `json:"avatar,omitempty"`
}

// AvatarResult is a profile picture uploaded.
type AvatarResult struct {
	URL  string `json:"url"`
	Size int    `json:"size"` // of the picture, in bytes
}

// UpdateProfile changes this account's profile for all its devices, in
// one config push, and notes when it changed (only when something did). A
// picture is sealed as apps seal them (EncryptAvatar) and uploaded to the
// file server srv first: when that fails, nothing changes.
func (c *Client) UpdateProfile(ctx context.Context, srv ServerInfo, ch ProfileChange, ttl time.Duration) (*ProfileResult, error) {
	if ch.Name != nil {
		if err := configmsg.SetProfileName(configmsg.Dict{}, *ch.Name); err != nil {
			return nil, err
		}
	}
	out := &ProfileResult{}
	var url string
	var key []byte
	if ch.Avatar != nil {
		blob, k, err := EncryptAvatar(rand.Reader, ch.Avatar)
		if err != nil {
			return nil, err
		}
		id, err := c.uploadBlob(ctx, srv, blob)
		if err != nil {
			return nil, fmt.Errorf("upload the picture: %w", err)
		}
		url, key = RealFileServer+"/file/"+id, k
		out.Avatar = &AvatarResult{URL: url, Size: len(ch.Avatar)}
	}
	push, cfg, err := c.UpdateConfig(ctx, configmsg.UserProfile, ttl, func(d configmsg.Dict) error {
		changed := false
		if ch.Name != nil && configmsg.ReadProfile(d).Name != *ch.Name {
			if err := configmsg.SetProfileName(d, *ch.Name); err != nil {
				return err
			}
			changed = true
		}
		if url != "" || ch.RemoveAvatar && configmsg.ReadProfile(d).PicURL != "" {
			if err := configmsg.SetProfilePic(d, url, key); err != nil {
				return err
			}
			changed = true
		}
		if changed {
			configmsg.SetProfileUpdated(d, c.cfg.Now())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.ConfigPush = push
	p := profileOf(cfg)
	return out, c.updateState(ctx, func(st *state) error { st.Own = p; return nil })
}

// SetProfile sets this account's display name ("" removes it).
func (c *Client) SetProfile(ctx context.Context, name string, ttl time.Duration) (*ConfigPush, error) {
	res, err := c.UpdateProfile(ctx, ServerInfo{}, ProfileChange{Name: &name}, ttl)
	if err != nil {
		return nil, err
	}
	return res.ConfigPush, nil
}

// SetAvatar makes pic this account's profile picture (see UpdateProfile).
func (c *Client) SetAvatar(ctx context.Context, srv ServerInfo, pic []byte, ttl time.Duration) (*ProfileResult, error) {
	if pic == nil {
		pic = []byte{}
	}
	return c.UpdateProfile(ctx, srv, ProfileChange{Avatar: pic}, ttl)
}

// RemoveAvatar removes this account's profile picture.
func (c *Client) RemoveAvatar(ctx context.Context, ttl time.Duration) (*ConfigPush, error) {
	res, err := c.UpdateProfile(ctx, ServerInfo{}, ProfileChange{RemoveAvatar: true}, ttl)
	if err != nil {
		return nil, err
	}
	return res.ConfigPush, nil
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
