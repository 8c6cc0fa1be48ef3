package group

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/configmsg/groupconfig"
	"github.com/sessionctl/sessionctl/groupkeys"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/sessionpb"
	"google.golang.org/protobuf/proto"
)

// Invites and promotions travel one-to-one, as Session apps send them
// (session-desktop's GroupUpdateInviteMessage and GroupUpdatePromoteMessage,
// in DataMessage field 120):
//
//   - an invite carries the group's ID and name, the member's auth data
//     (its subaccount, groupkeys.MakeSubaccount) and the group key's
//     signature over "INVITE" || the member's Account ID || the message's
//     timestamp (unix ms, the envelope's); the member checks both, keeps
//     the invite pending, and `Join` accepts it: it answers in the group
//     with a GroupUpdateInviteResponseMessage, which an admin's fetch
//     records in the members config;
//   - a promotion carries the group's seed (which proves it) and name.

// memberFlags are the permissions a member's token carries: read and
// write (libsession's swarm_make_subaccount defaults).
var memberFlags = groupkeys.SubaccountFlags(true, false)

func inviteSigned(member string, ts int64) []byte {
	return []byte("INVITE" + member + strconv.FormatInt(ts, 10))
}

// sendInvite sends member an invite to g (admins).
func (s *Device) sendInvite(ctx context.Context, g *Group, member identity.AccountID) error {
	auth, err := groupkeys.MakeSubaccount(g.seed(), member, memberFlags)
	if err != nil {
		return err
	}
	ts := s.C.Now().UnixMilli()
	inv := &sessionpb.GroupUpdateInviteMessage{GroupSessionId: proto.String(g.ID), Name: proto.String(g.Name), MemberAuthData: auth,
		AdminSignature: ed25519.Sign(g.adminKey(), inviteSigned(member.String(), ts))}
	if _, err := s.C.SendContent(ctx, member, client.Content{SentAt: ts, GroupUpdate: &sessionpb.GroupUpdateMessage{InviteMessage: inv}}); err != nil {
		return fmt.Errorf("invite %s: %w", member.String()[:10], err)
	}
	return nil
}

// sendPromotion sends member the group's seed (admins).
func (s *Device) sendPromotion(ctx context.Context, g *Group, member identity.AccountID) error {
	pm := &sessionpb.GroupUpdatePromoteMessage{GroupIdentitySeed: g.seed(), Name: proto.String(g.Name)}
	if _, err := s.C.SendContent(ctx, member, client.Content{GroupUpdate: &sessionpb.GroupUpdateMessage{PromoteMessage: pm}}); err != nil {
		return fmt.Errorf("promote %s: %w", member.String()[:10], err)
	}
	return nil
}

// Refused is an invite or promotion that was not taken, and why.
type Refused struct {
	From string `json:"from"` // the sender's Account ID
	Kind string `json:"kind"`
	Err  error  `json:"-"`
}

// Inbox is what ReadInbox took from the account's inbox.
type Inbox struct {
	Invited  []*Group  // invites now pending ('Join' accepts them)
	Promoted []*Group  // groups this account now administers
	Refused  []Refused // invites and promotions refused
	OldKind  int       // invites to groups of the old kind, not taken
}

// ReadInbox reads the account's inbox (with the client's own state: a
// client for groups keeps one apart, so that `fetch` still shows the
// invites) and takes the invites and promotions in it. A forged one, or
// an invite to a group this account is in, is refused and changes
// nothing.
func (s *Device) ReadInbox(ctx context.Context) (*Inbox, error) {
	f, err := s.C.FetchPending(ctx)
	if err != nil {
		return nil, err
	}
	out := &Inbox{}
	for _, m := range f.Messages {
		var g *Group
		var err error
		switch m.Kind {
		case client.KindGroupInvite:
			g, err = s.takeInvite(ctx, m)
			if err == nil {
				out.Invited = append(out.Invited, g)
			}
		case client.KindGroupPromote:
			g, err = s.takePromotion(ctx, m)
			if err == nil {
				out.Promoted = append(out.Promoted, g)
			}
		case client.KindOldGroupInvite:
			out.OldKind++
			continue
		default:
			continue
		}
		var local *localError
		if errors.As(err, &local) {
			f.Abort()
			return nil, local.err
		}
		if err != nil {
			out.Refused = append(out.Refused, Refused{From: m.From, Kind: m.Kind, Err: err})
			s.Log.Warn().Err(err).Str("from", m.From[:10]).Str("kind", m.Kind).Msg("a group message was refused")
		}
	}
	if err := f.Commit(); err != nil {
		return nil, err
	}
	return out, nil
}

// localError is a failure of this device (its disk, the network), not of
// the message: the inbox is read again next time.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }

