package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sessionctl/sessionctl/identity"
)

// Reactions, quotes, read receipts and typing indicators, as Session apps
// send them:
//
//   - A reaction is a DataMessage whose reaction names the message (its
//     author and sent time), the emoji, and whether it is added or
//     removed; it goes to the conversation, with a copy (syncTarget) for
//     the sender's other devices, and carries the sender's profile.
//   - A reply is a text whose quote names the message it answers (and,
//     for older apps, a piece of its text).
//   - A read receipt (ReceiptMessage, type READ) lists the sent times of
//     the messages read; a typing indicator (TypingMessage) says typing
//     started or stopped, and lives 20 seconds in the swarm
//     (session-desktop's TTL_DEFAULT.TYPING_MESSAGE).
//
// The user names a message by the hash fetch or send showed: the device
// finds it among what it sent and read (the last maxSent and maxSeen).

// ErrUnknownMessage is a hash this device neither sent nor read (or not
// lately).
var ErrUnknownMessage = errors.New("not a message this device sent or read (or one of the last it keeps)")

// TypingTTL is how long a typing indicator lives in the swarm.
const TypingTTL = 20 * time.Second

// Lookup finds a message this device sent or read by its hash (as send or
// fetch showed it): it returns the message as messages name each other,
// and the account the conversation is with.
func (c *Client) Lookup(ctx context.Context, hash string) (MessageRef, identity.AccountID, error) {
	var ref MessageRef
	var with string
	me := c.AccountID().String()
	err := c.updateState(ctx, func(st *state) error {
		if i := slices.IndexFunc(st.Sent, func(r sentRecord) bool { return r.Kind == "" && (r.Hash == hash || r.SyncHash == hash) }); i >= 0 {
			r := st.Sent[i]
			ref, with = MessageRef{Author: me, Timestamp: r.SentAt, Hash: r.Hash, Text: r.Text}, r.To
			return nil
		}
		if i := slices.IndexFunc(st.Received, func(r recvRecord) bool { return r.Hash == hash }); i >= 0 {
			r := st.Received[i]
			ref, with = MessageRef{Author: r.From, Timestamp: r.SentAt, Hash: r.Hash, Text: r.Text}, r.From
			if r.To != "" {
				with = r.To // what another device of this account sent
			}
			return nil
		}
		for _, m := range st.Requests {
			if m.Hash == hash && m.Kind == "" {
				ref, with = MessageRef{Author: m.From, Timestamp: m.SentAt, Hash: m.Hash, Text: snippet(m.Text)}, m.From
				return nil
			}
		}
		return fmt.Errorf("%w: %s", ErrUnknownMessage, hash)
	})
	if err != nil {
		return MessageRef{}, identity.AccountID{}, err
	}
	id, err := identity.ParseAccountID(with)
	if err != nil {
		return MessageRef{}, identity.AccountID{}, fmt.Errorf("the record of %s names no account: %w", hash, err)
	}
	return ref, id, nil
}

// React puts an emoji on the message of this hash (or, with remove, takes
// it off): a reaction to the conversation it belongs to, and a copy for
// this account's other devices.
func (c *Client) React(ctx context.Context, hash, emoji string, remove bool) (*SendResult, *MessageRef, error) {
	if err := CheckEmoji(emoji); err != nil {
		return nil, nil, err
	}
	ref, with, err := c.Lookup(ctx, hash)
	if err != nil {
		return nil, nil, err
	}
	target := MessageRef{Author: ref.Author, Timestamp: ref.Timestamp}
	res, err := c.SendContent(ctx, with, Content{Reaction: &Reaction{MessageRef: target, Emoji: emoji, Remove: remove}})
	if err != nil {
		return nil, nil, err
	}
	return res, &ref, nil
}

// SendTyping tells to that this account started (or stopped) typing.
func (c *Client) SendTyping(ctx context.Context, to identity.AccountID, started bool) (*SendResult, error) {
	action := TypingStopped
	if started {
		action = TypingStarted
	}
	return c.SendContent(ctx, to, Content{Typing: action, ttl: TypingTTL})
}

// ReceiptResult is a read receipt sent.
type ReceiptResult struct {
	To       string `json:"to"`
	Messages int    `json:"messages"`
	Hash     string `json:"hash,omitempty"`
	Error    string `json:"error,omitempty"`
}

// SendReadReceipts tells the senders of msgs that they were read: one
// receipt to each sender of text among them (not this account's own
// messages, nor message requests). A receipt that fails does not stop the
// others; each result says.
func (c *Client) SendReadReceipts(ctx context.Context, msgs []Message) []ReceiptResult {
	me := c.AccountID().String()
	read := map[string][]int64{}
	var order []string
	for _, m := range msgs {
		if !m.isText() || m.Request || m.From == me || m.SyncTarget != "" || m.SentAt <= 0 {
			continue
		}
		if _, ok := read[m.From]; !ok {
			order = append(order, m.From)
		}
		if len(read[m.From]) < maxReceiptTimestamps {
			read[m.From] = append(read[m.From], m.SentAt)
		}
	}
	var out []ReceiptResult
	for _, from := range order {
		r := ReceiptResult{To: from, Messages: len(read[from])}
		to, err := identity.ParseAccountID(from)
		if err == nil {
			var res *SendResult
			if res, err = c.SendContent(ctx, to, Content{Read: read[from]}); err == nil {
				r.Hash = res.Hash
			}
		}
		if err != nil {
			r.Error = err.Error()
		}
		out = append(out, r)
	}
	return out
}

// resolveRefs fills in the messages that msgs' reactions, quotes and read
// receipts name, from what this device sent and read: their hashes, and
// the text a quote does not carry.
func resolveRefs(st *state, msgs []Message, me string) {
	type key struct {
		author string
		at     int64
	}
	var known map[key]MessageRef
	find := func(ref *MessageRef) {
		if known == nil {
			// Built once, newest last so that it wins.
			known = make(map[key]MessageRef, len(st.Sent)+len(st.Received))
			for _, r := range st.Received {
				known[key{r.From, r.SentAt}] = MessageRef{Hash: r.Hash, Text: r.Text}
			}
			for _, r := range st.Sent {
				if r.Kind == "" {
					known[key{me, r.SentAt}] = MessageRef{Hash: r.Hash, Text: r.Text}
				}
			}
		}
		if k, ok := known[key{ref.Author, ref.Timestamp}]; ok {
			ref.Hash = k.Hash
			if ref.Text == "" {
				ref.Text = k.Text
			}
		}
	}
	for i := range msgs {
		m := &msgs[i]
		if m.Quote != nil {
			find(m.Quote)
		}
		if m.Reaction != nil {
			find(&m.Reaction.MessageRef)
		}
		for j := range m.Read {
			// A receipt names messages this account sent.
			m.Read[j].Author = me
			find(&m.Read[j])
		}
	}
}
