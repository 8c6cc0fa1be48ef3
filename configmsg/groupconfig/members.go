package groupconfig

import (
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/sessionctl/sessionctl/configmsg"
)

// The members config's data (libsession-util's
// include/session/config/groups/members.hpp): "m" maps each member's
// 33-byte Account ID to a dict of
//
//	n  name (always written, even empty, so that the dict is never pruned)
//	p  picture URL, with q its 32-byte key
//	I  invite status: 1 sent, 2 failed, 3 not sent yet; absent once accepted
//	   (and for admins)
//	s  1 if the invite gave the member the keys it was given before
//	   (a supplemental key message) rather than a new key
//	A  1 for an admin
//	P  promotion status: 1 sent, 2 failed, 3 not sent yet; absent once
//	   accepted
//	R  removal: 1 removed, 2 removed with their messages
//
// Values this package does not know are kept as they are.

// MaxMembers bounds a group's members, admins included (Session apps'
// limit; libsession-util's members config has none of its own).
const MaxMembers = 100

// MaxMemberNameLength bounds a member's name, in bytes (libsession's
// member::MAX_NAME_LENGTH).
const MaxMemberNameLength = 100

// ErrTooManyMembers is a members config that lists more than MaxMembers.
var ErrTooManyMembers = fmt.Errorf("a group has at most %d members", MaxMembers)

// The values of Member.Invite and Member.Promotion.
const (
	StatusDone    = 0 // accepted (or never asked)
	StatusSent    = 1
	StatusFailed  = 2
	StatusNotSent = 3
)

// The values of Member.Removed.
const (
	NotRemoved           = 0
	Removed              = 1
	RemovedWithMessages  = 2
	removedStatusMaximum = RemovedWithMessages
)

// Member is one member of a group, as its members config lists them.
type Member struct {
	ID        string `json:"account_id"` // 66 hex digits starting 05
	Name      string `json:"name,omitempty"`
	PicURL    string `json:"pic_url,omitempty"`
	PicKey    []byte `json:"pic_key,omitempty"`
	Admin     bool   `json:"admin"`
	Invite    int    `json:"invite,omitempty"`    // a Status*; 0 for admins
	Promotion int    `json:"promotion,omitempty"` // a Status*
	Removed   int    `json:"removed,omitempty"`   // NotRemoved, Removed or RemovedWithMessages
	// Supplement: the invite gave the member the group's existing keys
	// (only while Invite is set, and not for admins).
	Supplement bool `json:"supplement,omitempty"`
}

// Status is a member's state in one word, as libsession-util's
// Members::get_status sums it up (without the local "sending" states,
// which are not in the config).
type Status string

// The statuses of Member.Status.
const (
	InviteNotSent     Status = "invite_not_sent"
	InviteSent        Status = "invite_sent"
	InviteFailed      Status = "invite_failed"
	InviteAccepted    Status = "invite_accepted"
	InviteUnknown     Status = "invite_unknown"
	PromotionNotSent  Status = "promotion_not_sent"
	PromotionSent     Status = "promotion_sent"
	PromotionFailed   Status = "promotion_failed"
	PromotionAccepted Status = "promotion_accepted"
	PromotionUnknown  Status = "promotion_unknown"
	StatusRemoved     Status = "removed"
	StatusRemovedAll  Status = "removed_including_messages"
	RemovedUnknown    Status = "removed_unknown"
)

// Status sums up the member's state: removal first, then promotion (for
// admins), then the invite.
func (m Member) Status() Status {
	switch {
	case m.Removed == RemovedWithMessages:
		return StatusRemovedAll
	case m.Removed == Removed:
		return StatusRemoved
	case m.Removed > 0:
		return RemovedUnknown
	}
	if m.Admin {
		switch m.Promotion {
		case StatusNotSent:
			return PromotionNotSent
		case StatusFailed:
			return PromotionFailed
		case StatusSent:
			return PromotionSent
		case StatusDone:
			return PromotionAccepted
		}
		return PromotionUnknown
	}
	switch m.Invite {
	case StatusNotSent:
		return InviteNotSent
	case StatusFailed:
		return InviteFailed
	case StatusSent:
		return InviteSent
	case StatusDone:
		return InviteAccepted
	}
	return InviteUnknown
}

