package group

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/configmsg/groupconfig"
	"github.com/sessionctl/sessionctl/groupkeys"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/sessionpb"
	"google.golang.org/protobuf/proto"
)

// Invitee is an account to add to a group, with the name the members
// config gives it ("" for none).
type Invitee struct {
	ID   identity.AccountID
	Name string
}

// checkName checks a group's name as the info config takes it.
func checkName(name string) error {
	if strings.TrimSpace(name) == "" || len(name) > groupconfig.MaxNameLength || !utf8.ValidString(name) || strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("a group's name is 1 to %d bytes of text", groupconfig.MaxNameLength)
	}
	return nil
}

// invitees checks the accounts to add: Session accounts (05), not this
// one, each once, with names the members config takes.
func (s *Device) invitees(members []Invitee) ([]Invitee, error) {
	var out []Invitee
	seen := map[identity.AccountID]bool{s.C.AccountID(): true}
	for _, m := range members {
		if m.ID.Prefix != identity.PrefixSession {
			return nil, fmt.Errorf("%s is not a Session account (05)", m.ID)
		}
		if len(m.Name) > groupconfig.MaxMemberNameLength || !utf8.ValidString(m.Name) {
			m.Name = ""
		}
		if !seen[m.ID] {
			seen[m.ID] = true
			out = append(out, m)
		}
	}
	return out, nil
}

// myName is the account's display name (from its profile config), for
// the members config; "" if it has none or it cannot be read.
func (s *Device) myName(ctx context.Context) string {
	cfg, err := s.C.LoadConfig(ctx, configmsg.UserProfile)
	if err != nil {
		return ""
	}
	n := configmsg.ReadProfile(cfg.Data()).Name
	if len(n) > groupconfig.MaxMemberNameLength {
		return ""
	}
	return n
}

