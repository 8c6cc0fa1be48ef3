package client

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/sessionpb"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// Content is the plaintext of a message between accounts.
type Content struct {
	Text string `json:"text"`
	// SentAt is when it was sent, unix ms: the envelope's timestamp, which
	// a group control message's signature covers. SendContent sets it to
	// the clock's time unless the caller did.
	SentAt int64 `json:"sent_at"`
	// GroupUpdate, if set, makes this a closed group's control message
	// (an invite or a promotion, sent one-to-one), not text.
	GroupUpdate *sessionpb.GroupUpdateMessage `json:"-"`
	// Attachments are files on a file server, with their keys.
	Attachments []Attachment `json:"attachments,omitempty"`
	// Unsend, if set, makes this an UnsendRequest (unsend.go), not text.
	Unsend *Unsend `json:"unsend,omitempty"`
	// Approval makes this a MessageRequestResponse accepting the
	// recipient's request (requests.go), not text.
	Approval bool `json:"approval,omitempty"`
	// Quote makes the text a reply to the message it names.
	Quote *MessageRef `json:"quote,omitempty"`
	// Reaction makes this an emoji on a message (reactions.go), not text.
	Reaction *Reaction `json:"reaction,omitempty"`
	// Read makes this a read receipt for the messages sent at these times
	// (unix ms), not text.
	Read []int64 `json:"read,omitempty"`
	// Typing makes this a typing indicator (TypingStarted or
	// TypingStopped), not text.
	Typing string `json:"typing,omitempty"`
	// Profile is the sender's, which SendContent sets on what apps show
	// (text, reactions, a request's acceptance).
	Profile *Profile `json:"profile,omitempty"`

	ttl time.Duration // a TTL of its own (typing); 0 means Config.TTL
}

// isText tells what the user wrote from control messages.
func (c *Content) isText() bool {
	return c.GroupUpdate == nil && c.Unsend == nil && !c.Approval && c.Reaction == nil && c.Read == nil && c.Typing == ""
}

// visible tells what apps show, and send with the sender's profile.
func (c *Content) visible() bool { return c.isText() || c.Reaction != nil || c.Approval }

// SendResult is what Send did.
type SendResult struct {
	Hash  string `json:"hash"`
	To    string `json:"to"`
	Swarm string `json:"swarm_id"`
	Path  Path   `json:"path"`
	// Stored counts the swarm members that stored the message.
	Stored int `json:"stored"`
	// Synced says the copy for the sender's other devices was stored;
	// SyncHash is its hash in the sender's swarm, SyncStored the members
	// of that swarm that stored it.
	Synced     bool   `json:"synced"`
	SyncHash   string `json:"sync_hash,omitempty"`
	SyncStored int    `json:"sync_stored,omitempty"`
}

// Send encrypts text for to and stores it in to's swarm, namespace 0.
func (c *Client) Send(ctx context.Context, to identity.AccountID, text string) (*SendResult, error) {
	return c.SendContent(ctx, to, Content{Text: text})
}

// Call sends one storage request to the swarm that owns account, through
// the onion path; params is called for each attempt (signatures must be
// fresh). Closed groups use it.
func (c *Client) Call(ctx context.Context, account identity.AccountID, method string, params func() any) (*storagerpc.Response, error) {
	resp, _, err := c.toSwarm(ctx, account, method, params)
	return resp, err
}

// CallAt is Call with parameters made for the swarm member asked (its
// Ed25519 key), which it also returns: a retrieve names the last hash that
// member gave, since every member orders and holds messages its own way.
func (c *Client) CallAt(ctx context.Context, account identity.AccountID, method string, params func(dest string) any) (*storagerpc.Response, string, error) {
	resp, path, err := c.toSwarmAt(ctx, account, method, params)
	return resp, path.Destination, err
}

// Keys returns the client's account keys.
func (c *Client) Keys() *identity.Keys { return c.cfg.Keys }

