package group

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/configmsg/groupconfig"
	"github.com/sessionctl/sessionctl/groupkeys"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// Device is one device of an account acting on its groups: its client, the
// store of its groups, and its name. (Named for what it is: "session" is the
// messenger's own name.)
type Device struct {
	C     *client.Client
	Store *Store
	// Name is the device's name in the keystore: where its groups are
	// kept (each device of an account keeps its own).
	Name string
	Log  zerolog.Logger
	// ConfigTTL is how long the configs this device writes live, and what
	// it extends them to; 0 means ConfigTTL (30 days). A workshop may
	// shorten it (at least storagerpc.MinTTL).
	ConfigTTL time.Duration
	// KickKeepsKey makes a kick leave the group's key as it was: a broken
	// admin, for the tests of a checker that must notice (package chaos).
	// Nothing outside tests sets it.
	KickKeepsKey bool
}

func (s *Device) configTTL() int64 {
	if s.ConfigTTL >= storagerpc.MinTTL && s.ConfigTTL <= ConfigTTL {
		return s.ConfigTTL.Milliseconds()
	}
	return ConfigTTL.Milliseconds()
}

func (s *Device) me() string { return s.C.AccountID().String() }

// ConfigTTL is how long the group's configs live: the longest the swarm
// keeps them (30 days), as libsession's clients store them; a member's
// fetch extends one past half its life.
const ConfigTTL = storagerpc.MaxConfigTTL

// live is what one command read of a group's configs.
type live struct {
	keys    *groupkeys.Keys
	info    *groupconfig.Loaded // nil: none stored
	members *groupconfig.Loaded
	// The messages each namespace held, as read.
	keyMsgs, infoMsgs, memberMsgs []storagerpc.Message
	// problems are the config messages refused, and why.
	problems []Unreadable
}

// keysOf restores the group's keys from its state.
func (s *Device) keysOf(g *Group) (*groupkeys.Keys, error) {
	pub := g.pub()
	if g.Keys == "" {
		return groupkeys.New(s.C.Keys(), pub, g.seed())
	}
	dump, err := base64.StdEncoding.DecodeString(g.Keys)
	if err != nil {
		return nil, fmt.Errorf("the group's saved keys are damaged: %w", err)
	}
	return groupkeys.Restore(s.C.Keys(), pub, g.seed(), dump)
}

func decodeData(m storagerpc.Message) []byte {
	b, _ := base64.StdEncoding.DecodeString(m.Data)
	return b
}

// sync reads the group's three configs from its swarm (keys first: the
// other two are encrypted with its keys) and what they say into g. A
// member the swarm refuses learns here whether it was kicked (ErrKicked).
func (s *Device) sync(ctx context.Context, g *Group) (*live, error) {
	if g.Kicked {
		return nil, ErrKicked
	}
	if g.Destroyed {
		return nil, ErrDestroyed
	}
	keys, err := s.keysOf(g)
	if err != nil {
		return nil, err
	}
	lv := &live{keys: keys}
	if lv.keyMsgs, err = s.retrieveAll(ctx, g, NSKeys); err != nil {
		return nil, s.whyRefused(ctx, g, err)
	}
	for _, m := range lv.keyMsgs {
		if _, err := keys.Load(m.Hash, decodeData(m), m.Timestamp); err != nil {
			if !g.remember(m.Hash) { // said once, though it stays in the swarm
				s.Log.Warn().Err(err).Str("group", g.ID[:12]).Str("hash", m.Hash).Msg("a keys message was refused")
				lv.problems = append(lv.problems, Unreadable{Hash: m.Hash, Reason: "keys message refused: " + err.Error()})
			}
		}
	}
	g.Keys = base64.StdEncoding.EncodeToString(keys.Dump())
	if keys.Size() == 0 {
		return lv, ErrNoGroupKeys
	}
	if lv.infoMsgs, err = s.retrieveAll(ctx, g, NSInfo); err != nil {
		return nil, s.whyRefused(ctx, g, err)
	}
	if lv.memberMsgs, err = s.retrieveAll(ctx, g, NSMembers); err != nil {
		return nil, s.whyRefused(ctx, g, err)
	}
	if lv.info, err = s.loadConfig(g, lv, groupconfig.InfoKind, lv.infoMsgs); err != nil {
		return nil, err
	}
	if lv.members, err = s.loadConfig(g, lv, groupconfig.MembersKind, lv.memberMsgs); err != nil {
		return nil, err
	}
	s.learn(g, lv)
	if g.Destroyed {
		if !g.IsAdmin() {
			s.markRemoved(ctx, g, configmsg.UserGroupDestroyed) // the account's other devices stop too
		}
		return lv, ErrDestroyed
	}
	return lv, nil
}