// Create makes a group with this account as its first admin: a new
// Ed25519 key (the group's ID is 03 and it), its first key for every
// member, the info and members configs in its swarm, an entry in the
// account's user groups config, and an invite to each member.
func (s *Device) Create(ctx context.Context, name string, members []Invitee) (*Group, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	members, err := s.invitees(members)
	if err != nil {
		return nil, err
	}
	if len(members)+1 > MaxMembers {
		return nil, ErrTooMany
	}
	if err := s.room(); err != nil {
		var local *localError
		if errors.As(err, &local) {
			return nil, local.err
		}
		return nil, err
	}
	// One name, one group: commands find a group by its name.
	if _, err := s.Store.Load(s.Name, s.me(), name); err == nil {
		return nil, fmt.Errorf("%w: %q", ErrNameTaken, name)
	} else if !errors.Is(err, ErrUnknown) {
		return nil, err
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	id := identity.AccountID{Prefix: identity.PrefixGroup, Key: [32]byte(pub)}
	now := s.C.Now()
	g := &Group{ID: id.String(), Name: name, Me: s.me(), Seed: hex.EncodeToString(seed), JoinedAt: now.UnixMilli(), LastHash: map[string]string{}}
	keys, err := groupkeys.New(s.C.Keys(), pub, seed)
	if err != nil {
		return nil, err
	}
	lv := &live{keys: keys}
	me := groupconfig.Member{ID: s.me(), Name: s.myName(ctx)}
	me.SetPromotionAccepted()
	err = s.apply(ctx, g, lv, edit{
		info: func(in *groupconfig.Info) error {
			in.Name, in.Created = name, now.Unix()
			return nil
		},
		members: func(d configmsg.Dict) error {
			if err := groupconfig.SetMember(d, me); err != nil {
				return err
			}
			for _, m := range members {
				nm := groupconfig.NewMember(m.ID.String())
				nm.Name = m.Name
				if err := groupconfig.SetMember(d, nm); err != nil {
					return err
				}
			}
			return nil
		},
		rekey: true,
	})
	if err != nil {
		return nil, fmt.Errorf("publish the group: %w", err)
	}
	// Kept before anything else can fail: the seed is the group.
	if err := s.Store.Save(s.Name, g); err != nil {
		return nil, err
	}
	if err := s.saveUserGroup(ctx, g); err != nil {
		s.Log.Warn().Err(err).Msg("the group was not recorded for the account's other devices")
	}
	if err := s.invite(ctx, g, lv, members); err != nil {
		return g, s.saved(g, err)
	}
	return g, s.Store.Save(s.Name, g)
}

// invite sends each member its invite and records in the members config
// whether it went.
func (s *Device) invite(ctx context.Context, g *Group, lv *live, members []Invitee) error {
	if len(members) == 0 {
		return nil
	}
	sent := map[string]bool{}
	var failed []error
	for _, m := range members {
		err := s.sendInvite(ctx, g, m.ID)
		sent[m.ID.String()] = err == nil
		if err != nil {
			failed = append(failed, err)
		}
	}
	err := s.apply(ctx, g, lv, edit{members: func(d configmsg.Dict) error {
		for id, ok := range sent {
			m, found := groupconfig.GetMember(d, id)
			if !found {
				continue
			}
			if ok {
				m.SetInviteSent()
			} else {
				m.SetInviteFailed()
			}
			if err := groupconfig.SetMember(d, m); err != nil {
				return err
			}
		}
		return nil
	}})
	return errors.Join(append(failed, err)...)
}

// admin syncs g for an admin's change.
func (s *Device) admin(ctx context.Context, g *Group) (*live, error) {
	if err := ready(g); err != nil {
		return nil, err
	}
	if !g.IsAdmin() {
		return nil, ErrNotAdmin
	}
	return s.sync(ctx, g)
}

// Add invites new members (admins). With history, they are given the
// keys the group has (a supplemental keys message) and read what it wrote
// before; without, the key rotates and they read from the new one.
func (s *Device) Add(ctx context.Context, g *Group, members []Invitee, history bool) error {
	lv, err := s.admin(ctx, g)
	if err != nil {
		return s.saved(g, err)
	}
	members, err = s.invitees(members)
	if err != nil {
		return err
	}
	active := 0
	for _, m := range g.Members {
		if m.Active() {
			active++
		}
	}
	var ids []string
	for _, m := range members {
		if cur, ok := g.member(m.ID.String()); ok && cur.Active() {
			return fmt.Errorf("%s: %w", m.ID, ErrAlready)
		}
		ids = append(ids, m.ID.String())
	}
	if len(ids) == 0 {
		return fmt.Errorf("%w: no one new to add", ErrAlready)
	}
	if active+len(ids) > MaxMembers {
		return ErrTooMany
	}
	// A member kicked before has a revoked token: lift it.
	for _, m := range members {
		tok, err := groupkeys.SubaccountToken(g.seed(), m.ID, memberFlags)
		if err != nil {
			return err
		}
		if err := s.revoke(ctx, g, true, tok); err != nil {
			return fmt.Errorf("lift the revocation of %s: %w", m.ID.String()[:10], err)
		}
		g.Revoked = slices.DeleteFunc(g.Revoked, func(r string) bool { return r == tok.String() })
	}
	e := edit{members: func(d configmsg.Dict) error {
		for _, m := range members {
			nm := groupconfig.NewMember(m.ID.String())
			nm.Name, nm.Supplement = m.Name, history
			if err := groupconfig.SetMember(d, nm); err != nil {
				return err
			}
		}
		return nil
	}}
	if history {
		e.supplement = ids
	} else {
		e.rekey = true
	}
	if err := s.apply(ctx, g, lv, e); err != nil {
		return s.saved(g, err)
	}
	if err := s.Store.Save(s.Name, g); err != nil {
		return err
	}
	err = s.invite(ctx, g, lv, members)
	s.memberChange(ctx, g, lv, sessionpb.GroupUpdateMemberChangeMessage_ADDED, ids, history)
	return s.saved(g, err)
}

// Kick removes members (admins), as Session apps do: their tokens are
// revoked on the swarm, each is told so in namespace -11, they leave the
// members config and the key rotates to a generation they never get; the
// group is told. With messages, what they wrote is deleted for everyone.
func (s *Device) Kick(ctx context.Context, g *Group, members []identity.AccountID, messages bool) error {
	lv, err := s.admin(ctx, g)
	if err != nil {
		return s.saved(g, err)
	}
	var ids []string
	for _, id := range members {
		m, ok := g.member(id.String())
		switch {
		case id == s.C.AccountID():
			return errors.New("an admin cannot remove itself: 'group leave' does")
		case !ok || !m.Active():
			return fmt.Errorf("%s: %w", id, ErrNotMember)
		case m.Admin:
			return fmt.Errorf("%s is an admin (it holds the group's key) and cannot be removed", id)
		}
		ids = append(ids, id.String())
	}
	if len(ids) == 0 {
		return nil
	}
	if err := s.remove(ctx, g, lv, members); err != nil {
		return s.saved(g, err)
	}
	if err := s.Store.Save(s.Name, g); err != nil {
		return err
	}
	s.memberChange(ctx, g, lv, sessionpb.GroupUpdateMemberChangeMessage_REMOVED, ids, false)
	if messages {
		s.notice(ctx, g, lv, func(ts string) *sessionpb.GroupUpdateMessage {
			return &sessionpb.GroupUpdateMessage{DeleteMemberContent: &sessionpb.GroupUpdateDeleteMemberContentMessage{MemberSessionIds: ids,
				AdminSignature: ed25519.Sign(g.adminKey(), []byte("DELETE_CONTENT"+ts+strings.Join(ids, "")))}}
		})
	}
	return s.Store.Save(s.Name, g)
}

// remove revokes members' tokens, leaves them their notice in -11, and
// erases them from the members config under a new key.
func (s *Device) remove(ctx context.Context, g *Group, lv *live, members []identity.AccountID) error {
	var notices [][]byte
	var recips [][32]byte
	for _, id := range members {
		tok, err := groupkeys.SubaccountToken(g.seed(), id, memberFlags)
		if err != nil {
			return err
		}
		if err := s.revoke(ctx, g, false, tok); err != nil {
			return fmt.Errorf("revoke the token of %s: %w", id.String()[:10], err)
		}
		if !slices.Contains(g.Revoked, tok.String()) {
			g.Revoked = append(g.Revoked, tok.String())
		}
		if len(g.Revoked) > 50 {
			g.Revoked = g.Revoked[len(g.Revoked)-50:]
		}
		notices = append(notices, kickedNotice(id, lv.keys.CurrentGeneration()))
		recips = append(recips, id.Key)
	}
	gx := identity.KeysFromEd25519Seed([32]byte(g.seed()))
	enc, err := multiEncryptSimple(notices, recips, gx.X25519Private, gx.X25519Public, kickedDomain)
	if err != nil {
		return err
	}
	if _, err := s.store(ctx, g, NSRevoked, enc, s.configTTL()); err != nil {
		return fmt.Errorf("leave the removed members their notice: %w", err)
	}
	return s.apply(ctx, g, lv, edit{rekey: !s.KickKeepsKey, members: func(d configmsg.Dict) error {
		for _, id := range members {
			groupconfig.DeleteMember(d, id.String())
		}
		return nil
	}})
}

// settleMembers is an admin's part of a fetch: members who accepted their
// invite are recorded so, those who left are removed, and this admin's
// own promotion, once it holds the key, is recorded accepted.
func (s *Device) settleMembers(ctx context.Context, g *Group, lv *live, accepted, left []string) error {
	var gone []identity.AccountID
	for _, who := range left {
		m, ok := g.member(who)
		id, err := identity.ParseAccountID(who)
		if ok && m.Active() && err == nil && who != s.me() && !slices.Contains(gone, id) {
			gone = append(gone, id)
		}
	}
	if len(gone) > 0 {
		if err := s.remove(ctx, g, lv, gone); err != nil {
			return fmt.Errorf("remove the members who left: %w", err)
		}
	}
	var change []groupconfig.Member
	for _, who := range accepted {
		if m, ok := g.member(who); ok && m.Active() && !m.Admin && m.Invite != groupconfig.StatusDone {
			m.SetInviteAccepted()
			change = append(change, m)
		}
	}
	// Promoted (by a message): the members config says so once this
	// admin writes it.
	if m, ok := g.member(s.me()); !ok || !m.Admin || m.Promotion != groupconfig.StatusDone {
		if !ok {
			m = groupconfig.Member{ID: s.me()}
		}
		m.SetPromotionAccepted()
		change = append(change, m)
	}
	if len(change) == 0 {
		return nil
	}
	return s.apply(ctx, g, lv, edit{members: func(d configmsg.Dict) error {
		for _, m := range change {
			if err := groupconfig.SetMember(d, m); err != nil {
				return err
			}
		}
		return nil
	}})
}

// Promote makes a member an admin (admins): it is sent the group's seed,
// and the members config and the group say so.
func (s *Device) Promote(ctx context.Context, g *Group, member identity.AccountID) error {
	lv, err := s.admin(ctx, g)
	if err != nil {
		return s.saved(g, err)
	}
	m, ok := g.member(member.String())
	switch {
	case !ok || !m.Active():
		return fmt.Errorf("%s: %w", member, ErrNotMember)
	case m.Admin && m.Promotion == groupconfig.StatusDone:
		return fmt.Errorf("%s is an admin already", member)
	}
	sendErr := s.sendPromotion(ctx, g, member)
	if sendErr != nil {
		m.SetPromotionFailed()
	} else {
		m.SetPromotionSent()
	}
	err = s.apply(ctx, g, lv, edit{members: func(d configmsg.Dict) error { return groupconfig.SetMember(d, m) }})
	if sendErr == nil && err == nil {
		s.memberChange(ctx, g, lv, sessionpb.GroupUpdateMemberChangeMessage_PROMOTED, []string{member.String()}, false)
	}
	return s.saved(g, errors.Join(sendErr, err))
}

// Leave leaves a group: a member tells the group (an admin's next fetch
// removes it and rotates the key); an invite not accepted is declined; a
// group one was removed from, or of the old kind, is forgotten. Either
// way the account's other devices forget it too.
func (s *Device) Leave(ctx context.Context, g *Group, old bool) error {
	if !old && !g.Invited && !g.Kicked && !g.Destroyed {
		lv, err := s.sync(ctx, g)
		switch {
		case errors.Is(err, ErrKicked), errors.Is(err, ErrDestroyed):
		case err != nil:
			return s.saved(g, err)
		default:
			if g.IsAdmin() && len(g.Admins()) <= 1 {
				return ErrLastAdmin
			}
			for _, u := range []*sessionpb.GroupUpdateMessage{
				{MemberLeftMessage: &sessionpb.GroupUpdateMemberLeftMessage{}},
				{MemberLeftNotificationMessage: &sessionpb.GroupUpdateMemberLeftNotificationMessage{}},
			} {
				if err := s.post(ctx, g, lv, client.Content{GroupUpdate: u}); err != nil && !errors.Is(err, ErrKicked) {
					return fmt.Errorf("tell the group: %w", err)
				}
			}
		}
	}
	if old {
		return s.Store.Remove(s.Name, g.Me, g.ID)
	}
	if err := s.eraseUserGroup(ctx, g.ID); err != nil {
		return err
	}
	return s.Store.Remove(s.Name, s.me(), g.ID)
}

// Delete destroys the group for everyone (admins): its info config says
// so (each member's next read finds it gone), its messages are deleted
// from the swarm, and the account forgets it.
func (s *Device) Delete(ctx context.Context, g *Group) error {
	lv, err := s.admin(ctx, g)
	if err != nil {
		return s.saved(g, err)
	}
	if err := s.apply(ctx, g, lv, edit{info: func(in *groupconfig.Info) error {
		in.Destroyed = true
		return nil
	}}); err != nil && !errors.Is(err, ErrDestroyed) {
		return err
	}
	if err := s.deleteAll(ctx, g, NSMessages); err != nil {
		s.Log.Warn().Err(err).Msg("the group's messages were not deleted from its swarm")
	}
	if err := s.eraseUserGroup(ctx, g.ID); err != nil {
		return err
	}
	return s.Store.Remove(s.Name, s.me(), g.ID)
}

// Refresh reads the group's configs (the members list, its generation,
// its admins) as any member may, and keeps them alive.
func (s *Device) Refresh(ctx context.Context, g *Group) error {
	if err := ready(g); err != nil {
		return err
	}
	lv, err := s.sync(ctx, g)
	if err != nil {
		return s.saved(g, err)
	}
	s.keepAlive(ctx, g, lv)
	return s.Store.Save(s.Name, g)
}

// Rename changes the group's name (admins); the group is told.
func (s *Device) Rename(ctx context.Context, g *Group, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	lv, err := s.admin(ctx, g)
	if err != nil {
		return s.saved(g, err)
	}
	if err := s.apply(ctx, g, lv, edit{info: func(in *groupconfig.Info) error {
		in.Name = name
		return nil
	}}); err != nil {
		return s.saved(g, err)
	}
	typ := sessionpb.GroupUpdateInfoChangeMessage_NAME
	s.notice(ctx, g, lv, func(ts string) *sessionpb.GroupUpdateMessage {
		return &sessionpb.GroupUpdateMessage{InfoChangeMessage: &sessionpb.GroupUpdateInfoChangeMessage{Type: typ.Enum(), UpdatedName: proto.String(name),
			AdminSignature: ed25519.Sign(g.adminKey(), []byte("INFO_CHANGE"+strconv.Itoa(int(typ))+ts))}}
	})
	if err := s.Store.Save(s.Name, g); err != nil {
		return err
	}
	return s.saveUserGroup(ctx, g)
}