// checkInvite checks an invite from m for this account; it returns the
// group's ID and the auth data.
func (s *Device) checkInvite(m client.Message) (identity.AccountID, []byte, string, error) {
	inv := m.GroupUpdate.GetInviteMessage()
	gid, err := identity.ParseAccountID(inv.GetGroupSessionId())
	if err != nil || gid.Prefix != identity.PrefixGroup {
		return gid, nil, "", fmt.Errorf("%w: it names no group (%q)", ErrBadInvite, inv.GetGroupSessionId())
	}
	// The apps sign over the envelope's timestamp; the DataMessage's is the
	// same when they send, but only the first is what they check.
	at := m.EnvelopeAt
	if at == 0 {
		at = m.SentAt
	}
	if !ed25519.Verify(gid.Key[:], inviteSigned(s.me(), at), inv.GetAdminSignature()) {
		return gid, nil, "", fmt.Errorf("%w: not signed by the group's key", ErrBadInvite)
	}
	auth := inv.GetMemberAuthData()
	if _, err := groupkeys.NewSubaccountSigner(s.C.Keys(), gid, auth, true, false); err != nil {
		return gid, nil, "", fmt.Errorf("%w: %v", ErrBadInvite, err)
	}
	name := inv.GetName()
	if len(name) > groupconfig.MaxNameLength || !utf8.ValidString(name) {
		return gid, nil, "", fmt.Errorf("%w: the group's name is not text of at most %d bytes", ErrBadInvite, groupconfig.MaxNameLength)
	}
	return gid, auth, name, nil
}

// takeInvite records a valid invite as pending.
func (s *Device) takeInvite(ctx context.Context, m client.Message) (*Group, error) {
	gid, auth, name, err := s.checkInvite(m)
	if err != nil {
		return nil, err
	}
	g, err := s.Store.Load(s.Name, s.me(), gid.String())
	switch {
	case errors.Is(err, ErrUnknown), errors.Is(err, ErrOldKind):
		if err := s.room(); err != nil {
			return nil, err
		}
		g = &Group{ID: gid.String(), Me: s.me(), LastHash: map[string]string{}}
	case err != nil:
		return nil, &localError{err}
	case g.IsAdmin() || !g.Invited && !g.Kicked && !g.Destroyed:
		return nil, fmt.Errorf("an invite to %q: %w", g.Name, ErrAlready)
	}
	g.Name, g.AuthData, g.InvitedBy = name, base64.StdEncoding.EncodeToString(auth), m.From
	g.Invited, g.Kicked, g.Destroyed = true, false, false
	if err := s.Store.Save(s.Name, g); err != nil {
		return nil, &localError{err}
	}
	if err := s.saveUserGroup(ctx, g); err != nil {
		s.Log.Warn().Err(err).Msg("the invite was not recorded for the account's other devices")
	}
	return g, nil
}

// takePromotion makes this account an admin of the group whose seed m
// carries: at once for a group it is in, else as a pending invite.
func (s *Device) takePromotion(ctx context.Context, m client.Message) (*Group, error) {
	pm := m.GroupUpdate.GetPromoteMessage()
	seed := pm.GetGroupIdentitySeed()
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: a promotion whose seed is %d bytes", ErrBadInvite, len(seed))
	}
	name := pm.GetName()
	if len(name) > groupconfig.MaxNameLength || !utf8.ValidString(name) {
		return nil, fmt.Errorf("%w: the group's name is not text of at most %d bytes", ErrBadInvite, groupconfig.MaxNameLength)
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	gid := identity.AccountID{Prefix: identity.PrefixGroup, Key: [32]byte(pub)}
	g, err := s.Store.Load(s.Name, s.me(), gid.String())
	switch {
	case errors.Is(err, ErrUnknown), errors.Is(err, ErrOldKind):
		if err := s.room(); err != nil {
			return nil, err
		}
		g = &Group{ID: gid.String(), Name: name, Me: s.me(), Invited: true, InvitedBy: m.From, LastHash: map[string]string{}}
	case err != nil:
		return nil, &localError{err}
	case g.IsAdmin():
		return g, nil // promoted already
	}
	g.Seed, g.AuthData = hex.EncodeToString(seed), ""
	g.Kicked, g.Destroyed = false, false
	if err := s.Store.Save(s.Name, g); err != nil {
		return nil, &localError{err}
	}
	if err := s.saveUserGroup(ctx, g); err != nil {
		s.Log.Warn().Err(err).Msg("the promotion was not recorded for the account's other devices")
	}
	return g, nil
}

// Join accepts the pending invite to g: the group's keys must be readable
// with the auth data it gave; the group is told (an invite response in
// its swarm), and the account's other devices (the user groups config).
func (s *Device) Join(ctx context.Context, g *Group) error {
	if !g.Invited {
		if g.Kicked || g.Destroyed {
			return ErrNoInvite
		}
		return ErrAlready
	}
	g.Invited = false
	lv, err := s.sync(ctx, g)
	if err != nil {
		g.Invited = true
		if errors.Is(err, ErrNoGroupKeys) {
			return fmt.Errorf("%w: the admin has not given this account the group's keys", err)
		}
		return err
	}
	g.JoinedAt = s.C.Now().UnixMilli()
	if !g.IsAdmin() {
		resp := &sessionpb.GroupUpdateMessage{InviteResponse: &sessionpb.GroupUpdateInviteResponseMessage{IsApproved: proto.Bool(true)}}
		if err := s.post(ctx, g, lv, client.Content{GroupUpdate: resp}); err != nil {
			g.Invited = true
			return fmt.Errorf("answer the invite: %w", err)
		}
	}
	if err := s.Store.Save(s.Name, g); err != nil {
		return err
	}
	return s.saveUserGroup(ctx, g)
}

// room refuses a new group past MaxGroups on this device.
func (s *Device) room() error {
	all, err := s.Store.List(s.Name, s.me())
	if err != nil {
		return &localError{err}
	}
	if len(all) >= MaxGroups {
		return ErrTooManyGroups
	}
	return nil
}
