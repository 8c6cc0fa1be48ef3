package community

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/onion"
)

// Transport carries a request to a server through an onion path, sealed to
// the server's key; *client.Client is one. The community server's package
// needs no more of a Session client than this.
type Transport interface {
	// ServerRequestSigned calls headers for each attempt it makes (an
	// X-SOGS nonce is accepted once).
	ServerRequestSigned(ctx context.Context, srv onion.Server, method, endpoint string, headers func() map[string]string, body []byte) (int, []byte, error)
	Keys() *identity.Keys
}

// Client speaks the community server's API for one account, through a
// Transport: every request carries X-SOGS authentication by the account's
// key blinded for this server.
//
//	cc, err := community.NewClient(sessionClient, onion.Server{URL: url, X25519: key})
//	msg, err := cc.Post(ctx, "lobby", "hello")
type Client struct {
	t       Transport
	srv     onion.Server
	blinded *identity.Blinded
	// Now is the clock of X-SOGS timestamps; nil means time.Now.
	Now func() time.Time
}

// RefusedError is the server's refusal of a request: its status and message.
type RefusedError struct {
	Code    int
	Message string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("the community server refused (%d): %s", e.Code, e.Message)
}

// ErrBadAnswer is an answer the client cannot read.
var ErrBadAnswer = errors.New("the community server's answer is malformed")

// NewClient returns a client of the server srv for the account t holds.
func NewClient(t Transport, srv onion.Server) (*Client, error) {
	b, err := identity.Blind15(t.Keys(), srv.X25519[:])
	if err != nil {
		return nil, err
	}
	return &Client{t: t, srv: srv, blinded: b}, nil
}

// ID returns the account's blinded ID on this server.
func (c *Client) ID() string { return c.blinded.ID() }

// BlindedID returns the ID that an account known by arg has on this server:
// a Session ID (05) is 15-blinded (the first of its two candidates: from a
// Session ID the sign is unknown), a blinded ID is returned as it is.
func (c *Client) BlindedID(id identity.AccountID) (string, error) {
	if id.Prefix == identity.PrefixSession {
		ids, err := identity.BlindedIDs(id, c.srv.X25519[:])
		if err != nil {
			return "", err
		}
		return ids[0], nil
	}
	return id.String(), nil
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Do sends one authenticated request and returns the server's status and
// body, whatever the status. A body is sent as JSON.
func (c *Client) Do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var h map[string]string
	if body != nil {
		h = map[string]string{"Content-Type": "application/json"}
	}
	return c.DoHeaders(ctx, method, path, h, body)
}

// DoHeaders is Do with the request's headers (X-SOGS ones are added).
func (c *Client) DoHeaders(ctx context.Context, method, path string, extra map[string]string, body []byte) (int, []byte, error) {
	return c.t.ServerRequestSigned(ctx, c.srv, method, path, func() map[string]string {
		nonce := NewNonce()
		nb, _ := base64.StdEncoding.DecodeString(nonce)
		ts := c.now().Unix()
		sig := c.blinded.Sign(SigMessage(c.srv.X25519, nb, ts, method, ClientSignedPath(path), body))
		headers := map[string]string{
			"X-SOGS-Pubkey":    c.blinded.ID(),
			"X-SOGS-Nonce":     nonce,
			"X-SOGS-Timestamp": strconv.FormatInt(ts, 10),
			"X-SOGS-Signature": base64.StdEncoding.EncodeToString(sig),
		}
		for k, v := range extra {
			headers[k] = v
		}
		return headers
	}, body)
}

// call sends a request with a JSON body (nil for none) and decodes a 2xx
// answer into out (nil to ignore it); another status is a *RefusedError.
func (c *Client) call(ctx context.Context, method, path string, body, out any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	code, data, err := c.Do(ctx, method, path, b)
	if err != nil {
		return err
	}
	return answer(code, data, out)
}