// SendContent encrypts content for to and stores it in to's swarm, as a
// Session client does (SPEC 6): a protobuf Content, padded, sealed and
// signed for to, in an Envelope inside a WebSocket request. A copy sealed
// for the sender, naming to as its syncTarget, goes to the sender's own
// swarm for its other devices (best effort: the send stands without it).
func (c *Client) SendContent(ctx context.Context, to identity.AccountID, content Content) (*SendResult, error) {
	if to.Prefix != identity.PrefixSession {
		return nil, fmt.Errorf("send: %s is not a Session account (05)", to)
	}
	if content.SentAt == 0 {
		content.SentAt = c.cfg.Now().UnixMilli()
	}
	if content.visible() {
		content.Profile = c.ownProfile(ctx)
	}
	out, err := c.storeContent(ctx, to, to.Key, content, "")
	if err != nil {
		return nil, err
	}
	me := c.AccountID()
	// What the user wrote, and reactions, are copied to this account's
	// other devices.
	if (content.isText() || content.Reaction != nil) && me != to {
		if sync, err := c.storeContent(ctx, me, me.Key, content, to.String()); err != nil {
			c.log.Warn().Err(err).Msg("the sync copy for this account's other devices was not stored")
		} else {
			out.Synced, out.SyncHash, out.SyncStored = true, sync.Hash, sync.Stored
		}
	}
	switch {
	case content.isText():
		known := c.remember(ctx, sentRecord{Hash: out.Hash, To: to.String(), SentAt: content.SentAt, SyncHash: out.SyncHash, Text: snippet(content.Text)})
		if me != to && !known {
			c.approve(ctx, to)
		}
	case content.Reaction != nil:
		c.remember(ctx, sentRecord{Hash: out.Hash, To: to.String(), SentAt: content.SentAt, SyncHash: out.SyncHash, Kind: KindReaction})
	}
	c.log.Info().Str("hash", out.Hash).Str("to", to.String()[:10]).Int("stored", out.Stored).Msg("message sent")
	return out, nil
}

// storeContent seals content for the account owner (whose X25519 key is
// key) and stores it in owner's swarm.
func (c *Client) storeContent(ctx context.Context, owner identity.AccountID, key [32]byte, content Content, syncTarget string) (*SendResult, error) {
	plain, err := encodeContent(content, syncTarget)
	if err != nil {
		return nil, err
	}
	sealed, err := Encrypt(c.cfg.Keys, key, plain, rand.Reader)
	if err != nil {
		return nil, err
	}
	data, err := sessionpb.Wrap(sealed, uint64(content.SentAt))
	if err != nil {
		return nil, err
	}
	if len(data) > storagerpc.MaxDataSize {
		return nil, fmt.Errorf("send: the message is %d bytes encrypted, %w of %d; send a long text as a file (--attach)", len(data), storagerpc.ErrTooLarge, storagerpc.MaxDataSize)
	}
	ttl := c.cfg.TTL
	if content.ttl > 0 {
		ttl = content.ttl
	}
	params := func() any {
		return storagerpc.StoreParams{Pubkey: owner.String(), Timestamp: c.cfg.Now().UnixMilli(), TTL: ttl.Milliseconds(),
			Data: base64.StdEncoding.EncodeToString(data)}
	}
	resp, path, err := c.toSwarm(ctx, owner, "store", params)
	if err != nil {
		return nil, err
	}
	var res storagerpc.SwarmResults
	if err := resp.Decode(&res); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	out := &SendResult{Hash: res.Hash, To: owner.String(), Path: path}
	sid, _ := c.swarmFor(owner)
	out.Swarm = fmt.Sprintf("%016x", sid)
	for _, r := range res.Swarm {
		if !r.Failed {
			out.Stored++
		}
	}
	return out, nil
}

// Message is a received message.
type Message struct {
	Hash        string          `json:"hash"`
	From        string          `json:"from"` // the sender's Account ID
	Text        string          `json:"text"`
	Timestamp   int64           `json:"timestamp"`  // when the swarm stored it, unix ms
	Expiration  int64           `json:"expiration"` // unix ms
	SentAt      int64           `json:"sent_at,omitempty"`
	Kind        string          `json:"kind,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"`
	Attachments []Attachment    `json:"attachments,omitempty"`
	// GroupUpdate is a closed group's control message (Kind group_...).
	GroupUpdate *sessionpb.GroupUpdateMessage `json:"-"`
	// EnvelopeAt is the envelope's timestamp (unix ms): what the apps call
	// the message's signature timestamp.
	EnvelopeAt int64 `json:"-"`
	// SyncTarget is set on a copy of a message this account sent from
	// another device: whom it was sent to.
	SyncTarget string `json:"sync_target,omitempty"`
	// Unsend is set on an UnsendRequest (Kind "unsend"): which message its
	// author took back.
	Unsend *Unsend `json:"unsend,omitempty"`
	// Request marks a message request: text from an account that is not
	// an approved contact (requests.go). It is held until accepted.
	Request bool `json:"request,omitempty"`
	// ReadElsewhere marks a message another device of the account read
	// already: the conversation's read mark is past it (readmarks.go).
	ReadElsewhere bool `json:"read_elsewhere,omitempty"`
	// FromName is what the sender is called: the nickname this account
	// gave them, or else the name their messages carry (profiles.go).
	FromName string `json:"from_name,omitempty"`
	// Profile is the sender's profile as this message carries it;
	// AvatarChanged says its picture is one this device had not seen.
	Profile       *Profile `json:"profile,omitempty"`
	AvatarChanged bool     `json:"avatar_changed,omitempty"`
	// Quote is the message a text replies to; Reaction, the emoji of a
	// reaction (Kind "reaction"); Read, the messages a read receipt names
	// (Kind "receipt"); Typing, a typing indicator's action.
	Quote    *MessageRef  `json:"quote,omitempty"`
	Reaction *Reaction    `json:"reaction,omitempty"`
	Read     []MessageRef `json:"read,omitempty"`
	Typing   string       `json:"typing,omitempty"`
	// Note names what the devnet cannot show ("call offer", "unknown
	// content field 16").
	Note    string `json:"note,omitempty"`
	blocked bool
}