// Active tells whether the member is in the group: not removed (nor being
// removed).
func (m Member) Active() bool { return m.Removed == NotRemoved }

// The state changes libsession-util's member type makes.

// SetInviteSent marks the invite sent.
func (m *Member) SetInviteSent() { m.Invite = StatusSent }

// SetInviteFailed marks the invite failed (to be sent again).
func (m *Member) SetInviteFailed() { m.Invite = StatusFailed }

// SetInviteAccepted marks the invite accepted: a plain member.
func (m *Member) SetInviteAccepted() { m.Invite, m.Supplement = StatusDone, false }

// SetPromoted marks the member an admin whose promotion is not sent yet.
func (m *Member) SetPromoted() { m.Admin, m.Invite, m.Promotion = true, StatusDone, StatusNotSent }

// SetPromotionSent marks the promotion sent.
func (m *Member) SetPromotionSent() { m.Admin, m.Invite, m.Promotion = true, StatusDone, StatusSent }

// SetPromotionFailed marks the promotion failed (to be sent again).
func (m *Member) SetPromotionFailed() {
	m.Admin, m.Invite, m.Promotion = true, StatusDone, StatusFailed
}

// SetPromotionAccepted marks the member an admin.
func (m *Member) SetPromotionAccepted() {
	m.Admin, m.Invite, m.Promotion = true, StatusDone, StatusDone
}

// SetRemoved marks the member removed, and their messages too if messages.
func (m *Member) SetRemoved(messages bool) {
	m.Invite, m.Promotion = StatusDone, StatusDone
	m.Removed = Removed
	if messages {
		m.Removed = RemovedWithMessages
	}
}

// NewMember is a member as an admin first adds them: invited, the invite
// not sent yet.
func NewMember(id string) Member { return Member{ID: strings.ToLower(id), Invite: StatusNotSent} }

// memberKey turns an Account ID into its 33-byte key in "m".
func memberKey(id string) (string, error) {
	b, err := hex.DecodeString(id)
	if err != nil || len(b) != 33 || b[0] != 0x05 {
		return "", fmt.Errorf("member %q: want an Account ID (66 hex digits starting 05)", id)
	}
	return string(b), nil
}

// readMember reads a member's dict as libsession's member::load does.
func readMember(key string, d configmsg.Dict) Member {
	m := Member{ID: hex.EncodeToString([]byte(key))}
	m.Name, _ = d["n"].(string)
	m.PicURL, m.PicKey = readPic(d)
	a, _ := d["A"].(int64)
	m.Admin = a != 0
	if !m.Admin {
		m.Invite = int(clampStatus(d["I"]))
	}
	m.Promotion = int(clampStatus(d["P"]))
	m.Removed = int(clampStatus(d["R"]))
	if s, _ := d["s"].(int64); s != 0 && m.Invite > 0 && m.Promotion == 0 {
		m.Supplement = true
	}
	return m
}

// clampStatus reads a status integer; out-of-range values (from a newer
// writer) read as an unknown value above the known ones.
func clampStatus(v any) int64 {
	n, _ := v.(int64)
	if n < 0 || n > 100 {
		return 100
	}
	return n
}

// members is the "m" dict's well-formed entries: 33-byte keys starting 05
// whose values are dicts (others are skipped, as libsession skips them).
func members(d configmsg.Dict) map[string]configmsg.Dict {
	all, _ := d["m"].(configmsg.Dict)
	out := make(map[string]configmsg.Dict, len(all))
	for k, v := range all {
		if c, ok := v.(configmsg.Dict); ok && len(k) == 33 && k[0] == 0x05 {
			out[k] = c
		}
	}
	return out
}

