package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// Unsend and deletion, as Session clients do them (session-desktop's
// "delete for everyone"):
//
//   - The author sends an UnsendRequest (Content field 9: the message's
//     timestamp and the author's Account ID) to the recipient, and a copy
//     to the author's own swarm for its other devices; then it deletes its
//     own sync copy of the message from its swarm (a signed "delete").
//   - A device that reads an UnsendRequest whose author is its sender
//     looks up the message by author and timestamp among what it has read
//     (or reads in the same fetch), leaves it out, and deletes it from its
//     own account's swarm (a signed "delete": only the owner may).
//
// A node never learns which message an UnsendRequest names: it is
// encrypted like any other.

// Unsend names the message an UnsendRequest takes back.
type Unsend struct {
	Timestamp int64  `json:"timestamp"` // the message's sent time, unix ms
	Author    string `json:"author"`    // its author's Account ID
}

// UnsendResult is what Unsend did.
type UnsendResult struct {
	Hash    string `json:"hash"` // the message taken back
	To      string `json:"to"`
	Request string `json:"request"` // the UnsendRequest's hash in the recipient's swarm
	// SyncDeleted says the sender's own copy (for its other devices) was
	// deleted from its swarm.
	SyncDeleted bool `json:"sync_deleted"`
	// Synced says the UnsendRequest was stored for this account's other
	// devices too.
	Synced bool `json:"synced"`
}

// ErrNotSent is an unsend of a message this device has no record of
// sending (only the last 1,000 are kept).
var ErrNotSent = errors.New("not a message this device sent (or one of the last 1,000)")

// remember records a message this device sent; a failure costs only the
// chance to unsend it, and is logged. It reports whether the recipient is
// known to be an approved contact (requests.go).
func (c *Client) remember(ctx context.Context, r sentRecord) (approved bool) {
	err := c.updateState(ctx, func(st *state) error {
		st.Sent = append(st.Sent, r)
		st.trim()
		approved = st.Contacts[r.To]&contactApproved != 0
		return nil
	})
	if err != nil {
		c.log.Warn().Err(err).Str("hash", r.Hash).Msg("the sent message was not recorded: it cannot be unsent")
	}
	return approved
}

// updateState changes the client's state under its lock and saves it.
func (c *Client) updateState(ctx context.Context, change func(*state) error) error {
	release, err := c.lockState(ctx)
	if err != nil {
		return err
	}
	defer release()
	if c.cfg.StatePath == "" {
		// In memory: changed in place (the lock keeps fetches out), not
		// copied: a copy of 10,000 seen hashes a send was a hot path.
		c.mu.Lock()
		defer c.mu.Unlock()
		return change(c.state)
	}
	st, err := loadState(c.cfg.StatePath)
	if err != nil {
		return err
	}
	if err := change(st); err != nil {
		return err
	}
	if err := st.save(c.cfg.StatePath); err != nil {
		return fmt.Errorf("save client state: %w", err)
	}
	c.mu.Lock()
	c.state = st
	c.mu.Unlock()
	return nil
}