// Rejected is a stored message that failed decryption or its signature.
type Rejected struct {
	Hash   string `json:"hash"`
	Reason string `json:"reason"`
}

// Fetch retrieves the messages that arrived since the last Fetch, checks
// each one's encryption and signature, drops the ones already seen, and
// marks them read. A caller that must deliver them first (print, save)
// uses FetchPending and commits after.
func (c *Client) Fetch(ctx context.Context) ([]Message, []Rejected, error) {
	f, err := c.FetchPending(ctx)
	if err != nil {
		return nil, nil, err
	}
	return f.Messages, f.Rejected, f.Commit()
}

// Fetched is what FetchPending found: messages not yet marked read. Until
// Commit or Abort, the client's state is locked (in this process and, with
// a StatePath, in every other), so two fetches never return one message
// twice.
type Fetched struct {
	Messages []Message
	Rejected []Rejected
	// Unsent are the hashes of messages their authors took back
	// (unsend.go): left out of Messages, deleted from this account's swarm.
	Unsent []string
	// Blocked counts the messages from blocked accounts, left out.
	Blocked int
	// Held are all the message requests held once committed, these
	// included (requests.go).
	Held []Message

	// convos is the conversation info config read with the inbox (a
	// device's fetch), whose read marks Commit moves forward.
	convos *AccountConfig
	ctx    context.Context

	c       *Client
	st      *state // the state as it will be once committed
	release func()
	done    bool
}

// Commit marks the messages read: a later fetch does not return them.
func (f *Fetched) Commit() error {
	if f.done {
		return nil
	}
	f.done = true
	defer f.release()
	if err := f.st.save(f.c.cfg.StatePath); err != nil {
		f.st.unshare(false)
		return fmt.Errorf("save client state: %w", err)
	}
	f.st.unshare(true)
	f.c.mu.Lock()
	f.c.state = f.st
	f.c.mu.Unlock()
	f.c.markRead(f)
	return nil
}

// Abort leaves the messages unread: the next fetch returns them again.
func (f *Fetched) Abort() {
	if !f.done {
		f.done = true
		f.st.unshare(false)
		f.release()
	}
}