// loadConfig settles one config's messages (nil when none is readable).
func (s *Device) loadConfig(g *Group, lv *live, kind configmsg.Kind, msgs []storagerpc.Message) (*groupconfig.Loaded, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	stored := make([][]byte, len(msgs))
	for i, m := range msgs {
		stored[i] = decodeData(m)
	}
	l, err := groupconfig.Load(kind, stored, lv.keys.GroupKeys(), g.pub(), g.adminKey())
	if l != nil {
		for _, e := range l.Skipped {
			s.Log.Warn().Err(e).Str("group", g.ID[:12]).Str("config", kind.Domain).Msg("a config message was skipped")
			lv.problems = append(lv.problems, Unreadable{Reason: kind.Domain + " config refused: " + e.Error()})
		}
	}
	if errors.Is(err, configmsg.ErrNoMessage) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the group's %s config: %w", kind.Domain, err)
	}
	return l, nil
}

// learn takes what the configs read say into g.
func (s *Device) learn(g *Group, lv *live) {
	g.Generation = lv.keys.CurrentGeneration()
	if lv.info != nil {
		g.Info = groupconfig.ReadInfo(lv.info.Message.Data())
		if g.Info.Name != "" {
			g.Name = g.Info.Name
		}
		g.Destroyed = g.Info.Destroyed
	}
	if lv.members != nil {
		ms, err := groupconfig.ListMembers(lv.members.Message.Data())
		if err == nil {
			g.noteLeft(ms, g.Generation)
			g.Members = ms
		}
	}
}

// whyRefused turns the swarm's refusal into ErrKicked when namespace -11
// holds a notice that this member was removed; other errors pass.
func (s *Device) whyRefused(ctx context.Context, g *Group, err error) error {
	if g.IsAdmin() || !refused(err) {
		return err
	}
	msgs, rerr := s.retrieveAll(ctx, g, NSRevoked)
	if rerr != nil {
		return err
	}
	keys := s.C.Keys()
	gx := g.Account()
	groupX, xerr := groupXKey(gx.Key[:])
	if xerr != nil {
		return err
	}
	for _, m := range msgs {
		plain, derr := multiDecryptSimple(decodeData(m), keys.X25519Private, keys.X25519Public, groupX, kickedDomain)
		if derr != nil {
			continue
		}
		if _, nerr := readKickedNotice(plain, s.C.AccountID()); nerr == nil {
			g.Kicked = true
			if serr := s.Store.Save(s.Name, g); serr != nil {
				return errors.Join(ErrKicked, serr)
			}
			s.markRemoved(ctx, g, configmsg.UserGroupKicked)
			return ErrKicked
		}
	}
	return err
}

// edit is an admin's change to the group's configs.
type edit struct {
	info    func(*groupconfig.Info) error // nil: unchanged
	members func(configmsg.Dict) error    // nil: unchanged
	// rekey makes a new key for the members listed once members is
	// applied; supplement gives these members the keys held.
	rekey      bool
	supplement []string
}