// Unsend takes back a message this device sent (by its hash, as Send
// returned it): an UnsendRequest to its recipient and to this account's
// other devices, and the deletion of this account's sync copy.
func (c *Client) Unsend(ctx context.Context, hash string) (*UnsendResult, error) {
	var rec sentRecord
	err := c.updateState(ctx, func(st *state) error {
		i := slices.IndexFunc(st.Sent, func(r sentRecord) bool { return r.Kind == "" && (r.Hash == hash || r.SyncHash == hash) })
		if i < 0 {
			return fmt.Errorf("%w: %s", ErrNotSent, hash)
		}
		rec = st.Sent[i]
		return nil
	})
	if err != nil {
		return nil, err
	}
	to, err := identity.ParseAccountID(rec.To)
	if err != nil {
		return nil, fmt.Errorf("the record of %s names no account: %w", hash, err)
	}
	me := c.AccountID()
	sent, err := c.SendContent(ctx, to, Content{Unsend: &Unsend{Timestamp: rec.SentAt, Author: me.String()}})
	if err != nil {
		return nil, fmt.Errorf("send the unsend request: %w", err)
	}
	out := &UnsendResult{Hash: rec.Hash, To: rec.To, Request: sent.Hash}
	// This account's other devices are told too (as apps sync an unsend),
	// so that a copy one of them reads later is never shown. Best effort:
	// the unsend stands without it.
	if me != to {
		if _, err := c.storeContent(ctx, me, me.Key, Content{SentAt: c.cfg.Now().UnixMilli(), Unsend: &Unsend{Timestamp: rec.SentAt, Author: me.String()}}, to.String()); err != nil {
			c.log.Warn().Err(err).Msg("the unsend request for this account's other devices was not stored")
		} else {
			out.Synced = true
		}
	}
	if rec.SyncHash != "" {
		if err := c.deleteOwn(ctx, []string{rec.SyncHash}); err != nil {
			c.log.Warn().Err(err).Msg("the sync copy of the unsent message was not deleted")
		} else {
			out.SyncDeleted = true
		}
	}
	err = c.updateState(ctx, func(st *state) error {
		st.Sent = slices.DeleteFunc(st.Sent, func(r sentRecord) bool { return r.Hash == rec.Hash })
		// A copy that survives on a member that missed the deletion is
		// never shown on this device either.
		st.Unsent = append(st.Unsent, unsentRecord{Author: me.String(), SentAt: rec.SentAt})
		return nil
	})
	return out, err
}

// LastSent is the hash of the newest message this device sent that it can
// still unsend.
func (c *Client) LastSent(ctx context.Context) (string, error) {
	var last string
	err := c.updateState(ctx, func(st *state) error {
		for i := len(st.Sent) - 1; i >= 0; i-- {
			if st.Sent[i].Kind == "" {
				last = st.Sent[i].Hash
				return nil
			}
		}
		return fmt.Errorf("%w: this device has sent nothing it can unsend", ErrNotSent)
	})
	return last, err
}

// deleteOwn deletes messages from this account's swarm (namespace 0),
// signed by the account.
func (c *Client) deleteOwn(ctx context.Context, hashes []string) error {
	me := c.AccountID()
	_, err := c.Call(ctx, me, "delete", func() any {
		return storagerpc.DeleteParams{Pubkey: me.String(), Messages: hashes,
			Auth: storagerpc.SignAuth(c.cfg.Keys.Ed25519, me, storagerpc.DeleteSigMsg(hashes))}
	})
	return err
}

// DeleteAll deletes every message of this account's inbox (namespace 0)
// from its swarm, signed, and returns how many the swarm member that
// answered deleted.
func (c *Client) DeleteAll(ctx context.Context) (int, error) {
	me := c.AccountID()
	resp, err := c.Call(ctx, me, "delete_all", func() any {
		ts := c.sigNow()
		return storagerpc.DeleteAllParams{Pubkey: me.String(), Timestamp: ts,
			Auth: storagerpc.SignAuth(c.cfg.Keys.Ed25519, me, storagerpc.DeleteAllSigMsg(storagerpc.NamespaceVar{}, ts))}
	})
	if err != nil {
		return 0, err
	}
	if resp.Code != storagerpc.StatusOK {
		return 0, fmt.Errorf("delete_all: %w", resp.Err())
	}
	var res storagerpc.SwarmResults
	if err := resp.Decode(&res); err != nil {
		return 0, fmt.Errorf("delete_all: %w", err)
	}
	most := 0
	for _, r := range res.Swarm {
		if d, ok := r.Deleted.([]any); ok && !r.Failed {
			most = max(most, len(d))
		}
	}
	return most, nil
}

