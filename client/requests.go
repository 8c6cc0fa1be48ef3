package client

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/identity"
)

// Contacts and message requests, as Session clients keep them:
//
//   - Writing to an account makes it an approved contact ("a" in the
//     contacts config, synced to the account's other devices).
//   - A text message from an account that is not an approved contact is a
//     message request (Message.Request): the device holds it until the
//     user accepts or declines it. Before calling a sender a stranger, a
//     device reads the contacts config again (another device may have
//     accepted them).
//   - Accepting approves the sender and sends them a MessageRequestResponse
//     (Content field 10, isApproved); a device that reads one marks the
//     sender as having approved this account ("A").
//   - Declining deletes the held messages from the swarm; blocking ("b")
//     also drops whatever the sender writes later.

// Flags of the contacts cache.
const (
	contactApproved uint8 = 1 << iota
	contactBlocked
)

const (
	maxRequests = 1_000
	maxContacts = 10_000
)

func (s *state) setContacts(cfg *AccountConfig) {
	s.Contacts = map[string]uint8{}
	s.Nicknames = map[string]string{}
	for _, ct := range configmsg.ListContacts(cfg.Data()) {
		if ct.Nickname != "" && len(s.Nicknames) < maxContacts {
			s.Nicknames[ct.ID] = ct.Nickname
		}
		var f uint8
		if ct.Approved {
			f |= contactApproved
		}
		if ct.Blocked {
			f |= contactBlocked
		}
		if f != 0 && len(s.Contacts) < maxContacts {
			s.Contacts[ct.ID] = f
		}
	}
}

func (s *state) markContact(id string, f uint8) {
	if s.Contacts == nil {
		s.Contacts = map[string]uint8{}
	}
	if len(s.Contacts) < maxContacts || s.Contacts[id] != 0 {
		s.Contacts[id] |= f
	}
}

// isText tells a message the user wrote (which a stranger's makes a
// request) from control messages.
func (m *Message) isText() bool { return m.Kind == "" }

// settleRequests marks the message requests among f's messages, holds
// them, and drops what blocked accounts sent. It reads the contacts
// config again (once) before calling anyone a stranger.
func (c *Client) settleRequests(ctx context.Context, f *Fetched) {
	me := c.AccountID().String()
	refreshed := false
	var approvedMe []string
	for i := range f.Messages {
		m := &f.Messages[i]
		switch {
		case m.SyncTarget != "":
			// This account wrote to them from another device.
			f.st.markContact(m.SyncTarget, contactApproved)
			continue
		case m.From == me:
			continue
		case m.Kind == KindMessageRequestResponse:
			var r struct {
				Approved bool `json:"is_approved"`
			}
			if json.Unmarshal(m.Data, &r) == nil && r.Approved {
				approvedMe = append(approvedMe, m.From)
			}
			continue
		case !m.isText():
			continue
		}
		if f.st.Contacts[m.From]&contactApproved != 0 && f.st.Contacts[m.From]&contactBlocked == 0 {
			continue
		}
		if !refreshed {
			refreshed = true
			if cfg, err := c.LoadConfig(ctx, configmsg.Contacts); err != nil {
				c.log.Warn().Err(err).Msg("contacts not read: strangers' messages are held as requests")
			} else {
				f.st.setContacts(cfg)
			}
		}
		switch fl := f.st.Contacts[m.From]; {
		case fl&contactBlocked != 0:
			m.blocked = true
		case fl&contactApproved == 0:
			m.Request = true
		}
	}
	for _, m := range f.Messages {
		if m.blocked {
			f.Blocked++
		}
		if m.Request {
			f.st.Requests = append(f.st.Requests, m)
		}
	}
	f.Messages = slices.DeleteFunc(f.Messages, func(m Message) bool { return m.blocked })
	c.releaseHeld(f)
	noteReadElsewhere(f)
	f.st.trim()
	f.Held = slices.Clone(f.st.Requests)
	for _, from := range approvedMe {
		_, cfg, err := c.editContact(ctx, from, 0, func(ct *configmsg.Contact) { ct.ApprovedMe = true })
		if err != nil {
			c.log.Warn().Err(err).Str("from", from[:10]).Msg("a request accepted by its recipient was not recorded in the contacts")
			continue
		}
		f.st.setContacts(cfg)
	}
}