// CheckMembers checks a members config's data as it arrives: at most
// MaxMembers members.
func CheckMembers(d configmsg.Dict) error {
	if m, ok := d["m"]; ok {
		if _, ok := m.(configmsg.Dict); !ok {
			return errors.New("the members config's \"m\" is not a dict")
		}
	}
	if n := len(members(d)); n > MaxMembers {
		return fmt.Errorf("%w: the members config lists %d", ErrTooManyMembers, n)
	}
	return nil
}

// ListMembers lists a members config's members in the config's order (by
// Account ID), admins included. A config that lists more than MaxMembers
// is refused (ErrTooManyMembers).
func ListMembers(d configmsg.Dict) ([]Member, error) {
	if err := CheckMembers(d); err != nil {
		return nil, err
	}
	all := members(d)
	out := make([]Member, 0, len(all))
	for k, v := range all {
		out = append(out, readMember(k, v))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// GetMember finds one member.
func GetMember(d configmsg.Dict, id string) (Member, bool) {
	k, err := memberKey(strings.ToLower(id))
	if err != nil {
		return Member{}, false
	}
	c, ok := members(d)[k]
	if !ok {
		return Member{}, false
	}
	return readMember(k, c), true
}

// SetMember writes a member (adding them if new), keeping what this
// package does not know of them, as libsession's Members::set writes: the
// name always, the invite status only for non-admins, the supplement flag
// only with an invite. It changes nothing if m is not valid or the group
// is full.
func SetMember(d configmsg.Dict, m Member) error {
	k, err := memberKey(strings.ToLower(m.ID))
	if err != nil {
		return err
	}
	if err := checkText("member name", m.Name, MaxMemberNameLength); err != nil {
		return err
	}
	if err := checkPic(m.PicURL, m.PicKey); err != nil {
		return err
	}
	for what, v := range map[string]int{"invite": m.Invite, "promotion": m.Promotion} {
		if v < StatusDone || v > StatusNotSent {
			return fmt.Errorf("member %s: %s status %d is not one of 0 to 3", m.ID, what, v)
		}
	}
	if m.Removed < NotRemoved || m.Removed > removedStatusMaximum {
		return fmt.Errorf("member %s: removed status %d is not one of 0 to 2", m.ID, m.Removed)
	}
	all := members(d)
	if _, ok := all[k]; !ok && len(all) >= MaxMembers {
		return fmt.Errorf("%w: cannot add %s", ErrTooManyMembers, m.ID)
	}
	md, ok := d["m"].(configmsg.Dict)
	if !ok {
		md = configmsg.Dict{}
		d["m"] = md
	}
	info, ok := md[k].(configmsg.Dict)
	if !ok {
		info = configmsg.Dict{}
		md[k] = info
	}
	info["n"] = m.Name
	setPic(info, m.PicURL, m.PicKey)
	if m.Admin {
		info["A"] = int64(1)
	} else {
		delete(info, "A")
	}
	setPositive(info, "P", int64(m.Promotion))
	invite := m.Invite
	if m.Admin {
		invite = StatusDone
	}
	setPositive(info, "I", int64(invite))
	if m.Supplement {
		info["s"] = int64(1)
	} else {
		delete(info, "s")
	}
	setPositive(info, "R", int64(m.Removed))
	return nil
}

// DeleteMember removes a member from the config; false if it was not
// there.
func DeleteMember(d configmsg.Dict, id string) bool {
	k, err := memberKey(strings.ToLower(id))
	if err != nil {
		return false
	}
	md, _ := d["m"].(configmsg.Dict)
	if _, ok := md[k]; !ok {
		return false
	}
	delete(md, k)
	return true
}

// MemberIDs lists the Account IDs of every member the config lists (admins
// and members being removed included), in the config's order: the members
// a new key is encrypted for.
func MemberIDs(d configmsg.Dict) ([]string, error) {
	ms, err := ListMembers(d)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids, nil
}