// afterFetch settles what f read. This device's own sync copies (of what
// it sent itself) are left out: its other devices show them, it does not.
// It records what it read, and carries out the UnsendRequests among it: a
// request from a message's own author takes it out of f.Messages (if it
// came in the same fetch) and deletes it from this account's swarm. A
// request from anyone else is left as it is (shown, not obeyed).
func (c *Client) afterFetch(ctx context.Context, f *Fetched) {
	// (A fetch reads a few messages, Sent holds up to maxSent: each sync
	// copy is looked for, rather than a set of Sent made every fetch.)
	mine := func(m Message) bool {
		return m.SyncTarget != "" && slices.ContainsFunc(f.st.Sent, func(r sentRecord) bool { return r.SyncHash != "" && r.SyncHash == m.Hash })
	}
	f.Messages = slices.DeleteFunc(f.Messages, mine)
	c.settleRequests(ctx, f)
	for _, m := range f.Messages {
		if m.Kind == "" {
			f.st.Received = append(f.st.Received, recvRecord{Hash: m.Hash, From: m.From, SentAt: m.SentAt, To: m.SyncTarget, Text: snippet(m.Text)})
		}
		for _, a := range m.Attachments {
			f.st.noteFile(a)
		}
	}
	c.settleProfiles(f)
	me := c.AccountID().String()
	resolveRefs(f.st, f.Messages, me)
	resolveRefs(f.st, f.st.Requests, me)
	f.Held = slices.Clone(f.st.Requests)
	var gone []string
	for _, m := range f.Messages {
		u := m.Unsend
		if u == nil || u.Author != m.From {
			continue
		}
		if !slices.Contains(f.st.Unsent, unsentRecord{Author: u.Author, SentAt: u.Timestamp}) {
			f.st.Unsent = append(f.st.Unsent, unsentRecord{Author: u.Author, SentAt: u.Timestamp})
		}
	}
	// What was taken back goes, whether it came before its UnsendRequest,
	// with it, or after it.
	for _, r := range f.st.Received {
		if slices.Contains(f.st.Unsent, unsentRecord{Author: r.From, SentAt: r.SentAt}) {
			gone = append(gone, r.Hash)
		}
	}
	f.st.trim()
	if len(gone) == 0 {
		return
	}
	f.Unsent = gone
	if c.fault(func(f *Faults) *atomic.Bool { return &f.ShowUnsent }) {
		return // (a test's broken client: shows them, keeps them)
	}
	f.Messages = slices.DeleteFunc(f.Messages, func(m Message) bool { return slices.Contains(gone, m.Hash) })
	// A new slice: Received may share its array with the client's state
	// until Commit (state.clone).
	f.st.Received = slices.DeleteFunc(slices.Clone(f.st.Received), func(r recvRecord) bool { return slices.Contains(gone, r.Hash) })
	if err := c.deleteOwn(ctx, gone); err != nil {
		c.log.Warn().Err(err).Strs("hashes", gone).Msg("unsent messages were not deleted from the swarm")
	}
}

// trim keeps the newest maxSent sent and maxSeen received records and
// maxRequests requests, and bounds the contacts cache.
func (s *state) trim() {
	s.Sent = newest(s.Sent, maxSent)
	s.Received = newest(s.Received, maxSeen)
	s.Unsent = newest(s.Unsent, maxSeen)
	s.Files = newest(s.Files, maxFiles)
	s.Requests = newest(s.Requests, maxRequests)
	if len(s.Contacts) > maxContacts {
		s.Contacts = nil // a cache: read again from the swarm
	}
	if len(s.Nicknames) > maxContacts {
		s.Nicknames = nil // likewise
	}
	s.trimPeers()
}

// newest is the newest (last) n of records: the same array resliced, not a
// copy. A copy a call cost every send of a client past its maxSent-th its
// 1,000 records (88 KB); resliced, the next append past the array's
// capacity copies the records kept, once every few hundred appends, and
// the older ones are held until then. A fetch's copy of the state shares
// these arrays (state.clone), which stays as safe as it was with a copy:
// trimming changes only what a slice covers, not the array's elements.
func newest[T any](records []T, n int) []T {
	if len(records) > n {
		return records[len(records)-n:]
	}
	return records
}