// answer reads a server's answer: a 2xx decoded into out (nil to ignore
// it), another status a *RefusedError.
func answer(code int, data []byte, out any) error {
	if code < 200 || code >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = string(data)
		}
		return &RefusedError{Code: code, Message: e.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: %v", ErrBadAnswer, err)
	}
	return nil
}

// Rooms lists the server's rooms.
func (c *Client) Rooms(ctx context.Context) ([]RoomInfo, error) {
	var rooms []RoomInfo
	return rooms, c.call(ctx, "GET", "/rooms", nil, &rooms)
}

// JoinURL is the link apps join room by.
func (c *Client) JoinURL(room string) string { return JoinURL(c.srv.URL, room, c.srv.X25519) }

// Keys returns the account the client speaks for.
func (c *Client) Keys() *identity.Keys { return c.t.Keys() }

// PostBody is the body of a new room message holding text: the padded
// Content and the poster's blinded signature over it.
func (c *Client) PostBody(text string) map[string]string {
	b, _ := c.postBody(Content{Text: text, SentAt: time.Now().UnixMilli()})
	return b
}

func (c *Client) postBody(content Content) (map[string]string, error) {
	data, err := EncodeContent(content)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"data":      base64.StdEncoding.EncodeToString(data),
		"signature": base64.StdEncoding.EncodeToString(c.blinded.Sign(data)),
	}, nil
}

