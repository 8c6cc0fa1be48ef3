package configmsg

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// The user groups config (namespace 5, libsession-util's
// include/session/config/user_groups.hpp and src/config/user_groups.cpp):
// the groups an account is in, so that each of its devices finds them.
// Closed groups of the current kind are under "g", keyed by the group's
// 33-byte ID (03 and its Ed25519 key), each a dict of
//
//	K  the group's 32-byte Ed25519 seed for an admin; always present, empty
//	   for a member (or when the seed is not the group's)
//	s  a member's 100-byte auth data (its subaccount); written only without K
//	n  the group's name, from the invite (at most 100 bytes)
//	r  why the account left: 1 kicked, 2 the group was destroyed
//	i  1 while the invite is not accepted
//	j  joined at, unix seconds
//	+  priority (pinned > 0, hidden -1)
//	@  notifications (1 all, 2 none, 3 mentions only), ! muted until
//
// Communities ("o") and legacy groups ("C") are kept as they are.

// MaxUserGroupName bounds a group's name in the config, in bytes
// (libsession's base_group_info::NAME_MAX_LENGTH; longer names are cut).
const MaxUserGroupName = 100

// The values of UserGroup.Removed (libsession's removed_status).
const (
	UserGroupNotRemoved = 0
	UserGroupKicked     = 1
	UserGroupDestroyed  = 2
)

// UserGroup is one closed group of the user groups config.
type UserGroup struct {
	ID string `json:"id"` // 03 and 64 hex digits
	// Seed is the group's Ed25519 seed, known to admins (32 bytes);
	// AuthData a member's subaccount auth data (100 bytes). A group holds
	// one or the other, or neither once the account was removed.
	Seed     []byte `json:"-"`
	AuthData []byte `json:"-"`
	Name     string `json:"name,omitempty"`
	Invited  bool   `json:"invited,omitempty"`
	JoinedAt int64  `json:"joined_at,omitempty"` // unix seconds
	Priority int64  `json:"priority,omitempty"`
	Removed  int64  `json:"removed,omitempty"` // UserGroupKicked or UserGroupDestroyed
	Notify   int64  `json:"notifications,omitempty"`
	MuteTill int64  `json:"mute_until,omitempty"`
}

// Admin tells whether the account holds the group's key.
func (g UserGroup) Admin() bool { return len(g.Seed) == ed25519.SeedSize }

// userGroupKey turns a group's ID into its 33-byte key in "g".
func userGroupKey(id string) (string, error) {
	b, err := hex.DecodeString(strings.ToLower(id))
	if err != nil || len(b) != 33 || b[0] != 0x03 {
		return "", fmt.Errorf("group %q: want a group ID (66 hex digits starting 03)", id)
	}
	return string(b), nil
}

// seedMatches tells whether seed is the Ed25519 seed of the group whose
// 33-byte key is key.
func seedMatches(seed []byte, key string) bool {
	if len(seed) != ed25519.SeedSize {
		return false
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	return bytes.Equal(pub, []byte(key[1:]))
}

// readUserGroup reads a "g" entry as libsession's group_info::load does: a
// seed that is not the group's is dropped; auth data counts only at 100
// bytes.
func readUserGroup(key string, d Dict) UserGroup {
	g := UserGroup{ID: hex.EncodeToString([]byte(key))}
	g.Name, _ = d["n"].(string)
	if k, _ := d["K"].(string); seedMatches([]byte(k), key) {
		g.Seed = []byte(k)
	}
	if s, _ := d["s"].(string); len(s) == 100 {
		g.AuthData = []byte(s)
	}
	g.Removed, _ = d["r"].(int64)
	i, _ := d["i"].(int64)
	g.Invited = i != 0
	if j, _ := d["j"].(int64); j > 0 {
		g.JoinedAt = j
	}
	g.Priority, _ = d["+"].(int64)
	if n, _ := d["@"].(int64); n >= 0 && n <= 3 {
		g.Notify = n
	}
	g.MuteTill, _ = d["!"].(int64)
	return g
}

// ListUserGroups lists the closed groups of a user groups config's data,
// by ID. Entries that are not well formed are skipped, as libsession
// skips them.
func ListUserGroups(d Dict) []UserGroup {
	all, _ := d["g"].(Dict)
	out := make([]UserGroup, 0, len(all))
	for k, v := range all {
		if e, ok := v.(Dict); ok && len(k) == 33 && k[0] == 0x03 {
			out = append(out, readUserGroup(k, e))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// GetUserGroup finds one closed group.
func GetUserGroup(d Dict, id string) (UserGroup, bool) {
	k, err := userGroupKey(id)
	if err != nil {
		return UserGroup{}, false
	}
	all, _ := d["g"].(Dict)
	e, ok := all[k].(Dict)
	if !ok {
		return UserGroup{}, false
	}
	return readUserGroup(k, e), true
}

// SetUserGroup writes a closed group as libsession's UserGroups::set
// does, keeping what this package does not know of it: K always (empty
// unless the seed is the group's), s only without a seed, the name cut
// to MaxUserGroupName bytes. It changes nothing if g is not valid.
func SetUserGroup(d Dict, g UserGroup) error {
	k, err := userGroupKey(g.ID)
	if err != nil {
		return err
	}
	if g.Seed != nil && !seedMatches(g.Seed, k) {
		return fmt.Errorf("group %s: the seed given is not the group's", g.ID)
	}
	if g.AuthData != nil && len(g.AuthData) != 100 {
		return fmt.Errorf("group %s: auth data of %d bytes, want 100", g.ID, len(g.AuthData))
	}
	if !utf8.ValidString(g.Name) || strings.IndexByte(g.Name, 0) >= 0 {
		return fmt.Errorf("group %s: the name is not UTF-8 text", g.ID)
	}
	if g.Removed < UserGroupNotRemoved || g.Removed > UserGroupDestroyed {
		return fmt.Errorf("group %s: removed status %d is not one of 0 to 2", g.ID, g.Removed)
	}
	e := subDict(subDict(d, "g"), k)
	setFlag(e, "i", g.Invited)
	setInt(e, "j", max(g.JoinedAt, 0))
	setInt(e, "+", g.Priority)
	setInt(e, "@", max(g.Notify, 0))
	setInt(e, "!", max(g.MuteTill, 0))
	setString(e, "n", cutUTF8(g.Name, MaxUserGroupName))
	setInt(e, "r", g.Removed)
	if g.Seed != nil {
		e["K"] = string(g.Seed)
		return nil
	}
	e["K"] = ""
	if g.AuthData != nil {
		e["s"] = string(g.AuthData)
	} else {
		delete(e, "s")
	}
	return nil
}

// DeleteUserGroup removes a closed group; false if it was not there.
func DeleteUserGroup(d Dict, id string) bool {
	k, err := userGroupKey(id)
	if err != nil {
		return false
	}
	all, _ := d["g"].(Dict)
	if _, ok := all[k]; !ok {
		return false
	}
	delete(all, k)
	return true
}

// cutUTF8 cuts s to at most n bytes, at a character boundary.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
