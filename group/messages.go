package group

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/groupkeys"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/sessionpb"
	"github.com/sessionctl/sessionctl/storagerpc"
	"google.golang.org/protobuf/proto"
)

// A group message (namespace 11), as Session apps write them: the padded
// protobuf Content in an Envelope (type CLOSED_GROUP_MESSAGE, source the
// group's ID, the time it was sent), encrypted with the group's current
// key and signed by its author (groupkeys.EncryptMessage, libsession's
// encrypt_message). The group's control messages (member changes, info
// changes, leaving, invite responses, deletions) are group messages too,
// their admin signatures over the envelope's timestamp as session-desktop
// makes them:
//
//	"MEMBER_CHANGE" || type || timestamp
//	"INFO_CHANGE" || type || timestamp
//	"DELETE_CONTENT" || timestamp || member IDs || message hashes

// MessageTTL is how long a group message lives.
const MessageTTL = storagerpc.MaxTTL

// wrapGroup puts a padded Content in the group's envelope.
func wrapGroup(content []byte, groupID string, sentAt int64) ([]byte, error) {
	return proto.Marshal(&sessionpb.Envelope{Type: sessionpb.Envelope_CLOSED_GROUP_MESSAGE.Enum(), Source: proto.String(groupID),
		Timestamp: proto.Uint64(uint64(sentAt)), Content: content})
}

// unwrapGroup reads what wrapGroup made: the content and the time sent.
func unwrapGroup(b []byte, groupID string) ([]byte, int64, error) {
	var env sessionpb.Envelope
	if err := proto.Unmarshal(b, &env); err != nil {
		return nil, 0, fmt.Errorf("not a Session envelope: %v", err)
	}
	if env.Type == nil && env.Source == nil && len(env.Content) == 0 {
		return nil, 0, errors.New("not a Session envelope: no type, source or content")
	}
	if env.GetType() != sessionpb.Envelope_CLOSED_GROUP_MESSAGE || len(env.Content) == 0 {
		return nil, 0, fmt.Errorf("an envelope of type %v with %d content bytes, not a group message", env.GetType(), len(env.Content))
	}
	if env.GetSource() != groupID {
		return nil, 0, fmt.Errorf("an envelope for %q, not this group", env.GetSource())
	}
	return env.Content, int64(env.GetTimestamp()), nil
}

// post encrypts content as this account's message to the group and
// stores it in namespace 11.
func (s *Device) post(ctx context.Context, g *Group, lv *live, content client.Content) error {
	if content.SentAt == 0 {
		content.SentAt = s.C.Now().UnixMilli()
	}
	plain, err := client.EncodeContent(content)
	if err != nil {
		return err
	}
	env, err := wrapGroup(plain, g.ID, content.SentAt)
	if err != nil {
		return err
	}
	ct, err := lv.keys.EncryptMessage(env)
	if err != nil {
		if errors.Is(err, groupkeys.ErrNoKeys) {
			return ErrNoGroupKeys
		}
		return err
	}
	if _, err := s.store(ctx, g, NSMessages, ct, MessageTTL.Milliseconds()); err != nil {
		return s.whyRefused(ctx, g, err)
	}
	return nil
}

// ready checks that g can be written to or read from.
func ready(g *Group) error {
	switch {
	case g.Kicked:
		return ErrKicked
	case g.Destroyed:
		return ErrDestroyed
	case g.Invited:
		return ErrInvited
	}
	return nil
}

// Send posts a message to the group, under its current key.
func (s *Device) Send(ctx context.Context, g *Group, text string) error {
	if err := ready(g); err != nil {
		return err
	}
	lv, err := s.sync(ctx, g)
	if err != nil {
		return s.saved(g, err)
	}
	if err := s.post(ctx, g, lv, client.Content{Text: text}); err != nil {
		return s.saved(g, err)
	}
	return s.Store.Save(s.Name, g)
}