// Post posts content (SentAt 0: now) to room.
func (c *Client) Post(ctx context.Context, room string, content Content) (*Message, error) {
	if content.SentAt == 0 {
		content.SentAt = c.now().UnixMilli()
	}
	body, err := c.postBody(content)
	if err != nil {
		return nil, err
	}
	files := []uint64{}
	for _, a := range content.Attachments {
		files = append(files, a.ID)
	}
	req := map[string]any{"data": body["data"], "signature": body["signature"]}
	if len(files) > 0 {
		req["files"] = files
	}
	var m Message
	if err := c.call(ctx, "POST", "/room/"+url.PathEscape(room)+"/message", req, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// UploadFile stores a file in room (in the clear: community files are
// public) and returns the attachment a post points to it with.
func (c *Client) UploadFile(ctx context.Context, room, name, contentType string, data []byte) (Attachment, error) {
	path := "/room/" + url.PathEscape(room) + "/file"
	code, out, err := c.DoHeaders(ctx, "POST", path, map[string]string{"Content-Type": "application/octet-stream",
		"Content-Disposition": ContentDisposition(name)}, data)
	if err != nil {
		return Attachment{}, err
	}
	var res struct {
		ID uint64 `json:"id"`
	}
	if err := answer(code, out, &res); err != nil {
		return Attachment{}, err
	}
	return Attachment{ID: res.ID, URL: fmt.Sprintf("%s/room/%s/file/%d", c.srv.URL, url.PathEscape(room), res.ID), Name: name,
		ContentType: contentType, Size: uint32(len(data))}, nil
}

// Read returns up to 256 of room's messages and reaction updates after
// sequence number since, as apps poll (t=r, 5 reactors each).
func (c *Client) Read(ctx context.Context, room string, since int64) ([]Message, error) {
	var msgs []Message
	err := c.call(ctx, "GET", fmt.Sprintf("/room/%s/messages/since/%d?t=r&reactors=5&limit=256", url.PathEscape(room), since), nil, &msgs)
	return msgs, err
}

// CountPosts counts room's messages that are not deleted, reading at most
// about limit of them (more: there may be more). A room's
// message_sequence is no count: edits, deletions and reactions raise it.
func (c *Client) CountPosts(ctx context.Context, room string, limit int) (n int, more bool, err error) {
	var since int64
	for read := 0; read < limit; {
		var msgs []Message
		if err := c.call(ctx, "GET", fmt.Sprintf("/room/%s/messages/since/%d?limit=256", url.PathEscape(room), since), nil, &msgs); err != nil {
			return 0, false, err
		}
		for _, m := range msgs {
			if m.Data != nil && !m.Deleted {
				n++
			}
			since = max(since, m.Seqno)
		}
		read += len(msgs)
		if len(msgs) < 256 {
			return n, false, nil
		}
	}
	return n, true, nil
}

// Content decodes what the message holds ("" kinds for a deletion or a
// reaction-only update, which hold none).
func (m *Message) Content() Content {
	if m.Data == nil {
		return Content{}
	}
	b, err := base64.StdEncoding.DecodeString(*m.Data)
	if err != nil {
		return rawContent([]byte(*m.Data), "not base64")
	}
	return DecodeContent(b)
}

// Text returns the text of a message's Content (or its summary when it is
// something else); "" when it was deleted.
func (m *Message) Text() string {
	if m.Data == nil {
		return ""
	}
	return m.Content().Summary()
}

// React adds (or with add false removes) the account's reaction to a
// message of room.
func (c *Client) React(ctx context.Context, room string, id int64, emoji string, add bool) error {
	method := "PUT"
	if !add {
		method = "DELETE"
	}
	return c.call(ctx, method, fmt.Sprintf("/room/%s/reaction/%d/%s", url.PathEscape(room), id, url.PathEscape(emoji)), map[string]any{}, nil)
}

// Delete deletes message id of room (its author, or a moderator).
func (c *Client) Delete(ctx context.Context, room, id string) error {
	return c.call(ctx, "DELETE", "/room/"+url.PathEscape(room)+"/message/"+url.PathEscape(id), nil, nil)
}

// SetModerator makes user (a blinded or Session ID) a moderator (and
// admin) of room, or, with moderator false, takes the rights away.
func (c *Client) SetModerator(ctx context.Context, room, user string, moderator, admin bool) error {
	return c.call(ctx, "POST", "/user/"+url.PathEscape(user)+"/moderator",
		map[string]any{"rooms": []string{room}, "moderator": moderator, "admin": moderator && admin}, nil)
}

// Ban bans user from room, or with on false lifts the ban.
func (c *Client) Ban(ctx context.Context, room, user string, on bool) error {
	verb := "unban"
	if on {
		verb = "ban"
	}
	return c.call(ctx, "POST", "/user/"+url.PathEscape(user)+"/"+verb, map[string]any{"rooms": []string{room}}, nil)
}

// SendDM sends content to the blinded ID user, encrypted for them as apps
// encrypt direct messages (dm.go).
func (c *Client) SendDM(ctx context.Context, user string, content Content) error {
	if content.SentAt == 0 {
		content.SentAt = c.now().UnixMilli()
	}
	plain, err := EncodeContent(content)
	if err != nil {
		return err
	}
	sealed, err := EncryptDM(nil, c.t.Keys(), c.srv.X25519, user, plain)
	if err != nil {
		return err
	}
	return c.call(ctx, "POST", "/inbox/"+url.PathEscape(user), map[string]string{"message": base64.StdEncoding.EncodeToString(sealed)}, nil)
}

// Inbox returns the account's message requests.
func (c *Client) Inbox(ctx context.Context) ([]DM, error) {
	var dms []DM
	return dms, c.call(ctx, "GET", "/inbox", nil, &dms)
}

// Open decrypts a direct message the account sent or received: its
// Content and the sender's Session ID; a message that does not open is
// shown as what it is (Raw set), with the error.
func (c *Client) Open(d *DM) (Content, string, error) {
	b, err := base64.StdEncoding.DecodeString(d.Message)
	if err != nil {
		return rawContent([]byte(d.Message), "not base64"), "", err
	}
	plain, sid, err := DecryptDM(c.t.Keys(), c.srv.X25519, d.Sender, d.Recipient, b)
	if err != nil {
		return rawContent(b, "cannot be decrypted ("+err.Error()+")"), "", err
	}
	return DecodeContent(plain), sid, nil
}
