package group

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/sessionctl/sessionctl/configmsg"
)

// Groups follow the account, not the device: each group it is in has an
// entry in its user groups config (namespace 5; configmsg.UserGroup) with
// the group's seed for an admin or the member's auth data, so that its
// other devices, and a device restored from its recovery phrase, find
// them (Recover).

// saveUserGroup writes g's entry in the account's user groups config,
// keeping what other devices set in it (priority, notifications).
func (s *Device) saveUserGroup(ctx context.Context, g *Group) error {
	_, _, err := s.C.UpdateConfig(ctx, configmsg.UserGroups, 0, func(d configmsg.Dict) error {
		e, _ := configmsg.GetUserGroup(d, g.ID)
		e.ID, e.Name, e.Invited = g.ID, g.Name, g.Invited
		e.Seed, e.AuthData = g.seed(), nil
		if e.Seed == nil {
			e.AuthData = g.authData()
		}
		e.Removed = configmsg.UserGroupNotRemoved
		switch {
		case g.Destroyed:
			e.Removed, e.Seed, e.AuthData = configmsg.UserGroupDestroyed, nil, nil
		case g.Kicked:
			e.Removed, e.Seed, e.AuthData = configmsg.UserGroupKicked, nil, nil
		}
		if e.JoinedAt == 0 && !g.Invited && g.JoinedAt > 0 {
			e.JoinedAt = g.JoinedAt / 1000
		}
		return configmsg.SetUserGroup(d, e)
	})
	if err != nil {
		return fmt.Errorf("record the group in the account's user groups config: %w", err)
	}
	return nil
}

// eraseUserGroup removes a group from the account's user groups config.
func (s *Device) eraseUserGroup(ctx context.Context, id string) error {
	_, _, err := s.C.UpdateConfig(ctx, configmsg.UserGroups, 0, func(d configmsg.Dict) error {
		configmsg.DeleteUserGroup(d, id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove the group from the account's user groups config: %w", err)
	}
	return nil
}

// markRemoved records in the user groups config that the account was
// kicked from g or that g was destroyed (best effort: the device knows it
// already, and another device learns it from the swarm too).
func (s *Device) markRemoved(ctx context.Context, g *Group, status int64) {
	if status == configmsg.UserGroupDestroyed {
		g.Destroyed = true
	} else {
		g.Kicked = true
	}
	if err := s.saveUserGroup(ctx, g); err != nil {
		s.Log.Warn().Err(err).Str("group", g.ID[:12]).Msg("the removal was not recorded in the user groups config")
	}
}

// Recover reads the account's user groups config and takes in what other
// devices did: groups this device does not know (made, joined or accepted
// elsewhere, or before the account was restored; each is read once),
// promotions, invites accepted, removals. It returns the groups it added.
func (s *Device) Recover(ctx context.Context) ([]*Group, error) {
	cfg, err := s.C.LoadConfig(ctx, configmsg.UserGroups)
	if err != nil {
		return nil, err
	}
	known := map[string]*Group{}
	all, err := s.Store.List(s.Name, s.me())
	if err != nil {
		return nil, err
	}
	for _, e := range all {
		if !e.Old {
			known[e.ID] = e.Group
		}
	}
	var added []*Group
	for _, e := range configmsg.ListUserGroups(cfg.Data()) {
		g, ok := known[e.ID]
		changed := false
		if !ok {
			if e.Seed == nil && e.AuthData == nil && e.Removed == configmsg.UserGroupNotRemoved {
				continue // nothing to act with
			}
			if len(known)+len(added) >= MaxGroups {
				return added, ErrTooManyGroups
			}
			g = &Group{ID: e.ID, Name: e.Name, Me: s.me(), Invited: e.Invited, JoinedAt: e.JoinedAt * 1000, LastHash: map[string]string{}}
			added, changed = append(added, g), true
		}
		if e.Seed != nil && !g.IsAdmin() {
			g.Seed, g.AuthData, changed = hex.EncodeToString(e.Seed), "", true
		}
		if auth := base64.StdEncoding.EncodeToString(e.AuthData); e.AuthData != nil && !g.IsAdmin() && g.AuthData != auth {
			g.AuthData, changed = auth, true // invited again, on another device
		}
		if e.Removed == configmsg.UserGroupNotRemoved && (g.Kicked || g.Destroyed) && (e.Seed != nil || e.AuthData != nil) {
			g.Kicked, g.Destroyed, g.Invited, changed = false, false, e.Invited, true
		}
		if g.Invited && !e.Invited {
			g.Invited, changed = false, true
		}
		switch e.Removed {
		case configmsg.UserGroupKicked:
			if !g.Kicked && !g.IsAdmin() {
				g.Kicked, changed = true, true
			}
		case configmsg.UserGroupDestroyed:
			if !g.Destroyed {
				g.Destroyed, changed = true, true
			}
		}
		if changed {
			if err := s.Store.Save(s.Name, g); err != nil {
				return added, err
			}
		}
	}
	// A group new to this device is read once: its members and key.
	for _, g := range added {
		if ready(g) == nil {
			if err := s.Refresh(ctx, g); err != nil {
				s.Log.Warn().Err(err).Str("group", g.ID[:12]).Msg("a group found in the user groups config was not read")
			}
		}
	}
	return added, nil
}