// saved saves g's state after err (what was learnt: kicked, destroyed).
func (s *Device) saved(g *Group, err error) error {
	if serr := s.Store.Save(s.Name, g); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

// Message is a group message as read: text, or a notice of a change.
type Message struct {
	Hash       string `json:"hash"`
	From       string `json:"from"`
	Text       string `json:"text"`
	Generation int64  `json:"generation"`
	Timestamp  int64  `json:"timestamp"` // when the swarm stored it, unix ms
	SentAt     int64  `json:"sent_at"`
	// Kind is "" for text, else the control message's (client.KindGroup...,
	// or another kind an app sends: a reaction); Text then says what it is.
	Kind string `json:"kind,omitempty"`
	// Name is the name the author's message gave (apps send their profile
	// with what they write).
	Name string `json:"name,omitempty"`
}

// Unreadable is a group message (or config message) that this member
// cannot read or trust, and why.
type Unreadable struct {
	Hash   string `json:"hash,omitempty"`
	Reason string `json:"reason"`
}

// Fetch reads the group's configs and its new messages. An admin also acts
// on what members asked: an invite accepted is recorded in the members
// config, a member who left is removed (revoked, the key rotated).
func (s *Device) Fetch(ctx context.Context, g *Group) ([]Message, []Unreadable, error) {
	if err := ready(g); err != nil {
		return nil, nil, err
	}
	lv, err := s.sync(ctx, g)
	if err != nil {
		return nil, nil, s.saved(g, err)
	}
	s.keepAlive(ctx, g, lv)
	stored, err := s.retrieveNew(ctx, g, NSMessages)
	if err != nil {
		return nil, nil, s.saved(g, s.whyRefused(ctx, g, err))
	}
	out, bad := []Message{}, lv.problems
	var accepted, left []string
	deleted := map[string]bool{}
	waiting := g.Waiting
	g.Waiting = nil
	tries := map[string]int{}
	for _, w := range waiting {
		tries[w.M.Hash] = w.Tries
		stored = append([]storagerpc.Message{w.M}, stored...)
	}
	for _, m := range stored {
		msg, why := s.read(g, lv, m)
		if why == whyNoKey && !g.Kicked && m.Timestamp >= g.JoinedAt && tries[m.Hash] < maxTries && len(g.Waiting) < maxWaiting {
			// Its key may come with the next fetch: it waits.
			g.Waiting = append(g.Waiting, Waiting{M: m, Tries: tries[m.Hash] + 1})
			continue
		}
		if why != "" {
			bad = append(bad, Unreadable{Hash: m.Hash, Reason: why})
			continue
		}
		switch msg.Kind {
		case client.KindGroupInviteResponse:
			accepted = append(accepted, msg.From)
		case client.KindGroupMemberLeft:
			left = append(left, msg.From)
			continue // the notification says it
		case client.KindGroupDeleteContent:
			for _, h := range msg.deleted {
				deleted[h] = true
			}
			for _, who := range msg.deletedFrom {
				deleted["from:"+who] = true
			}
		}
		out = append(out, msg.Message)
	}
	// Messages a deletion in this fetch took back are not shown.
	kept := out[:0]
	for _, m := range out {
		if (deleted[m.Hash] || deleted["from:"+m.From]) && m.Kind == "" {
			continue
		}
		kept = append(kept, m)
	}
	out = kept
	if g.IsAdmin() {
		// Kept until done: a failure here leaves it for the next fetch,
		// and the messages read are still shown.
		g.PendingAccepted = addPending(g.PendingAccepted, accepted...)
		g.PendingLeft = addPending(g.PendingLeft, left...)
		if err := s.settleMembers(ctx, g, lv, g.PendingAccepted, g.PendingLeft); err != nil {
			s.Log.Warn().Err(err).Str("group", g.ID[:12]).Msg("the members' requests were not carried out: the next fetch tries again")
			bad = append(bad, Unreadable{Reason: "not done yet (the next fetch tries again): " + err.Error()})
		} else {
			g.PendingAccepted, g.PendingLeft = nil, nil
		}
	}
	return out, bad, s.Store.Save(s.Name, g)
}

// read is one message of namespace 11 as read.
type read struct {
	Message
	deleted     []string // a deletion's hashes
	deletedFrom []string // and members whose messages it deletes
}

// whyNoKey is why a message no key held opens is unreadable.
const whyNoKey = "sent under a key this account was not given (before it joined, or after it was removed)"

// read opens, checks and decodes one group message; it says why not.
func (s *Device) read(g *Group, lv *live, m storagerpc.Message) (*read, string) {
	gm, err := lv.keys.DecryptMessage(decodeData(m))
	switch {
	case errors.Is(err, groupkeys.ErrNoKeyOpens):
		return nil, whyNoKey
	case err != nil:
		return nil, err.Error()
	}
	content, sentAt, err := unwrapGroup(gm.Content, g.ID)
	if err != nil {
		return nil, err.Error()
	}
	var cm client.Message
	if why := client.DecodeContent(content, &cm); why != "" {
		return nil, why
	}
	from := gm.Author.String()
	if why := g.authorOK(from, gm.Generation); why != "" {
		return nil, why
	}
	out := &read{Message: Message{Hash: m.Hash, From: from, Text: cm.Text, Generation: gm.Generation, Timestamp: m.Timestamp, SentAt: sentAt, Kind: cm.Kind}}
	if cm.Profile != nil {
		out.Name = cm.Profile.Name
	}
	if cm.GroupUpdate == nil {
		switch {
		case cm.Kind == "":
		case cm.Kind == client.KindReaction && cm.Reaction != nil:
			out.Text = "reacted " + cm.Reaction.Emoji
			if cm.Reaction.Remove {
				out.Text = "took back the reaction " + cm.Reaction.Emoji
			}
		case cm.Note != "":
			out.Text = cm.Note
		default:
			out.Text = strings.ReplaceAll(cm.Kind, "_", " ")
		}
		return out, ""
	}
	u := cm.GroupUpdate
	pub := g.pub()
	ts := strconv.FormatInt(sentAt, 10)
	switch cm.Kind {
	case client.KindGroupInviteResponse:
		if !u.InviteResponse.GetIsApproved() {
			return nil, "an invite response that declines"
		}
		out.Text = "joined the group"
	case client.KindGroupMemberLeft:
		out.Text = "asked to leave the group"
	case client.KindGroupMemberLeftNote:
		out.Text = "left the group"
	case client.KindGroupMemberChange:
		mc := u.MemberChangeMessage
		if !ed25519.Verify(pub, []byte("MEMBER_CHANGE"+strconv.Itoa(int(mc.GetType()))+ts), mc.GetAdminSignature()) {
			return nil, "a member change whose admin signature does not verify"
		}
		verb := map[sessionpb.GroupUpdateMemberChangeMessage_Type]string{
			sessionpb.GroupUpdateMemberChangeMessage_ADDED: "added", sessionpb.GroupUpdateMemberChangeMessage_REMOVED: "removed",
			sessionpb.GroupUpdateMemberChangeMessage_PROMOTED: "promoted"}[mc.GetType()]
		out.Text = verb + " " + strings.Join(mc.GetMemberSessionIds(), ", ")
		if mc.GetHistoryShared() {
			out.Text += " (with the group's history)"
		}
	case client.KindGroupInfoChange:
		ic := u.InfoChangeMessage
		if !ed25519.Verify(pub, []byte("INFO_CHANGE"+strconv.Itoa(int(ic.GetType()))+ts), ic.GetAdminSignature()) {
			return nil, "an info change whose admin signature does not verify"
		}
		switch ic.GetType() {
		case sessionpb.GroupUpdateInfoChangeMessage_NAME:
			out.Text = fmt.Sprintf("renamed the group %q", ic.GetUpdatedName())
		case sessionpb.GroupUpdateInfoChangeMessage_AVATAR:
			out.Text = "changed the group's picture"
		case sessionpb.GroupUpdateInfoChangeMessage_DISAPPEARING_MESSAGES:
			out.Text = fmt.Sprintf("set disappearing messages to %d s", ic.GetUpdatedExpiration())
		}
	case client.KindGroupDeleteContent:
		dc := u.DeleteMemberContent
		if sig := dc.GetAdminSignature(); len(sig) > 0 {
			signed := "DELETE_CONTENT" + ts + strings.Join(dc.GetMemberSessionIds(), "") + strings.Join(dc.GetMessageHashes(), "")
			if !ed25519.Verify(pub, []byte(signed), sig) {
				return nil, "a deletion whose admin signature does not verify"
			}
			out.deletedFrom = dc.GetMemberSessionIds()
		} else if len(dc.GetMemberSessionIds()) > 0 {
			return nil, "a deletion of members' messages without an admin's signature"
		}
		out.deleted = dc.GetMessageHashes()
		out.Text = fmt.Sprintf("deleted %d messages", len(dc.GetMessageHashes()))
		if len(out.deletedFrom) > 0 {
			out.Text = "deleted the messages of " + strings.Join(out.deletedFrom, ", ")
		}
	default:
		return nil, "a " + strings.ReplaceAll(cm.Kind, "_", " ") + ", which travels one-to-one, not in a group"
	}
	return out, ""
}

// authorOK checks that from may write to the group: a member the members
// config lists, or one who left after writing it (a message under a key
// older than the one made when they left). It says why not.
func (g *Group) authorOK(from string, gen int64) string {
	if m, ok := g.member(from); ok && m.Active() {
		return ""
	}
	if at, ok := g.Left[from]; ok {
		if gen < at {
			return ""
		}
		return "from " + from + ", who was removed from the group"
	}
	if gen < g.Generation {
		return "" // written under an older key, before its author left
	}
	if _, err := identity.ParseAccountID(from); err != nil {
		return "from an author who is not an account"
	}
	return "from " + from + ", who is not a member of the group"
}

// notice posts an admin's control message to the group, signed as it
// asks.
func (s *Device) notice(ctx context.Context, g *Group, lv *live, make func(ts string) *sessionpb.GroupUpdateMessage) {
	ts := s.C.Now().UnixMilli()
	u := make(strconv.FormatInt(ts, 10))
	if err := s.post(ctx, g, lv, client.Content{SentAt: ts, GroupUpdate: u}); err != nil {
		s.Log.Warn().Err(err).Str("group", g.ID[:12]).Msg("the group was not told of the change")
	}
}

// memberChange is the admin's GroupUpdateMemberChangeMessage.
func (s *Device) memberChange(ctx context.Context, g *Group, lv *live, typ sessionpb.GroupUpdateMemberChangeMessage_Type, ids []string, history bool) {
	s.notice(ctx, g, lv, func(ts string) *sessionpb.GroupUpdateMessage {
		mc := &sessionpb.GroupUpdateMemberChangeMessage{Type: typ.Enum(), MemberSessionIds: ids,
			AdminSignature: ed25519.Sign(g.adminKey(), []byte("MEMBER_CHANGE"+strconv.Itoa(int(typ))+ts))}
		if history {
			mc.HistoryShared = proto.Bool(true)
		}
		return &sessionpb.GroupUpdateMessage{MemberChangeMessage: mc}
	})
}