// apply makes an admin's change: a new keys message if asked, then the
// info and members configs as changed (or as they were, under a new key),
// signed with the group's key, encrypted with its current key; what they
// replace is deleted from the swarm.
func (s *Device) apply(ctx context.Context, g *Group, lv *live, e edit) error {
	priv := g.adminKey()
	if priv == nil {
		return ErrNotAdmin
	}
	next := func(l *groupconfig.Loaded) (*configmsg.Message, error) {
		if l == nil {
			return groupconfig.NewConfig(priv)
		}
		return l.Message.Edit(), nil
	}
	members, err := next(lv.members)
	if err != nil {
		return err
	}
	if e.members != nil {
		if err := e.members(members.Data()); err != nil {
			return err
		}
	}
	info, err := next(lv.info)
	if err != nil {
		return err
	}
	if e.info != nil {
		in := groupconfig.ReadInfo(info.Data())
		if err := e.info(&in); err != nil {
			return err
		}
		if err := groupconfig.SetInfo(info.Data(), in); err != nil {
			return err
		}
	}
	// Refuse a members config the group's readers would refuse, before
	// anything is stored.
	ids, err := groupconfig.MemberIDs(members.Data())
	if err != nil {
		return err
	}
	if e.rekey {
		msg, err := lv.keys.Rekey(ids)
		if err != nil {
			return err
		}
		st, err := s.store(ctx, g, NSKeys, msg, s.configTTL())
		if err != nil {
			return fmt.Errorf("store the new key: %w", err)
		}
		if _, err := lv.keys.Load(st.Hash, msg, st.Timestamp); err != nil {
			return err
		}
	}
	if len(e.supplement) > 0 {
		msg, err := lv.keys.Supplement(e.supplement)
		if err != nil {
			return err
		}
		st, err := s.store(ctx, g, NSKeys, msg, s.configTTL())
		if err != nil {
			return fmt.Errorf("store the keys for the new members: %w", err)
		}
		if _, err := lv.keys.Load(st.Hash, msg, st.Timestamp); err != nil {
			return err
		}
	}
	g.Keys = base64.StdEncoding.EncodeToString(lv.keys.Dump())
	key, err := lv.keys.EncryptionKey()
	if err != nil {
		return err
	}
	push := func(kind configmsg.Kind, ns storagerpc.Namespace, m *configmsg.Message, l *groupconfig.Loaded, read []storagerpc.Message) (*groupconfig.Loaded, []storagerpc.Message, error) {
		merged := l != nil && l.Used < 0
		if !e.rekey && len(m.Diff()) == 0 && !merged && l != nil {
			return l, read, nil
		}
		sealed, err := groupconfig.Seal(kind, m, key)
		if err != nil {
			return nil, nil, err
		}
		st, err := s.store(ctx, g, ns, sealed, s.configTTL())
		if err != nil {
			return nil, nil, fmt.Errorf("store the %s config: %w", kind.Domain, err)
		}
		var old []string
		for _, r := range read {
			if r.Hash != st.Hash {
				old = append(old, r.Hash)
			}
		}
		if err := s.deleteMessages(ctx, g, old); err != nil {
			s.Log.Warn().Err(err).Str("config", kind.Domain).Msg("the config messages replaced were not deleted")
		}
		now := s.C.Now().UnixMilli()
		return &groupconfig.Loaded{Message: m, Used: 0},
			[]storagerpc.Message{{Hash: st.Hash, Timestamp: st.Timestamp, Expiration: now + s.configTTL()}}, nil
	}
	if lv.info, lv.infoMsgs, err = push(groupconfig.InfoKind, NSInfo, info, lv.info, lv.infoMsgs); err != nil {
		return err
	}
	if lv.members, lv.memberMsgs, err = push(groupconfig.MembersKind, NSMembers, members, lv.members, lv.memberMsgs); err != nil {
		return err
	}
	s.learn(g, lv)
	return nil
}

// keepAlive is what a device does for the group's configs as it reads
// them: an admin pushes a merge it had to make; anyone extends the
// messages in use past half their life (members' tokens may extend).
func (s *Device) keepAlive(ctx context.Context, g *Group, lv *live) {
	if g.IsAdmin() && (lv.info != nil && lv.info.Used < 0 || lv.members != nil && lv.members.Used < 0) {
		if err := s.apply(ctx, g, lv, edit{}); err != nil {
			s.Log.Warn().Err(err).Str("group", g.ID[:12]).Msg("the merged configs were not pushed")
		}
	}
	now := s.C.Now().UnixMilli()
	half := func(m storagerpc.Message) bool {
		ttl := m.Expiration - m.Timestamp
		return ttl > 0 && m.Expiration-now < ttl/2
	}
	var stale []string
	current := lv.keys.CurrentHashes()
	for _, m := range lv.keyMsgs {
		if slices.Contains(current, m.Hash) && half(m) {
			stale = append(stale, m.Hash)
		}
	}
	for _, c := range []struct {
		l    *groupconfig.Loaded
		msgs []storagerpc.Message
	}{{lv.info, lv.infoMsgs}, {lv.members, lv.memberMsgs}} {
		if c.l != nil && c.l.Used >= 0 && c.l.Used < len(c.msgs) && half(c.msgs[c.l.Used]) {
			stale = append(stale, c.msgs[c.l.Used].Hash)
		}
	}
	if len(stale) == 0 {
		return
	}
	if err := s.extend(ctx, g, stale, now+s.configTTL()); err != nil {
		s.Log.Warn().Err(err).Str("group", g.ID[:12]).Msg("the group's configs were not extended")
		return
	}
	s.Log.Info().Str("group", g.ID[:12]).Int("messages", len(stale)).Msg("group configs extended")
}