// FetchPending retrieves new messages from one member of the account's
// swarm, after the last hash that member gave (each member orders and
// holds messages its own way, so the last hash is kept per member and per
// namespace), checks them and drops those already seen. Nothing is marked
// read until Commit.
func (c *Client) FetchPending(ctx context.Context) (*Fetched, error) {
	release, err := c.lockState(ctx)
	if err != nil {
		return nil, err
	}
	st, err := loadState(c.cfg.StatePath)
	if err != nil {
		release()
		return nil, err
	}
	if c.cfg.StatePath == "" {
		c.mu.Lock()
		st = c.state.clone()
		c.mu.Unlock()
	}
	f := &Fetched{c: c, st: st, release: release}
	// The configs are looked after while the inbox is read.
	var configs chan map[string]*AccountConfig
	if c.cfg.KeepConfigs {
		configs = make(chan map[string]*AccountConfig, 1)
		go func() { configs <- c.keepConfigs(ctx) }()
	}
	fail := func(err error) (*Fetched, error) {
		f.Abort()
		if configs != nil {
			<-configs
		}
		return nil, err
	}
	dest := ""
	for page := 0; page < 100; page++ {
		// The first page comes from any member; later ones from the member
		// that gave it, after the last hash that member gave.
		var res *storagerpc.RetrieveResult
		res, dest, err = c.retrievePage(ctx, 0, dest, func(d string) string { return st.lastHash(d, 0) })
		if err != nil {
			return fail(err)
		}
		for _, m := range res.Messages {
			st.setLastHash(dest, 0, m.Hash)
			if st.seen(m.Hash) {
				continue
			}
			st.remember(m.Hash)
			got, why := c.open(m)
			if why != "" {
				f.Rejected = append(f.Rejected, Rejected{Hash: m.Hash, Reason: why})
				continue
			}
			f.Messages = append(f.Messages, got)
		}
		if !res.More || len(res.Messages) == 0 {
			break
		}
	}
	for _, r := range f.Rejected {
		c.log.Warn().Str("hash", r.Hash).Str("reason", r.Reason).Msg("message rejected")
	}
	if configs != nil {
		read := <-configs
		if cfg := read[configmsg.Contacts.Domain]; cfg != nil {
			st.setContacts(cfg)
		}
		if cfg := read[configmsg.UserProfile.Domain]; cfg != nil {
			st.Own = profileOf(cfg)
		}
		f.convos = read[configmsg.ConvoInfoVolatile.Domain]
	}
	f.ctx = ctx
	c.afterFetch(ctx, f)
	if c.fault(func(f *Faults) *atomic.Bool { return &f.ShowTwice }) {
		f.Messages = append(f.Messages, f.Messages...) // (a test's broken client)
	}
	return f, nil
}

// retrievePage retrieves one page of this account's namespace ns, signed:
// from a member of its swarm (dest "") or from dest, after the hash last
// gives for the member asked. It returns the member that answered.
func (c *Client) retrievePage(ctx context.Context, ns storagerpc.Namespace, dest string, last func(dest string) string) (*storagerpc.RetrieveResult, string, error) {
	me := c.AccountID()
	params := func(d string) any {
		ts := c.sigNow()
		return storagerpc.RetrieveParams{Pubkey: me.String(), Namespace: ns, LastHash: last(d), Timestamp: ts,
			Auth: storagerpc.SignAuth(c.cfg.Keys.Ed25519, me, storagerpc.RetrieveSigMsg(ns, ts))}
	}
	var resp *storagerpc.Response
	var err error
	if dest == "" {
		resp, dest, err = c.CallAt(ctx, me, "retrieve", params)
	} else {
		resp, _, err = c.RPC(ctx, dest, "retrieve", params(dest))
	}
	if err != nil {
		return nil, dest, err
	}
	var res storagerpc.RetrieveResult
	if err := resp.Decode(&res); err != nil {
		return nil, dest, fmt.Errorf("retrieve: %w", err)
	}
	return &res, dest, nil
}

// lockState locks the client's state against other fetches: in this
// process, and with a StatePath, in other processes (flock on a .lock file
// beside it). It waits until ctx ends.
func (c *Client) lockState(ctx context.Context) (func(), error) {
	select {
	case c.fetching <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	unlock := func() { <-c.fetching }
	if c.cfg.StatePath == "" {
		return unlock, nil
	}
	fl, err := lockFile(ctx, c.cfg.StatePath+".lock")
	if err != nil {
		unlock()
		return nil, fmt.Errorf("lock client state: %w", err)
	}
	return func() { fl(); unlock() }, nil
}

func (c *Client) open(m storagerpc.Message) (Message, string) {
	data, err := base64.StdEncoding.DecodeString(m.Data)
	if err != nil {
		return Message{}, "data is not base64"
	}
	env, err := sessionpb.Unwrap(data)
	if err != nil {
		return Message{}, err.Error()
	}
	plain, senderEd, err := Decrypt(c.cfg.Keys, env.Content)
	if err != nil {
		return Message{}, err.Error()
	}
	from, err := SenderID(senderEd)
	if err != nil {
		return Message{}, "the sender's key is not valid"
	}
	got := Message{Hash: m.Hash, From: from.String(), Timestamp: m.Timestamp, Expiration: m.Expiration, EnvelopeAt: int64(env.GetTimestamp())}
	if why := decodeContent(plain, &got); why != "" {
		return Message{}, why
	}
	if got.SyncTarget != "" && from != c.AccountID() {
		return Message{}, "a sync copy from another account"
	}
	return got, ""
}