// releaseHeld settles the requests held from before by what the contacts
// now say (another device may have accepted or blocked their senders):
// those from approved accounts are shown now, those from blocked ones
// dropped.
func (c *Client) releaseHeld(f *Fetched) {
	var keep []Message
	for _, m := range f.st.Requests {
		switch fl := f.st.Contacts[m.From]; {
		case fl&contactBlocked != 0:
		case fl&contactApproved != 0:
			if !slices.ContainsFunc(f.Messages, func(n Message) bool { return n.Hash == m.Hash }) {
				m.Request = false
				f.Messages = append(f.Messages, m)
			}
		default:
			keep = append(keep, m)
		}
	}
	f.st.Requests = keep
}

// editContact changes one contact in the contacts config (making it, with
// its creation time, if new).
func (c *Client) editContact(ctx context.Context, id string, ttl time.Duration, change func(*configmsg.Contact)) (*ConfigPush, *AccountConfig, error) {
	return c.UpdateConfig(ctx, configmsg.Contacts, ttl, func(d configmsg.Dict) error {
		ct, ok := configmsg.GetContact(d, id)
		if !ok {
			ct.Created = c.cfg.Now().Unix()
		}
		change(&ct)
		return configmsg.SetContact(d, ct)
	})
}

// EditContact changes one contact of this account, for all its devices.
func (c *Client) EditContact(ctx context.Context, id identity.AccountID, ttl time.Duration, change func(*configmsg.Contact)) (*ConfigPush, error) {
	if id.Prefix != identity.PrefixSession {
		return nil, fmt.Errorf("contact %s is not a Session account (05)", id)
	}
	push, cfg, err := c.editContact(ctx, id.String(), ttl, change)
	if err != nil {
		return nil, err
	}
	return push, c.updateState(ctx, func(st *state) error { st.setContacts(cfg); return nil })
}

// approve makes to an approved contact after this account wrote to it; a
// failure is logged (the send stands).
func (c *Client) approve(ctx context.Context, to identity.AccountID) {
	if _, err := c.EditContact(ctx, to, 0, func(ct *configmsg.Contact) { ct.Approved = true }); err != nil {
		c.log.Warn().Err(err).Str("to", to.String()[:10]).Msg("the recipient was not made a contact")
	}
}

// Requests are the message requests this device holds.
func (c *Client) Requests(ctx context.Context) ([]Message, error) {
	var out []Message
	err := c.updateState(ctx, func(st *state) error { out = slices.Clone(st.Requests); return nil })
	return out, err
}

// takeRequests removes and returns the held requests from one account.
func (c *Client) takeRequests(ctx context.Context, from string) ([]Message, error) {
	var out []Message
	err := c.updateState(ctx, func(st *state) error {
		for _, m := range st.Requests {
			if m.From == from {
				out = append(out, m)
			}
		}
		st.Requests = slices.DeleteFunc(st.Requests, func(m Message) bool { return m.From == from })
		return nil
	})
	return out, err
}

// AcceptRequest accepts from's message request: from becomes an approved
// contact, from is sent a MessageRequestResponse, and the held messages
// are returned (no longer held).
func (c *Client) AcceptRequest(ctx context.Context, from identity.AccountID) ([]Message, error) {
	if _, err := c.EditContact(ctx, from, 0, func(ct *configmsg.Contact) { ct.Approved, ct.Blocked = true, false }); err != nil {
		return nil, err
	}
	if _, err := c.SendContent(ctx, from, Content{Approval: true}); err != nil {
		return nil, fmt.Errorf("send the message request response: %w", err)
	}
	return c.takeRequests(ctx, from.String())
}

// DeclineRequest declines from's message request: the held messages are
// deleted from this account's swarm; with block, from is blocked too (and
// what it sends later is dropped). It returns how many were deleted.
func (c *Client) DeclineRequest(ctx context.Context, from identity.AccountID, block bool) (int, error) {
	if block {
		if _, err := c.EditContact(ctx, from, 0, func(ct *configmsg.Contact) { ct.Blocked = true }); err != nil {
			return 0, err
		}
	}
	held, err := c.takeRequests(ctx, from.String())
	if err != nil || len(held) == 0 {
		return 0, err
	}
	hashes := make([]string, len(held))
	for i, m := range held {
		hashes[i] = m.Hash
	}
	if err := c.deleteOwn(ctx, hashes); err != nil {
		return 0, fmt.Errorf("delete the declined messages: %w", err)
	}
	return len(held), nil
}
